/** @module Admin app API keys: mint (`hdk_live_…` once, idempotent and sealed), list, delete, and `authenticate`. */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { API_KEY_USE_DEBOUNCE_MS } from "../../../src/api-keys/service.ts";
import { sha256Hex } from "../../../src/core/crypto.ts";
import type { Tables } from "../../../src/db/client.ts";
import { type AppBody, auditRows, createApp, insertWorkspace } from "../../support/fixtures.ts";
import { type Auth, createTestContext, type TestContext } from "../../support/harness.ts";
import { expectResponseMatches } from "../../support/openapi.ts";
import {
  allow,
  auditCount,
  bootstrapPakId,
  detailFields,
  errCode,
  expectLastAudit,
  insertMember,
  insertPak,
} from "./fixtures.ts";

type Created = {
  id: string;
  name: string;
  key: string;
  key_prefix: string;
  permissions: string[];
  created_at: string;
};

let ctx: TestContext;
// The context's tables (PostgreSQL's twins on a PostgreSQL run), taken once the context exists.
let { appApiKeys, idempotencyKeys } = {} as Tables;
let app: AppBody;
let other: AppBody;

const BASE = "/v1/apps/{app_id}/api-keys";
const ONE = "/v1/apps/{app_id}/api-keys/{key_id}";

async function mint(appId: string, body: Record<string, unknown>, headers?: Record<string, string>) {
  const res = await ctx.call<Created>("POST", BASE, { params: { app_id: appId }, body, headers });
  if (res.status !== 201) throw new Error(`mint failed: ${res.status} ${res.text}`);
  return res;
}

const rowOf = async (id: string) =>
  (await ctx.deps.db.select().from(appApiKeys).where(eq(appApiKeys.id, id)).limit(1))[0];

beforeAll(async () => {
  ctx = await createTestContext();
  ({ appApiKeys, idempotencyKeys } = ctx.deps.db.tables);
  app = await createApp(ctx, "keys-app");
  other = await createApp(ctx, "keys-other");
});

describe("POST /api-keys", () => {
  test("201: hdk_live_ + 43 base64url chars shown once; prefix is its first 16 chars; only the hash is stored", async () => {
    const res = await mint(app.id, {
      name: "CI deploy bot",
      permissions: ["user.read", "user.list", "user.read"],
    });
    // Strict on the contract's fields; the one appliance addition, expires_at, is null without an expiry.
    const { expires_at, ...contractPart } = res.body as Created & { expires_at: string | null };
    expectResponseMatches("heimdall", "POST", BASE, 201, contractPart, { strict: true });
    expect(expires_at).toBeNull();
    expect(res.body.key).toMatch(/^hdk_live_[A-Za-z0-9_-]{43}$/);
    expect(res.body.key_prefix).toBe(res.body.key.slice(0, 16));
    expect(res.body.permissions).toEqual(["user.read", "user.list"]);
    const row = (await rowOf(res.body.id))!;
    expect(row).toMatchObject({
      appId: app.id,
      name: "CI deploy bot",
      keyPrefix: res.body.key_prefix,
      keyHash: sha256Hex(res.body.key),
    });
    expect(JSON.stringify(row)).not.toContain(res.body.key);
    const audit = await expectLastAudit(ctx, app.id, "api_key.created", "pak", await bootstrapPakId(ctx));
    expect(audit.resource_id).toBe(res.body.id);
    expect(JSON.stringify(audit.details)).not.toContain(res.body.key);
  });

  const INVALID: [string, unknown, string][] = [
    ["missing name", { permissions: ["user.read"] }, "name"],
    ["blank name", { name: " ", permissions: ["user.read"] }, "name"],
    ["overlong name", { name: "k".repeat(121), permissions: ["user.read"] }, "name"],
    ["missing permissions", { name: "k" }, "permissions"],
    ["empty permissions", { name: "k", permissions: [] }, "permissions"],
    ["permission without a dot", { name: "k", permissions: ["userread"] }, "permissions.0"],
    ["upper-case permission", { name: "k", permissions: ["user.Read"] }, "permissions.0"],
    ["permission with spaces", { name: "k", permissions: ["user. read"] }, "permissions.0"],
    ["permission not a string", { name: "k", permissions: [{ resource: "user" }] }, "permissions.0"],
  ];
  test.each(INVALID)("%s → 400 VALIDATION_ERROR, nothing written", async (_n, body, field) => {
    const before = await auditCount(ctx);
    const res = await ctx.call("POST", BASE, { params: { app_id: app.id }, body });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toContain(field);
    expect(await auditCount(ctx)).toBe(before);
  });

  test("Idempotency-Key: a replay shows the same key again, from a sealed copy; another body → 409", async () => {
    const headers = { "idempotency-key": "tf-key-1" };
    const body = { name: "terraform", permissions: ["user.read"] };
    const first = await mint(app.id, body, headers);
    const again = await mint(app.id, body, headers);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(await ctx.deps.db.select().from(appApiKeys).where(eq(appApiKeys.name, "terraform"))).toHaveLength(
      1,
    );
    const stored = (
      await ctx.deps.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, "tf-key-1")).limit(1)
    )[0]!;
    expect(stored.body).not.toContain(first.body.key);
    const reuse = await ctx.call("POST", BASE, {
      params: { app_id: app.id },
      body: { ...body, name: "x" },
      headers,
    });
    expect(reuse.status).toBe(409);
    expect(errCode(reuse)).toBe("IDEMPOTENCY_KEY_REUSE");
  });
});

describe("GET /api-keys", () => {
  let listApp: AppBody;
  const made: Created[] = [];

  beforeAll(async () => {
    listApp = await createApp(ctx, "keys-list");
    for (const name of ["a", "b", "c"]) {
      made.push((await mint(listApp.id, { name, permissions: ["user.read"] })).body);
      ctx.clock.advance(1000);
    }
    await mint(other.id, { name: "elsewhere", permissions: ["user.read"] });
  });

  test("newest first, paginated, prefix only; the listing is audited", async () => {
    const p1 = await ctx.call("GET", BASE, { params: { app_id: listApp.id }, query: { limit: 2 } });
    expect(p1.status).toBe(200);
    // Strict on the contract's fields; each item also carries the appliance's expires_at (exact below).
    const contractPart = {
      ...p1.body,
      data: p1.body.data.map(({ expires_at: _, ...k }: { expires_at: unknown }) => k),
    };
    expectResponseMatches("heimdall", "GET", BASE, 200, contractPart, { strict: true });
    expect(p1.body.data[0]).toEqual({
      id: made[2]!.id,
      name: "c",
      key_prefix: made[2]!.key_prefix,
      permissions: ["user.read"],
      last_used_at: null,
      expires_at: null,
      created_at: made[2]!.created_at,
    });
    expect(p1.body.data.map((k: Created) => k.name)).toEqual(["c", "b"]);
    await expectLastAudit(ctx, listApp.id, "api_key.listed", "pak");
    const p2 = await ctx.call("GET", BASE, {
      params: { app_id: listApp.id },
      query: { limit: 2, cursor: p1.body.pagination.next_cursor },
    });
    expect(p2.body.data.map((k: Created) => k.name)).toEqual(["a"]);
    expect(p2.body.pagination).toEqual({ has_more: false, next_cursor: null });
    for (const k of made) expect(p1.text + p2.text).not.toContain(k.key);
  });

  test("a bad cursor → 400 VALIDATION_ERROR", async () => {
    const res = await ctx.call("GET", BASE, { params: { app_id: listApp.id }, query: { cursor: "e30" } });
    expect(res.status).toBe(400);
    expect(detailFields(res)).toEqual(["cursor"]);
  });
});

describe("authenticate (the Consumer admin lane's key check)", () => {
  let key: Created;

  beforeAll(async () => {
    key = (await mint(app.id, { name: "lane", permissions: ["user.read", "user.list"] })).body;
  });

  test("the right app's key → its id and exactly its permissions", async () => {
    expect(await ctx.deps.apiKeys.authenticate(app.id, key.key)).toEqual({
      id: key.id,
      permissions: ["user.read", "user.list"],
    });
  });

  test.each([
    ["another app", () => [other.id, key.key]],
    ["a changed character", () => [app.id, `${key.key.slice(0, -1)}${key.key.endsWith("A") ? "B" : "A"}`]],
    ["a truncated key", () => [app.id, key.key.slice(0, -1)]],
    ["a PAK", () => [app.id, ctx.pak]],
    ["empty", () => [app.id, ""]],
  ] as [string, () => [string, string]][])("%s → null", async (_n, args) => {
    const [appId, token] = args();
    expect(await ctx.deps.apiKeys.authenticate(appId, token)).toBeNull();
  });

  test("last_used_at and the api_key.used row are written at most once a minute", async () => {
    const uses = async () =>
      (await auditRows(ctx, { app_id: app.id, action: "api_key.used", resource_id: key.id })).length;
    ctx.clock.advance(API_KEY_USE_DEBOUNCE_MS + 1);
    const before = await uses();
    await ctx.deps.apiKeys.authenticate(app.id, key.key, { requestId: "r1", ip: "10.0.0.1" });
    const stamped = (await rowOf(key.id))!.lastUsedAt;
    expect(stamped).toBe(ctx.clock.now());
    ctx.clock.advance(30_000);
    await ctx.deps.apiKeys.authenticate(app.id, key.key);
    expect((await rowOf(key.id))!.lastUsedAt).toBe(stamped);
    expect(await uses()).toBe(before + 1);
    ctx.clock.advance(API_KEY_USE_DEBOUNCE_MS);
    await ctx.deps.apiKeys.authenticate(app.id, key.key);
    expect((await rowOf(key.id))!.lastUsedAt).toBe(ctx.clock.now());
    expect(await uses()).toBe(before + 2);
    const row = (await auditRows(ctx, { app_id: app.id, action: "api_key.used" })).at(-2)!;
    expect(row).toMatchObject({ actor_type: "api_key", actor_id: key.id, ip: "10.0.0.1", request_id: "r1" });
    expect((await ctx.deps.audit.verify()).ok).toBe(true);
  });

  test("the list shows last_used_at once used", async () => {
    const res = await ctx.call("GET", BASE, { params: { app_id: app.id } });
    const listed = res.body.data.find((k: { id: string }) => k.id === key.id);
    expect(listed.last_used_at).toBe(new Date((await rowOf(key.id))!.lastUsedAt!).toISOString());
  });
});

describe("DELETE /api-keys/{key_id}", () => {
  test("204; the key stops authenticating at once; audited; again → 404 API_KEY_NOT_FOUND", async () => {
    const key = (await mint(app.id, { name: "short-lived", permissions: ["user.read"] })).body;
    expect(await ctx.deps.apiKeys.authenticate(app.id, key.key)).not.toBeNull();
    const res = await ctx.call("DELETE", ONE, { params: { app_id: app.id, key_id: key.id } });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(await rowOf(key.id)).toBeUndefined();
    expect(await ctx.deps.apiKeys.authenticate(app.id, key.key)).toBeNull();
    const audit = await expectLastAudit(ctx, app.id, "api_key.deleted", "pak");
    expect(audit.resource_id).toBe(key.id);
    const again = await ctx.call("DELETE", ONE, { params: { app_id: app.id, key_id: key.id } });
    expect(again.status).toBe(404);
    expect(errCode(again)).toBe("API_KEY_NOT_FOUND");
  });

  test("another app's key or a garbage id → 404, and the other app's key survives", async () => {
    const foreign = (await mint(other.id, { name: "foreign", permissions: ["user.read"] })).body;
    for (const id of [foreign.id, "not-a-key"]) {
      const res = await ctx.call("DELETE", ONE, { params: { app_id: app.id, key_id: id } });
      expect(res.status).toBe(404);
      expect(errCode(res)).toBe("API_KEY_NOT_FOUND");
    }
    expect(await rowOf(foreign.id)).toBeDefined();
  });
});

describe("access", () => {
  let target: Created;
  const paks: Record<string, string> = {};
  let viewerCookie: string;

  beforeAll(async () => {
    target = (await mint(app.id, { name: "guarded", permissions: ["user.read"] })).body;
    paks.readOnly = (await insertPak(ctx, [allow(["heimdall.read"])])).token;
    paks.foreign = (
      await insertPak(ctx, [allow(["heimdall.*"])], await insertWorkspace(ctx, "keys-elsewhere"))
    ).token;
    paks.otherApp = (await insertPak(ctx, [allow(["heimdall.*"], [`pcft:heimdall:app/${other.id}`])])).token;
    const viewer = await insertMember(ctx, "keys-viewer@example.test", "viewer");
    viewerCookie = await ctx.signIn("keys-viewer@example.test", viewer.password);
  });

  const ROUTES = [
    { method: "GET", path: BASE },
    { method: "POST", path: BASE, body: { name: "x", permissions: ["user.read"] } },
    { method: "DELETE", path: ONE },
  ] as const;
  const call = (r: (typeof ROUTES)[number], auth: Auth) =>
    ctx.call(r.method, r.path, {
      params: { app_id: app.id, key_id: target.id },
      body: "body" in r ? r.body : undefined,
      auth,
    });

  test.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))("%s", async (_n, r) => {
    const cases: [Auth, number, string][] = [
      [null, 401, "UNAUTHORIZED"],
      [{ pak: paks.foreign! }, 404, "APP_NOT_FOUND"],
      [{ pak: paks.otherApp! }, 403, "POLICY_DENIED"],
    ];
    if (r.method !== "GET") {
      cases.push(
        [{ pak: paks.readOnly! }, 403, "POLICY_DENIED"],
        [{ cookie: viewerCookie }, 403, "FORBIDDEN"],
      );
    }
    for (const [auth, status, code] of cases) {
      const before = await auditCount(ctx);
      const res = await call(r, auth);
      expect(res.status).toBe(status);
      expect(errCode(res)).toBe(code);
      // Nothing is written but, for a 403, the refusal itself (access.denied); a 401 or 404 leaves no row.
      expect(await auditCount(ctx)).toBe(before + (status === 403 ? 1 : 0));
      if (status === 403)
        await expectLastAudit(ctx, app.id, "access.denied", auth && "pak" in auth ? "pak" : "platform_user");
    }
    expect(await rowOf(target.id)).toBeDefined();
  });

  test("a read-only PAK and a viewer may list", async () => {
    expect((await call(ROUTES[0], { pak: paks.readOnly! })).status).toBe(200);
    expect((await call(ROUTES[0], { cookie: viewerCookie })).status).toBe(200);
  });
});
