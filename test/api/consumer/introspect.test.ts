/**
 * @module `POST /{app_slug}/v1/oauth/introspect`: the contract's Bearer mode (the active/inactive matrix,
 * token sources and errors) and the client-authenticated RFC 7662 mode (answers, refusals, audit rows).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { HOUR, MINUTE } from "../../../src/core/clock.ts";
import { FAILED_AUTH_LIMITS } from "../../../src/m2m/grant.ts";
import { auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";
import {
  createApiKey,
  createEndUser,
  createM2mClient,
  deleteM2mClient,
  forge,
  setM2mClientActive,
  setUser,
  type TestApp,
} from "./verify-fixtures.ts";

const PATH = "/{app_slug}/v1/oauth/introspect";

describe("POST /oauth/introspect", () => {
  let ctx: TestContext;
  let app: TestApp;
  let other: TestApp;

  const introspect = (
    bearer: string | null,
    body: Record<string, string> = {},
    opts: { form?: boolean; slug?: string } = {},
  ) =>
    ctx.call("POST", PATH, {
      params: { app_slug: opts.slug ?? app.slug },
      auth: bearer === null ? null : { bearer },
      ...(opts.form
        ? {
            raw: new URLSearchParams(body).toString(),
            headers: { "content-type": "application/x-www-form-urlencoded" },
          }
        : { body }),
    });

  const expectInactive = async (bearer: string, body: Record<string, string> = {}) => {
    const res = await introspect(bearer, body);
    expect(res.status).toBe(200);
    // Exactly this: an inactive answer carries nothing else to probe.
    expect(res.body).toEqual({ active: false });
    expect(res.headers.get("cache-control")).toBe("no-store");
  };

  beforeAll(async () => {
    ctx = await createTestContext();
    app = await createApp(ctx, "intro-a");
    other = await createApp(ctx, "intro-b");
  });

  describe("active", () => {
    test("an EndUser token: subject, app, issuer, times and the account's current role", async () => {
      const u = await createEndUser(ctx, app, "alice", { role: "admin" });
      const res = await introspect(u.token);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const now = Math.floor(ctx.clock.now() / 1000);
      expect(res.body).toEqual({
        active: true,
        sub: u.id,
        aid: app.id,
        type: "end_user",
        iss: `${PUBLIC_URL}/${app.slug}`,
        iat: now,
        exp: now + 3600,
        role: "admin",
      });
    });

    test("an EndUser token reports a role changed after it was issued", async () => {
      const u = await createEndUser(ctx, app, "bob");
      await setUser(ctx, u.id, { role: "owner" });
      const res = await introspect(u.token);
      expect(res.body.active).toBe(true);
      expect(res.body.role).toBe("owner");
    });

    test("an M2M token: client id, scopes and the space-joined scope", async () => {
      const c = await createM2mClient(ctx, app, ["user.read", "user.list"]);
      const res = await introspect(c.token);
      expect(res.status).toBe(200);
      const now = Math.floor(ctx.clock.now() / 1000);
      expect(res.body).toEqual({
        active: true,
        sub: c.clientId,
        aid: app.id,
        type: "m2m",
        iss: `${PUBLIC_URL}/${app.slug}`,
        iat: now,
        exp: now + 3600,
        client_id: c.clientId,
        scope: "user.read user.list",
        scopes: ["user.read", "user.list"],
      });
    });

    test("a JSON body naming the bearer itself", async () => {
      const u = await createEndUser(ctx, app, "carol");
      const res = await introspect(u.token, { token: u.token, token_type_hint: "access_token" });
      expect(res.body.active).toBe(true);
    });

    test("an RFC 7662 form body naming the bearer itself", async () => {
      const c = await createM2mClient(ctx, app, ["user.read"]);
      const res = await introspect(
        c.token,
        { token: c.token, token_type_hint: "access_token" },
        { form: true },
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ active: true, type: "m2m", client_id: c.clientId });
    });

    test("no body at all", async () => {
      const u = await createEndUser(ctx, app, "dave");
      const res = await ctx.call("POST", PATH, { params: { app_slug: app.slug }, auth: { bearer: u.token } });
      expect(res.status).toBe(200);
      expect(res.body.active).toBe(true);
    });
  });

  describe("inactive", () => {
    test("a signature by a foreign key under the app's own kid", async () => {
      const u = await createEndUser(ctx, app, "forged-sig");
      await expectInactive(await forge(u.token));
    });

    test("a foreign signature under an unknown kid", async () => {
      const u = await createEndUser(ctx, app, "forged-kid");
      const forged = await forge(u.token);
      const [, payload, sig] = forged.split(".");
      const header = Buffer.from(
        JSON.stringify({ alg: "RS256", kid: "rs256-unknown-00000000", typ: "at+jwt" }),
      ).toString("base64url");
      await expectInactive(`${header}.${payload}.${sig}`);
    });

    test("an expired token", async () => {
      const u = await createEndUser(ctx, app, "expired");
      ctx.clock.advance(HOUR + MINUTE);
      await expectInactive(u.token);
    });

    test("a token whose session was revoked", async () => {
      const u = await createEndUser(ctx, app, "revoked");
      await ctx.deps.sessions.revoke(u.sessionId, "admin");
      await expectInactive(u.token);
    });

    test("a token whose user logged out through the Consumer API", async () => {
      const u = await createEndUser(ctx, app, "logged-out");
      const out = await ctx.call("POST", "/{app_slug}/v1/auth/logout", {
        params: { app_slug: app.slug },
        auth: null,
        body: { refresh_token: u.refreshToken },
      });
      expect(out.status).toBe(204);
      await expectInactive(u.token);
    });

    test("a token whose session ran out before the token did", async () => {
      const u = await createEndUser(ctx, app, "short-session", { sessionMinutes: 1 });
      ctx.clock.advance(2 * MINUTE);
      await expectInactive(u.token);
    });

    test("a token of another app", async () => {
      const u = await createEndUser(ctx, other, "elsewhere");
      await expectInactive(u.token);
      const c = await createM2mClient(ctx, other, ["user.read"]);
      await expectInactive(c.token);
    });

    test.each(["suspended", "deactivated"])("a token of a %s account", async (status) => {
      const u = await createEndUser(ctx, app, `acct-${status}`);
      await setUser(ctx, u.id, { status });
      await expectInactive(u.token);
    });

    test("a token of a deactivated M2M client", async () => {
      const c = await createM2mClient(ctx, app, ["user.read"]);
      await setM2mClientActive(ctx, c.clientId, false);
      await expectInactive(c.token);
    });

    test("a token of a deleted M2M client", async () => {
      const c = await createM2mClient(ctx, app, ["user.read"]);
      await deleteM2mClient(ctx, c.clientId);
      await expectInactive(c.token);
    });

    test("a body token different from the bearer, even when both are active", async () => {
      const a = await createEndUser(ctx, app, "prober");
      const b = await createM2mClient(ctx, app, ["user.read"]);
      await expectInactive(a.token, { token: b.token });
    });

    test.each([
      ["garbage", "not-a-jwt"],
      ["a platform API key", "pcft_live_0123456789abcdef0123456789abcdef"],
      ["an unsigned token", `${Buffer.from('{"alg":"none"}').toString("base64url")}.e30.`],
    ])("%s", async (_name, token) => {
      await expectInactive(token);
    });

    test("an app API key is not an access token", async () => {
      const key = await createApiKey(ctx, app, ["user.read"]);
      await expectInactive(key.key);
    });
  });

  describe("errors", () => {
    test("no bearer is a 401, even with the token in the body", async () => {
      const u = await createEndUser(ctx, app, "no-bearer");
      for (const body of [{}, { token: u.token }] as Record<string, string>[]) {
        const res = await introspect(null, body);
        expect(res.status).toBe(401);
        expect(res.body.code).toBe("UNAUTHORIZED");
      }
    });

    test("another non-Bearer Authorization scheme counts as no bearer", async () => {
      const res = await ctx.call("POST", PATH, {
        params: { app_slug: app.slug },
        auth: null,
        headers: { authorization: "Digest username=x" },
        body: {},
      });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("UNAUTHORIZED");
    });

    test("an unknown app is a 404", async () => {
      const u = await createEndUser(ctx, app, "lost");
      const res = await introspect(u.token, {}, { slug: "no-such-app" });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("APP_NOT_FOUND");
    });

    test("a non-string token field is a validation error", async () => {
      const u = await createEndUser(ctx, app, "typed");
      const res = await introspect(u.token, { token: 42 } as never);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
      expect(res.body.details).toEqual([expect.objectContaining({ field: "token" })]);
    });

    test("introspection writes nothing to the audit log", async () => {
      const u = await createEndUser(ctx, app, "quiet");
      const count = async () => (await auditRows(ctx)).length;
      const before = await count();
      await introspect(u.token);
      await introspect("garbage");
      expect(await count()).toBe(before);
    });
  });
});

describe("introspection of a token from the real client_credentials grant", () => {
  test("active while the client is, inactive once the operator deactivates it", async () => {
    const ctx = await createTestContext();
    const app = await createApp(ctx, "intro-grant");
    const created = await ctx.call("POST", "/v1/apps/{app_id}/credentials", {
      params: { app_id: app.id },
      body: { name: "svc" },
    });
    expect(created.status).toBe(201);
    const { client_id, client_secret } = created.body;
    const scoped = await ctx.call("PUT", "/v1/apps/{app_id}/credentials/{client_id}/scopes", {
      params: { app_id: app.id, client_id },
      body: { permissions: ["user.list", "user.read"] },
    });
    expect(scoped.status).toBeLessThan(300);
    const grant = await ctx.call("POST", "/{app_slug}/v1/oauth/token", {
      params: { app_slug: app.slug },
      auth: null,
      body: { grant_type: "client_credentials", client_id, client_secret },
    });
    expect(grant.status).toBe(200);
    const token = grant.body.access_token as string;

    const active = await ctx.call("POST", PATH, {
      params: { app_slug: app.slug },
      auth: { bearer: token },
      body: {},
    });
    expect(active.body).toMatchObject({ active: true, type: "m2m", sub: client_id, client_id, aid: app.id });
    expect([...active.body.scopes].sort()).toEqual(["user.list", "user.read"]);
    const lane = await ctx.call("GET", "/{app_slug}/v1/admin/users", {
      params: { app_slug: app.slug },
      auth: { bearer: token },
    });
    expect(lane.status).toBe(200);

    const off = await ctx.call("PATCH", "/v1/apps/{app_id}/credentials/{client_id}", {
      params: { app_id: app.id, client_id },
      body: { is_active: false },
    });
    expect(off.status).toBe(200);
    const inactive = await ctx.call("POST", PATH, {
      params: { app_slug: app.slug },
      auth: { bearer: token },
      body: {},
    });
    expect(inactive.body).toEqual({ active: false });
    const refused = await ctx.call("GET", "/{app_slug}/v1/admin/users", {
      params: { app_slug: app.slug },
      auth: { bearer: token },
    });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe("TOKEN_REVOKED");
  });
});

describe("POST /oauth/introspect as an authenticated client (RFC 7662)", () => {
  let ctx: TestContext;
  let app: TestApp;
  let other: TestApp;
  /** The introspecting client, created through the Admin API so its secret is real. */
  let rs: { id: string; client_id: string; client_secret: string };

  const newClient = async (target: TestApp, scopes: string[] = ["user.read"]) => {
    const res = await ctx.call("POST", "/v1/apps/{app_id}/credentials", {
      params: { app_id: target.id },
      body: { name: "resource server", scopes },
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; client_id: string; client_secret: string };
  };

  const basic = (id: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

  /** A form-encoded request; the refusals are RFC 6749 bodies, which the contract's wire error does not cover. */
  const introspect = (
    form: Record<string, string>,
    opts: { authorization?: string; slug?: string; unchecked?: boolean } = {},
  ) =>
    ctx.call("POST", PATH, {
      params: { app_slug: opts.slug ?? app.slug },
      auth: null,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(opts.authorization ? { authorization: opts.authorization } : {}),
      },
      raw: new URLSearchParams(form).toString(),
      unchecked: opts.unchecked ?? false,
    });

  const asRs = (form: Record<string, string>) =>
    introspect(form, { authorization: basic(rs.client_id, rs.client_secret) });

  const expectInvalidClient = (res: Awaited<ReturnType<typeof introspect>>, slug = app.slug) => {
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: "invalid_client", error_description: expect.any(String) });
    expect(res.headers.get("www-authenticate")).toBe(`Basic realm="${slug}"`);
    expect(res.headers.get("cache-control")).toBe("no-store");
  };

  beforeAll(async () => {
    ctx = await createTestContext();
    app = await createApp(ctx, "rfc-intro-a");
    other = await createApp(ctx, "rfc-intro-b");
    rs = await newClient(app);
  });

  describe("active", () => {
    test("an EndUser token via client_secret_basic: the RFC 7662 members and Heimdall's", async () => {
      const u = await createEndUser(ctx, app, "rfc-alice", { role: "admin" });
      const res = await asRs({ token: u.token, token_type_hint: "access_token" });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const now = Math.floor(ctx.clock.now() / 1000);
      expect(res.body).toEqual({
        active: true,
        token_type: "Bearer",
        sub: u.id,
        aud: app.slug,
        jti: expect.any(String),
        iss: `${PUBLIC_URL}/${app.slug}`,
        iat: now,
        exp: now + 3600,
        aid: app.id,
        type: "end_user",
        role: "admin",
      });
    });

    test("another client's M2M token via client_secret_post: scope, client_id and the token's jti", async () => {
      const c = await createM2mClient(ctx, app, ["user.read", "user.list"]);
      const res = await introspect({
        token: c.token,
        client_id: rs.client_id,
        client_secret: rs.client_secret,
      });
      expect(res.status).toBe(200);
      const now = Math.floor(ctx.clock.now() / 1000);
      const payload = JSON.parse(Buffer.from(c.token.split(".")[1]!, "base64url").toString());
      expect(res.body).toEqual({
        active: true,
        token_type: "Bearer",
        scope: "user.read user.list",
        client_id: c.clientId,
        sub: c.clientId,
        aud: app.slug,
        jti: payload.jti,
        iss: `${PUBLIC_URL}/${app.slug}`,
        iat: now,
        exp: now + 3600,
        aid: app.id,
        type: "m2m",
        scopes: ["user.read", "user.list"],
      });
    });

    test("a JSON body with client_secret_post works too", async () => {
      const u = await createEndUser(ctx, app, "rfc-json");
      const res = await ctx.call("POST", PATH, {
        params: { app_slug: app.slug },
        auth: null,
        body: { token: u.token, client_id: rs.client_id, client_secret: rs.client_secret },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ active: true, sub: u.id, token_type: "Bearer" });
    });

    test("any active client of the app may introspect, whatever its scopes; its own token included", async () => {
      const bare = await newClient(app, []);
      const grant = await ctx.call("POST", "/{app_slug}/v1/oauth/token", {
        params: { app_slug: app.slug },
        auth: null,
        body: {
          grant_type: "client_credentials",
          client_id: bare.client_id,
          client_secret: bare.client_secret,
        },
      });
      expect(grant.status).toBe(200);
      const res = await introspect(
        { token: grant.body.access_token },
        { authorization: basic(bare.client_id, bare.client_secret) },
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ active: true, client_id: bare.client_id, scope: "" });
    });

    test("a successful introspection writes no audit row (as the Bearer mode)", async () => {
      const u = await createEndUser(ctx, app, "rfc-quiet");
      const before = (await auditRows(ctx, { app_id: app.id })).length;
      expect((await asRs({ token: u.token })).body.active).toBe(true);
      expect((await asRs({ token: "garbage" })).body).toEqual({ active: false });
      expect((await auditRows(ctx, { app_id: app.id })).length).toBe(before);
    });
  });

  describe("inactive: exactly {active: false}", () => {
    const expectInactive = async (token: string) => {
      const res = await asRs({ token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ active: false });
      expect(res.headers.get("cache-control")).toBe("no-store");
    };

    test("unknown, forged and unsigned tokens", async () => {
      const u = await createEndUser(ctx, app, "rfc-forged");
      await expectInactive("not-a-jwt");
      await expectInactive(await forge(u.token));
      await expectInactive(`${Buffer.from('{"alg":"none"}').toString("base64url")}.e30.`);
    });

    test("another app's tokens", async () => {
      await expectInactive((await createEndUser(ctx, other, "rfc-elsewhere")).token);
      await expectInactive((await createM2mClient(ctx, other, ["user.read"])).token);
    });

    test("a revoked session's token and a deactivated client's token", async () => {
      const u = await createEndUser(ctx, app, "rfc-revoked");
      await ctx.deps.sessions.revoke(u.sessionId, "admin");
      await expectInactive(u.token);
      const c = await createM2mClient(ctx, app, ["user.read"]);
      await setM2mClientActive(ctx, c.clientId, false);
      await expectInactive(c.token);
    });

    test("an expired token", async () => {
      const local = await createTestContext();
      const a = await createApp(local, "rfc-expiry");
      const created = await local.call("POST", "/v1/apps/{app_id}/credentials", {
        params: { app_id: a.id },
        body: { name: "rs" },
      });
      const u = await createEndUser(local, a, "rfc-expired");
      local.clock.advance(HOUR + MINUTE);
      const res = await local.call("POST", PATH, {
        params: { app_slug: a.slug },
        auth: null,
        body: {
          token: u.token,
          client_id: created.body.client_id,
          client_secret: created.body.client_secret,
        },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ active: false });
    });

    test("an app API key is not an access token", async () => {
      await expectInactive((await createApiKey(ctx, app, ["user.read"])).key);
    });
  });

  describe("refusals", () => {
    test("a wrong secret: 401 invalid_client with a Basic challenge, audited as a failed client authentication", async () => {
      const u = await createEndUser(ctx, app, "rfc-wrong");
      const res = await introspect(
        { token: u.token },
        { authorization: basic(rs.client_id, "hcs_wrong"), unchecked: true },
      );
      expectInvalidClient(res);
      const rows = await auditRows(ctx, { app_id: app.id, action: "m2m.token_failed", resource_id: rs.id });
      expect(rows.at(-1)?.details).toMatchObject({
        reason: "invalid_secret",
        client_id: rs.client_id,
        auth_method: "client_secret_basic",
        endpoint: "introspection",
      });
      expect(rows.at(-1)?.request_id).toBe(res.headers.get("x-request-id"));
    });

    test("a wrong secret in the body (client_secret_post)", async () => {
      const res = await introspect(
        { token: "x", client_id: rs.client_id, client_secret: "hcs_wrong" },
        { unchecked: true },
      );
      expectInvalidClient(res);
    });

    test("an unknown client, and a client of another app", async () => {
      const foreign = await newClient(other);
      for (const [id, secret] of [
        ["m2m_nobody", "hcs_x"],
        [foreign.client_id, foreign.client_secret],
      ] as const) {
        expectInvalidClient(
          await introspect({ token: "x" }, { authorization: basic(id, secret), unchecked: true }),
        );
      }
      // The foreign client is fine at its own app.
      const home = await introspect(
        { token: "x" },
        { authorization: basic(foreign.client_id, foreign.client_secret), slug: other.slug },
      );
      expect(home.status).toBe(200);
      expect(home.body).toEqual({ active: false });
    });

    test("a deactivated client: 401 invalid_client, audited as client_inactive", async () => {
      const off = await newClient(app);
      await setM2mClientActive(ctx, off.client_id, false);
      const res = await introspect(
        { token: "x" },
        { authorization: basic(off.client_id, off.client_secret), unchecked: true },
      );
      expectInvalidClient(res);
      const rows = await auditRows(ctx, { app_id: app.id, action: "m2m.token_failed", resource_id: off.id });
      expect(rows.map((r) => r.details)).toEqual([
        expect.objectContaining({ reason: "client_inactive", endpoint: "introspection" }),
      ]);
    });

    test("malformed Basic credentials and a client_id without a secret", async () => {
      expectInvalidClient(await introspect({ token: "x" }, { authorization: "Basic %%%", unchecked: true }));
      expectInvalidClient(await introspect({ token: "x", client_id: rs.client_id }, { unchecked: true }));
    });

    test("no token: 400 invalid_request", async () => {
      const res = await introspect(
        {},
        { authorization: basic(rs.client_id, rs.client_secret), unchecked: true },
      );
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_request");
    });

    test("two client authentication methods at once, or a client and a Bearer: 400 invalid_request", async () => {
      const both = await introspect(
        { token: "x", client_secret: rs.client_secret },
        { authorization: basic(rs.client_id, rs.client_secret), unchecked: true },
      );
      expect(both.status).toBe(400);
      expect(both.body.error).toBe("invalid_request");
      const u = await createEndUser(ctx, app, "rfc-mixed");
      const mixed = await introspect(
        { token: u.token, client_id: rs.client_id, client_secret: rs.client_secret },
        { authorization: `Bearer ${u.token}`, unchecked: true },
      );
      expect(mixed.status).toBe(400);
      expect(mixed.body.error).toBe("invalid_request");
    });

    test("failed client authentications share the token endpoint's per-client limit", async () => {
      const target = await newClient(app);
      const wrong = { client_id: target.client_id, client_secret: "hcs_wrong" };
      for (let i = 0; i < FAILED_AUTH_LIMITS.perClient.max; i++) {
        const res = await ctx.call("POST", "/{app_slug}/v1/oauth/token", {
          params: { app_slug: app.slug },
          auth: null,
          body: { grant_type: "client_credentials", ...wrong },
          unchecked: true,
        });
        expect(res.status).toBe(401);
      }
      const res = await introspect({ token: "x", ...wrong }, { unchecked: true });
      expect(res.status).toBe(429);
      expect(res.body.error).toBe("temporarily_unavailable");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    });
  });
});
