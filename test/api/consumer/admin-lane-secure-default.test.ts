/**
 * @module The Consumer admin lane is secure by default: new apps enforce their permissions, old rows that
 * never chose otherwise adopt it at start-up, turning it off is logged and flagged, and even then nobody
 * suspends, deletes, edits or re-roles an account whose role holds permissions the caller lacks.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { reviewAdminLaneEnforcement } from "../../../src/apps/enforcement.ts";
import { memoryLogger } from "../../../src/core/logger.ts";
import { GOOD_PASSWORD, queryRow, signUp } from "../../support/end-users.ts";
import { auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import {
  createApiKey,
  createEndUser,
  createM2mClient,
  setEnforcement,
  type TestApp,
  type TestEndUser,
} from "./verify-fixtures.ts";

const USERS = "/{app_slug}/v1/admin/users";
const USER = `${USERS}/{user_id}`;
const PERMISSIONS = "/{app_slug}/v1/admin/permissions";
const OFF_WARNING = "ENFORCE_APP_PERMISSIONS_OFF";

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});

const as = (bearer: string) => ({ bearer });
const userRow = async (id: string) =>
  await queryRow(ctx, "SELECT role, status FROM end_users WHERE id = ?", id);
const storedConfig = async (appId: string) => {
  const config = (await queryRow(ctx, "SELECT config FROM auth_configs WHERE app_id = ?", appId))!.config;
  // jsonb arrives parsed from PostgreSQL, SQLite's JSON as text.
  return (typeof config === "string" ? JSON.parse(config) : config) as Record<string, unknown>;
};
const warnings = () => ctx.log.lines.map((l) => JSON.parse(l) as Record<string, unknown>);

/** Writes of the lane that act on one account, with a body that passes validation. */
const suspend = (app: TestApp, userId: string, bearer: string) =>
  ctx.call("PATCH", `${USER}/status`, {
    params: { app_slug: app.slug, user_id: userId },
    body: { status: "suspended" },
    auth: as(bearer),
  });
const remove = (app: TestApp, userId: string, bearer: string) =>
  ctx.call("DELETE", USER, { params: { app_slug: app.slug, user_id: userId }, auth: as(bearer) });
const setRole = (app: TestApp, userId: string, role: string, bearer: string) =>
  ctx.call("PATCH", `${USER}/role`, {
    params: { app_slug: app.slug, user_id: userId },
    body: { role_name: role },
    auth: as(bearer),
  });
const editEmail = (app: TestApp, userId: string, email: string, bearer: string) =>
  ctx.call("PATCH", USER, {
    params: { app_slug: app.slug, user_id: userId },
    body: { email },
    auth: as(bearer),
  });

/** Audit rows of the writes a refused call must not have made, for one account. */
const writesOn = async (appId: string, userId: string) =>
  (
    await Promise.all(
      ["user.status_changed", "user.deleted", "user.role_changed", "user.updated"].map((a) =>
        auditRows(ctx, { app_id: appId, action: a, resource_id: userId }),
      ),
    )
  ).flat();

describe("a new app", () => {
  let app: TestApp;
  let owner: TestEndUser;
  let member: { userId: string; access_token: string };

  beforeAll(async () => {
    app = await createApp(ctx, "secure-new");
    owner = await createEndUser(ctx, app, "the-owner", { role: "owner" });
    member = await signUp(ctx, app.slug, {
      username: "fresh-member",
      email: "fresh-member@example.test",
      password: GOOD_PASSWORD,
    });
  });

  test("reports enforce_app_permissions true, stored without an operator's mark, and no security warning", async () => {
    const config = await ctx.call("GET", "/v1/apps/{app_id}/auth-config", { params: { app_id: app.id } });
    expect(config.status).toBe(200);
    expect(config.body.enforce_app_permissions).toBe(true);
    expect((await storedConfig(app.id)).enforce_app_permissions).toBe(true);
    const got = await ctx.call("GET", "/v1/apps/{app_id}", { params: { app_id: app.id } });
    expect(got.status).toBe(200);
    expect(got.body.security_warnings).toEqual([]);
  });

  test("a freshly signed-up member cannot list users → 403 PERMISSION_DENIED, nothing audited", async () => {
    expect(await userRow(member.userId)).toEqual({ role: "member", status: "active" });
    const before = (await auditRows(ctx, { app_id: app.id, action: "end_user.listed" })).length;
    const res = await ctx.call("GET", USERS, {
      params: { app_slug: app.slug },
      auth: as(member.access_token),
    });
    expect([res.status, res.body.code]).toEqual([403, "PERMISSION_DENIED"]);
    expect(await auditRows(ctx, { app_id: app.id, action: "end_user.listed" })).toHaveLength(before);
  });

  test("nor suspend, delete or re-role the owner → 403 PERMISSION_DENIED, the owner untouched", async () => {
    for (const res of [
      await suspend(app, owner.id, member.access_token),
      await remove(app, owner.id, member.access_token),
      await setRole(app, owner.id, "member", member.access_token),
    ]) {
      expect([res.status, res.body.code]).toEqual([403, "PERMISSION_DENIED"]);
    }
    expect(await userRow(owner.id)).toEqual({ role: "owner", status: "active" });
    expect(await writesOn(app.id, owner.id)).toEqual([]);
  });

  test("nor create a permission → 403 PERMISSION_DENIED, the catalogue unchanged", async () => {
    const res = await ctx.call("POST", PERMISSIONS, {
      params: { app_slug: app.slug },
      body: { key: "billing.refund", description: "Refund" },
      auth: as(member.access_token),
    });
    expect([res.status, res.body.code]).toEqual([403, "PERMISSION_DENIED"]);
    expect(
      await queryRow(
        ctx,
        "SELECT CAST(count(*) AS INTEGER) AS n FROM permissions WHERE app_id = ? AND key = ?",
        app.id,
        "billing.refund",
      ),
    ).toEqual({ n: 0 });
  });

  test("an M2M token without scopes cannot suspend a user → 403 PERMISSION_DENIED", async () => {
    const bare = await createM2mClient(ctx, app, []);
    const res = await suspend(app, member.userId, bare.token);
    expect([res.status, res.body.code]).toEqual([403, "PERMISSION_DENIED"]);
    expect(await userRow(member.userId)).toEqual({ role: "member", status: "active" });
    expect(await writesOn(app.id, member.userId)).toEqual([]);
  });

  test("a role holding user.status still cannot suspend the owner: it lacks what the owner's holds", async () => {
    // The documented admin does not hold user.status (a Heimdall addition): an operator binds it to a role.
    const documented = await createEndUser(ctx, app, "an-admin", { role: "admin" });
    const denied = await suspend(app, member.userId, documented.token);
    expect([denied.status, denied.body.code]).toEqual([403, "PERMISSION_DENIED"]);
    for (const [method, path, body] of [
      ["POST", "/v1/apps/{app_id}/roles", { name: "moderator" }],
      [
        "PUT",
        "/v1/apps/{app_id}/roles/{role_name}/permissions",
        { permissions: ["user.status", "user.read"] },
      ],
    ] as const) {
      const res = await ctx.call(method, path, { params: { app_id: app.id, role_name: "moderator" }, body });
      expect(res.status).toBeLessThan(300);
    }
    const admin = await createEndUser(ctx, app, "a-moderator", { role: "moderator" });
    const res = await suspend(app, owner.id, admin.token);
    expect([res.status, res.body.code]).toEqual([403, "PERMISSION_GRANT_DENIED"]);
    expect(res.body.message).toContain("permission.create");
    expect(await userRow(owner.id)).toEqual({ role: "owner", status: "active" });
    // The owner holds everything the admin does: it may act on the admin.
    const back = await suspend(app, admin.id, owner.token);
    expect(back.status).toBe(200);
    expect((await userRow(admin.id))!.status).toBe("suspended");
  });

  test("an API key holding user.status suspends a member but not an admin", async () => {
    const key = await createApiKey(ctx, app, ["user.status"]);
    const admin = await createEndUser(ctx, app, "key-target-admin", { role: "admin" });
    const peer = await createEndUser(ctx, app, "key-target-member", { role: "member" });
    const refused = await suspend(app, admin.id, key.key);
    expect([refused.status, refused.body.code]).toEqual([403, "PERMISSION_GRANT_DENIED"]);
    expect((await userRow(admin.id))!.status).toBe("active");
    const done = await suspend(app, peer.id, key.key);
    expect(done.status).toBe(200);
    expect((await auditRows(ctx, { app_id: app.id, action: "user.status_changed" })).at(-1)).toMatchObject({
      actor_type: "api_key",
      resource_id: peer.id,
    });
  });
});

describe("enforcement explicitly off", () => {
  let app: TestApp;
  let owner: TestEndUser;
  let member: { userId: string; access_token: string };

  beforeAll(async () => {
    app = await createApp(ctx, "secure-open");
    owner = await createEndUser(ctx, app, "open-owner", { role: "owner" });
    member = await signUp(ctx, app.slug, {
      username: "open-member",
      email: "open-member@example.test",
      password: GOOD_PASSWORD,
    });
  });

  test("turning it off is audited, logs a warning naming the app and the operator, and flags the app", async () => {
    const logged = ctx.log.lines.length;
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", {
      params: { app_id: app.id },
      body: { enforce_app_permissions: false },
    });
    expect(res.status).toBe(200);
    expect(res.body.enforce_app_permissions).toBe(false);
    expect((await auditRows(ctx, { app_id: app.id, action: "auth_config.updated" })).at(-1)).toMatchObject({
      actor_type: "pak",
      details: { changed: ["enforce_app_permissions"] },
    });
    const line = warnings()
      .slice(logged)
      .find((l) => String(l.msg).startsWith("enforce_app_permissions turned off"));
    expect(line).toMatchObject({ level: "warn", app_id: app.id, slug: app.slug, actor_type: "pak" });

    const got = await ctx.call("GET", "/v1/apps/{app_id}", { params: { app_id: app.id } });
    expect(got.body.security_warnings).toEqual([OFF_WARNING]);
    const list = await ctx.call("GET", "/v1/apps", { query: { limit: 200 } });
    const flags = Object.fromEntries(
      list.body.data.map((a: { slug: string; security_warnings: string[] }) => [a.slug, a.security_warnings]),
    );
    expect(flags["secure-open"]).toEqual([OFF_WARNING]);
    expect(flags["secure-new"]).toEqual([]);
    const status = await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
      params: { app_id: app.id },
      body: { status: "active" },
    });
    expect(status.body.security_warnings).toEqual([OFF_WARNING]);
  });

  test("a member passes the guard: it lists users (the operator's choice)", async () => {
    const res = await ctx.call("GET", USERS, {
      params: { app_slug: app.slug },
      auth: as(member.access_token),
    });
    expect(res.status).toBe(200);
  });

  test("but cannot suspend, delete, re-role or re-address the owner → 403 PERMISSION_GRANT_DENIED", async () => {
    const refusals = [
      await suspend(app, owner.id, member.access_token),
      await remove(app, owner.id, member.access_token),
      await setRole(app, owner.id, "member", member.access_token),
      await editEmail(app, owner.id, "attacker@example.test", member.access_token),
    ];
    for (const res of refusals) {
      expect([res.status, res.body.code]).toEqual([403, "PERMISSION_GRANT_DENIED"]);
      expect(res.body.message).toContain("user.delete");
    }
    expect(await userRow(owner.id)).toEqual({ role: "owner", status: "active" });
    expect(
      await queryRow(
        ctx,
        "SELECT value FROM end_user_contacts WHERE user_id = ? AND is_primary = ?",
        owner.id,
        true,
      ),
    ).toEqual({ value: "open-owner@example.test" });
    expect(await writesOn(app.id, owner.id)).toEqual([]);
  });

  test("nor raise itself: making itself owner is still narrowed", async () => {
    const res = await setRole(app, member.userId, "owner", member.access_token);
    expect([res.status, res.body.code]).toEqual([403, "PERMISSION_GRANT_DENIED"]);
    expect((await userRow(member.userId))!.role).toBe("member");
  });

  test("an M2M token without scopes cannot suspend the owner, but may suspend a member", async () => {
    const bare = await createM2mClient(ctx, app, []);
    const refused = await suspend(app, owner.id, bare.token);
    expect([refused.status, refused.body.code]).toEqual([403, "PERMISSION_GRANT_DENIED"]);
    expect((await userRow(owner.id))!.status).toBe("active");
    const peer = await createEndUser(ctx, app, "m2m-peer", { role: "member" });
    expect((await suspend(app, peer.id, bare.token)).status).toBe(200);
    expect((await userRow(peer.id))!.status).toBe("suspended");
  });

  test("a member may act on a peer whose role holds no more than its own", async () => {
    const peer = await createEndUser(ctx, app, "open-peer", { role: "member" });
    const res = await suspend(app, peer.id, member.access_token);
    expect(res.status).toBe(200);
    expect((await auditRows(ctx, { app_id: app.id, action: "user.status_changed" })).at(-1)).toMatchObject({
      actor_type: "end_user",
      actor_id: member.userId,
      resource_id: peer.id,
      details: { from: "active", to: "suspended" },
    });
    expect((await remove(app, peer.id, member.access_token)).status).toBe(204);
    expect(await userRow(peer.id)).toBeUndefined();
  });

  test("the Admin API is exempt: an operator suspends and reinstates the owner", async () => {
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}/end-users/{user_id}/status", {
      params: { app_id: app.id, user_id: owner.id },
      body: { status: "suspended" },
    });
    expect(res.status).toBe(200);
    expect((await userRow(owner.id))!.status).toBe("suspended");
    const back = await ctx.call("PATCH", "/v1/apps/{app_id}/end-users/{user_id}/status", {
      params: { app_id: app.id, user_id: owner.id },
      body: { status: "active" },
    });
    expect(back.status).toBe(200);
  });

  test("the server names the app at start-up, at every start", async () => {
    for (let run = 0; run < 2; run++) {
      const log = memoryLogger("warn");
      await reviewAdminLaneEnforcement({ apps: ctx.deps.apps, permissions: ctx.deps.permissions, log });
      const named = log.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => String(l.msg).startsWith("enforce_app_permissions is off"));
      expect(named).toEqual([expect.objectContaining({ level: "warn", app_id: app.id, slug: app.slug })]);
    }
    // Its explicit off survives the review.
    expect((await storedConfig(app.id)).enforce_app_permissions).toBe(false);
  });

  test("turning it back on logs nothing and clears the flag", async () => {
    const logged = ctx.log.lines.length;
    await setEnforcement(ctx, app, true);
    expect(ctx.log.lines.slice(logged).filter((l) => l.includes("enforce_app_permissions"))).toEqual([]);
    const got = await ctx.call("GET", "/v1/apps/{app_id}", { params: { app_id: app.id } });
    expect(got.body.security_warnings).toEqual([]);
    const res = await ctx.call("GET", USERS, {
      params: { app_slug: app.slug },
      auth: as(member.access_token),
    });
    expect([res.status, res.body.code]).toEqual([403, "PERMISSION_DENIED"]);
  });
});

describe("apps from before the secure default", () => {
  let legacy: TestApp;
  let member: TestEndUser;

  beforeAll(async () => {
    legacy = await createApp(ctx, "secure-legacy");
    member = await createEndUser(ctx, legacy, "legacy-member", { role: "member" });
    // Every config row used to be written whole with the then-default false, chosen by nobody.
    const stored = { ...(await storedConfig(legacy.id)), enforce_app_permissions: false };
    const { authConfigs } = ctx.deps.db.tables;
    await ctx.deps.db.update(authConfigs).set({ config: stored }).where(eq(authConfigs.appId, legacy.id));
    // Members held no permission at all before the secure default.
    await queryRow(
      ctx,
      "DELETE FROM role_permissions WHERE role_id = (SELECT id FROM roles WHERE app_id = ? AND name = 'member')",
      legacy.id,
    );
  });

  test("a stored false that no operator chose reads as enforced", async () => {
    const config = await ctx.call("GET", "/v1/apps/{app_id}/auth-config", { params: { app_id: legacy.id } });
    expect(config.body.enforce_app_permissions).toBe(true);
    const res = await ctx.call("GET", USERS, { params: { app_slug: legacy.slug }, auth: as(member.token) });
    expect([res.status, res.body.code]).toEqual([403, "PERMISSION_DENIED"]);
  });

  test("start-up stores it as on, audited as the system and logged once; the next start changes nothing", async () => {
    const before = (await auditRows(ctx, { app_id: legacy.id, action: "auth_config.updated" })).length;
    const log = memoryLogger("warn");
    await reviewAdminLaneEnforcement({ apps: ctx.deps.apps, permissions: ctx.deps.permissions, log });
    expect((await storedConfig(legacy.id)).enforce_app_permissions).toBe(true);
    const rows = await auditRows(ctx, { app_id: legacy.id, action: "auth_config.updated" });
    expect(rows).toHaveLength(before + 1);
    expect(rows.at(-1)).toMatchObject({
      actor_type: "system",
      actor_id: null,
      details: { changed: ["enforce_app_permissions"], reason: "secure_default" },
    });
    const lines = log.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.app_id === legacy.id)).toEqual([
      expect.objectContaining({ level: "warn", msg: expect.stringContaining("turned on") }),
    ]);

    // Adopting it binds nothing: the documented member set reached untouched old apps with migration
    // 0012_rbac_catalogue (test/unit/rbac-catalogue-upgrade.test.ts); this member's bindings are its own.
    const perms = await ctx.call("GET", "/{app_slug}/v1/me/permissions", {
      params: { app_slug: legacy.slug },
      auth: as(member.token),
    });
    expect(perms.body.permissions).toEqual([]);

    const again = memoryLogger("warn");
    await reviewAdminLaneEnforcement({ apps: ctx.deps.apps, permissions: ctx.deps.permissions, log: again });
    expect(again.lines.filter((l) => l.includes(legacy.id))).toEqual([]);
    expect(await auditRows(ctx, { app_id: legacy.id, action: "auth_config.updated" })).toHaveLength(
      before + 1,
    );
    expect((await ctx.deps.audit.verify()).ok).toBe(true);
  });

  test("its operator can still choose off, and that choice is kept", async () => {
    await setEnforcement(ctx, legacy, false);
    expect(await storedConfig(legacy.id)).toMatchObject({
      enforce_app_permissions: false,
      enforce_app_permissions_chosen: true,
    });
    // Another field's change keeps the mark.
    const other = await ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", {
      params: { app_id: legacy.id },
      body: { max_sessions: 4 },
    });
    expect(other.body.enforce_app_permissions).toBe(false);
    const log = memoryLogger("warn");
    await reviewAdminLaneEnforcement({ apps: ctx.deps.apps, permissions: ctx.deps.permissions, log });
    expect((await storedConfig(legacy.id)).enforce_app_permissions).toBe(false);
    expect(
      (await ctx.call("GET", USERS, { params: { app_slug: legacy.slug }, auth: as(member.token) })).status,
    ).toBe(200);
  });
});
