/** @module `POST /{app_slug}/v1/verify`: token sources, principals, and every failure as a 200 answer. */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { HOUR, MINUTE } from "../../../src/core/clock.ts";
import { createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import {
  createEndUser,
  createM2mClient,
  deleteM2mClient,
  forge,
  setM2mClientActive,
  setUser,
  type TestApp,
} from "./verify-fixtures.ts";

const PATH = "/{app_slug}/v1/verify";

describe("POST /verify", () => {
  let ctx: TestContext;
  let app: TestApp;
  let other: TestApp;

  const verify = (opts: { bearer?: string; body?: unknown; slug?: string } = {}) =>
    ctx.call("POST", PATH, {
      params: { app_slug: opts.slug ?? app.slug },
      auth: opts.bearer === undefined ? null : { bearer: opts.bearer },
      body: opts.body,
    });

  beforeAll(async () => {
    ctx = await createTestContext();
    app = await createApp(ctx, "verify-a");
    other = await createApp(ctx, "verify-b");
  });

  describe("valid", () => {
    test("an EndUser bearer: principal with the account's current role, no permissions", async () => {
      const u = await createEndUser(ctx, app, "alice");
      await setUser(ctx, u.id, { role: "admin" });
      const res = await verify({ bearer: u.token, body: {} });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.body).toEqual({
        valid: true,
        principal: { sub: u.id, aid: app.id, type: "end_user", role: "admin" },
      });
    });

    test("an M2M token in the body: principal with its scopes as permissions", async () => {
      const c = await createM2mClient(ctx, app, ["user.read", "role.read"]);
      const res = await verify({ body: { token: c.token } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        valid: true,
        principal: { sub: c.clientId, aid: app.id, type: "m2m", permissions: ["user.read", "role.read"] },
      });
    });

    test("the body token wins over the bearer", async () => {
      const c = await createM2mClient(ctx, app, ["user.read"]);
      const res = await verify({ bearer: "not-a-jwt", body: { token: c.token } });
      expect(res.body.valid).toBe(true);
      expect(res.body.principal.sub).toBe(c.clientId);
    });

    test("a bearer and no body at all", async () => {
      const u = await createEndUser(ctx, app, "bodiless");
      const res = await verify({ bearer: u.token });
      expect(res.status).toBe(200);
      expect(res.body.valid).toBe(true);
    });
  });

  describe("invalid, answered with 200", () => {
    type Case = [name: string, error: string, token: () => Promise<string>];
    const cases: Case[] = [
      ["garbage", "TOKEN_INVALID", async () => "not-a-jwt"],
      [
        "a foreign signature",
        "TOKEN_INVALID",
        async () => forge((await createEndUser(ctx, app, "forged")).token),
      ],
      [
        "a foreign signature claiming another sid",
        "TOKEN_INVALID",
        async () =>
          forge((await createEndUser(ctx, app, "forged-sid")).token, {
            sid: "0190e4f1-0000-7000-8000-000000000000",
          }),
      ],
      [
        "an EndUser token of another app",
        "TOKEN_INVALID",
        async () => (await createEndUser(ctx, other, "elsewhere")).token,
      ],
      [
        "an M2M token of another app",
        "TOKEN_INVALID",
        async () => (await createM2mClient(ctx, other, ["user.read"])).token,
      ],
      [
        "an expired token",
        "TOKEN_EXPIRED",
        async () => {
          const u = await createEndUser(ctx, app, "expired");
          ctx.clock.advance(HOUR + MINUTE);
          return u.token;
        },
      ],
      [
        "a revoked session",
        "TOKEN_REVOKED",
        async () => {
          const u = await createEndUser(ctx, app, "revoked");
          await ctx.deps.sessions.revoke(u.sessionId, "admin");
          return u.token;
        },
      ],
      [
        "a session that ran out",
        "TOKEN_REVOKED",
        async () => {
          const u = await createEndUser(ctx, app, "short", { sessionMinutes: 1 });
          ctx.clock.advance(2 * MINUTE);
          return u.token;
        },
      ],
      [
        "a deleted account",
        "TOKEN_REVOKED",
        async () => {
          const u = await createEndUser(ctx, app, "deleted");
          const { endUsers } = ctx.deps.db.tables;
          await ctx.deps.db.delete(endUsers).where(eq(endUsers.id, u.id));
          return u.token;
        },
      ],
      [
        "a deactivated M2M client",
        "TOKEN_REVOKED",
        async () => {
          const c = await createM2mClient(ctx, app, ["user.read"]);
          await setM2mClientActive(ctx, c.clientId, false);
          return c.token;
        },
      ],
      [
        "a deleted M2M client",
        "TOKEN_REVOKED",
        async () => {
          const c = await createM2mClient(ctx, app, ["user.read"]);
          await deleteM2mClient(ctx, c.clientId);
          return c.token;
        },
      ],
      [
        "a suspended account",
        "ACCOUNT_SUSPENDED",
        async () => {
          const u = await createEndUser(ctx, app, "suspended");
          await setUser(ctx, u.id, { status: "suspended" });
          return u.token;
        },
      ],
      [
        "a deactivated account",
        "ACCOUNT_SUSPENDED",
        async () => {
          const u = await createEndUser(ctx, app, "deactivated");
          await setUser(ctx, u.id, { status: "deactivated" });
          return u.token;
        },
      ],
    ];

    test.each(cases)("%s → %s", async (_name, error, make) => {
      const token = await make();
      for (const res of [await verify({ bearer: token }), await verify({ body: { token } })]) {
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ valid: false, error });
      }
    });
  });

  describe("request errors", () => {
    test.each([
      ["no token anywhere", undefined, {}],
      ["an empty body token and no bearer", undefined, { token: "" }],
      ["a non-string token", undefined, { token: 7 }],
    ])("%s is a 400", async (_name, bearer, body) => {
      const res = await verify({ bearer, body });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
      expect(res.body.details[0].field).toBe("token");
    });

    test("an unknown app is a 404", async () => {
      const res = await verify({ body: { token: "x" }, slug: "nope-nope" });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("APP_NOT_FOUND");
    });

    test("a suspended app refuses with 403", async () => {
      const suspended = await createApp(ctx, "verify-suspended");
      const u = await createEndUser(ctx, suspended, "someone");
      const s = await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
        params: { app_id: suspended.id },
        body: { status: "suspended" },
      });
      expect(s.status).toBe(200);
      const res = await verify({ bearer: u.token, slug: suspended.slug });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("APP_SUSPENDED");
    });
  });
});
