/** @module POST /{app_slug}/v1/oauth/token: client_credentials with Basic and post auth, scopes, RFC 6749 errors, audit, limits. */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { sha256Hex } from "../../../src/core/crypto.ts";
import { newId } from "../../../src/core/ids.ts";
import type { Tables } from "../../../src/db/client.ts";
import { CLIENT_USE_DEBOUNCE_MS, FAILED_AUTH_LIMITS } from "../../../src/m2m/grant.ts";
import { type AppBody, auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";
import { expectResponseMatches } from "../../support/openapi.ts";
import { errCode } from "../admin/fixtures.ts";

type Client = { id: string; client_id: string; client_secret: string };

let ctx: TestContext;
// The context's tables (PostgreSQL's twins on a PostgreSQL run), taken once the context exists.
let { m2mClients } = {} as Tables;
let app: AppBody;
let other: AppBody;
let client: Client;
let otherClient: Client;

const TOKEN = "/{app_slug}/v1/oauth/token";
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const SCOPES = ["user.read", "user.list", "app.read"];

async function createClient(appId: string, name: string, scopes: string[] = []): Promise<Client> {
  const res = await ctx.call<Client>("POST", "/v1/apps/{app_id}/credentials", {
    params: { app_id: appId },
    body: { name, scopes },
  });
  if (res.status !== 201) throw new Error(`create client failed: ${res.status} ${res.text}`);
  return res.body;
}

/** RFC 6749 §2.3.1: each part form-urlencoded, then joined by ":" and base64-encoded. */
const formEncode = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString("base64")}`;
const form = (params: Record<string, string>) => new URLSearchParams(params).toString();

interface TokenCall {
  slug?: string;
  form?: Record<string, string>;
  json?: unknown;
  authorization?: string;
}

/** Success responses are checked against the contract; OAuth errors have their own RFC shape (checked here). */
async function token(req: TokenCall) {
  const headers: Record<string, string> = {};
  if (req.authorization) headers.authorization = req.authorization;
  let raw: string | undefined;
  if (req.form) {
    Object.assign(headers, FORM);
    raw = form(req.form);
  } else if (req.json !== undefined) {
    headers["content-type"] = "application/json";
    raw = JSON.stringify(req.json);
  }
  const res = await ctx.call("POST", TOKEN, {
    params: { app_slug: req.slug ?? app.slug },
    raw,
    headers,
    auth: null,
    unchecked: true,
  });
  if (res.status === 200) expectResponseMatches("heimdall", "POST", TOKEN, 200, res.body, { strict: true });
  else if (res.status !== 403 && res.status !== 404) expectOAuthError(res.body);
  return res;
}

function expectOAuthError(body: unknown) {
  expect(Object.keys(body as object).sort()).toEqual(["error", "error_description"]);
  expect((body as { error: string }).error).toMatch(/^[a-z_]+$/);
}

const failures = async (appId: string) => await auditRows(ctx, { app_id: appId, action: "m2m.token_failed" });
const issued = async (appId: string) => await auditRows(ctx, { app_id: appId, action: "m2m.token_issued" });
const rowOf = async (clientId: string) =>
  (await ctx.deps.db.select().from(m2mClients).where(eq(m2mClients.clientId, clientId)).limit(1))[0]!;

beforeAll(async () => {
  ctx = await createTestContext();
  ({ m2mClients } = ctx.deps.db.tables);
  app = await createApp(ctx, "oauth-app");
  other = await createApp(ctx, "oauth-other");
  client = await createClient(app.id, "worker", SCOPES);
  otherClient = await createClient(other.id, "foreign", ["user.read"]);
});

describe("successful grants", () => {
  test.each([
    [
      "client_secret_post, form body",
      () => ({
        form: {
          grant_type: "client_credentials",
          client_id: client.client_id,
          client_secret: client.client_secret,
        },
      }),
    ],
    [
      "client_secret_post, JSON body",
      () => ({
        json: {
          grant_type: "client_credentials",
          client_id: client.client_id,
          client_secret: client.client_secret,
        },
      }),
    ],
    [
      "client_secret_basic, form body",
      () => ({
        form: { grant_type: "client_credentials" },
        authorization: basic(client.client_id, client.client_secret),
      }),
    ],
    [
      "client_secret_basic, JSON body",
      () => ({
        json: { grant_type: "client_credentials" },
        authorization: basic(client.client_id, client.client_secret),
      }),
    ],
    [
      "client_secret_basic with the same client_id in the body",
      () => ({
        form: { grant_type: "client_credentials", client_id: client.client_id },
        authorization: basic(client.client_id, client.client_secret),
      }),
    ],
  ] as [string, () => TokenCall][])("%s → 200 Bearer token with every scope, no-store", async (_n, req) => {
    const res = await token(req());
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("pragma")).toBe("no-cache");
    expect(res.body).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: SCOPES.join(" ") });
    const claims = await ctx.deps.tokens.verify(app, res.body.access_token);
    expect(claims).toMatchObject({
      type: "m2m",
      sub: client.client_id,
      client_id: client.client_id,
      scopes: SCOPES,
      // RFC 9068 §2.2.3: the same scopes as one space-separated string, for stock scope middleware.
      scope: SCOPES.join(" "),
      aid: app.id,
      aud: app.slug,
      iss: `${PUBLIC_URL}/${app.slug}`,
    });
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(decodeProtectedHeader(res.body.access_token)).toMatchObject({ alg: "RS256", typ: "at+jwt" });
  });

  test("every issuance is audited with its method and scopes; last_used_at is debounced", async () => {
    const before = (await issued(app.id)).length;
    ctx.clock.advance(CLIENT_USE_DEBOUNCE_MS + 1);
    await token({
      authorization: basic(client.client_id, client.client_secret),
      form: { grant_type: "client_credentials" },
    });
    const stamped = (await rowOf(client.client_id)).lastUsedAt;
    expect(stamped).toBe(ctx.clock.now());
    ctx.clock.advance(10_000);
    await token({
      form: {
        grant_type: "client_credentials",
        client_id: client.client_id,
        client_secret: client.client_secret,
        scope: "user.read",
      },
    });
    expect((await rowOf(client.client_id)).lastUsedAt).toBe(stamped);
    const rows = await issued(app.id);
    expect(rows.length).toBe(before + 2);
    expect(rows.at(-2)).toMatchObject({
      actor_type: "m2m",
      actor_id: client.client_id,
      resource_id: client.id,
    });
    expect(rows.at(-2)!.details).toMatchObject({ auth_method: "client_secret_basic", scopes: SCOPES });
    expect(rows.at(-1)!.details).toMatchObject({ auth_method: "client_secret_post", scopes: ["user.read"] });
    expect(JSON.stringify(rows)).not.toContain(client.client_secret);
    ctx.clock.advance(CLIENT_USE_DEBOUNCE_MS);
    await token({
      authorization: basic(client.client_id, client.client_secret),
      form: { grant_type: "client_credentials" },
    });
    expect((await rowOf(client.client_id)).lastUsedAt).toBe(ctx.clock.now());
    expect((await ctx.deps.audit.verify()).ok).toBe(true);
  });
});

describe("group commit of issuance rows", () => {
  test("concurrent grants: every one is audited by the time it answers; the chain stays intact", async () => {
    const before = (await issued(app.id)).length;
    const grants = Array.from({ length: 8 }, (_, i) =>
      token({
        authorization: basic(client.client_id, client.client_secret),
        form: { grant_type: "client_credentials", scope: i % 2 ? "user.read" : "app.read" },
      }).then(async (res) => ({ res, auditedBy: (await issued(app.id)).length })),
    );
    const results = await Promise.all(grants);
    for (const { res, auditedBy } of results) {
      expect(res.status).toBe(200);
      expect(auditedBy).toBeGreaterThan(before);
    }
    const rows = (await issued(app.id)).slice(before);
    expect(rows).toHaveLength(8);
    expect(rows.filter((r) => (r.details as { scopes: string[] }).scopes[0] === "user.read")).toHaveLength(4);
    expect((await ctx.deps.audit.verify()).ok).toBe(true);
  });
});

describe("scope narrowing", () => {
  test.each([
    ["one scope", "user.read", ["user.read"]],
    ["two scopes, order kept", "app.read user.read", ["app.read", "user.read"]],
    ["duplicates and extra spaces collapse", "user.list  user.list ", ["user.list"]],
    ["empty scope means all", "", SCOPES],
  ])("%s", async (_n, scope, expected) => {
    const res = await token({
      authorization: basic(client.client_id, client.client_secret),
      form: { grant_type: "client_credentials", scope },
    });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe(expected.join(" "));
    expect(decodeJwt(res.body.access_token).scopes).toEqual(expected);
  });

  test("a client without scopes gets an empty scope string", async () => {
    const bare = await createClient(app.id, "bare");
    const res = await token({
      authorization: basic(bare.client_id, bare.client_secret),
      form: { grant_type: "client_credentials" },
    });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe("");
    expect(decodeJwt(res.body.access_token).scopes).toEqual([]);
  });
});

describe("RFC 6749 errors", () => {
  const grant = { grant_type: "client_credentials" };
  const CASES: [string, () => TokenCall, number, string][] = [
    ["no body and no credentials", () => ({}), 401, "invalid_client"],
    [
      "missing grant_type",
      () => ({ form: { client_id: client.client_id, client_secret: client.client_secret } }),
      400,
      "invalid_request",
    ],
    [
      "grant_type password",
      () => ({
        form: { grant_type: "password", client_id: client.client_id, client_secret: client.client_secret },
      }),
      400,
      "unsupported_grant_type",
    ],
    [
      "grant_type authorization_code via Basic",
      () => ({
        form: { grant_type: "authorization_code" },
        authorization: basic(client.client_id, client.client_secret),
      }),
      400,
      "unsupported_grant_type",
    ],
    [
      "Basic and client_secret together",
      () => ({
        form: { ...grant, client_secret: client.client_secret },
        authorization: basic(client.client_id, client.client_secret),
      }),
      400,
      "invalid_request",
    ],
    [
      "Basic and another client_id in the body",
      () => ({
        form: { ...grant, client_id: otherClient.client_id },
        authorization: basic(client.client_id, client.client_secret),
      }),
      400,
      "invalid_request",
    ],
    ["JSON array body", () => ({ json: [grant] }), 400, "invalid_request"],
    [
      "JSON parameter not a string",
      () => ({
        json: { grant_type: "client_credentials", client_id: client.client_id, client_secret: 12345 },
      }),
      400,
      "invalid_request",
    ],
    [
      "JSON scope as an array",
      () => ({
        json: {
          ...grant,
          client_id: client.client_id,
          client_secret: client.client_secret,
          scope: ["user.read"],
        },
      }),
      400,
      "invalid_request",
    ],
    [
      "client_id without a secret",
      () => ({ form: { ...grant, client_id: client.client_id } }),
      401,
      "invalid_client",
    ],
    [
      "secret without a client_id",
      () => ({ form: { ...grant, client_secret: client.client_secret } }),
      401,
      "invalid_client",
    ],
    [
      "unknown client",
      () => ({
        form: {
          ...grant,
          client_id: "m2m_ffffffffffffffffffffffffffffffff",
          client_secret: client.client_secret,
        },
      }),
      401,
      "invalid_client",
    ],
    [
      "wrong secret (post)",
      () => ({ form: { ...grant, client_id: client.client_id, client_secret: `${client.client_secret}x` } }),
      401,
      "invalid_client",
    ],
    [
      "wrong secret (Basic)",
      () => ({ form: grant, authorization: basic(client.client_id, otherClient.client_secret) }),
      401,
      "invalid_client",
    ],
    [
      "Basic without a colon",
      () => ({ form: grant, authorization: `Basic ${Buffer.from(client.client_id).toString("base64")}` }),
      401,
      "invalid_client",
    ],
    ["Basic that is not base64", () => ({ form: grant, authorization: "Basic !!!" }), 401, "invalid_client"],
    [
      "Basic with a bad percent escape",
      () => ({
        form: grant,
        authorization: `Basic ${Buffer.from(`${client.client_id}:%zz`).toString("base64")}`,
      }),
      401,
      "invalid_client",
    ],
    [
      "another app's client (post)",
      () => ({
        form: { ...grant, client_id: otherClient.client_id, client_secret: otherClient.client_secret },
      }),
      401,
      "invalid_client",
    ],
    [
      "another app's client (Basic)",
      () => ({ form: grant, authorization: basic(otherClient.client_id, otherClient.client_secret) }),
      401,
      "invalid_client",
    ],
    [
      "a scope the client does not have",
      () => ({
        form: { ...grant, scope: "user.read user.delete" },
        authorization: basic(client.client_id, client.client_secret),
      }),
      400,
      "invalid_scope",
    ],
  ];

  test.each(CASES)("%s → %i %s", async (_n, req, status, error) => {
    const before = (await issued(app.id)).length;
    const res = await token(req());
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(error);
    expect(res.headers.get("cache-control")).toBe("no-store");
    if (status === 401) expect(res.headers.get("www-authenticate")).toBe(`Basic realm="${app.slug}"`);
    else expect(res.headers.get("www-authenticate")).toBeNull();
    expect((await issued(app.id)).length).toBe(before);
  });

  test("failed authentications are audited with the reason, never the secret", async () => {
    const wrong = `${client.client_secret}-nope`;
    await token({
      form: { grant_type: "client_credentials", client_id: client.client_id, client_secret: wrong },
    });
    expect((await failures(app.id)).at(-1)).toMatchObject({
      actor_type: "m2m",
      actor_id: client.client_id,
      resource_id: client.id,
      details: { reason: "invalid_secret", client_id: client.client_id, auth_method: "client_secret_post" },
    });
    await token({ form: { grant_type: "client_credentials" }, authorization: basic("m2m_nobody", "x") });
    expect((await failures(app.id)).at(-1)).toMatchObject({
      actor_type: "m2m",
      actor_id: null,
      resource_id: null,
      details: { reason: "unknown_client", client_id: "m2m_nobody", auth_method: "client_secret_basic" },
    });
    await token({
      form: { grant_type: "client_credentials", scope: "admin.all" },
      authorization: basic(client.client_id, client.client_secret),
    });
    expect((await failures(app.id)).at(-1)!.details).toMatchObject({
      reason: "invalid_scope",
      scopes: ["admin.all"],
    });
    expect(JSON.stringify(await failures(app.id))).not.toContain(client.client_secret);
    expect((await ctx.deps.audit.verify()).ok).toBe(true);
  });

  test("malformed JSON → 400 invalid_request (RFC 6749 shape); unknown app → 404; suspended app → 403", async () => {
    // The body parser is shared by every route; on the token endpoint its refusals speak OAuth.
    const bad = await ctx.call("POST", TOKEN, {
      params: { app_slug: app.slug },
      raw: "{grant_type",
      headers: { authorization: basic(client.client_id, client.client_secret) },
      auth: null,
      unchecked: true,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("invalid_request");
    expect(bad.headers.get("cache-control")).toBe("no-store");
    const missing = await token({
      slug: "no-such-app",
      form: { grant_type: "client_credentials" },
      authorization: basic(client.client_id, client.client_secret),
    });
    expect(missing.status).toBe(404);
    expect(errCode(missing)).toBe("APP_NOT_FOUND");
    const suspended = await createApp(ctx, "oauth-suspended");
    const c = await createClient(suspended.id, "s");
    await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
      params: { app_id: suspended.id },
      body: { status: "suspended" },
    });
    const res = await token({
      slug: suspended.slug,
      form: { grant_type: "client_credentials" },
      authorization: basic(c.client_id, c.client_secret),
    });
    expect(res.status).toBe(403);
    expect(errCode(res)).toBe("APP_SUSPENDED");
  });
});

describe("client secrets with characters Basic must escape (RFC 6749 §2.3.1)", () => {
  const secret = "p%ss:w+rd &é=/?";
  const clientId = "m2m_with:colon+plus";

  beforeAll(async () => {
    const now = ctx.clock.now();
    await ctx.deps.db.insert(m2mClients).values({
      id: newId(ctx.clock),
      appId: app.id,
      clientId,
      name: "special",
      secretHash: sha256Hex(secret),
      scopes: ["user.read"],
      createdAt: now,
      updatedAt: now,
    });
  });

  test("Basic with both parts form-urlencoded → 200", async () => {
    const res = await token({
      form: { grant_type: "client_credentials" },
      authorization: basic(clientId, secret),
    });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).sub).toBe(clientId);
  });

  test("client_secret_post with the form-encoded secret → 200", async () => {
    const res = await token({
      form: { grant_type: "client_credentials", client_id: clientId, client_secret: secret },
    });
    expect(res.status).toBe(200);
  });

  test("Basic with the parts NOT encoded is a different credential → 401", async () => {
    // Raw "+" decodes to a space and the raw ":" in the id splits the pair early.
    const raw = `Basic ${Buffer.from(`${clientId}:${secret}`).toString("base64")}`;
    const res = await token({ form: { grant_type: "client_credentials" }, authorization: raw });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("invalid_client");
  });
});

describe("lifecycle: rotation, deactivation, deletion", () => {
  let c: Client;
  const grantWith = (secret: string) =>
    token({ form: { grant_type: "client_credentials" }, authorization: basic(c.client_id, secret) });

  beforeAll(async () => {
    c = await createClient(app.id, "lifecycle", ["user.read"]);
  });

  test("rotation: the old secret stops at once, the new one works", async () => {
    expect((await grantWith(c.client_secret)).status).toBe(200);
    const rotated = await ctx.call("POST", "/v1/apps/{app_id}/credentials/{client_id}/rotate", {
      params: { app_id: app.id, client_id: c.client_id },
    });
    const old = await grantWith(c.client_secret);
    expect(old.status).toBe(401);
    expect(old.body.error).toBe("invalid_client");
    c = { ...c, client_secret: rotated.body.client_secret };
    expect((await grantWith(c.client_secret)).status).toBe(200);
  });

  test("deactivation: 400 unauthorized_client (audited); reactivation restores it", async () => {
    const params = { app_id: app.id, client_id: c.client_id };
    await ctx.call("PATCH", "/v1/apps/{app_id}/credentials/{client_id}", {
      params,
      body: { is_active: false },
    });
    const res = await grantWith(c.client_secret);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("unauthorized_client");
    expect((await failures(app.id)).at(-1)!.details).toMatchObject({
      reason: "client_inactive",
      client_id: c.client_id,
    });
    await ctx.call("PATCH", "/v1/apps/{app_id}/credentials/{client_id}", {
      params,
      body: { is_active: true },
    });
    expect((await grantWith(c.client_secret)).status).toBe(200);
  });

  test("a deactivated client with a wrong secret is still just invalid_client", async () => {
    const params = { app_id: app.id, client_id: c.client_id };
    await ctx.call("PATCH", "/v1/apps/{app_id}/credentials/{client_id}", {
      params,
      body: { is_active: false },
    });
    const res = await grantWith("hcs_wrong");
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("invalid_client");
    await ctx.call("PATCH", "/v1/apps/{app_id}/credentials/{client_id}", {
      params,
      body: { is_active: true },
    });
  });

  test("scope changes apply to the next grant", async () => {
    await ctx.call("PUT", "/v1/apps/{app_id}/credentials/{client_id}/scopes", {
      params: { app_id: app.id, client_id: c.client_id },
      body: { permissions: ["billing.read"] },
    });
    const res = await grantWith(c.client_secret);
    expect(res.body.scope).toBe("billing.read");
    const narrowed = await token({
      form: { grant_type: "client_credentials", scope: "user.read" },
      authorization: basic(c.client_id, c.client_secret),
    });
    expect(narrowed.body.error).toBe("invalid_scope");
  });

  test("deletion: 401 invalid_client afterwards", async () => {
    await ctx.call("DELETE", "/v1/apps/{app_id}/credentials/{client_id}", {
      params: { app_id: app.id, client_id: c.client_id },
    });
    expect((await grantWith(c.client_secret)).body.error).toBe("invalid_client");
  });
});

describe("failed-authentication limits", () => {
  test("past the per-client limit further failures → 429 (Retry-After, not audited); the right secret still works", async () => {
    const limited = await createApp(ctx, "oauth-limited");
    const c = await createClient(limited.id, "target");
    const wrong = () =>
      token({
        slug: limited.slug,
        form: { grant_type: "client_credentials" },
        authorization: basic(c.client_id, "hcs_guess"),
      });
    for (let i = 0; i < FAILED_AUTH_LIMITS.perClient.max; i++) expect((await wrong()).status).toBe(401);
    const audited = (await failures(limited.id)).length;
    expect(audited).toBe(FAILED_AUTH_LIMITS.perClient.max);
    const res = await wrong();
    expect(res.status).toBe(429);
    expect(res.body.error).toBe("temporarily_unavailable");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(res.headers.get("ratelimit-remaining")).toBe("0");
    expect((await failures(limited.id)).length).toBe(audited);
    // Someone who merely knows the client_id cannot lock the real client out.
    const ok = await token({
      slug: limited.slug,
      form: { grant_type: "client_credentials" },
      authorization: basic(c.client_id, c.client_secret),
    });
    expect(ok.status).toBe(200);
    ctx.clock.advance(FAILED_AUTH_LIMITS.perClient.windowMs);
    expect((await wrong()).status).toBe(401);
  });
});

describe("other methods: 405 with Allow: POST (RFC 6749 §3.2)", () => {
  test.each(["GET", "PUT", "PATCH", "DELETE"])(
    "%s → 405 invalid_request, Allow: POST, no-store",
    async (method) => {
      const before = (await failures(app.id)).length + (await issued(app.id)).length;
      const res = await ctx.call(method, TOKEN, {
        params: { app_slug: app.slug },
        query: method === "GET" ? { grant_type: "client_credentials", client_id: client.client_id } : {},
        auth: null,
        unchecked: true,
      });
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("POST");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expectOAuthError(res.body);
      expect(res.body.error).toBe("invalid_request");
      // Nothing was attempted: no grant, no failed authentication.
      expect((await failures(app.id)).length + (await issued(app.id)).length).toBe(before);
    },
  );

  test("HEAD → 405 with Allow: POST (the server drops the body on the socket)", async () => {
    const res = await ctx.call("HEAD", TOKEN, {
      params: { app_slug: app.slug },
      auth: null,
      unchecked: true,
    });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
  });

  test("GET at an unknown app is its 404 first, in the wire error shape", async () => {
    const res = await ctx.call("GET", TOKEN, {
      params: { app_slug: "no-such-app" },
      auth: null,
      unchecked: true,
    });
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe("APP_NOT_FOUND");
  });

  test("/openapi.json documents the POST only, and says what other methods get", async () => {
    const res = await ctx.call("GET", "/openapi.json", { auth: null, unchecked: true });
    const ops = res.body.paths["/{app_slug}/v1/oauth/token"];
    expect(Object.keys(ops)).toEqual(["post"]);
    expect(ops.post.description).toContain("405");
    expect(ops.post.description).toContain("invalid_target");
  });
});

describe("resource / audience (RFC 8707): only the app's own audience", () => {
  const grant = (extra: Record<string, string>, slug = app.slug) =>
    token({
      slug,
      form: { grant_type: "client_credentials", ...extra },
      authorization: basic(client.client_id, client.client_secret),
    });

  test.each(["resource", "audience"])(
    "%s naming the app's audience (its slug, the tokens' aud) → 200",
    async (param) => {
      const res = await grant({ [param]: app.slug });
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).aud).toBe(app.slug);
    },
  );

  test.each([
    ["resource", "https://api.example.com"],
    ["resource", `${PUBLIC_URL}/oauth-app`],
    ["resource", "oauth-other"],
    ["audience", "https://api.example.com"],
    ["audience", "OAUTH-APP"],
  ])("%s=%s → 400 invalid_target, no token, a failure row", async (param, value) => {
    const before = (await issued(app.id)).length;
    const res = await grant({ [param]: value });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_target");
    expect(res.body.error_description).toContain(app.slug);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect((await issued(app.id)).length).toBe(before);
    const row = (await failures(app.id)).at(-1)!;
    expect(row.details).toMatchObject({
      reason: "invalid_target",
      [param]: value,
      auth_method: "client_secret_basic",
    });
    expect(row.actor_id).toBe(client.client_id);
  });

  test("the same in a JSON body; a non-string value is invalid_request", async () => {
    const json = (extra: Record<string, unknown>) =>
      token({
        json: { grant_type: "client_credentials", ...extra },
        authorization: basic(client.client_id, client.client_secret),
      });
    expect((await json({ audience: "elsewhere" })).body.error).toBe("invalid_target");
    const arr = await json({ resource: [app.slug] });
    expect(arr.status).toBe(400);
    expect(arr.body.error).toBe("invalid_request");
  });

  test("another app's slug at this app is another audience; a wrong secret is still invalid_client first", async () => {
    expect((await grant({ resource: other.slug })).body.error).toBe("invalid_target");
    const res = await token({
      form: { grant_type: "client_credentials", resource: "https://api.example.com" },
      authorization: basic(client.client_id, "hcs_wrong"),
    });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("invalid_client");
  });
});
