/**
 * @module Consumer admin lane account routes (`/{app_slug}/v1/admin/users*` beyond the listing): create, read,
 * update, delete, role (with caller-narrowing) and status, through EndUser, M2M and API-key callers, with
 * enforcement off and on.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import {
  type DbRow,
  GOOD_PASSWORD,
  queryRow,
  queryRows,
  setAuthConfig,
  signIn,
  signUp,
} from "../../support/end-users.ts";
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
const ALL = [
  "user.list",
  "user.read",
  "user.create",
  "user.update",
  "user.delete",
  "user.status",
  "role.assign",
];

let ctx: TestContext;
let app: TestApp;
let other: TestApp;
let owner: TestEndUser;
let admin: TestEndUser;
let member: TestEndUser;
let machine: string;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "cau-app");
  // This app runs the lane with enforcement off, an operator's explicit choice; new apps enforce, which
  // "enforce_app_permissions on" below covers.
  await setEnforcement(ctx, app, false);
  other = await createApp(ctx, "cau-other");
  owner = await createEndUser(ctx, app, "the-owner", { role: "owner" });
  admin = await createEndUser(ctx, app, "the-admin", { role: "admin" });
  member = await createEndUser(ctx, app, "the-member", { role: "member" });
  machine = (await createM2mClient(ctx, app, ALL)).token;
});

const as = (bearer: string) => ({ bearer });
const roleOf = async (id: string) =>
  (await queryRow(ctx, "SELECT role FROM end_users WHERE id = ?", id))?.role;
let n = 0;
const unique = (stem: string) => `${stem}${++n}`;

test("every route registers the permission it checks", () => {
  expect(ctx.deps.enforcement.list()).toEqual(expect.arrayContaining(ALL));
});

describe("POST /admin/users", () => {
  const create = (body: unknown, bearer = machine) =>
    ctx.call("POST", USERS, { params: { app_slug: app.slug }, body, auth: as(bearer) });

  test("creates an active account with an unverified primary email and no session", async () => {
    const res = await create({ email: "Jane.Doe+News@Example.Test", display_name: " Jane " });
    expect(res.status).toBe(201);
    const at = new Date(ctx.clock.now()).toISOString();
    expect(res.body).toEqual({
      id: expect.any(String),
      username: "jane.doe-news",
      display_name: "Jane",
      email: "jane.doe+news@example.test",
      email_verified: false,
      role: "member",
      status: "active",
      created_at: at,
    });
    expect(await queryRows(ctx, "SELECT id FROM end_user_sessions WHERE user_id = ?", res.body.id)).toEqual(
      [],
    );
    const contact = await queryRow(
      ctx,
      "SELECT is_primary, verified_at FROM end_user_contacts WHERE user_id = ?",
      res.body.id,
    );
    // A raw boolean: 1 on SQLite, true on PostgreSQL.
    expect({ ...contact, is_primary: Boolean(contact?.is_primary) } as DbRow).toEqual({
      is_primary: true,
      verified_at: null,
    });
    expect((await auditRows(ctx, { app_id: app.id, action: "user.created" })).at(-1)).toMatchObject({
      actor_type: "m2m",
      resource_id: res.body.id,
      details: { username: "jane.doe-news", role: "member", has_password: false },
    });
  });

  test("a derived username that is taken gets a numeric suffix", async () => {
    const res = await create({ email: "jane.doe+news@elsewhere.test" });
    expect(res.status).toBe(201);
    expect(res.body.username).toBe("jane.doe-news-2");
  });

  test("with a password the account signs in by username; without one it cannot", async () => {
    const withPw = await create({ email: "pw@example.test", username: "With-Pw", password: GOOD_PASSWORD });
    expect(withPw.body.username).toBe("with-pw");
    expect((await signIn(ctx, app.slug, "with-pw", GOOD_PASSWORD)).userId).toBe(withPw.body.id);
    const without = await create({ email: "nopw@example.test", username: "no-pw" });
    expect(without.status).toBe(201);
    const res = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
      params: { app_slug: app.slug },
      body: { identifier: "no-pw", password: GOOD_PASSWORD },
      auth: null,
    });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_CREDENTIALS");
  });

  test("role_name picks the role; without it the app's signup_default_role applies", async () => {
    expect((await create({ email: "boss@example.test", role_name: "admin" })).body.role).toBe("admin");
    await setAuthConfig(ctx, app.id, { signup_default_role: "admin" });
    try {
      expect((await create({ email: "defaulted@example.test" })).body.role).toBe("admin");
    } finally {
      await setAuthConfig(ctx, app.id, { signup_default_role: "member" });
    }
  });

  test.each([
    ["no email", {}, 400, "VALIDATION_ERROR"],
    ["an invalid email", { email: "nope" }, 400, "VALIDATION_ERROR"],
    ["an invalid username", { email: "u1@example.test", username: "a@b" }, 400, "VALIDATION_ERROR"],
    ["an unknown role", { email: "u2@example.test", role_name: "emperor" }, 400, "UNKNOWN_ROLE"],
    ["a weak password", { email: "u3@example.test", password: "short" }, 400, "WEAK_PASSWORD"],
    ["a taken email in another case", { email: "JANE.DOE+NEWS@example.test" }, 409, "EMAIL_TAKEN"],
    ["a taken username", { email: "u4@example.test", username: "the-admin" }, 409, "USERNAME_TAKEN"],
  ])("%s → %d %s", async (_name, body, status, code) => {
    const before = (await auditRows(ctx, { app_id: app.id, action: "user.created" })).length;
    const res = await create(body);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect((await auditRows(ctx, { app_id: app.id, action: "user.created" })).length).toBe(before);
  });

  test("an EndUser admin cannot create an account in a role above its own", async () => {
    const res = await create({ email: "upstart@example.test", role_name: "owner" }, admin.token);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("PERMISSION_GRANT_DENIED");
    const ok = await create({ email: "helper@example.test", role_name: "admin" }, admin.token);
    expect(ok.status).toBe(201);
    expect((await auditRows(ctx, { app_id: app.id, action: "user.created" })).at(-1)).toMatchObject({
      actor_type: "end_user",
      actor_id: admin.id,
    });
  });
});

describe("GET, PATCH, DELETE /admin/users/{user_id}", () => {
  test("reads one account", async () => {
    const res = await ctx.call("GET", USER, {
      params: { app_slug: app.slug, user_id: admin.id },
      auth: as(machine),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: admin.id,
      username: "the-admin",
      role: "admin",
      active_session_count: 1,
    });
  });

  test.each([
    ["an unknown id", () => "0190d8c4-0000-7000-8000-0000000000bb"],
    ["an account of another app", async () => (await createEndUser(ctx, other, unique("far"))).id],
  ])("%s → 404 USER_NOT_FOUND on every account route", async (_name, id) => {
    const userId = await id();
    for (const [method, path, body] of [
      ["GET", USER, undefined],
      ["PATCH", USER, { display_name: "x" }],
      ["DELETE", USER, undefined],
      ["PATCH", `${USER}/role`, { role_name: "member" }],
      ["PATCH", `${USER}/status`, { status: "suspended" }],
    ] as const) {
      const res = await ctx.call(method, path, {
        params: { app_slug: app.slug, user_id: userId },
        body,
        auth: as(machine),
      });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("USER_NOT_FOUND");
    }
  });

  test("updates the display name and the primary email; audited with the EndUser actor", async () => {
    const u = await createEndUser(ctx, app, unique("edited"));
    const res = await ctx.call("PATCH", USER, {
      params: { app_slug: app.slug, user_id: u.id },
      body: { display_name: "Edited", email: "edited-new@example.test" },
      auth: as(owner.token),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      display_name: "Edited",
      email: "edited-new@example.test",
      email_verified_at: null,
    });
    expect((await auditRows(ctx, { app_id: app.id, action: "user.updated" })).at(-1)).toMatchObject({
      actor_type: "end_user",
      actor_id: owner.id,
      details: { fields: ["display_name", "email"], email_change: "replaced" },
    });
  });

  test("deletes the account; its audit rows stay", async () => {
    const u = await createEndUser(ctx, app, unique("deleted"));
    const res = await ctx.call("DELETE", USER, {
      params: { app_slug: app.slug, user_id: u.id },
      auth: as(machine),
    });
    expect(res.status).toBe(204);
    expect(await queryRow(ctx, "SELECT id FROM end_users WHERE id = ?", u.id)).toBeUndefined();
    expect((await auditRows(ctx, { app_id: app.id, action: "user.deleted" })).at(-1)).toMatchObject({
      actor_type: "m2m",
      resource_id: u.id,
    });
    const me = await ctx.call("GET", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: as(u.token),
    });
    expect(me.status).toBe(401);
  });
});

describe("PATCH /admin/users/{user_id}/role", () => {
  const setRole = (userId: string, role: string, bearer: string) =>
    ctx.call("PATCH", `${USER}/role`, {
      params: { app_slug: app.slug, user_id: userId },
      body: { role_name: role },
      auth: as(bearer),
    });

  test("an M2M client with role.assign may assign any role, owner included", async () => {
    const u = await createEndUser(ctx, app, unique("raised"));
    const res = await setRole(u.id, "owner", (await createM2mClient(ctx, app, ["role.assign"])).token);
    expect(res.status).toBe(200);
    expect(await roleOf(u.id)).toBe("owner");
    expect((await auditRows(ctx, { app_id: app.id, action: "user.role_changed" })).at(-1)).toMatchObject({
      actor_type: "m2m",
      details: { from: "member", to: "owner" },
    });
  });

  type Case = [
    name: string,
    caller: () => string,
    from: string,
    to: string,
    status: number,
    code: string | null,
  ];
  const cases: Case[] = [
    ["an admin promotes a member to admin", () => admin.token, "member", "admin", 200, null],
    [
      "an admin cannot promote to owner",
      () => admin.token,
      "member",
      "owner",
      403,
      "PERMISSION_GRANT_DENIED",
    ],
    ["an admin cannot demote an owner", () => admin.token, "owner", "member", 403, "PERMISSION_GRANT_DENIED"],
    ["an owner promotes to owner", () => owner.token, "member", "owner", 200, null],
    ["an owner demotes an owner", () => owner.token, "owner", "admin", 200, null],
    // Enforcement is off: any valid token passes the guard, but narrowing still holds.
    ["a member cannot hand out admin", () => member.token, "member", "admin", 403, "PERMISSION_GRANT_DENIED"],
    [
      "a member cannot demote an admin",
      () => member.token,
      "admin",
      "member",
      403,
      "PERMISSION_GRANT_DENIED",
    ],
  ];
  test.each(cases)("%s → %d", async (_name, caller, from, to, status, code) => {
    const u = await createEndUser(ctx, app, unique("target"), { role: from });
    const res = await setRole(u.id, to, caller());
    expect(res.status).toBe(status);
    if (code) expect(res.body.code).toBe(code);
    expect(await roleOf(u.id)).toBe(status === 200 ? to : from);
  });

  test("the new role applies to the account's live token at once", async () => {
    await setEnforcement(ctx, app, true);
    try {
      const u = await createEndUser(ctx, app, unique("climber"));
      const list = () => ctx.call("GET", USERS, { params: { app_slug: app.slug }, auth: as(u.token) });
      expect((await list()).status).toBe(403);
      expect((await setRole(u.id, "admin", owner.token)).status).toBe(200);
      expect((await list()).status).toBe(200);
    } finally {
      await setEnforcement(ctx, app, false);
    }
  });

  test.each([
    ["an unknown role", { role_name: "emperor" }, 400, "UNKNOWN_ROLE"],
    ["no role_name", {}, 400, "VALIDATION_ERROR"],
  ])("%s → %d %s", async (_name, body, status, code) => {
    const res = await ctx.call("PATCH", `${USER}/role`, {
      params: { app_slug: app.slug, user_id: member.id },
      body,
      auth: as(machine),
    });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
  });
});

describe("PATCH /admin/users/{user_id}/status", () => {
  const setStatus = (userId: string, status: string) =>
    ctx.call("PATCH", `${USER}/status`, {
      params: { app_slug: app.slug, user_id: userId },
      body: { status },
      auth: as(machine),
    });

  test("suspending ends the account's sessions at once; reinstating restores sign-in", async () => {
    const name = unique("paused");
    const t = await signUp(ctx, app.slug, {
      username: name,
      email: `${name}@example.test`,
      password: GOOD_PASSWORD,
    });
    const res = await setStatus(t.userId, "suspended");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: t.userId, status: "suspended", active_session_count: 0 });
    expect((await auditRows(ctx, { app_id: app.id, action: "user.status_changed" })).at(-1)).toMatchObject({
      actor_type: "m2m",
      details: { from: "active", to: "suspended", sessions_revoked: 1 },
    });
    const me = await ctx.call("GET", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: as(t.access_token),
    });
    expect(me.status).toBe(403);
    expect(me.body.code).toBe("ACCOUNT_SUSPENDED");
    const refresh = await ctx.call("POST", "/{app_slug}/v1/auth/refresh", {
      params: { app_slug: app.slug },
      body: { refresh_token: t.refresh_token },
      auth: null,
    });
    expect(refresh.status).toBe(401);
    expect(refresh.body.code).toBe("INVALID_REFRESH_TOKEN");

    expect((await setStatus(t.userId, "active")).body.status).toBe("active");
    expect((await signIn(ctx, app.slug, name, GOOD_PASSWORD)).userId).toBe(t.userId);
  });

  test("an unknown status → 400 VALIDATION_ERROR", async () => {
    const res = await setStatus(member.id, "banned");
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
  });
});

describe("enforce_app_permissions on", () => {
  let strict: TestApp;
  let target: string;
  let sMember: TestEndUser;
  let sAdmin: TestEndUser;
  let sOwner: TestEndUser;

  /** Every account route of this lane, with the permission it checks and a body that passes validation. */
  const ROUTES: { method: string; path: string; permission: string; body?: (i: number) => unknown }[] = [
    {
      method: "POST",
      path: USERS,
      permission: "user.create",
      body: (i) => ({ email: `strict${i}@example.test` }),
    },
    { method: "GET", path: USER, permission: "user.read" },
    { method: "PATCH", path: USER, permission: "user.update", body: () => ({ display_name: "S" }) },
    {
      method: "PATCH",
      path: `${USER}/role`,
      permission: "role.assign",
      body: () => ({ role_name: "member" }),
    },
    {
      method: "PATCH",
      path: `${USER}/status`,
      permission: "user.status",
      body: () => ({ status: "active" }),
    },
    { method: "DELETE", path: USER, permission: "user.delete" },
  ];
  let i = 0;
  const call = async (r: (typeof ROUTES)[number], bearer: string) => {
    // DELETE needs a fresh target each time it succeeds.
    const userId = r.method === "DELETE" ? (await createEndUser(ctx, strict, unique("doomed"))).id : target;
    return ctx.call(r.method, r.path, {
      params: { app_slug: strict.slug, user_id: userId },
      body: r.body?.(++i),
      auth: as(bearer),
    });
  };

  beforeAll(async () => {
    strict = await createApp(ctx, "cau-strict");
    await setEnforcement(ctx, strict, true);
    target = (await createEndUser(ctx, strict, "strict-target")).id;
    sMember = await createEndUser(ctx, strict, "strict-member", { role: "member" });
    sAdmin = await createEndUser(ctx, strict, "strict-admin", { role: "admin" });
    sOwner = await createEndUser(ctx, strict, "strict-owner", { role: "owner" });
  });

  /** The hosted documentation's bindings of the system roles (owner holds everything). */
  const DOCUMENTED: Record<"admin" | "member", string[]> = {
    admin: ["user.read", "user.list", "user.update", "role.assign", "role.revoke"],
    member: ["user.read", "role.read"],
  };

  test.each(ROUTES.map((r) => [r.method, r.path, r.permission, r] as const))(
    "%s %s (%s): granted exactly by the permission, refused without it",
    async (_m, _p, permission, r) => {
      const roles = { owner: sOwner, admin: sAdmin, member: sMember };
      const holds = (role: keyof typeof roles) => role === "owner" || DOCUMENTED[role].includes(permission);
      const byRole = (want: boolean) =>
        (Object.keys(roles) as (keyof typeof roles)[])
          .filter((role) => holds(role) === want)
          .map((role) => [role, roles[role].token] as [string, string]);
      const refused: [string, string][] = [
        ...byRole(false),
        [
          "M2M without it",
          (
            await createM2mClient(
              ctx,
              strict,
              ALL.filter((p) => p !== permission),
            )
          ).token,
        ],
        [
          "API key without it",
          (
            await createApiKey(
              ctx,
              strict,
              ALL.filter((p) => p !== permission),
            )
          ).key,
        ],
      ];
      for (const [who, bearer] of refused) {
        const res = await call(r, bearer);
        expect([who, res.status, res.body.code]).toEqual([who, 403, "PERMISSION_DENIED"]);
      }
      const granted: [string, string][] = [
        ...byRole(true),
        ["M2M with it", (await createM2mClient(ctx, strict, [permission])).token],
        ["API key with it", (await createApiKey(ctx, strict, [permission])).key],
      ];
      for (const [who, bearer] of granted) {
        const res = await call(r, bearer);
        expect([who, res.status < 300]).toEqual([who, true]);
      }
    },
  );

  test("with enforcement off the same member token passes the guard", async () => {
    const res = await ctx.call("GET", USER, {
      params: { app_slug: app.slug, user_id: admin.id },
      auth: as(member.token),
    });
    expect(res.status).toBe(200);
  });
});

describe("refused credentials", () => {
  test.each([
    ["no credential", async () => null, 401, "UNAUTHORIZED"],
    [
      "an M2M token of another app",
      async () => (await createM2mClient(ctx, other, ALL)).token,
      401,
      "INVALID_TOKEN",
    ],
    ["a platform API key", async () => ctx.pak, 401, "INVALID_TOKEN"],
  ])("%s → %d %s", async (_name, token, status, code) => {
    const bearer = await token();
    const res = await ctx.call("GET", USER, {
      params: { app_slug: app.slug, user_id: member.id },
      auth: bearer === null ? null : as(bearer),
    });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
  });

  test("an unknown app → 404 APP_NOT_FOUND", async () => {
    const res = await ctx.call("POST", USERS, {
      params: { app_slug: "no-such-app" },
      body: { email: "x@example.test" },
      auth: as(machine),
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("APP_NOT_FOUND");
  });
});
