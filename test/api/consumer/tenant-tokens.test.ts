/**
 * @module Tenant-scoped sessions and tokens: sign-in with `tenant_id` (also through an MFA challenge),
 * `POST /auth/switch-tenant`, refresh's re-check of the tenant, `GET /auth/me/tenants`, and effective
 * permissions (app role ∪ tenant role, read live) on `/me/permissions`, `/verify`, `/authorize`,
 * introspection and a permission-gated admin-lane route.
 */
import { beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { decodeJwt } from "jose";
import { MINUTE, SECOND } from "../../../src/core/clock.ts";
import { GOOD_PASSWORD, queryRow, queryRows, setAuthConfig, signUp } from "../../support/end-users.ts";
import { auditRows, createApp, type TestApp } from "../../support/fixtures.ts";
import { type CallResult, createTestContext, type TestContext } from "../../support/harness.ts";
import { expectErrorShape } from "../../support/openapi.ts";
import {
  addTenantMember,
  insertTenant,
  removeTenantMember,
  setTenantMemberRole,
  setTenantStatus,
  type TestTenant,
} from "../../support/tenants.ts";
import { challenge, codeAt, userWithFactor, verify } from "./mfa-signin-fixtures.ts";

let ctx: TestContext;
let app: TestApp;
let other: TestApp;
/** Member of `t1` (support), `t2` (billing), `suspended` and `archived`; app role `member`. */
let alice: { id: string; username: string };
/** Member of no tenant. */
let bob: { id: string; username: string };
let t1: TestTenant;
let t2: TestTenant;
let suspended: TestTenant;
let archived: TestTenant;
let foreign: TestTenant;

const signin = (identifier: string, tenantId?: string) =>
  ctx.call("POST", "/{app_slug}/v1/auth/signin", {
    params: { app_slug: app.slug },
    body: { identifier, password: GOOD_PASSWORD, ...(tenantId === undefined ? {} : { tenant_id: tenantId }) },
    auth: null,
  });

const refresh = (refreshToken: string) =>
  ctx.call("POST", "/{app_slug}/v1/auth/refresh", {
    params: { app_slug: app.slug },
    body: { refresh_token: refreshToken },
    auth: null,
  });

const switchTenant = (bearer: string | null, tenantId: string, slug = app.slug) =>
  ctx.call("POST", "/{app_slug}/v1/auth/switch-tenant", {
    params: { app_slug: slug },
    body: { tenant_id: tenantId },
    auth: bearer === null ? null : { bearer },
  });

const myTenants = (bearer: string) =>
  ctx.call("GET", "/{app_slug}/v1/auth/me/tenants", { params: { app_slug: app.slug }, auth: { bearer } });

const mePermissions = (bearer: string) =>
  ctx.call("GET", "/{app_slug}/v1/me/permissions", { params: { app_slug: app.slug }, auth: { bearer } });

const verifyToken = (bearer: string) =>
  ctx.call("POST", "/{app_slug}/v1/verify", { params: { app_slug: app.slug }, auth: { bearer }, body: {} });

const authorize = (bearer: string, permissions: string[]) =>
  ctx.call("POST", "/{app_slug}/v1/authorize", {
    params: { app_slug: app.slug },
    auth: { bearer },
    body: { permissions },
  });

const introspect = (bearer: string) =>
  ctx.call("POST", "/{app_slug}/v1/oauth/introspect", {
    params: { app_slug: app.slug },
    auth: { bearer },
    body: {},
  });

/** A route gated by `user.list` on the Consumer admin lane. */
const listUsers = (bearer: string) =>
  ctx.call("GET", "/{app_slug}/v1/admin/users", { params: { app_slug: app.slug }, auth: { bearer } });

const claims = (token: string) => decodeJwt(token);
const expectError = (res: CallResult, status: number, code: string) => {
  expect(res.status).toBe(status);
  expectErrorShape(res.body, code);
};
const sessionTenant = async (sessionId: string) =>
  (await queryRow(ctx, "SELECT tenant_id FROM end_user_sessions WHERE id = ?", sessionId))?.tenant_id;
const sessionsOf = async (userId: string) =>
  (await queryRows(ctx, "SELECT id FROM end_user_sessions WHERE user_id = ?", userId)).length;
const sorted = (s: Iterable<string>) => [...s].sort();
/** What a role holds in the app, as the resolver reads it (independent of the seeded catalogue). */
const held = async (role: string) => await ctx.deps.permissions.forEndUser(app.id, role);

/** Signs alice in (optionally into a tenant) and returns the token pair with its session id. */
async function aliceIn(tenantId?: string) {
  const res = await signin(alice.username, tenantId);
  expect(res.status).toBe(200);
  return {
    access: res.body.access_token as string,
    refresh: res.body.refresh_token as string,
    sid: claims(res.body.access_token).sid as string,
  };
}

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "tenant-tokens");
  other = await createApp(ctx, "tenant-tokens-b");
  for (const [resource, action] of [
    ["invoice", "read"],
    ["invoice", "delete"],
  ]) {
    const res = await ctx.call("POST", "/v1/apps/{app_id}/permissions", {
      params: { app_id: app.id },
      body: { resource, action },
    });
    expect(res.status).toBe(201);
  }
  for (const [name, permissions] of [
    ["support", ["user.list", "invoice.read"]],
    ["billing", ["invoice.read", "invoice.delete"]],
  ] as const) {
    const created = await ctx.call("POST", "/v1/apps/{app_id}/roles", {
      params: { app_id: app.id },
      body: { name },
    });
    expect(created.status).toBe(201);
    const bound = await ctx.call("PUT", "/v1/apps/{app_id}/roles/{role_name}/permissions", {
      params: { app_id: app.id, role_name: name },
      body: { permissions },
    });
    expect(bound.status).toBe(200);
  }
  const a = await signUp(ctx, app.slug, {
    username: "alice",
    email: "alice@example.test",
    password: GOOD_PASSWORD,
  });
  const b = await signUp(ctx, app.slug, {
    username: "bob",
    email: "bob@example.test",
    password: GOOD_PASSWORD,
  });
  alice = { id: a.userId, username: "alice" };
  bob = { id: b.userId, username: "bob" };
  t1 = await insertTenant(ctx, app.id, { slug: "acme" });
  t2 = await insertTenant(ctx, app.id, { slug: "globex" });
  suspended = await insertTenant(ctx, app.id, { slug: "initech", status: "suspended" });
  archived = await insertTenant(ctx, app.id, { slug: "umbrella", status: "archived" });
  foreign = await insertTenant(ctx, other.id, { slug: "acme" });
  await addTenantMember(ctx, app.id, t1.id, alice.id, "support");
  ctx.clock.advance(SECOND);
  await addTenantMember(ctx, app.id, t2.id, alice.id, "billing");
  await addTenantMember(ctx, app.id, suspended.id, alice.id, "owner");
  await addTenantMember(ctx, app.id, archived.id, alice.id, "owner");
});

// The per-address sign-in limit (30 a minute) is not what these tests are about.
beforeEach(() => ctx.clock.advance(MINUTE + SECOND));

describe("sign-in with tenant_id", () => {
  test("by UUID and by display id: tid is the tenant's UUID, trole its role; the session row keeps the tenant", async () => {
    for (const ref of [t1.id, t1.displayId]) {
      const { access, sid } = await aliceIn(ref);
      expect(claims(access)).toMatchObject({ tid: t1.id, trole: "support", role: "member" });
      expect(await sessionTenant(sid)).toBe(t1.id);
      const [row] = (await auditRows(ctx, { action: "user.signed_in", resource_id: alice.id })).slice(-1);
      expect(row!.details).toMatchObject({ session_id: sid, tenant_id: t1.id, tenant_role: "support" });
    }
  });

  test("without tenant_id the token has no tid or trole, and the session no tenant", async () => {
    const { access, sid } = await aliceIn();
    const c = claims(access);
    expect(c.tid).toBeUndefined();
    expect(c.trole).toBeUndefined();
    expect(c).not.toHaveProperty("org_id");
    expect(await sessionTenant(sid)).toBeNull();
  });

  test("unknown, another app's, suspended or archived tenant, or no membership: one 403, no session", async () => {
    const cases: [string, string, string][] = [
      ["unknown UUID", alice.username, crypto.randomUUID()],
      ["unknown display id", alice.username, "tnt_000000000000"],
      ["another app's tenant", alice.username, foreign.id],
      ["suspended", alice.username, suspended.id],
      ["archived", alice.username, archived.displayId],
      ["not a member", bob.username, t1.id],
    ];
    const bodies: unknown[] = [];
    for (const [name, who, ref] of cases) {
      const userId = who === bob.username ? bob.id : alice.id;
      const before = await sessionsOf(userId);
      const deniedBefore = (await auditRows(ctx, { action: "user.signin_failed", resource_id: userId }))
        .length;
      const res = await signin(who, ref);
      expect([name, res.status]).toEqual([name, 403]);
      expectError(res, 403, "TENANT_ACCESS_DENIED");
      const { request_id: _, ...rest } = res.body;
      bodies.push(rest);
      expect(await sessionsOf(userId)).toBe(before);
      const rows = await auditRows(ctx, { action: "user.signin_failed", resource_id: userId });
      expect(rows).toHaveLength(deniedBefore + 1);
      expect(rows.at(-1)!.details).toMatchObject({ reason: "tenant_access_denied", requested_tenant: ref });
    }
    for (const b of bodies) expect(b).toEqual(bodies[0]!);
  });

  test("a wrong password with a tenant_id stays the credentials' 401", async () => {
    const res = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
      params: { app_slug: app.slug },
      body: { identifier: "alice", password: "not-the-password-1", tenant_id: t1.id },
      auth: null,
    });
    expectError(res, 401, "INVALID_CREDENTIALS");
  });

  test("an over-long tenant_id is a validation error", async () => {
    const res = await signin(alice.username, "x".repeat(65));
    expectError(res, 400, "VALIDATION_ERROR");
  });
});

describe("refresh re-reads the tenant", () => {
  test("keeps tid with the current tenant role", async () => {
    const { refresh: rt } = await aliceIn(t1.id);
    await setTenantMemberRole(ctx, t1.id, alice.id, "billing");
    try {
      const res = await refresh(rt);
      expect(res.status).toBe(200);
      expect(claims(res.body.access_token)).toMatchObject({ tid: t1.id, trole: "billing" });
    } finally {
      await setTenantMemberRole(ctx, t1.id, alice.id, "support");
    }
  });

  test("a removed member's next refresh has no tenant; the session row's tenant_id is cleared", async () => {
    const { refresh: rt, sid } = await aliceIn(t1.id);
    await removeTenantMember(ctx, t1.id, alice.id);
    try {
      const res = await refresh(rt);
      expect(res.status).toBe(200);
      const c = claims(res.body.access_token);
      expect(c.sid).toBe(sid);
      expect(c.tid).toBeUndefined();
      expect(c.trole).toBeUndefined();
      expect(await sessionTenant(sid)).toBeNull();
      const [row] = await auditRows(ctx, { action: "session.tenant_scope_ended", resource_id: sid });
      expect(row!.details).toMatchObject({ tenant_id: t1.id, user_id: alice.id, reason: "membership_ended" });
      // Back to app scope for good: a new membership does not bring the session back into the tenant.
      await addTenantMember(ctx, app.id, t1.id, alice.id, "support");
      const again = await refresh(res.body.refresh_token);
      expect(claims(again.body.access_token).tid).toBeUndefined();
    } finally {
      await removeTenantMember(ctx, t1.id, alice.id);
      await addTenantMember(ctx, app.id, t1.id, alice.id, "support");
    }
  });

  test("an archived tenant's sessions lose the tenant at their next refresh", async () => {
    const { refresh: rt, sid } = await aliceIn(t2.id);
    await setTenantStatus(ctx, t2.id, "archived");
    try {
      const res = await refresh(rt);
      expect(res.status).toBe(200);
      expect(claims(res.body.access_token).tid).toBeUndefined();
      expect(await sessionTenant(sid)).toBeNull();
      const [row] = await auditRows(ctx, { action: "session.tenant_scope_ended", resource_id: sid });
      expect(row!.details).toMatchObject({ tenant_id: t2.id, reason: "tenant_archived" });
    } finally {
      await setTenantStatus(ctx, t2.id, "active");
    }
  });
});

describe("effective permissions: app role ∪ tenant role, read live", () => {
  test("union: an app-role member acting in a tenant as admin holds both roles' permissions", async () => {
    const t3 = await insertTenant(ctx, app.id, { slug: "hooli" });
    await addTenantMember(ctx, app.id, t3.id, alice.id, "admin");
    try {
      const { access } = await aliceIn(t3.id);
      const res = await mePermissions(access);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        role: "member",
        org_role: "admin",
        permissions: sorted(new Set([...(await held("member")), ...(await held("admin"))])),
      });
    } finally {
      await removeTenantMember(ctx, t3.id, alice.id);
    }
  });

  test("a tenant role change applies at once to /me/permissions, /verify, /authorize and the admin lane", async () => {
    await setAuthConfig(ctx, app.id, { enforce_app_permissions: true });
    const { access } = await aliceIn(t1.id);
    try {
      // support: user.list and invoice.read on top of member's.
      let perms = await mePermissions(access);
      expect(perms.body).toEqual({
        role: "member",
        org_role: "support",
        permissions: sorted(new Set([...(await held("member")), "invoice.read", "user.list"])),
      });
      expect((await verifyToken(access)).body.principal).toMatchObject({ tid: t1.id, trole: "support" });
      expect((await authorize(access, ["user.list"])).body).toEqual({
        authorized: true,
        missing_permissions: [],
      });
      expect((await listUsers(access)).status).toBe(200);
      expect(await introspect(access)).toMatchObject({
        status: 200,
        body: { active: true, role: "member", tid: t1.id, trole: "support" },
      });

      // billing: invoice.* but no user.list, with the same access token.
      await setTenantMemberRole(ctx, t1.id, alice.id, "billing");
      perms = await mePermissions(access);
      expect(perms.body.org_role).toBe("billing");
      expect(perms.body.permissions).toContain("invoice.delete");
      expect(perms.body.permissions).not.toContain("user.list");
      expect((await verifyToken(access)).body.principal).toMatchObject({ trole: "billing" });
      expect((await authorize(access, ["user.list", "invoice.delete"])).body).toEqual({
        authorized: false,
        missing_permissions: ["user.list"],
      });
      expectError(await listUsers(access), 403, "PERMISSION_DENIED");

      // A suspended tenant grants nothing, even before the next refresh.
      await setTenantStatus(ctx, t1.id, "suspended");
      perms = await mePermissions(access);
      expect(perms.body).toEqual({
        role: "member",
        org_role: null,
        permissions: sorted(await held("member")),
      });
      const principal = (await verifyToken(access)).body.principal;
      expect(principal.tid).toBeUndefined();
      expect((await introspect(access)).body.trole).toBeUndefined();
      expect((await authorize(access, ["invoice.read"])).body.authorized).toBe(false);
    } finally {
      await setTenantStatus(ctx, t1.id, "active");
      await setTenantMemberRole(ctx, t1.id, alice.id, "support");
      await setAuthConfig(ctx, app.id, { enforce_app_permissions: false });
    }
  });

  test("without a tenant the app role alone counts", async () => {
    const { access } = await aliceIn();
    const res = await mePermissions(access);
    expect(res.body).toEqual({ role: "member", org_role: null, permissions: sorted(await held("member")) });
  });
});

describe("POST /auth/switch-tenant", () => {
  test("moves the session (same sid) and rotates its refresh token; the old one follows the retry rule", async () => {
    const first = await aliceIn(t1.id);
    const res = await switchTenant(first.access, t2.displayId);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const c = claims(res.body.access_token);
    expect(c).toMatchObject({ sub: alice.id, sid: first.sid, tid: t2.id, trole: "billing", role: "member" });
    expect(await sessionTenant(first.sid)).toBe(t2.id);
    expect(await sessionsOf(alice.id)).toBeGreaterThan(0);
    const [row] = await auditRows(ctx, { action: "session.tenant_switched", resource_id: first.sid });
    expect(row!.details).toMatchObject({ tenant_id: t2.id, tenant_role: "billing", user_id: alice.id });
    expect(row!.actor_type).toBe("end_user");

    // Within the window the switched-from token answers the switch's token, once more if retried.
    ctx.clock.advance(10 * SECOND);
    const retry = await refresh(first.refresh);
    expect(retry.status).toBe(200);
    expect(retry.body.refresh_token).toBe(res.body.refresh_token);
    expect(claims(retry.body.access_token)).toMatchObject({ sid: first.sid, tid: t2.id });

    // Once the switch's token is used, the old one is a reuse: the session ends.
    const next = await refresh(res.body.refresh_token);
    expect(next.status).toBe(200);
    expect(claims(next.body.access_token)).toMatchObject({ tid: t2.id, trole: "billing" });
    const reuse = await refresh(first.refresh);
    expectError(reuse, 401, "INVALID_REFRESH_TOKEN");
    expect(
      await queryRow(ctx, "SELECT revoke_reason FROM end_user_sessions WHERE id = ?", first.sid),
    ).toEqual({
      revoke_reason: "refresh_reuse",
    });
  });

  test("after the retry window the switched-from token is a reuse", async () => {
    const first = await aliceIn();
    const res = await switchTenant(first.access, t1.id);
    expect(res.status).toBe(200);
    ctx.clock.advance(2 * MINUTE);
    expectError(await refresh(first.refresh), 401, "INVALID_REFRESH_TOKEN");
  });

  test("an access token minted before a switch keeps to app scope for permissions", async () => {
    const first = await aliceIn(t1.id);
    const res = await switchTenant(first.access, t2.id);
    expect(res.status).toBe(200);
    // The old token names t1; the session acts in t2: neither tenant's role applies to it.
    expect((await mePermissions(first.access)).body).toMatchObject({ org_role: null });
    expect((await verifyToken(first.access)).body.principal.tid).toBeUndefined();
    expect((await mePermissions(res.body.access_token)).body).toMatchObject({ org_role: "billing" });
  });

  test("non-member, unknown, another app's or suspended tenant: one 403, the session unchanged", async () => {
    const signedIn = await aliceIn(t1.id);
    const bobIn = await signin(bob.username);
    const cases: [string, string, string][] = [
      ["not a member", bobIn.body.access_token, t1.id],
      ["unknown", signedIn.access, crypto.randomUUID()],
      ["another app's", signedIn.access, foreign.id],
      ["suspended", signedIn.access, suspended.displayId],
      ["archived", signedIn.access, archived.id],
    ];
    const bodies: unknown[] = [];
    for (const [name, bearer, ref] of cases) {
      const res = await switchTenant(bearer, ref);
      expect([name, res.status]).toEqual([name, 403]);
      expectError(res, 403, "TENANT_ACCESS_DENIED");
      const { request_id: _, ...rest } = res.body;
      bodies.push(rest);
    }
    for (const b of bodies) expect(b).toEqual(bodies[0]!);
    expect(await sessionTenant(signedIn.sid)).toBe(t1.id);
    expect(
      await auditRows(ctx, { action: "session.tenant_switch_denied", resource_id: signedIn.sid }),
    ).toHaveLength(4);
    // The refresh token was not rotated: it still refreshes normally.
    expect((await refresh(signedIn.refresh)).status).toBe(200);
  });

  test("the EndUser lane: no token 401, another app's token 401", async () => {
    expectError(await switchTenant(null, t1.id), 401, "UNAUTHORIZED");
    const { access } = await aliceIn();
    const res = await switchTenant(access, t1.id, other.slug);
    expect(res.status).toBe(401);
  });
});

describe("GET /auth/me/tenants", () => {
  test("the caller's memberships in active tenants, oldest first, in the contract's shape", async () => {
    const { access } = await aliceIn();
    const res = await myTenants(access);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const data = res.body.data as Record<string, unknown>[];
    expect(data.map((d) => d.tenant_id).sort()).toEqual([t1.id, t2.id].sort());
    const joined = data.map((d) => d.joined_at as string);
    expect(joined).toEqual([...joined].sort());
    expect(data.find((d) => d.tenant_id === t1.id)).toEqual({
      tenant_id: t1.id,
      display_id: t1.displayId,
      tenant_slug: "acme",
      display_name: t1.displayName,
      role_name: "support",
      joined_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  test("an account of no tenant gets an empty list", async () => {
    const res = await signin(bob.username);
    expect((await myTenants(res.body.access_token)).body).toEqual({ data: [] });
  });
});

describe("sign-in through an MFA challenge", () => {
  test("the challenge keeps the tenant; completing it issues tokens carrying it", async () => {
    const u = await userWithFactor(ctx, app, "mfa-carol");
    await addTenantMember(ctx, app.id, t1.id, u.userId, "billing");
    const res = await signin(u.username, t1.displayId);
    expect(res.body.mfa_required).toBe(true);
    const row = await queryRow(
      ctx,
      "SELECT tenant_id FROM mfa_challenges WHERE user_id = ? ORDER BY created_at DESC",
      u.userId,
    );
    expect(row).toEqual({ tenant_id: t1.id });
    const done = await verify(ctx, app, res.body.mfa_token, codeAt(u.secret, ctx.clock.now()));
    expect(done.status).toBe(200);
    const c = claims(done.body.access_token);
    expect(c).toMatchObject({ tid: t1.id, trole: "billing", amr: ["pwd", "totp"] });
    expect(await sessionTenant(c.sid as string)).toBe(t1.id);
  });

  test("a membership that ended before the challenge completes: 403, the challenge spent, no session", async () => {
    const u = await userWithFactor(ctx, app, "mfa-dave");
    await addTenantMember(ctx, app.id, t2.id, u.userId, "billing");
    const res = await signin(u.username, t2.id);
    const token = res.body.mfa_token as string;
    await removeTenantMember(ctx, t2.id, u.userId);
    const before = await sessionsOf(u.userId);
    const done = await verify(ctx, app, token, codeAt(u.secret, ctx.clock.now()));
    expectError(done, 403, "TENANT_ACCESS_DENIED");
    expect(await sessionsOf(u.userId)).toBe(before);
    const rows = await auditRows(ctx, { action: "user.signin_failed", resource_id: u.userId });
    expect(rows.at(-1)!.details).toMatchObject({ reason: "tenant_access_denied", stage: "mfa" });
    // Spent: the same token is dead now.
    ctx.clock.advance(30 * SECOND);
    expectError(await verify(ctx, app, token, codeAt(u.secret, ctx.clock.now())), 401, "MFA_TOKEN_INVALID");
  });

  test("a sign-in without a tenant stays app-scoped after its challenge", async () => {
    const u = await userWithFactor(ctx, app, "mfa-erin");
    const token = await challenge(ctx, app, u.username);
    const done = await verify(ctx, app, token, codeAt(u.secret, ctx.clock.now()));
    expect(done.status).toBe(200);
    expect(claims(done.body.access_token).tid).toBeUndefined();
  });
});
