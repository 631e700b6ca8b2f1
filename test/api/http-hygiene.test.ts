/** @module HTTP hygiene (issue 10): generic 500s, the Bearer challenge of every 401, audited denials, repeated form fields. */
import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { sha256Hex } from "../../src/core/crypto.ts";
import { newId } from "../../src/core/ids.ts";
import { exec, row } from "../../src/db/query.ts";
import { auditRows, createApp } from "../support/fixtures.ts";
import { type Auth, createTestContext, type TestContext } from "../support/harness.ts";
import { allow, insertPak } from "./admin/fixtures.ts";
import { createApiKey, createEndUser, type TestApp, type TestEndUser } from "./consumer/verify-fixtures.ts";

const FORM = { "content-type": "application/x-www-form-urlencoded" };

/** An M2M client row with a known secret, for the token endpoint. */
async function insertClient(ctx: TestContext, app: TestApp, scopes: string[] = []) {
  const clientId = `m2m_${crypto.randomUUID().replaceAll("-", "")}`;
  const secret = `sec_${crypto.randomUUID()}`;
  const now = ctx.clock.now();
  await ctx.deps.db.insert(ctx.deps.db.tables.m2mClients).values({
    id: newId(ctx.clock),
    appId: app.id,
    clientId,
    name: "hygiene",
    secretHash: sha256Hex(secret),
    isActive: true,
    scopes,
    createdAt: now,
    updatedAt: now,
  });
  return { clientId, secret };
}

/** The log lines of one request, parsed. */
const logOf = (ctx: TestContext, requestId: string) =>
  ctx.log.lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.request_id === requestId);

const GENERIC_500 = { statusCode: 500, code: "INTERNAL_ERROR", message: "Internal server error" };

describe("unexpected failures answer a generic 500", () => {
  let ctx: TestContext;
  let app: TestApp;
  beforeAll(async () => {
    ctx = await createTestContext();
    app = await createApp(ctx, "fragile");
  });

  test("a vault failure behind the signing key: no secret id in the body, the detail in the log", async () => {
    const client = await insertClient(ctx, app);
    const secretId = (await row<{ id: string }>(
      ctx.deps.db,
      sql`SELECT vault_secret_id AS id FROM signing_keys WHERE app_id = ${app.id} AND state = 'active'`,
    ))!.id;
    // Corrupt the ciphertext: the key still exists, but it no longer authenticates.
    await exec(
      ctx.deps.db,
      sql`UPDATE vault_secrets SET ciphertext = 'AAAA' || substr(ciphertext, 5) WHERE id = ${secretId}`,
    );

    const res = await ctx.call("POST", "/{app_slug}/v1/oauth/token", {
      params: { app_slug: app.slug },
      raw: `grant_type=client_credentials&client_id=${client.clientId}&client_secret=${client.secret}`,
      headers: { ...FORM, "x-request-id": "req-vault-1" },
      auth: null,
    });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ ...GENERIC_500, request_id: "req-vault-1" });
    expect(res.text).not.toContain(secretId);
    expect(res.text).not.toContain("VAULT");
    const logged = logOf(ctx, "req-vault-1");
    expect(logged).toHaveLength(1);
    expect(logged[0]!.level).toBe("error");
    expect(logged[0]!.code).toBe("VAULT_ERROR");
    expect(JSON.stringify(logged[0]!.err)).toContain(secretId);
  });

  test("a plain Error thrown inside a service", async () => {
    const original = ctx.deps.m2m.list;
    ctx.deps.m2m.list = () => {
      throw new TypeError("Cannot read properties of undefined (reading 'secret_hash')");
    };
    try {
      const res = await ctx.call("GET", "/v1/apps/{app_id}/credentials", {
        params: { app_id: app.id },
        headers: { "x-request-id": "req-type-1" },
      });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ ...GENERIC_500, request_id: "req-type-1" });
      expect(res.text).not.toContain("secret_hash");
      expect(res.text).not.toContain("stack");
      const logged = logOf(ctx, "req-type-1");
      expect(logged).toHaveLength(1);
      expect(JSON.stringify(logged[0]!.err)).toContain("reading 'secret_hash'");
    } finally {
      ctx.deps.m2m.list = original;
    }
  });

  test("a database error (a table gone)", async () => {
    await exec(ctx.deps.db, sql`ALTER TABLE app_api_keys RENAME TO app_api_keys_gone`);
    try {
      const res = await ctx.call("GET", "/v1/apps/{app_id}/api-keys", {
        params: { app_id: app.id },
        headers: { "x-request-id": "req-sql-1" },
      });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ ...GENERIC_500, request_id: "req-sql-1" });
      expect(res.text).not.toContain("app_api_keys");
      expect(JSON.stringify(logOf(ctx, "req-sql-1")[0]!.err)).toContain("app_api_keys");
    } finally {
      await exec(ctx.deps.db, sql`ALTER TABLE app_api_keys_gone RENAME TO app_api_keys`);
    }
  });
});

describe("every 401 carries a WWW-Authenticate challenge", () => {
  let ctx: TestContext;
  let app: TestApp;
  let user: TestEndUser;
  beforeAll(async () => {
    ctx = await createTestContext();
    app = await createApp(ctx, "challenged");
    user = await createEndUser(ctx, app, "alice");
  });

  const ROUTES = [
    { surface: "Consumer EndUser lane", method: "GET", path: "/{app_slug}/v1/me" },
    { surface: "Consumer admin lane", method: "GET", path: "/{app_slug}/v1/admin/users" },
    // A bad token sent for introspection is RFC 7662's 200 {active: false}; only a missing one is a 401.
    {
      surface: "Consumer introspection",
      method: "POST",
      path: "/{app_slug}/v1/oauth/introspect",
      noToken: true,
    },
    { surface: "Admin API", method: "GET", path: "/v1/apps" },
    { surface: "Admin API (app route)", method: "GET", path: "/v1/apps/{app_id}/auth-config" },
    { surface: "platform", method: "GET", path: "/v1/session" },
    { surface: "platform", method: "GET", path: "/v1/workspaces" },
  ] as const;
  const CASES: [string, Auth, string][] = [
    ["no credential", null, 'Bearer realm="heimdall"'],
    ["a bad bearer token", { bearer: "not-a-token" }, 'Bearer realm="heimdall", error="invalid_token"'],
  ];

  for (const r of ROUTES) {
    for (const [name, auth, challenge] of "noToken" in r ? CASES.slice(0, 1) : CASES) {
      test(`${r.surface}: ${r.method} ${r.path} with ${name}`, async () => {
        const res = await ctx.call(r.method, r.path, {
          params: { app_slug: app.slug, app_id: app.id },
          auth,
        });
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toBe(challenge);
      });
    }
  }

  test("an expired EndUser token is an invalid_token challenge too", async () => {
    ctx.clock.advance(2 * 3600 * 1000);
    const res = await ctx.call("GET", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: { bearer: user.token },
    });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("TOKEN_EXPIRED");
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="heimdall", error="invalid_token"');
  });

  test("a dead platform cookie: the plain challenge (no bearer was sent)", async () => {
    const res = await ctx.call("GET", "/v1/session", { auth: { cookie: "hps_forged" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="heimdall"');
  });

  test("the token endpoint keeps its Basic challenge", async () => {
    const res = await ctx.call("POST", "/{app_slug}/v1/oauth/token", {
      params: { app_slug: app.slug },
      raw: "grant_type=client_credentials&client_id=nobody&client_secret=wrong",
      headers: FORM,
      auth: null,
      unchecked: true,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(`Basic realm="${app.slug}"`);
  });

  test("a wrong password at sign-in names the scheme without invalid_token", async () => {
    const consumer = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
      params: { app_slug: app.slug },
      body: { identifier: "alice", password: "not her password at all" },
      auth: null,
    });
    expect(consumer.status).toBe(401);
    expect(consumer.body.code).toBe("INVALID_CREDENTIALS");
    expect(consumer.headers.get("www-authenticate")).toBe('Bearer realm="heimdall"');
    const platform = await ctx.call("POST", "/v1/auth/signin", {
      body: { identifier: "owner@example.test", password: "not the password" },
      auth: null,
    });
    expect(platform.status).toBe(401);
    expect(platform.body.code).toBe("INVALID_CREDENTIALS");
    expect(platform.headers.get("www-authenticate")).toBe('Bearer realm="heimdall"');
  });

  test("an unknown refresh token is a body credential too: the scheme, no invalid_token", async () => {
    const res = await ctx.call("POST", "/{app_slug}/v1/auth/refresh", {
      params: { app_slug: app.slug },
      body: { refresh_token: `hrt_${"x".repeat(43)}` },
      auth: null,
    });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_REFRESH_TOKEN");
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="heimdall"');
  });
});

describe("denials are audited", () => {
  let ctx: TestContext;
  let app: TestApp;
  beforeAll(async () => {
    ctx = await createTestContext();
    app = await createApp(ctx, "guarded");
  });

  test("an admin-lane RBAC denial: one row per caller and route per minute", async () => {
    const key = await createApiKey(ctx, app, ["user.read"]);
    const list = () =>
      ctx.call("GET", "/{app_slug}/v1/admin/users", {
        params: { app_slug: app.slug },
        auth: { bearer: key.key },
      });
    const res = await list();
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("PERMISSION_DENIED");
    const rows = await auditRows(ctx, { app_id: app.id, action: "access.denied" });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_type: "api_key",
      actor_id: key.id,
      details: {
        reason: "permission",
        required: "user.list",
        method: "GET",
        path: `/${app.slug}/v1/admin/users`,
      },
    });

    // A flood of the same refusal writes nothing more within the minute ...
    for (let i = 0; i < 5; i++) expect((await list()).status).toBe(403);
    expect(await auditRows(ctx, { app_id: app.id, action: "access.denied" })).toHaveLength(1);
    // ... and one row again after it.
    ctx.clock.advance(60_000);
    expect((await list()).status).toBe(403);
    expect(await auditRows(ctx, { app_id: app.id, action: "access.denied" })).toHaveLength(2);
  });

  test("a PAK policy denial lands in the app's chain", async () => {
    const pak = await insertPak(ctx, [allow(["heimdall.read"])]);
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}", {
      params: { app_id: app.id },
      body: { display_name: "Renamed" },
      auth: { pak: pak.token },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("POLICY_DENIED");
    const rows = (await auditRows(ctx, { app_id: app.id, action: "access.denied" })).filter(
      (r) => r.actor_type === "pak",
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_id: pak.id,
      details: { reason: "policy", required: "heimdall.update", method: "PATCH", path: `/v1/apps/${app.id}` },
    });
    // The refused change did not happen.
    const after = await ctx.call("GET", "/v1/apps/{app_id}", { params: { app_id: app.id } });
    expect(after.body.display_name).toBe("guarded");
    expect((await ctx.deps.audit.verify()).ok).toBe(true);
  });

  test("a CSRF refusal is recorded against the user's workspace", async () => {
    const cookie = await ctx.signIn();
    const res = await ctx.call("POST", "/v1/workspaces/{workspace_slug}/policies", {
      params: { workspace_slug: "default" },
      body: { name: "csrf-probe", policy: [] },
      headers: { origin: "https://evil.example" },
      auth: { cookie, csrf: false },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("CSRF_REJECTED");
    const rows = await auditRows(ctx, { action: "access.denied", app_id: null });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_type: "platform_user",
      actor_id: ctx.ownerId,
      workspace_id: ctx.workspaceId,
    });
    expect(rows[0]!.details).toEqual({
      reason: "csrf",
      method: "POST",
      path: "/v1/workspaces/default/policies",
    });
  });
});

describe("a repeated form parameter is refused", () => {
  let ctx: TestContext;
  let app: TestApp;
  let client: { clientId: string; secret: string };
  beforeAll(async () => {
    ctx = await createTestContext();
    app = await createApp(ctx, "formal");
    client = await insertClient(ctx, app, ["user.read"]);
  });

  const token = (raw: string) =>
    ctx.call("POST", "/{app_slug}/v1/oauth/token", {
      params: { app_slug: app.slug },
      raw,
      headers: FORM,
      auth: null,
      unchecked: true,
    });

  test.each([
    [
      "grant_type",
      (c: typeof client) =>
        `grant_type=client_credentials&grant_type=client_credentials&client_id=${c.clientId}&client_secret=${c.secret}`,
    ],
    [
      "client_id",
      (c: typeof client) =>
        `grant_type=client_credentials&client_id=${c.clientId}&client_id=${c.clientId}&client_secret=${c.secret}`,
    ],
    [
      "scope",
      (c: typeof client) =>
        `grant_type=client_credentials&client_id=${c.clientId}&client_secret=${c.secret}&scope=user.read&scope=user.read`,
    ],
  ])("token endpoint: two %s → 400 invalid_request, no token issued", async (_name, body) => {
    const res = await token(body(client));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: "invalid_request" });
    expect(res.body.access_token).toBeUndefined();
    expect(await auditRows(ctx, { app_id: app.id, action: "m2m.token_issued" })).toHaveLength(0);
  });

  test("token endpoint: each parameter once still works", async () => {
    const res = await token(
      `grant_type=client_credentials&client_id=${client.clientId}&client_secret=${client.secret}&scope=user.read`,
    );
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe("Bearer");
    expect(res.body.scope).toBe("user.read");
  });

  test("introspection: two token parameters → 400 VALIDATION_ERROR; one is answered", async () => {
    const user = await createEndUser(ctx, app, "bob");
    const introspect = (raw: string) =>
      ctx.call("POST", "/{app_slug}/v1/oauth/introspect", {
        params: { app_slug: app.slug },
        raw,
        headers: FORM,
        auth: { bearer: user.token },
      });
    const twice = await introspect(`token=${user.token}&token=${user.token}`);
    expect(twice.status).toBe(400);
    expect(twice.body.code).toBe("VALIDATION_ERROR");
    expect(twice.body.details).toEqual([{ field: "token", reason: "must not be repeated" }]);
    const once = await introspect(`token=${user.token}&token_type_hint=access_token`);
    expect(once.status).toBe(200);
    expect(once.body.active).toBe(true);
  });
});
