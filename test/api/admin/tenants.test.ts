/** @module Admin API tenants (`/v1/apps/{app_id}/tenants…`): tenants, slugs, memberships, the last-owner rule, lanes, audit and events. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import type { Tables } from "../../../src/db/client.ts";
import {
  auditRows,
  createApp,
  type InsertedEndUser,
  insertEndUser,
  insertWorkspace,
  openSession,
  type TestApp,
  userRow,
} from "../../support/fixtures.ts";
import { type Auth, closeTestContext, createTestContext, type TestContext } from "../../support/harness.ts";
import { expectResponseMatches } from "../../support/openapi.ts";
import { allow, bootstrapPakId, insertMember, insertPak } from "./fixtures.ts";

let ctx: TestContext;
// The context's tables (PostgreSQL's twins on a PostgreSQL run), taken once the context exists.
let { endUserContacts, endUserSessions, events, roles, tenantMembers, tenants } = {} as Tables;
let app: TestApp;
let other: TestApp;
let pakId: string;
let alice: InsertedEndUser;
let bob: InsertedEndUser;
let carol: InsertedEndUser;
let stranger: InsertedEndUser; // an account of the other app

const T = "/v1/apps/{app_id}/tenants";
const ONE = `${T}/{tenant_id}`;
const MEMBERS = `${ONE}/members`;
const MEMBER = `${MEMBERS}/{account_id}`;

beforeAll(async () => {
  ctx = await createTestContext();
  ({ endUserContacts, endUserSessions, events, roles, tenantMembers, tenants } = ctx.deps.db.tables);
  app = await createApp(ctx, "tenants-app");
  other = await createApp(ctx, "tenants-other");
  pakId = await bootstrapPakId(ctx);
  alice = await insertEndUser(ctx, app, "alice");
  bob = await insertEndUser(ctx, app, "bob");
  carol = await insertEndUser(ctx, app, "carol");
  stranger = await insertEndUser(ctx, other, "stranger");
});

afterAll(() => closeTestContext(ctx));

const eventsOf = async (type: string, appId = app.id) =>
  await ctx.deps.db
    .select()
    .from(events)
    .where(and(eq(events.appId, appId), eq(events.type, type)));

async function newTenant(body: Record<string, unknown>, target: TestApp = app) {
  const res = await ctx.call("POST", T, { params: { app_id: target.id }, body });
  if (res.status !== 201) throw new Error(`create tenant failed: ${res.status} ${res.text}`);
  return res.body as { id: string; display_id: string; slug: string };
}

const addMember = (tenantId: string, body: Record<string, unknown>, auth?: Auth) =>
  ctx.call("POST", MEMBERS, { params: { app_id: app.id, tenant_id: tenantId }, body, auth });

describe("create", () => {
  test("201 with the contract's shape; the slug is derived, the row, the audit row and the event are written", async () => {
    const res = await ctx.call("POST", T, {
      params: { app_id: app.id },
      body: { display_name: "  Acme Co  ", metadata: { plan: "pro" } },
    });
    expect(res.status).toBe(201);
    expectResponseMatches("heimdall", "POST", T, 201, res.body, { strict: true });
    expect(res.body).toMatchObject({
      app_id: app.id,
      slug: "acme-co",
      display_name: "Acme Co",
      status: "active",
      metadata: { plan: "pro" },
      created_at: new Date(ctx.clock.now()).toISOString(),
    });
    expect(res.body.display_id).toMatch(/^tnt_[0-9a-f]{12}$/);
    const row = (await ctx.deps.db.select().from(tenants).where(eq(tenants.id, res.body.id)).limit(1))[0]!;
    expect(row).toMatchObject({ appId: app.id, slug: "acme-co", displayId: res.body.display_id });

    const audit = await auditRows(ctx, {
      app_id: app.id,
      action: "tenant.created",
      resource_id: res.body.id,
    });
    expect(audit).toHaveLength(1);
    expect(audit[0]!).toMatchObject({ actor_type: "pak", actor_id: pakId, resource_type: "tenant" });
    expect(audit[0]!.details).toMatchObject({ slug: "acme-co", slug_derived: true });
    const ev = (await eventsOf("tenant.created")).find(
      (e) => (e.data.tenant as { id: string }).id === res.body.id,
    );
    expect(ev?.data.tenant).toEqual(res.body);
  });

  test.each([
    ["Café Déjà Vu", "cafe-deja-vu"],
    ["  --Hello,   World!!  ", "hello-world"],
    ["!!!", "tenant"],
    ["数据 ", "tenant-2"],
    [`${"Abc ".repeat(30)}`, `${"abc-".repeat(15)}abc`],
  ])("display name %p derives the slug %p", async (name, slug) => {
    const t = await newTenant({ display_name: name });
    // "tenant" is taken by then: the fallback collides like any derived slug.
    if (slug === "tenant-2") expect(t.slug).toMatch(/^tenant-[0-9a-f]{6}$/);
    else expect(t.slug).toBe(slug);
    expect(t.slug.length).toBeLessThanOrEqual(64);
  });

  test("a derived slug that collides gets a random 6-hex suffix", async () => {
    await newTenant({ display_name: "Twin Org" });
    const second = await newTenant({ display_name: "Twin Org" });
    expect(second.slug).toMatch(/^twin-org-[0-9a-f]{6}$/);
  });

  test("an explicit slug is unique per app, case-insensitively: 409 TENANT_SLUG_TAKEN and no row", async () => {
    await newTenant({ display_name: "Explicit", slug: "explicit-one" });
    const before = (await ctx.deps.db.select().from(tenants)).length;
    for (const slug of ["explicit-one", "EXPLICIT-One"]) {
      const res = await ctx.call("POST", T, {
        params: { app_id: app.id },
        body: { display_name: "X", slug },
      });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("TENANT_SLUG_TAKEN");
    }
    expect(await ctx.deps.db.select().from(tenants)).toHaveLength(before);
    // Another app may use it.
    expect((await newTenant({ display_name: "Elsewhere", slug: "explicit-one" }, other)).slug).toBe(
      "explicit-one",
    );
  });

  test.each([
    ["no display_name", {}, "display_name"],
    ["an empty display_name", { display_name: "   " }, "display_name"],
    ["a slug outside the pattern", { display_name: "X", slug: "-bad-" }, "slug"],
    ["a slug too long", { display_name: "X", slug: "a".repeat(65) }, "slug"],
    ["metadata that is an array", { display_name: "X", metadata: [1] }, "metadata"],
    ["metadata over 8 KiB", { display_name: "X", metadata: { blob: "x".repeat(8200) } }, "metadata"],
    ["an unknown field", { display_name: "X", owner: "me" }, "owner"],
  ])("%s → 400 VALIDATION_ERROR naming the field", async (_name, body, field) => {
    const res = await ctx.call("POST", T, { params: { app_id: app.id }, body });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  test("Idempotency-Key replays the first answer and creates one tenant", async () => {
    const opts = {
      params: { app_id: app.id },
      body: { display_name: "Idem Org" },
      headers: { "idempotency-key": "tenant-create-1" },
    };
    const first = await ctx.call("POST", T, opts);
    const again = await ctx.call("POST", T, { ...opts, params: { app_id: app.slug } });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(await ctx.deps.db.select().from(tenants).where(eq(tenants.displayName, "Idem Org"))).toHaveLength(
      1,
    );
  });
});

describe("get and list", () => {
  test("a tenant is found by its id and by its display id", async () => {
    const t = await newTenant({ display_name: "Lookup Org" });
    for (const ref of [t.id, t.display_id]) {
      const res = await ctx.call("GET", ONE, { params: { app_id: app.slug, tenant_id: ref } });
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(t.id);
    }
  });

  test("an unknown id, an unknown display id and another app's tenant are all 404 TENANT_NOT_FOUND", async () => {
    const foreign = await newTenant({ display_name: "Foreign Org" }, other);
    for (const ref of [
      "0193a7e0-0000-7000-8000-000000000000",
      "tnt_000000000000",
      foreign.id,
      foreign.display_id,
    ]) {
      const res = await ctx.call("GET", ONE, { params: { app_id: app.id, tenant_id: ref } });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("TENANT_NOT_FOUND");
    }
  });

  test("lists page newest first with a cursor and filter by status", async () => {
    const listApp = await createApp(ctx, "tenants-list");
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      made.push((await newTenant({ display_name: `Page ${i}` }, listApp)).id);
      ctx.clock.advance(1000);
    }
    await ctx.call("PATCH", ONE, {
      params: { app_id: listApp.id, tenant_id: made[1]! },
      body: { status: "suspended" },
    });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await ctx.call("GET", T, { params: { app_id: listApp.id }, query: { limit: 2, cursor } });
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.map((t: { id: string }) => t.id));
      cursor = res.body.pagination.next_cursor ?? undefined;
      expect(res.body.pagination.has_more).toBe(cursor !== undefined);
    } while (cursor);
    expect(seen).toEqual([...made].reverse());

    const suspended = await ctx.call("GET", T, {
      params: { app_id: listApp.id },
      query: { status: "suspended" },
    });
    expect(suspended.body.data.map((t: { id: string }) => t.id)).toEqual([made[1]]);
    const bad = await ctx.call("GET", T, { params: { app_id: listApp.id }, query: { status: "gone" } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("VALIDATION_ERROR");
    const badCursor = await ctx.call("GET", T, {
      params: { app_id: listApp.id },
      query: { cursor: "nope!" },
    });
    expect(badCursor.status).toBe(400);
  });
});

describe("update", () => {
  test("any subset of the fields; the audit row names the changes; the event carries the tenant", async () => {
    const t = await newTenant({ display_name: "Patch Org", metadata: { a: 1 } });
    ctx.clock.advance(5000);
    const res = await ctx.call("PATCH", ONE, {
      params: { app_id: app.id, tenant_id: t.display_id },
      body: { display_name: "Patched Org", status: "suspended", metadata: { b: 2 }, slug: "Patched-Org" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      display_name: "Patched Org",
      status: "suspended",
      metadata: { b: 2 },
      slug: "patched-org",
      updated_at: new Date(ctx.clock.now()).toISOString(),
    });
    const audit = await auditRows(ctx, { action: "tenant.updated", resource_id: t.id });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.details).toMatchObject({
      changes: ["display_name", "slug", "status", "metadata"],
      previous_status: "active",
      previous_slug: "patch-org",
    });
    const ev = (await eventsOf("tenant.updated")).filter(
      (e) => (e.data.tenant as { id: string }).id === t.id,
    );
    expect(ev).toHaveLength(1);
    expect(ev[0]!.data.tenant).toEqual(res.body);
  });

  test("a patch that changes nothing writes no audit row and no event", async () => {
    const t = await newTenant({ display_name: "Same Org", slug: "same-org" });
    const before = (await eventsOf("tenant.updated")).length;
    const res = await ctx.call("PATCH", ONE, {
      params: { app_id: app.id, tenant_id: t.id },
      body: { display_name: "Same Org", slug: "SAME-ORG", status: "active", metadata: {} },
    });
    expect(res.status).toBe(200);
    expect(await auditRows(ctx, { action: "tenant.updated", resource_id: t.id })).toHaveLength(0);
    expect(await eventsOf("tenant.updated")).toHaveLength(before);
  });

  test("another tenant's slug → 409 TENANT_SLUG_TAKEN; a bad status → 400; unknown tenant → 404", async () => {
    const t = await newTenant({ display_name: "Slug Thief" });
    const taken = await ctx.call("PATCH", ONE, {
      params: { app_id: app.id, tenant_id: t.id },
      body: { slug: "acme-co" },
    });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe("TENANT_SLUG_TAKEN");
    const bad = await ctx.call("PATCH", ONE, {
      params: { app_id: app.id, tenant_id: t.id },
      body: { status: "deleted" },
    });
    expect(bad.status).toBe(400);
    const missing = await ctx.call("PATCH", ONE, {
      params: { app_id: app.id, tenant_id: "tnt_ffffffffffff" },
      body: { status: "active" },
    });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("TENANT_NOT_FOUND");
  });
});

describe("members", () => {
  let tenant: { id: string; display_id: string };
  beforeAll(async () => {
    tenant = await newTenant({ display_name: "Member Org" });
  });

  test("add by account_id: 201, role looked up case-insensitively, role_id is the role row, audit and event", async () => {
    const res = await addMember(tenant.display_id, { account_id: alice.id, role_name: "OWNER" });
    expect(res.status).toBe(201);
    expectResponseMatches("heimdall", "POST", MEMBERS, 201, res.body, { strict: true });
    const ownerRole = (
      await ctx.deps.db
        .select()
        .from(roles)
        .where(and(eq(roles.appId, app.id), eq(roles.name, "owner")))
        .limit(1)
    )[0]!;
    expect(res.body).toEqual({
      account_id: alice.id,
      created_account: false,
      membership: {
        id: expect.any(String),
        tenant_id: tenant.id,
        account_id: alice.id,
        role_id: ownerRole.id,
        role_name: "owner",
        joined_at: new Date(ctx.clock.now()).toISOString(),
        invited_by: pakId,
      },
    });
    const audit = await auditRows(ctx, {
      action: "tenant.member.added",
      resource_id: res.body.membership.id,
    });
    expect(audit[0]!.details).toMatchObject({ tenant_id: tenant.id, account_id: alice.id, role: "owner" });
    const ev = (await eventsOf("tenant.member.added")).find(
      (e) => e.data.membership_id === res.body.membership.id,
    );
    expect(ev?.data).toMatchObject({ tenant_id: tenant.id, account_id: alice.id, created_account: false });
  });

  test("add by the email of an existing account reuses it", async () => {
    ctx.clock.advance(1000);
    const res = await addMember(tenant.id, { email: "BOB@example.test", role_name: "member" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ account_id: bob.id, created_account: false });
  });

  test("add by an unknown email creates the account (unverified, no password) in the same transaction", async () => {
    ctx.clock.advance(1000);
    const res = await addMember(tenant.id, {
      email: "New.Person+x@Example.test",
      role_name: "member",
      display_name: "New Person",
    });
    expect(res.status).toBe(201);
    expect(res.body.created_account).toBe(true);
    const user = (await userRow(ctx, res.body.account_id))!;
    expect(user).toMatchObject({
      appId: app.id,
      username: "new.person-x",
      displayName: "New Person",
      passwordHash: null,
    });
    const contact = (
      await ctx.deps.db.select().from(endUserContacts).where(eq(endUserContacts.userId, user.id)).limit(1)
    )[0]!;
    expect(contact).toMatchObject({ value: "new.person+x@example.test", isPrimary: true, verifiedAt: null });
    const created = await auditRows(ctx, { action: "user.created", resource_id: user.id });
    expect(created[0]!.details).toMatchObject({ has_password: false, via: "tenant_member" });
    const ev = (await eventsOf("tenant.member.added")).find((e) => e.data.account_id === user.id);
    expect(ev?.data.created_account).toBe(true);
    // A new account is a sign-up for webhook receivers, as accounts an operator creates are.
    const signups = (await eventsOf("user.signup")).filter((e) => e.data.user_id === user.id);
    expect(signups).toHaveLength(1);
    expect(signups[0]!.data).toMatchObject({ via: "admin", tenant_id: tenant.id, role: user.role });
  });

  test.each([
    [
      "both account_id and email",
      { account_id: "x", email: "x@example.test", role_name: "member" },
      400,
      "VALIDATION_ERROR",
    ],
    ["neither account_id nor email", { role_name: "member" }, 400, "VALIDATION_ERROR"],
    ["no role_name", { account_id: "x" }, 400, "VALIDATION_ERROR"],
    [
      "username with account_id",
      { account_id: "x", username: "abc", role_name: "member" },
      400,
      "VALIDATION_ERROR",
    ],
    ["an unknown role", { email: "role@example.test", role_name: "wizard" }, 400, "UNKNOWN_ROLE"],
    [
      "an unknown account",
      { account_id: "0193a7e0-0000-7000-8000-000000000000", role_name: "member" },
      404,
      "USER_NOT_FOUND",
    ],
    ["another app's account", { account_id: "STRANGER", role_name: "member" }, 404, "USER_NOT_FOUND"],
    ["an existing member", { account_id: "ALICE", role_name: "member" }, 409, "TENANT_MEMBER_EXISTS"],
    [
      "a taken explicit username",
      { email: "fresh@example.test", username: "carol", role_name: "member" },
      409,
      "USERNAME_TAKEN",
    ],
  ])("%s: refused, and nothing is written", async (_name, raw, status, code) => {
    const body = { ...raw } as Record<string, unknown>;
    if (body.account_id === "STRANGER") body.account_id = stranger.id;
    if (body.account_id === "ALICE") body.account_id = alice.id;
    const members = (await ctx.deps.db.select().from(tenantMembers)).length;
    const accounts = (await ctx.deps.db.select().from(endUserContacts)).length;
    const res = await addMember(tenant.id, body);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(await ctx.deps.db.select().from(tenantMembers)).toHaveLength(members);
    expect(await ctx.deps.db.select().from(endUserContacts)).toHaveLength(accounts);
  });

  test("members list newest first with a cursor", async () => {
    const first = await ctx.call("GET", MEMBERS, {
      params: { app_id: app.id, tenant_id: tenant.id },
      query: { limit: 2 },
    });
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    expect(first.body.pagination.has_more).toBe(true);
    const rest = await ctx.call("GET", MEMBERS, {
      params: { app_id: app.id, tenant_id: tenant.id },
      query: { limit: 2, cursor: first.body.pagination.next_cursor },
    });
    expect(rest.body.pagination).toEqual({ has_more: false, next_cursor: null });
    const ids = [...first.body.data, ...rest.body.data].map((m: { account_id: string }) => m.account_id);
    expect(ids.slice(1)).toEqual([bob.id, alice.id]);
  });

  test("the last owner can be neither demoted nor removed (409 LAST_TENANT_OWNER); with a second owner both work", async () => {
    const demote = await ctx.call("PATCH", MEMBER, {
      params: { app_id: app.id, tenant_id: tenant.id, account_id: alice.id },
      body: { role_name: "member" },
    });
    expect(demote.status).toBe(409);
    expect(demote.body.code).toBe("LAST_TENANT_OWNER");
    const remove = await ctx.call("DELETE", MEMBER, {
      params: { app_id: app.id, tenant_id: tenant.id, account_id: alice.id },
    });
    expect(remove.status).toBe(409);
    expect(remove.body.code).toBe("LAST_TENANT_OWNER");

    const promote = await ctx.call("PATCH", MEMBER, {
      params: { app_id: app.id, tenant_id: tenant.id, account_id: bob.id },
      body: { role_name: "Owner" },
    });
    expect(promote.status).toBe(200);
    expect(promote.body).toMatchObject({ account_id: bob.id, role_name: "owner" });
    const audit = await auditRows(ctx, {
      action: "tenant.member.role_changed",
      resource_id: promote.body.id,
    });
    expect(audit[0]!.details).toMatchObject({ role: "owner", previous_role: "member" });
    const ev = (await eventsOf("tenant.member.role_changed")).find(
      (e) => e.data.membership_id === promote.body.id,
    );
    expect(ev?.data).toMatchObject({ role_name: "owner", previous_role_name: "member" });

    const demoted = await ctx.call("PATCH", MEMBER, {
      params: { app_id: app.id, tenant_id: tenant.id, account_id: alice.id },
      body: { role_name: "admin" },
    });
    expect(demoted.status).toBe(200);
    expect(demoted.body.role_name).toBe("admin");
  });

  test("the same role again changes nothing: no audit row, no event", async () => {
    const before = (await auditRows(ctx, { action: "tenant.member.role_changed" })).length;
    const res = await ctx.call("PATCH", MEMBER, {
      params: { app_id: app.id, tenant_id: tenant.id, account_id: alice.id },
      body: { role_name: "ADMIN" },
    });
    expect(res.status).toBe(200);
    expect(await auditRows(ctx, { action: "tenant.member.role_changed" })).toHaveLength(before);
  });

  test("role change refusals: unknown role 400, not a member 404, unknown tenant 404", async () => {
    const cases: [Record<string, string>, Record<string, string>, number, string][] = [
      [{ tenant_id: tenant.id, account_id: alice.id }, { role_name: "wizard" }, 400, "UNKNOWN_ROLE"],
      [
        { tenant_id: tenant.id, account_id: carol.id },
        { role_name: "member" },
        404,
        "TENANT_MEMBER_NOT_FOUND",
      ],
      [
        { tenant_id: "tnt_ffffffffffff", account_id: alice.id },
        { role_name: "member" },
        404,
        "TENANT_NOT_FOUND",
      ],
    ];
    for (const [params, body, status, code] of cases) {
      const res = await ctx.call("PATCH", MEMBER, { params: { app_id: app.id, ...params }, body });
      expect({ params, status: res.status, code: res.body.code }).toEqual({ params, status, code });
    }
  });

  test("remove: 204, the membership row goes, the account stays; audit and event; again → 404", async () => {
    const params = { app_id: app.id, tenant_id: tenant.id, account_id: alice.id };
    const membership = (
      await ctx.deps.db
        .select()
        .from(tenantMembers)
        .where(and(eq(tenantMembers.tenantId, tenant.id), eq(tenantMembers.userId, alice.id)))
        .limit(1)
    )[0]!;
    const res = await ctx.call("DELETE", MEMBER, { params });
    expect(res.status).toBe(204);
    expect(
      (await ctx.deps.db.select().from(tenantMembers).where(eq(tenantMembers.id, membership.id)).limit(1))[0],
    ).toBeUndefined();
    expect(await userRow(ctx, alice.id)).toBeDefined();
    const audit = await auditRows(ctx, { action: "tenant.member.removed", resource_id: membership.id });
    expect(audit[0]!.details).toMatchObject({ account_id: alice.id, role: "admin" });
    expect(
      (await eventsOf("tenant.member.removed")).some((e) => e.data.membership_id === membership.id),
    ).toBe(true);
    const again = await ctx.call("DELETE", MEMBER, { params });
    expect(again.status).toBe(404);
    expect(again.body.code).toBe("TENANT_MEMBER_NOT_FOUND");
  });

  test("a role held only as a tenant role cannot be deleted (409 ROLE_IN_USE)", async () => {
    const role = await ctx.call("POST", "/v1/apps/{app_id}/roles", {
      params: { app_id: app.id },
      body: { name: "tenant-editor" },
    });
    expect(role.status).toBe(201);
    expect((await addMember(tenant.id, { account_id: carol.id, role_name: "tenant-editor" })).status).toBe(
      201,
    );
    const del = await ctx.call("DELETE", "/v1/apps/{app_id}/roles/{role_name}", {
      params: { app_id: app.id, role_name: "tenant-editor" },
    });
    expect(del.status).toBe(409);
    expect(del.body.code).toBe("ROLE_IN_USE");
  });
});

describe("delete", () => {
  test("204: memberships go with it, sessions acting in it fall back to app scope; audit and event", async () => {
    const t = await newTenant({ display_name: "Doomed Org" });
    await addMember(t.id, { account_id: carol.id, role_name: "member" });
    const { sessionId } = await openSession(ctx, app, carol.id);
    await ctx.deps.db
      .update(endUserSessions)
      .set({ tenantId: t.id })
      .where(eq(endUserSessions.id, sessionId));

    const res = await ctx.call("DELETE", ONE, { params: { app_id: app.id, tenant_id: t.display_id } });
    expect(res.status).toBe(204);
    expect(await ctx.deps.db.select().from(tenantMembers).where(eq(tenantMembers.tenantId, t.id))).toEqual(
      [],
    );
    const session = (
      await ctx.deps.db.select().from(endUserSessions).where(eq(endUserSessions.id, sessionId)).limit(1)
    )[0]!;
    expect(session.tenantId).toBeNull();
    expect(await userRow(ctx, carol.id)).toBeDefined();
    const audit = await auditRows(ctx, { action: "tenant.deleted", resource_id: t.id });
    expect(audit[0]!.details).toMatchObject({ display_id: t.display_id, members_removed: 1 });
    expect((await eventsOf("tenant.deleted")).some((e) => e.data.tenant_id === t.id)).toBe(true);

    const gone = await ctx.call("GET", ONE, { params: { app_id: app.id, tenant_id: t.id } });
    expect(gone.status).toBe(404);
    const again = await ctx.call("DELETE", ONE, { params: { app_id: app.id, tenant_id: t.id } });
    expect(again.body.code).toBe("TENANT_NOT_FOUND");
  });
});

describe("lanes", () => {
  test("a tenant of app A is 404 from app B on every route", async () => {
    const t = await newTenant({ display_name: "Isolated Org" });
    await addMember(t.id, { account_id: bob.id, role_name: "owner" });
    const params = { app_id: other.id, tenant_id: t.id, account_id: bob.id };
    const cases: [string, string, unknown][] = [
      ["GET", ONE, undefined],
      ["PATCH", ONE, { display_name: "Hijacked" }],
      ["DELETE", ONE, undefined],
      ["GET", MEMBERS, undefined],
      ["POST", MEMBERS, { account_id: stranger.id, role_name: "member" }],
      ["PATCH", MEMBER, { role_name: "member" }],
      ["DELETE", MEMBER, undefined],
    ];
    for (const [method, path, body] of cases) {
      const res = await ctx.call(method, path, { params, body });
      expect({ method, path, status: res.status, code: res.body.code }).toEqual({
        method,
        path,
        status: 404,
        code: "TENANT_NOT_FOUND",
      });
    }
    expect(
      (await ctx.deps.db.select().from(tenants).where(eq(tenants.id, t.id)).limit(1))[0]?.displayName,
    ).toBe("Isolated Org");
  });

  test("no credential → 401; a PAK of another workspace → 404 APP_NOT_FOUND", async () => {
    const none = await ctx.call("GET", T, { params: { app_id: app.id }, auth: null });
    expect(none.status).toBe(401);
    const ws = await insertWorkspace(ctx, "tenants-foreign-ws");
    const foreign = await insertPak(ctx, [allow(["*"])], ws);
    const res = await ctx.call("GET", T, { params: { app_id: app.id }, auth: { pak: foreign.token } });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("APP_NOT_FOUND");
  });

  test("a PAK allowed only heimdall.read reads but cannot write (403 POLICY_DENIED)", async () => {
    const reader = await insertPak(ctx, [allow(["heimdall.read"])]);
    const auth = { pak: reader.token };
    expect((await ctx.call("GET", T, { params: { app_id: app.id }, auth })).status).toBe(200);
    const cases: [string, string, unknown][] = [
      ["POST", T, { display_name: "Nope" }],
      ["PATCH", ONE, { display_name: "Nope" }],
      ["DELETE", ONE, undefined],
      ["POST", MEMBERS, { account_id: carol.id, role_name: "member" }],
      ["PATCH", MEMBER, { role_name: "member" }],
      ["DELETE", MEMBER, undefined],
    ];
    const t = await newTenant({ display_name: "Guarded Org" });
    for (const [method, path, body] of cases) {
      const res = await ctx.call(method, path, {
        params: { app_id: app.id, tenant_id: t.id, account_id: bob.id },
        body,
        auth,
      });
      expect({ method, path, status: res.status, code: res.body.code }).toEqual({
        method,
        path,
        status: 403,
        code: "POLICY_DENIED",
      });
    }
  });

  test("platform session: an owner creates and adds members (invited_by is the person); a viewer only reads", async () => {
    const cookie = await ctx.signIn();
    const created = await ctx.call("POST", T, {
      params: { app_id: app.id },
      body: { display_name: "Cookie Org" },
      auth: { cookie },
    });
    expect(created.status).toBe(201);
    const added = await ctx.call("POST", MEMBERS, {
      params: { app_id: app.id, tenant_id: created.body.id },
      body: { account_id: carol.id, role_name: "owner" },
      auth: { cookie },
    });
    expect(added.body.membership.invited_by).toBe(ctx.ownerId);
    expect(
      (await auditRows(ctx, { action: "tenant.created", resource_id: created.body.id }))[0]!.actor_type,
    ).toBe("platform_user");

    const viewer = await insertMember(ctx, "tenant-viewer@example.test", "viewer");
    const viewerCookie = await ctx.signIn("tenant-viewer@example.test", viewer.password);
    const read = await ctx.call("GET", ONE, {
      params: { app_id: app.id, tenant_id: created.body.id },
      auth: { cookie: viewerCookie },
    });
    expect(read.status).toBe(200);
    const write = await ctx.call("POST", T, {
      params: { app_id: app.id },
      body: { display_name: "Viewer Org" },
      auth: { cookie: viewerCookie },
    });
    expect(write.status).toBe(403);
    expect(write.body.code).toBe("FORBIDDEN");
  });

  test("an archived app's tenants are read-only (409 APP_ARCHIVED)", async () => {
    const archivedApp = await createApp(ctx, "tenants-archived");
    const t = await newTenant({ display_name: "Frozen Org" }, archivedApp);
    const status = await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
      params: { app_id: archivedApp.id },
      body: { status: "archived" },
    });
    expect(status.status).toBe(200);
    expect((await ctx.call("GET", ONE, { params: { app_id: archivedApp.id, tenant_id: t.id } })).status).toBe(
      200,
    );
    const write = await ctx.call("PATCH", ONE, {
      params: { app_id: archivedApp.id, tenant_id: t.id },
      body: { display_name: "Thawed" },
    });
    expect(write.status).toBe(409);
    expect(write.body.code).toBe("APP_ARCHIVED");
  });

  test("the audit chain stays intact", async () => {
    expect((await ctx.deps.audit.verify()).ok).toBe(true);
  });
});
