/** @module `POST /{app_slug}/v1/oauth/introspect`: the active/inactive matrix, token sources and errors. */
import { beforeAll, describe, expect, test } from "bun:test";
import { HOUR, MINUTE } from "../../../src/core/clock.ts";
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
      setUser(ctx, u.id, { role: "owner" });
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
      ctx.deps.sessions.revoke(u.sessionId, "admin");
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
      setUser(ctx, u.id, { status });
      await expectInactive(u.token);
    });

    test("a token of a deactivated M2M client", async () => {
      const c = await createM2mClient(ctx, app, ["user.read"]);
      setM2mClientActive(ctx, c.clientId, false);
      await expectInactive(c.token);
    });

    test("a token of a deleted M2M client", async () => {
      const c = await createM2mClient(ctx, app, ["user.read"]);
      deleteM2mClient(ctx, c.clientId);
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

    test("a non-Bearer Authorization scheme counts as no bearer", async () => {
      const res = await ctx.call("POST", PATH, {
        params: { app_slug: app.slug },
        auth: null,
        headers: { authorization: "Basic bTJtX3g6c2VjcmV0" },
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
      const count = () => auditRows(ctx).length;
      const before = count();
      await introspect(u.token);
      await introspect("garbage");
      expect(count()).toBe(before);
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
