/** @module Every `/me*` route accepts only a live EndUser token of its own app, for an active account. */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { HOUR, SECOND } from "../../../src/core/clock.ts";
import { createApp, openSession } from "../../support/fixtures.ts";
import { type Auth, createTestContext, type TestContext } from "../../support/harness.ts";
import { createUser, type TestApp } from "./me-fixtures.ts";

interface Route {
  method: string;
  path: string;
  body?: unknown;
}

const ID = "01900000-0000-7000-8000-000000000000";

const ROUTES: Route[] = [
  { method: "GET", path: "/{app_slug}/v1/me" },
  { method: "PATCH", path: "/{app_slug}/v1/me", body: { display_name: "x" } },
  { method: "DELETE", path: "/{app_slug}/v1/me" },
  { method: "GET", path: "/{app_slug}/v1/me/sessions" },
  { method: "DELETE", path: "/{app_slug}/v1/me/sessions/{id}" },
  {
    method: "POST",
    path: "/{app_slug}/v1/me/change-password",
    body: { current_password: "a perfectly fine passphrase", new_password: "another fine passphrase" },
  },
  { method: "GET", path: "/{app_slug}/v1/me/contacts" },
  { method: "POST", path: "/{app_slug}/v1/me/contacts", body: { type: "email", value: "lane@example.test" } },
  { method: "DELETE", path: "/{app_slug}/v1/me/contacts/{id}" },
  { method: "POST", path: "/{app_slug}/v1/me/contacts/{id}/promote" },
  { method: "GET", path: "/{app_slug}/v1/me/activity" },
];

let ctx: TestContext;
let app: TestApp;
let other: TestApp;
/** Credentials that must all be refused, by case name. */
const creds: Record<string, { auth: Auth; slug?: string; status: number; code: string }> = {};

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "lanes-app");
  other = await createApp(ctx, "lanes-other");

  const outsider = await createUser(ctx, other, "outsider");
  const revoked = await createUser(ctx, app, "revoked");
  await ctx.deps.sessions.revoke(revoked.sessionId, "test");
  const suspended = await createUser(ctx, app, "suspended");
  await ctx.deps.db
    .update(ctx.deps.db.tables.endUsers)
    .set({ status: "suspended" })
    .where(eq(ctx.deps.db.tables.endUsers.id, suspended.id));
  const m2m = await ctx.deps.tokens.issueM2m(app, { clientId: "svc", scopes: ["users:read"] });

  creds["no token"] = { auth: null, status: 401, code: "UNAUTHORIZED" };
  creds["a malformed token"] = { auth: { bearer: "not-a-jwt" }, status: 401, code: "INVALID_TOKEN" };
  creds["a token of another app"] = { auth: { bearer: outsider.token }, status: 401, code: "INVALID_TOKEN" };
  creds["an M2M token"] = { auth: { bearer: m2m.token }, status: 401, code: "INVALID_TOKEN" };
  creds["a PAK"] = { auth: { pak: ctx.pak }, status: 401, code: "INVALID_TOKEN" };
  creds["a revoked session's token"] = {
    auth: { bearer: revoked.token },
    status: 401,
    code: "TOKEN_REVOKED",
  };
  creds["a suspended account's token"] = {
    auth: { bearer: suspended.token },
    status: 403,
    code: "ACCOUNT_SUSPENDED",
  };
  creds["an unknown app slug"] = {
    auth: { bearer: outsider.token },
    slug: "no-such-app",
    status: 404,
    code: "APP_NOT_FOUND",
  };
});

const CASES = [
  "no token",
  "a malformed token",
  "a token of another app",
  "an M2M token",
  "a PAK",
  "a revoked session's token",
  "a suspended account's token",
  "an unknown app slug",
];

describe("refused credentials", () => {
  for (const route of ROUTES) {
    for (const name of CASES) {
      test(`${route.method} ${route.path} with ${name}`, async () => {
        const c = creds[name]!;
        const res = await ctx.call(route.method, route.path, {
          params: { app_slug: c.slug ?? app.slug, id: ID },
          body: route.body,
          auth: c.auth,
        });
        expect(res.status).toBe(c.status);
        expect(res.body.code).toBe(c.code);
      });
    }
  }
});

describe("a suspended app", () => {
  test("refuses its EndUsers with 403 APP_SUSPENDED, and takes them back once active", async () => {
    const s = await createApp(ctx, "lanes-suspended");
    const u = await createUser(ctx, s, "member");
    expect(
      (
        await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
          params: { app_id: s.id },
          body: { status: "suspended" },
        })
      ).status,
    ).toBe(200);
    const res = await ctx.call("GET", "/{app_slug}/v1/me", {
      params: { app_slug: s.slug },
      auth: { bearer: u.token },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("APP_SUSPENDED");
    expect(
      (
        await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
          params: { app_id: s.id },
          body: { status: "active" },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await ctx.call("GET", "/{app_slug}/v1/me", {
          params: { app_slug: s.slug },
          auth: { bearer: u.token },
        })
      ).status,
    ).toBe(200);
  });
});

// Last: it moves the clock past every token issued above.
describe("an expired token", () => {
  test("is 401 TOKEN_EXPIRED on every route while its session is still live", async () => {
    const u = await createUser(ctx, app, "expiring");
    const fresh = await openSession(ctx, app, u.id);
    ctx.clock.advance(HOUR + SECOND);
    for (const route of ROUTES) {
      const res = await ctx.call(route.method, route.path, {
        params: { app_slug: app.slug, id: ID },
        body: route.body,
        auth: { bearer: fresh.token },
      });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("TOKEN_EXPIRED");
    }
    expect(ctx.deps.sessions.isLive(await ctx.deps.sessions.facts(fresh.sessionId))).toBe(true);
  });
});
