/**
 * @module The Consumer admin lane (`consumerAdmin` guard) through `GET /{app_slug}/v1/admin/users`: each
 * credential kind, enforcement on and off, the API key's fixed scope, and the failures.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import {
  createApiKey,
  createEndUser,
  createM2mClient,
  forge,
  setEnforcement,
  setM2mClientActive,
  setUser,
  type TestApp,
  type TestEndUser,
} from "./verify-fixtures.ts";

const PATH = "/{app_slug}/v1/admin/users";

describe("Consumer admin lane", () => {
  let ctx: TestContext;
  let app: TestApp;
  let other: TestApp;
  let owner: TestEndUser;
  let admin: TestEndUser;
  let member: TestEndUser;
  let listClient: { clientId: string; token: string };
  let readClient: { clientId: string; token: string };
  let listKey: { id: string; key: string };
  let readKey: { id: string; key: string };

  const list = (bearer: string | null, opts: { slug?: string } = {}) =>
    ctx.call("GET", PATH, {
      params: { app_slug: opts.slug ?? app.slug },
      auth: bearer === null ? null : { bearer },
    });

  beforeAll(async () => {
    ctx = await createTestContext();
    app = await createApp(ctx, "lane-a");
    other = await createApp(ctx, "lane-b");
    owner = await createEndUser(ctx, app, "owen", { role: "owner" });
    admin = await createEndUser(ctx, app, "ada", { role: "admin" });
    member = await createEndUser(ctx, app, "max", { role: "member" });
    listClient = await createM2mClient(ctx, app, ["user.list"]);
    readClient = await createM2mClient(ctx, app, ["user.read"]);
    listKey = await createApiKey(ctx, app, ["user.list"]);
    readKey = await createApiKey(ctx, app, ["user.read", "role.read"]);
  });

  test("the route registers the permission it checks", () => {
    expect(ctx.deps.enforcement.list()).toContain("user.list");
  });

  describe("enforce_app_permissions off (an explicit operator choice)", () => {
    beforeAll(async () => {
      await setEnforcement(ctx, app, false);
    });

    test.each([
      ["an owner", () => owner.token],
      ["an admin", () => admin.token],
      ["a member", () => member.token],
      ["an M2M token with user.list", () => listClient.token],
      ["an M2M token without user.list", () => readClient.token],
      ["an API key with user.list", () => listKey.key],
    ])("%s may list", async (_name, token) => {
      const res = await list(token());
      expect(res.status).toBe(200);
    });

    test("an API key is held to its permissions even so", async () => {
      const res = await list(readKey.key);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("PERMISSION_DENIED");
    });
  });

  describe("enforce_app_permissions on", () => {
    beforeAll(async () => {
      await setEnforcement(ctx, app, true);
    });

    test.each([
      ["an owner", () => owner.token, 200],
      ["an admin", () => admin.token, 200],
      ["a member", () => member.token, 403],
      ["an M2M token with user.list", () => listClient.token, 200],
      ["an M2M token without user.list", () => readClient.token, 403],
      ["an API key with user.list", () => listKey.key, 200],
      ["an API key without user.list", () => readKey.key, 403],
    ])("%s → %d", async (_name, token, status) => {
      const res = await list(token());
      expect(res.status).toBe(status);
      if (status === 403) expect(res.body.code).toBe("PERMISSION_DENIED");
    });

    test("a role change applies to a live token at once", async () => {
      const u = await createEndUser(ctx, app, "climber", { role: "member" });
      expect((await list(u.token)).status).toBe(403);
      await setUser(ctx, u.id, { role: "admin" });
      expect((await list(u.token)).status).toBe(200);
    });
  });

  describe("refused credentials", () => {
    test("no credential → 401 UNAUTHORIZED", async () => {
      const res = await list(null);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("UNAUTHORIZED");
    });

    type Refusal = [name: string, make: () => Promise<string>, status: number, code: string];
    const refusals: Refusal[] = [
      ["garbage", async () => "garbage", 401, "INVALID_TOKEN"],
      ["a platform API key", async () => ctx.pak, 401, "INVALID_TOKEN"],
      ["a forged token", async () => forge(owner.token), 401, "INVALID_TOKEN"],
      [
        "an M2M token of another app",
        async () => (await createM2mClient(ctx, other, ["user.list"])).token,
        401,
        "INVALID_TOKEN",
      ],
      [
        "an EndUser token of another app",
        async () => (await createEndUser(ctx, other, "stranger", { role: "owner" })).token,
        401,
        "INVALID_TOKEN",
      ],
      [
        "an API key of another app",
        async () => (await createApiKey(ctx, other, ["user.list"])).key,
        401,
        "INVALID_TOKEN",
      ],
      [
        "a deleted API key",
        async () => {
          const k = await createApiKey(ctx, app, ["user.list"]);
          const del = await ctx.call("DELETE", "/v1/apps/{app_id}/api-keys/{key_id}", {
            params: { app_id: app.id, key_id: k.id },
          });
          expect(del.status).toBe(204);
          return k.key;
        },
        401,
        "INVALID_TOKEN",
      ],
      [
        "a revoked session",
        async () => {
          const u = await createEndUser(ctx, app, "logged-off", { role: "owner" });
          await ctx.deps.sessions.revoke(u.sessionId, "admin");
          return u.token;
        },
        401,
        "TOKEN_REVOKED",
      ],
      [
        "a deactivated M2M client",
        async () => {
          const c = await createM2mClient(ctx, app, ["user.list"]);
          await setM2mClientActive(ctx, c.clientId, false);
          return c.token;
        },
        401,
        "TOKEN_REVOKED",
      ],
      [
        "a suspended account",
        async () => {
          const u = await createEndUser(ctx, app, "on-hold", { role: "owner" });
          await setUser(ctx, u.id, { status: "suspended" });
          return u.token;
        },
        403,
        "ACCOUNT_SUSPENDED",
      ],
      [
        "an expired token",
        async () => {
          const u = await createEndUser(ctx, app, "tardy", { role: "owner" });
          const { token } = await ctx.deps.tokens.issueEndUser(
            app,
            { sub: u.id, sid: u.sessionId, role: "owner", amr: ["pwd"] },
            Math.floor(ctx.clock.now() / 1000) + 1,
          );
          ctx.clock.advance(2000);
          return token;
        },
        401,
        "TOKEN_EXPIRED",
      ],
    ];
    test.each(refusals)("%s → %d %s", async (_name, make, status, code) => {
      const res = await list(await make());
      expect(res.status).toBe(status);
      expect(res.body.code).toBe(code);
    });

    test("an unknown app → 404 before any credential check", async () => {
      const res = await list(owner.token, { slug: "no-such-lane" });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("APP_NOT_FOUND");
    });
  });

  describe("audit", () => {
    test("each listing is recorded with the caller's kind and id", async () => {
      const before = (await auditRows(ctx, { app_id: app.id, action: "end_user.listed" })).length;
      await list(owner.token);
      await list(listClient.token);
      await list(listKey.key);
      const rows = (await auditRows(ctx, { app_id: app.id, action: "end_user.listed" })).slice(before);
      expect(rows.map((r) => [r.actor_type, r.actor_id])).toEqual([
        ["end_user", owner.id],
        ["m2m", listClient.clientId],
        ["api_key", listKey.id],
      ]);
    });

    test("a refused call lists nothing and records no listing", async () => {
      const before = (await auditRows(ctx, { app_id: app.id, action: "end_user.listed" })).length;
      expect((await list(readKey.key)).status).toBe(403);
      expect((await auditRows(ctx, { app_id: app.id, action: "end_user.listed" })).length).toBe(before);
    });
  });
});
