/** @module `POST /{app_slug}/v1/authorize` and `/authorize/batch`: held permissions per lane and role, failures as answers. */
import { beforeAll, describe, expect, test } from "bun:test";
import { newId } from "../../../src/core/ids.ts";
import { SYSTEM_PERMISSIONS } from "../../../src/rbac/catalog.ts";
import { createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import {
  createEndUser,
  createM2mClient,
  setM2mClientActive,
  setUser,
  type TestApp,
  type TestEndUser,
} from "./verify-fixtures.ts";

const ONE = "/{app_slug}/v1/authorize";
const BATCH = "/{app_slug}/v1/authorize/batch";

describe("POST /authorize and /authorize/batch", () => {
  let ctx: TestContext;
  let app: TestApp;
  let other: TestApp;
  let owner: TestEndUser;
  let admin: TestEndUser;
  let member: TestEndUser;

  const post = (path: string, body: unknown, bearer?: string) =>
    ctx.call("POST", path, { params: { app_slug: app.slug }, auth: bearer ? { bearer } : null, body });

  beforeAll(async () => {
    ctx = await createTestContext();
    app = await createApp(ctx, "authz-a");
    other = await createApp(ctx, "authz-b");
    owner = await createEndUser(ctx, app, "olivia", { role: "owner" });
    admin = await createEndUser(ctx, app, "adam", { role: "admin" });
    member = await createEndUser(ctx, app, "mia", { role: "member" });
    // A custom permission of this app (and one of another app, which must not leak in).
    for (const [appId, key] of [
      [app.id, "invoice.read"],
      [other.id, "invoice.delete"],
    ] as const) {
      const [resource, action] = key.split(".");
      await ctx.deps.db.insert(ctx.deps.db.tables.permissions).values({
        id: newId(ctx.clock),
        appId,
        key,
        resource: resource!,
        action: action!,
        isSystem: false,
        createdAt: ctx.clock.now(),
      });
    }
    ctx.deps.permissions.invalidate(app.id);
  });

  describe("/authorize, EndUser roles", () => {
    type Case = [who: string, body: Record<string, unknown>, authorized: boolean, missing: string[]];
    const cases: Case[] = [
      ["owner", { permission: "user.delete" }, true, []],
      ["owner", { permissions: SYSTEM_PERMISSIONS.map((p) => p.key) }, true, []],
      ["owner", { permission: "invoice.read" }, true, []],
      ["owner", { permissions: ["invoice.read", "invoice.delete"] }, false, ["invoice.delete"]],
      // The hosted documentation's bindings: admin = user.read user.list user.update role.assign role.revoke.
      [
        "admin",
        { permissions: ["user.read", "user.list", "user.update", "role.assign", "role.revoke"] },
        true,
        [],
      ],
      [
        "admin",
        { permissions: ["user.list", "role.delete", "permission.create"] },
        false,
        ["role.delete", "permission.create"],
      ],
      // Heimdall's additions and the other verbs are the owner's only.
      [
        "admin",
        { permissions: ["user.status", "factor.read", "session.revoke", "token.create", "role.read"] },
        false,
        ["user.status", "factor.read", "session.revoke", "token.create", "role.read"],
      ],
      ["admin", { permission: "invoice.read" }, false, ["invoice.read"]],
      // member = user.read role.read, the sign-up default.
      ["member", { permissions: ["user.read", "role.read"] }, true, []],
      ["member", { permission: "session.revoke" }, false, ["session.revoke"]],
      ["member", { permission: "user.delete" }, false, ["user.delete"]],
      ["member", { permissions: ["user.read", "user.read"] }, true, []],
      ["member", { permissions: ["user.read", "user.list"] }, false, ["user.list"]],
    ];
    test.each(cases)("%s asking %j → %p", async (who, body, authorized, missing) => {
      const token = { owner, admin, member }[who as "owner" | "admin" | "member"].token;
      const res = await post(ONE, body, token);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.body).toEqual({ authorized, missing_permissions: missing });
    });

    test("the account's current role counts, not the role in the token", async () => {
      const u = await createEndUser(ctx, app, "promoted", { role: "member" });
      expect((await post(ONE, { permission: "user.list" }, u.token)).body.authorized).toBe(false);
      await setUser(ctx, u.id, { role: "admin" });
      expect((await post(ONE, { permission: "user.list" }, u.token)).body).toEqual({
        authorized: true,
        missing_permissions: [],
      });
    });

    test("a custom role holds nothing until roles are stored per app", async () => {
      const u = await createEndUser(ctx, app, "custom-role", { role: "billing" });
      expect((await post(ONE, { permission: "user.read" }, u.token)).body).toEqual({
        authorized: false,
        missing_permissions: ["user.read"],
      });
    });
  });

  describe("/authorize, M2M", () => {
    test("holds exactly its scopes", async () => {
      const c = await createM2mClient(ctx, app, ["user.read", "user.list", "invoice.read"]);
      expect((await post(ONE, { permissions: ["user.read", "invoice.read"] }, c.token)).body).toEqual({
        authorized: true,
        missing_permissions: [],
      });
      expect((await post(ONE, { permissions: ["user.list", "user.delete"] }, c.token)).body).toEqual({
        authorized: false,
        missing_permissions: ["user.delete"],
      });
    });

    test("the body token wins over the bearer", async () => {
      const c = await createM2mClient(ctx, app, ["user.read"]);
      const res = await post(ONE, { token: c.token, permission: "user.read" }, member.token);
      expect(res.body).toEqual({ authorized: true, missing_permissions: [] });
    });
  });

  describe("/authorize, bad tokens answered with 200", () => {
    type BadToken = [name: string, error: string, make: () => Promise<string>];
    const badTokens: BadToken[] = [
      ["garbage", "TOKEN_INVALID", async () => "garbage"],
      [
        "another app's token",
        "TOKEN_INVALID",
        async () => (await createEndUser(ctx, other, "foreigner", { role: "owner" })).token,
      ],
      [
        "a revoked session",
        "TOKEN_REVOKED",
        async () => {
          const u = await createEndUser(ctx, app, "gone", { role: "owner" });
          await ctx.deps.sessions.revoke(u.sessionId, "admin");
          return u.token;
        },
      ],
      [
        "a deactivated client",
        "TOKEN_REVOKED",
        async () => {
          const c = await createM2mClient(ctx, app, ["user.read"]);
          await setM2mClientActive(ctx, c.clientId, false);
          return c.token;
        },
      ],
      [
        "a suspended account",
        "ACCOUNT_SUSPENDED",
        async () => {
          const u = await createEndUser(ctx, app, "benched", { role: "owner" });
          await setUser(ctx, u.id, { status: "suspended" });
          return u.token;
        },
      ],
    ];
    test.each(badTokens)("%s → %s, every requested permission missing", async (_name, error, make) => {
      const res = await post(ONE, { permissions: ["user.read", "user.list"] }, await make());
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ authorized: false, error, missing_permissions: ["user.read", "user.list"] });
    });

    test("an expired token → TOKEN_EXPIRED", async () => {
      const u = await createEndUser(ctx, app, "late", { role: "owner" });
      // A token capped one second out; the clock steps past it without expiring anyone else's.
      const { token } = await ctx.deps.tokens.issueEndUser(
        app,
        { sub: u.id, sid: u.sessionId, role: "owner", amr: ["pwd"] },
        Math.floor(ctx.clock.now() / 1000) + 1,
      );
      ctx.clock.advance(2000);
      const res = await post(ONE, { permission: "user.read" }, token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        authorized: false,
        error: "TOKEN_EXPIRED",
        missing_permissions: ["user.read"],
      });
    });
  });

  describe("/authorize, request errors", () => {
    test.each([
      ["neither permission nor permissions", { token: "x" }, "permission"],
      [
        "both permission and permissions",
        { permission: "user.read", permissions: ["user.list"] },
        "permission",
      ],
      ["an empty permissions list", { permissions: [] }, "permissions"],
      ["an empty permission", { permission: "" }, "permission"],
      ["a non-string permission", { permissions: ["user.read", 3] }, "permissions.1"],
    ])("%s is a 400", async (_name, body, field) => {
      const res = await post(ONE, body, owner.token);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
    });

    test("no token in the body or the header is a 400", async () => {
      const res = await post(ONE, { permission: "user.read" });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
      expect(res.body.details[0].field).toBe("token");
    });

    test("no body is a 400", async () => {
      const res = await ctx.call("POST", ONE, {
        params: { app_slug: app.slug },
        auth: { bearer: owner.token },
      });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
    });
  });

  describe("/authorize/batch", () => {
    test("runs each check against the one token and echoes ids", async () => {
      const res = await post(
        BATCH,
        {
          checks: [
            { id: "list", permission: "user.list" },
            { id: "destroy", permissions: ["user.delete", "role.delete"] },
            { permission: "user.read" },
            { id: "custom", permission: "invoice.read" },
          ],
        },
        admin.token,
      );
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.body).toEqual({
        results: [
          { id: "list", authorized: true, missing_permissions: [] },
          { id: "destroy", authorized: false, missing_permissions: ["user.delete", "role.delete"] },
          { authorized: true, missing_permissions: [] },
          { id: "custom", authorized: false, missing_permissions: ["invoice.read"] },
        ],
      });
    });

    test("an M2M token in the body, its scopes per check", async () => {
      const c = await createM2mClient(ctx, app, ["user.read"]);
      const res = await post(BATCH, {
        token: c.token,
        checks: [
          { id: "a", permission: "user.read" },
          { id: "b", permission: "user.list" },
        ],
      });
      expect(res.body).toEqual({
        results: [
          { id: "a", authorized: true, missing_permissions: [] },
          { id: "b", authorized: false, missing_permissions: ["user.list"] },
        ],
      });
    });

    test("an empty list of checks has empty results", async () => {
      const res = await post(BATCH, { checks: [] }, member.token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ results: [] });
    });

    test("a bad token fails every check with everything missing, and says why at the top", async () => {
      const res = await post(
        BATCH,
        { checks: [{ id: "a", permission: "user.read" }, { permissions: ["user.list", "role.read"] }] },
        "garbage",
      );
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        error: "TOKEN_INVALID",
        results: [
          { id: "a", authorized: false, missing_permissions: ["user.read"] },
          { authorized: false, missing_permissions: ["user.list", "role.read"] },
        ],
      });
    });

    test("100 checks are accepted", async () => {
      const checks = Array.from({ length: 100 }, (_, i) => ({ id: String(i), permission: "user.read" }));
      const res = await post(BATCH, { checks }, owner.token);
      expect(res.status).toBe(200);
      expect(res.body.results).toHaveLength(100);
      expect(res.body.results.every((r: { authorized: boolean }) => r.authorized)).toBe(true);
    });

    test.each([
      ["101 checks", { checks: Array.from({ length: 101 }, () => ({ permission: "user.read" })) }, "checks"],
      ["no checks field", {}, "checks"],
      ["a check with neither", { checks: [{ permission: "user.read" }, { id: "x" }] }, "checks.1.permission"],
      [
        "a check with both",
        { checks: [{ permission: "user.read", permissions: ["user.list"] }] },
        "checks.0.permission",
      ],
      ["a non-string id", { checks: [{ id: 1, permission: "user.read" }] }, "checks.0.id"],
    ])("%s is a 400", async (_name, body, field) => {
      const res = await post(BATCH, body, owner.token);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
    });

    test("no token anywhere is a 400", async () => {
      const res = await post(BATCH, { checks: [{ permission: "user.read" }] });
      expect(res.status).toBe(400);
      expect(res.body.details[0].field).toBe("token");
    });
  });
});
