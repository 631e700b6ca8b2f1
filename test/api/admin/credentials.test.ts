/** @module Admin M2M credentials: create (secret once, idempotent and sealed), list, detail, activate, rotate, scopes, delete. */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { HOUR } from "../../../src/core/clock.ts";
import { sha256Hex } from "../../../src/core/crypto.ts";
import type { Tables } from "../../../src/db/client.ts";
import { type AppBody, auditRows, createApp, insertWorkspace } from "../../support/fixtures.ts";
import { type Auth, createTestContext, type TestContext } from "../../support/harness.ts";
import { expectResponseMatches } from "../../support/openapi.ts";
import {
  allow,
  auditCount,
  bootstrapPakId,
  deny,
  detailFields,
  errCode,
  expectLastAudit,
  insertMember,
  insertPak,
} from "./fixtures.ts";

type Created = { id: string; client_id: string; client_secret: string; name: string; created_at: string };

let ctx: TestContext;
// The context's tables (PostgreSQL's twins on a PostgreSQL run), taken once the context exists.
let { idempotencyKeys, m2mClients, vaultSecrets } = {} as Tables;
let app: AppBody;
let other: AppBody;

const BASE = "/v1/apps/{app_id}/credentials";
const ONE = "/v1/apps/{app_id}/credentials/{client_id}";

async function createClient(appId: string, body: Record<string, unknown>, headers?: Record<string, string>) {
  const res = await ctx.call<Created>("POST", BASE, { params: { app_id: appId }, body, headers });
  if (res.status !== 201) throw new Error(`create client failed: ${res.status} ${res.text}`);
  return res;
}

const rowOf = async (clientId: string) =>
  (await ctx.deps.db.select().from(m2mClients).where(eq(m2mClients.clientId, clientId)).limit(1))[0];

beforeAll(async () => {
  ctx = await createTestContext();
  ({ idempotencyKeys, m2mClients, vaultSecrets } = ctx.deps.db.tables);
  app = await createApp(ctx, "creds-app");
  other = await createApp(ctx, "creds-other");
});

describe("POST /credentials", () => {
  test("201: the secret is shown once and only its SHA-256 is stored; audited", async () => {
    const res = await createClient(app.id, {
      name: "  CI Pipeline ",
      scopes: ["user.read", "user.list", "user.read"],
    });
    expectResponseMatches("heimdall", "POST", BASE, 201, res.body, { strict: true });
    expect(res.body.client_id).toMatch(/^m2m_[0-9a-f]{32}$/);
    expect(res.body.client_secret).toMatch(/^hcs_[A-Za-z0-9_-]{43}$/);
    expect(res.body.name).toBe("CI Pipeline");
    const row = (await rowOf(res.body.client_id))!;
    expect(row.id).toBe(res.body.id);
    expect(row.secretHash).toBe(sha256Hex(res.body.client_secret));
    expect(row.isActive).toBe(true);
    expect(row.scopes).toEqual(["user.read", "user.list"]);
    expect(JSON.stringify(row)).not.toContain(res.body.client_secret);
    const audit = await expectLastAudit(ctx, app.id, "m2m_client.created", "pak", await bootstrapPakId(ctx));
    expect(audit.resource_id).toBe(res.body.id);
    expect(JSON.stringify(audit.details)).not.toContain(res.body.client_secret);
  });

  test("scopes are optional (none by default); the slug addresses the app too", async () => {
    const res = await createClient(app.slug, { name: "No scopes" });
    expect((await rowOf(res.body.client_id))!.scopes).toEqual([]);
    expect((await rowOf(res.body.client_id))!.appId).toBe(app.id);
  });

  test("a platform user's session (cookie) may create too", async () => {
    const cookie = await ctx.signIn();
    const res = await ctx.call<Created>("POST", BASE, {
      params: { app_id: app.id },
      body: { name: "by owner" },
      auth: { cookie },
    });
    expect(res.status).toBe(201);
    await expectLastAudit(ctx, app.id, "m2m_client.created", "platform_user", ctx.ownerId);
  });

  const INVALID: [string, unknown, string][] = [
    ["missing name", { scopes: [] }, "name"],
    ["empty name", { name: "   " }, "name"],
    ["overlong name", { name: "n".repeat(121) }, "name"],
    ["name not a string", { name: 42 }, "name"],
    ["scopes not an array", { name: "x", scopes: "user.read" }, "scopes"],
    ["scope without action", { name: "x", scopes: ["user"] }, "scopes.0"],
    ["scope with upper case", { name: "x", scopes: ["User.read"] }, "scopes.0"],
    ["scope with three segments", { name: "x", scopes: ["user.read.all"] }, "scopes.0"],
    ["scope segment too short", { name: "x", scopes: ["u.read"] }, "scopes.0"],
    ["scope segment starting with a digit", { name: "x", scopes: ["user.1read"] }, "scopes.0"],
    ["scope not a string", { name: "x", scopes: ["user.read", 7] }, "scopes.1"],
    [
      "too many scopes",
      { name: "x", scopes: Array.from({ length: 101 }, (_, i) => `res${i}.read`) },
      "scopes",
    ],
  ];
  test.each(INVALID)("%s → 400 VALIDATION_ERROR, nothing written", async (_n, body, field) => {
    const before = await auditCount(ctx);
    const res = await ctx.call("POST", BASE, { params: { app_id: app.id }, body });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toContain(field);
    expect(await auditCount(ctx)).toBe(before);
  });

  test("malformed JSON → 400 INVALID_JSON; unknown app → 404 APP_NOT_FOUND", async () => {
    const bad = await ctx.call("POST", BASE, { params: { app_id: app.id }, raw: "{name:" });
    expect(bad.status).toBe(400);
    expect(errCode(bad)).toBe("INVALID_JSON");
    const missing = await ctx.call("POST", BASE, { params: { app_id: "no-such-app" }, body: { name: "x" } });
    expect(missing.status).toBe(404);
    expect(errCode(missing)).toBe("APP_NOT_FOUND");
  });
});

describe("Idempotency-Key on POST /credentials", () => {
  const headers = { "idempotency-key": "ci-client-1" };
  const body = { name: "IaC client", scopes: ["user.read"] };
  let first: Created;

  test("a replay returns the same client and the same secret; one row; the stored copy is sealed", async () => {
    first = (await createClient(app.id, body, headers)).body;
    const before = await auditCount(ctx);
    const again = await createClient(app.id, body, headers);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first);
    expect(await auditCount(ctx)).toBe(before);
    expect(await ctx.deps.db.select().from(m2mClients).where(eq(m2mClients.name, "IaC client"))).toHaveLength(
      1,
    );
    const stored = (
      await ctx.deps.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, "ci-client-1")).limit(1)
    )[0]!;
    expect(stored.body).not.toContain(first.client_secret);
    expect(stored.body).toMatch(/^\{"\$vault":"/);
  });

  test("same key with another body → 409 IDEMPOTENCY_KEY_REUSE", async () => {
    const res = await ctx.call("POST", BASE, {
      params: { app_id: app.id },
      body: { name: "other" },
      headers,
    });
    expect(res.status).toBe(409);
    expect(errCode(res)).toBe("IDEMPOTENCY_KEY_REUSE");
  });

  test("a caller that lost the create right is not shown the stored secret again", async () => {
    const pak = await insertPak(ctx, [allow(["heimdall.read"])]);
    const res = await ctx.call("POST", BASE, {
      params: { app_id: app.id },
      body,
      headers,
      auth: { pak: pak.token },
    });
    expect(res.status).toBe(403);
    expect(errCode(res)).toBe("POLICY_DENIED");
  });

  test("after 24 h the purge shreds the sealed response with the key", async () => {
    const stored = (
      await ctx.deps.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, "ci-client-1")).limit(1)
    )[0]!;
    const vaultId = (JSON.parse(stored.body) as { $vault: string }).$vault;
    expect(await ctx.deps.db.select().from(vaultSecrets).where(eq(vaultSecrets.id, vaultId))).toHaveLength(1);
    ctx.clock.advance(25 * HOUR);
    expect(await ctx.deps.idempotency.purge()).toBeGreaterThanOrEqual(1);
    expect(await ctx.deps.db.select().from(vaultSecrets).where(eq(vaultSecrets.id, vaultId))).toEqual([]);
    expect(
      await ctx.deps.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, "ci-client-1")),
    ).toEqual([]);
  });
});

describe("GET /credentials", () => {
  let listApp: AppBody;
  const made: Created[] = [];

  beforeAll(async () => {
    listApp = await createApp(ctx, "creds-list");
    for (const name of ["one", "two", "three"]) {
      made.push((await createClient(listApp.id, { name })).body);
      ctx.clock.advance(1000);
    }
    await createClient(other.id, { name: "elsewhere" });
  });

  test("newest first, paginated by cursor, no secret anywhere; the listing is audited", async () => {
    const page1 = await ctx.call("GET", BASE, { params: { app_id: listApp.id }, query: { limit: 2 } });
    expect(page1.status).toBe(200);
    expectResponseMatches("heimdall", "GET", BASE, 200, page1.body, { strict: true });
    expect(page1.body.data.map((c: { name: string }) => c.name)).toEqual(["three", "two"]);
    expect(page1.body.pagination.has_more).toBe(true);
    expect(page1.body.data[0]).toEqual({
      id: made[2]!.id,
      app_id: listApp.id,
      client_id: made[2]!.client_id,
      name: "three",
      is_active: true,
      last_used_at: null,
      created_at: made[2]!.created_at,
    });
    await expectLastAudit(ctx, listApp.id, "m2m_client.listed", "pak");
    const page2 = await ctx.call("GET", BASE, {
      params: { app_id: listApp.id },
      query: { limit: 2, cursor: page1.body.pagination.next_cursor },
    });
    expect(page2.body.data.map((c: { name: string }) => c.name)).toEqual(["one"]);
    expect(page2.body.pagination).toEqual({ has_more: false, next_cursor: null });
    expect(page1.text + page2.text).not.toContain("hcs_");
  });

  test.each([
    ["limit 0", { limit: 0 }, "limit"],
    ["limit 201", { limit: 201 }, "limit"],
    ["garbage cursor", { cursor: "!!" }, "cursor"],
  ])("%s → 400 VALIDATION_ERROR", async (_n, query, field) => {
    const res = await ctx.call("GET", BASE, { params: { app_id: listApp.id }, query });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toContain(field);
  });
});

describe("one client: detail, PATCH, rotate, scopes, DELETE", () => {
  let client: Created;
  let foreign: Created;

  beforeAll(async () => {
    client = (await createClient(app.id, { name: "worker", scopes: ["user.read", "app.read"] })).body;
    foreign = (await createClient(other.id, { name: "foreign" })).body;
  });

  test("GET by client_id or row id: scopes as {resource, action}; audited as a read", async () => {
    for (const ref of [client.client_id, client.id]) {
      const res = await ctx.call("GET", ONE, { params: { app_id: app.id, client_id: ref } });
      expect(res.status).toBe(200);
      expectResponseMatches("heimdall", "GET", ONE, 200, res.body, { strict: true });
      expect(res.body).toMatchObject({
        id: client.id,
        app_id: app.id,
        client_id: client.client_id,
        name: "worker",
        is_active: true,
        last_used_at: null,
        scopes: [
          { resource: "user", action: "read" },
          { resource: "app", action: "read" },
        ],
      });
      await expectLastAudit(ctx, app.id, "m2m_client.viewed", "pak");
    }
  });

  const ROUTES = [
    { method: "GET", path: ONE },
    { method: "PATCH", path: ONE, body: { is_active: false } },
    { method: "POST", path: `${ONE}/rotate` },
    { method: "PUT", path: `${ONE}/scopes`, body: { permissions: ["user.read"] } },
    { method: "DELETE", path: ONE },
  ] as const;

  test.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))(
    "%s of an unknown client or another app's client → 404 M2M_CLIENT_NOT_FOUND",
    async (_n, route) => {
      for (const ref of ["m2m_00000000000000000000000000000000", foreign.client_id, foreign.id, "garbage"]) {
        const before = await auditCount(ctx);
        const res = await ctx.call(route.method, route.path, {
          params: { app_id: app.id, client_id: ref },
          body: "body" in route ? route.body : undefined,
        });
        expect(res.status).toBe(404);
        expect(errCode(res)).toBe("M2M_CLIENT_NOT_FOUND");
        expect(await auditCount(ctx)).toBe(before);
      }
      // The foreign client is untouched.
      expect((await rowOf(foreign.client_id))!.isActive).toBe(true);
    },
  );

  test("PATCH is_active → 200 with an empty body; a no-op writes nothing", async () => {
    const res = await ctx.call("PATCH", ONE, {
      params: { app_id: app.id, client_id: client.client_id },
      body: { is_active: false },
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe("");
    expect((await rowOf(client.client_id))!.isActive).toBe(false);
    const audit = await expectLastAudit(ctx, app.id, "m2m_client.updated", "pak");
    expect(audit.details).toMatchObject({ is_active: { from: true, to: false } });

    const before = await auditCount(ctx);
    for (const body of [{ is_active: false }, {}]) {
      const again = await ctx.call("PATCH", ONE, {
        params: { app_id: app.id, client_id: client.client_id },
        body,
      });
      expect(again.status).toBe(200);
    }
    expect(await auditCount(ctx)).toBe(before);

    await ctx.call("PATCH", ONE, {
      params: { app_id: app.id, client_id: client.client_id },
      body: { is_active: true },
    });
    expect((await rowOf(client.client_id))!.isActive).toBe(true);
  });

  test("PATCH with a non-boolean is_active → 400 VALIDATION_ERROR", async () => {
    const res = await ctx.call("PATCH", ONE, {
      params: { app_id: app.id, client_id: client.client_id },
      body: { is_active: "no" },
    });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toEqual(["is_active"]);
  });

  test("rotate → a new secret once; the stored hash is replaced at once; audited", async () => {
    const res = await ctx.call("POST", `${ONE}/rotate`, {
      params: { app_id: app.id, client_id: client.client_id },
    });
    expect(res.status).toBe(200);
    // Strict on the contract's fields; the one appliance addition says no grace window is open.
    const { previous_secret_expires_at, ...contractPart } = res.body;
    expectResponseMatches("heimdall", "POST", `${ONE}/rotate`, 200, contractPart, { strict: true });
    expect(previous_secret_expires_at).toBeNull();
    expect((await rowOf(client.client_id))!.prevSecretHash).toBeNull();
    expect(res.body.client_id).toBe(client.client_id);
    expect(res.body.client_secret).toMatch(/^hcs_[A-Za-z0-9_-]{43}$/);
    expect(res.body.client_secret).not.toBe(client.client_secret);
    expect((await rowOf(client.client_id))!.secretHash).toBe(sha256Hex(res.body.client_secret));
    const audit = await expectLastAudit(ctx, app.id, "m2m_client.secret_rotated", "pak");
    expect(JSON.stringify(audit.details)).not.toContain(res.body.client_secret);
  });

  test("PUT scopes replaces the set → 200 empty; the detail shows it; unchanged writes nothing", async () => {
    const params = { app_id: app.id, client_id: client.client_id };
    const res = await ctx.call("PUT", `${ONE}/scopes`, {
      params,
      body: { permissions: ["billing.charge", "user.list"] },
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe("");
    expect((await rowOf(client.client_id))!.scopes).toEqual(["billing.charge", "user.list"]);
    const audit = await expectLastAudit(ctx, app.id, "m2m_client.scopes_set", "pak");
    expect(audit.details).toMatchObject({
      from: ["user.read", "app.read"],
      to: ["billing.charge", "user.list"],
    });
    const detail = await ctx.call("GET", ONE, { params });
    expect(detail.body.scopes).toEqual([
      { resource: "billing", action: "charge" },
      { resource: "user", action: "list" },
    ]);
    const before = await auditCount(ctx);
    await ctx.call("PUT", `${ONE}/scopes`, {
      params,
      body: { permissions: ["billing.charge", "user.list"] },
    });
    expect(await auditCount(ctx)).toBe(before);
    const cleared = await ctx.call("PUT", `${ONE}/scopes`, { params, body: { permissions: [] } });
    expect(cleared.status).toBe(200);
    expect((await rowOf(client.client_id))!.scopes).toEqual([]);
  });

  test.each([
    ["missing permissions", {}, "permissions"],
    ["permissions not an array", { permissions: "user.read" }, "permissions"],
    ["bad permission", { permissions: ["user.read", "nope"] }, "permissions.1"],
  ])("PUT scopes with %s → 400 VALIDATION_ERROR", async (_n, body, field) => {
    const res = await ctx.call("PUT", `${ONE}/scopes`, {
      params: { app_id: app.id, client_id: client.client_id },
      body,
    });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toContain(field);
  });

  test("DELETE → 204; the client is gone; audited; a second DELETE → 404", async () => {
    const params = { app_id: app.id, client_id: client.id };
    const res = await ctx.call("DELETE", ONE, { params });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(await rowOf(client.client_id)).toBeUndefined();
    const audit = await expectLastAudit(ctx, app.id, "m2m_client.deleted", "pak");
    expect(audit.resource_id).toBe(client.id);
    const again = await ctx.call("DELETE", ONE, { params });
    expect(again.status).toBe(404);
    expect(errCode(again)).toBe("M2M_CLIENT_NOT_FOUND");
  });
});

describe("access", () => {
  let target: Created;
  const paks: Record<string, string> = {};
  let viewerCookie: string;

  beforeAll(async () => {
    target = (await createClient(app.id, { name: "guarded" })).body;
    paks.readOnly = (await insertPak(ctx, [allow(["heimdall.read"])])).token;
    paks.noRotate = (await insertPak(ctx, [allow(["heimdall.*"]), deny(["heimdall.rotate-secret"])])).token;
    paks.foreign = (
      await insertPak(ctx, [allow(["heimdall.*"])], await insertWorkspace(ctx, "creds-elsewhere"))
    ).token;
    const viewer = await insertMember(ctx, "creds-viewer@example.test", "viewer");
    viewerCookie = await ctx.signIn("creds-viewer@example.test", viewer.password);
  });

  const ROUTES = [
    { method: "GET", path: BASE, action: "heimdall.read" },
    { method: "POST", path: BASE, body: { name: "x" }, action: "heimdall.create" },
    { method: "GET", path: ONE, action: "heimdall.read" },
    { method: "PATCH", path: ONE, body: { is_active: false }, action: "heimdall.update" },
    { method: "POST", path: `${ONE}/rotate`, action: "heimdall.rotate-secret" },
    { method: "PUT", path: `${ONE}/scopes`, body: { permissions: ["user.read"] }, action: "heimdall.update" },
    { method: "DELETE", path: ONE, action: "heimdall.delete" },
  ] as const;
  const call = (r: (typeof ROUTES)[number], auth: Auth) =>
    ctx.call(r.method, r.path, {
      params: { app_id: app.id, client_id: target.client_id },
      body: "body" in r ? r.body : undefined,
      auth,
    });

  test.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))(
    "no credential: %s → 401",
    async (_n, r) => {
      const res = await call(r, null);
      expect(res.status).toBe(401);
      expect(errCode(res)).toBe("UNAUTHORIZED");
    },
  );

  test.each(ROUTES.filter((r) => r.method !== "GET").map((r) => [`${r.method} ${r.path}`, r] as const))(
    "read-only PAK: %s → 403 POLICY_DENIED, nothing written",
    async (_n, r) => {
      const before = await auditCount(ctx);
      const res = await call(r, { pak: paks.readOnly! });
      expect(res.status).toBe(403);
      expect(errCode(res)).toBe("POLICY_DENIED");
      // The only row is the refusal itself.
      expect(await auditCount(ctx)).toBe(before + 1);
      await expectLastAudit(ctx, app.id, "access.denied", "pak");
    },
  );

  test("rotation is its own action: a PAK denied rotate-secret may update but not rotate", async () => {
    const rotate = await call(ROUTES[4], { pak: paks.noRotate! });
    expect(rotate.status).toBe(403);
    expect(errCode(rotate)).toBe("POLICY_DENIED");
    expect((await rowOf(target.client_id))!.secretHash).toBe(sha256Hex(target.client_secret));
    expect((await call(ROUTES[2], { pak: paks.noRotate! })).status).toBe(200);
  });

  test.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))(
    "PAK of another workspace: %s → 404 APP_NOT_FOUND",
    async (_n, r) => {
      const res = await call(r, { pak: paks.foreign! });
      expect(res.status).toBe(404);
      expect(errCode(res)).toBe("APP_NOT_FOUND");
    },
  );

  test.each(ROUTES.filter((r) => r.method !== "GET").map((r) => [`${r.method} ${r.path}`, r] as const))(
    "workspace viewer: %s → 403 FORBIDDEN",
    async (_n, r) => {
      const res = await call(r, { cookie: viewerCookie });
      expect(res.status).toBe(403);
      expect(errCode(res)).toBe("FORBIDDEN");
    },
  );

  test("a workspace viewer may list and read", async () => {
    expect((await call(ROUTES[0], { cookie: viewerCookie })).status).toBe(200);
    expect((await call(ROUTES[2], { cookie: viewerCookie })).status).toBe(200);
  });
});

describe("archived app", () => {
  test("creates and changes → 409 APP_ARCHIVED; reads and deletes still work", async () => {
    const doomed = await createApp(ctx, "creds-archived");
    const c = (await createClient(doomed.id, { name: "left over" })).body;
    const st = await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
      params: { app_id: doomed.id },
      body: { status: "archived" },
    });
    expect(st.status).toBe(200);
    const params = { app_id: doomed.id, client_id: c.client_id };
    for (const [method, path, body] of [
      ["POST", BASE, { name: "new" }],
      ["PATCH", ONE, { is_active: false }],
      ["POST", `${ONE}/rotate`, undefined],
      ["PUT", `${ONE}/scopes`, { permissions: ["user.read"] }],
    ] as const) {
      const res = await ctx.call(method, path, { params, body });
      expect(res.status).toBe(409);
      expect(errCode(res)).toBe("APP_ARCHIVED");
    }
    expect((await ctx.call("GET", ONE, { params })).status).toBe(200);
    expect((await ctx.call("DELETE", ONE, { params })).status).toBe(204);
    expect((await auditRows(ctx, { app_id: doomed.id })).at(-1)?.action).toBe("m2m_client.deleted");
  });
});
