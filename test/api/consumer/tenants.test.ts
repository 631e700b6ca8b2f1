/** @module Consumer API tenants (`/{app_slug}/v1/tenants…`): the PAK lane, one `heimdall.tenant.*` action per route, isolation, audit and events. */
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
import { closeTestContext, createTestContext, type TestContext } from "../../support/harness.ts";
import { expectResponseMatches } from "../../support/openapi.ts";
import { allow, deny, insertPak } from "../admin/fixtures.ts";

let ctx: TestContext;
// The context's tables (PostgreSQL's twins on a PostgreSQL run), taken once the context exists.
let { events, tenantMembers, tenants } = {} as Tables;
let app: TestApp;
let other: TestApp;
let alice: InsertedEndUser;
let bob: InsertedEndUser;
let pak: { token: string; id: string };

const T = "/{app_slug}/v1/tenants";
const ONE = `${T}/{tenant_id}`;
const MEMBERS = `${ONE}/members`;
const MEMBER = `${MEMBERS}/{account_id}`;

beforeAll(async () => {
  ctx = await createTestContext();
  ({ events, tenantMembers, tenants } = ctx.deps.db.tables);
  app = await createApp(ctx, "ct-app");
  other = await createApp(ctx, "ct-other");
  alice = await insertEndUser(ctx, app, "alice");
  bob = await insertEndUser(ctx, app, "bob");
  pak = await insertPak(ctx, [allow(["heimdall.tenant.*"])]);
});

afterAll(() => closeTestContext(ctx));

const auth = () => ({ pak: pak.token });

const eventsOf = async (type: string) =>
  await ctx.deps.db
    .select()
    .from(events)
    .where(and(eq(events.appId, app.id), eq(events.type, type)));

async function newTenant(display_name: string, target: TestApp = app) {
  const res = await ctx.call("POST", T, {
    params: { app_slug: target.slug },
    body: { display_name },
    auth: auth(),
  });
  if (res.status !== 201) throw new Error(`create tenant failed: ${res.status} ${res.text}`);
  return res.body as { id: string; display_id: string; slug: string };
}

describe("every route, with a PAK allowed heimdall.tenant.*", () => {
  test("create, get, list, update, members add/list/update-role/remove, delete: statuses, shapes, audit and events", async () => {
    const created = await ctx.call("POST", T, {
      params: { app_slug: app.slug },
      body: { display_name: "Globex Corp", metadata: { tier: "gold" } },
      auth: auth(),
    });
    expect(created.status).toBe(201);
    expectResponseMatches("heimdall", "POST", T, 201, created.body, { strict: true });
    expect(created.body).toMatchObject({ app_id: app.id, slug: "globex-corp", status: "active" });
    const id = created.body.id as string;
    const displayId = created.body.display_id as string;
    const created0 = await auditRows(ctx, { action: "tenant.created", resource_id: id });
    expect(created0[0]!).toMatchObject({ actor_type: "pak", actor_id: pak.id, app_id: app.id });

    const got = await ctx.call("GET", ONE, {
      params: { app_slug: app.slug, tenant_id: displayId },
      auth: auth(),
    });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);

    const list = await ctx.call("GET", T, {
      params: { app_slug: app.slug },
      query: { status: "active" },
      auth: auth(),
    });
    expect(list.status).toBe(200);
    expect(list.body.data.map((t: { id: string }) => t.id)).toContain(id);

    const patched = await ctx.call("PATCH", ONE, {
      params: { app_slug: app.slug, tenant_id: id },
      body: { status: "suspended" },
      auth: auth(),
    });
    expect(patched.status).toBe(200);
    expect(patched.body.status).toBe("suspended");
    expect((await eventsOf("tenant.updated")).some((e) => (e.data.tenant as { id: string }).id === id)).toBe(
      true,
    );

    const added = await ctx.call("POST", MEMBERS, {
      params: { app_slug: app.slug, tenant_id: displayId },
      body: { account_id: alice.id, role_name: "owner" },
      auth: auth(),
    });
    expect(added.status).toBe(201);
    expectResponseMatches("heimdall", "POST", MEMBERS, 201, added.body, { strict: true });
    expect(added.body.membership).toMatchObject({ tenant_id: id, account_id: alice.id, invited_by: pak.id });

    const byEmail = await ctx.call("POST", MEMBERS, {
      params: { app_slug: app.slug, tenant_id: id },
      body: { email: "dana@example.test", username: "dana", role_name: "member" },
      auth: auth(),
    });
    expect(byEmail.status).toBe(201);
    expect(byEmail.body.created_account).toBe(true);
    expect(await userRow(ctx, byEmail.body.account_id)).toMatchObject({ appId: app.id, username: "dana" });
    expect(
      (await auditRows(ctx, { action: "user.created", resource_id: byEmail.body.account_id }))[0]!.actor_type,
    ).toBe("pak");

    const members = await ctx.call("GET", MEMBERS, {
      params: { app_slug: app.slug, tenant_id: id },
      auth: auth(),
    });
    expect(members.status).toBe(200);
    expect(members.body.data.map((m: { account_id: string }) => m.account_id)).toEqual([
      byEmail.body.account_id,
      alice.id,
    ]);

    const role = await ctx.call("PATCH", MEMBER, {
      params: { app_slug: app.slug, tenant_id: id, account_id: byEmail.body.account_id },
      body: { role_name: "admin" },
      auth: auth(),
    });
    expect(role.status).toBe(200);
    expect(role.body.role_name).toBe("admin");

    const lastOwner = await ctx.call("DELETE", MEMBER, {
      params: { app_slug: app.slug, tenant_id: id, account_id: alice.id },
      auth: auth(),
    });
    expect(lastOwner.status).toBe(409);
    expect(lastOwner.body.code).toBe("LAST_TENANT_OWNER");

    const removed = await ctx.call("DELETE", MEMBER, {
      params: { app_slug: app.slug, tenant_id: id, account_id: byEmail.body.account_id },
      auth: auth(),
    });
    expect(removed.status).toBe(204);
    expect((await auditRows(ctx, { action: "tenant.member.removed" })).at(-1)!.details).toMatchObject({
      account_id: byEmail.body.account_id,
    });

    const deleted = await ctx.call("DELETE", ONE, {
      params: { app_slug: app.slug, tenant_id: id },
      auth: auth(),
    });
    expect(deleted.status).toBe(204);
    expect((await ctx.deps.db.select().from(tenants).where(eq(tenants.id, id)).limit(1))[0]).toBeUndefined();
    expect(await ctx.deps.db.select().from(tenantMembers).where(eq(tenantMembers.tenantId, id))).toEqual([]);
    for (const action of [
      "tenant.created",
      "tenant.updated",
      "tenant.member.added",
      "tenant.member.role_changed",
      "tenant.member.removed",
      "tenant.deleted",
    ]) {
      expect({ action, events: (await eventsOf(action)).length > 0 }).toEqual({ action, events: true });
      const rows = await auditRows(ctx, { app_id: app.id, action });
      expect({ action, actor: rows.at(-1)?.actor_type }).toEqual({ action, actor: "pak" });
    }
  });

  test("the contract's refusals: 400 bad slug, 409 slug taken, 404 unknown tenant, 400 unknown role, 409 already a member", async () => {
    const t = await newTenant("Initech");
    const cases: [string, string, Record<string, string>, unknown, number, string][] = [
      ["POST", T, {}, { display_name: "X", slug: "no spaces" }, 400, "VALIDATION_ERROR"],
      ["POST", T, {}, { display_name: "X", slug: "INITECH" }, 409, "TENANT_SLUG_TAKEN"],
      ["GET", ONE, { tenant_id: "tnt_ffffffffffff" }, undefined, 404, "TENANT_NOT_FOUND"],
      ["PATCH", ONE, { tenant_id: t.id }, { metadata: "not an object" }, 400, "VALIDATION_ERROR"],
      [
        "POST",
        MEMBERS,
        { tenant_id: t.id },
        { account_id: bob.id, role_name: "wizard" },
        400,
        "UNKNOWN_ROLE",
      ],
      ["POST", MEMBERS, { tenant_id: t.id }, { role_name: "member" }, 400, "VALIDATION_ERROR"],
      ["DELETE", MEMBER, { tenant_id: t.id, account_id: bob.id }, undefined, 404, "TENANT_MEMBER_NOT_FOUND"],
    ];
    for (const [method, path, params, body, status, code] of cases) {
      const res = await ctx.call(method, path, {
        params: { app_slug: app.slug, ...params },
        body,
        auth: auth(),
      });
      expect({ method, path, status: res.status, code: res.body.code }).toEqual({
        method,
        path,
        status,
        code,
      });
    }
    await ctx.call("POST", MEMBERS, {
      params: { app_slug: app.slug, tenant_id: t.id },
      body: { account_id: bob.id, role_name: "member" },
      auth: auth(),
    });
    const dup = await ctx.call("POST", MEMBERS, {
      params: { app_slug: app.slug, tenant_id: t.id },
      body: { account_id: bob.id, role_name: "admin" },
      auth: auth(),
    });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe("TENANT_MEMBER_EXISTS");
  });
});

describe("the lane", () => {
  /** Each route with the action that guards it. */
  const routes = (tenantId: string): [string, string, string, Record<string, string>, unknown][] => [
    ["heimdall.tenant.create", "POST", T, {}, { display_name: "Denied Org" }],
    ["heimdall.tenant.read", "GET", T, {}, undefined],
    ["heimdall.tenant.read", "GET", ONE, { tenant_id: tenantId }, undefined],
    ["heimdall.tenant.read", "GET", MEMBERS, { tenant_id: tenantId }, undefined],
    ["heimdall.tenant.update", "PATCH", ONE, { tenant_id: tenantId }, { display_name: "Renamed" }],
    ["heimdall.tenant.delete", "DELETE", ONE, { tenant_id: tenantId }, undefined],
    [
      "heimdall.tenant.members.add",
      "POST",
      MEMBERS,
      { tenant_id: tenantId },
      { account_id: bob.id, role_name: "member" },
    ],
    [
      "heimdall.tenant.members.remove",
      "DELETE",
      MEMBER,
      { tenant_id: tenantId, account_id: alice.id },
      undefined,
    ],
    [
      "heimdall.tenant.members.update-role",
      "PATCH",
      MEMBER,
      { tenant_id: tenantId, account_id: alice.id },
      { role_name: "admin" },
    ],
  ];

  test("a PAK denied one action gets 403 POLICY_DENIED on that action's routes, and nothing changes", async () => {
    const t = await newTenant("Guarded Inc");
    await ctx.call("POST", MEMBERS, {
      params: { app_slug: app.slug, tenant_id: t.id },
      body: { account_id: alice.id, role_name: "member" },
      auth: auth(),
    });
    const before = JSON.stringify(await ctx.deps.db.select().from(tenants));
    for (const [action, method, path, params, body] of routes(t.id)) {
      const denied = await insertPak(ctx, [allow(["*"]), deny([action])]);
      const res = await ctx.call(method, path, {
        params: { app_slug: app.slug, ...params },
        body,
        auth: { pak: denied.token },
      });
      expect({ action, method, path, status: res.status, code: res.body.code }).toEqual({
        action,
        method,
        path,
        status: 403,
        code: "POLICY_DENIED",
      });
    }
    expect(JSON.stringify(await ctx.deps.db.select().from(tenants))).toBe(before);
    // The Admin lane's actions do not open the Consumer lane.
    const adminOnly = await insertPak(ctx, [allow(["heimdall.read", "heimdall.create"])]);
    const res = await ctx.call("GET", T, { params: { app_slug: app.slug }, auth: { pak: adminOnly.token } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("POLICY_DENIED");
  });

  test("no credential, or an EndUser token, is 401; a PAK of another workspace is the app's 404", async () => {
    const t = await newTenant("Lane Corp");
    const { token } = await openSession(ctx, app, alice.id);
    const ws = await insertWorkspace(ctx, "ct-foreign-ws");
    const foreign = await insertPak(ctx, [allow(["*"])], ws);
    for (const [, method, path, params, body] of routes(t.id)) {
      const p = { app_slug: app.slug, ...params };
      const none = await ctx.call(method, path, { params: p, body, auth: null });
      expect({ method, path, status: none.status }).toEqual({ method, path, status: 401 });
      const endUser = await ctx.call(method, path, { params: p, body, auth: { bearer: token } });
      expect({ method, path, status: endUser.status }).toEqual({ method, path, status: 401 });
      const res = await ctx.call(method, path, { params: p, body, auth: { pak: foreign.token } });
      expect({ method, path, status: res.status, code: res.body.code }).toEqual({
        method,
        path,
        status: 404,
        code: "APP_NOT_FOUND",
      });
    }
  });

  test("a tenant of app A is 404 TENANT_NOT_FOUND through app B's slug, on every tenant route", async () => {
    const t = await newTenant("Isolated Ltd");
    await ctx.call("POST", MEMBERS, {
      params: { app_slug: app.slug, tenant_id: t.id },
      body: { account_id: alice.id, role_name: "owner" },
      auth: auth(),
    });
    for (const ref of [t.id, t.display_id]) {
      for (const [, method, path, params, body] of routes(ref).filter(([, , p]) => p !== T)) {
        const res = await ctx.call(method, path, {
          params: { app_slug: other.slug, ...params },
          body,
          auth: auth(),
        });
        expect({ method, path, status: res.status, code: res.body.code }).toEqual({
          method,
          path,
          status: 404,
          code: "TENANT_NOT_FOUND",
        });
      }
    }
    // App B's list does not show it either.
    const list = await ctx.call("GET", T, { params: { app_slug: other.slug }, auth: auth() });
    expect(list.body.data.map((x: { id: string }) => x.id)).not.toContain(t.id);
    expect(
      (await ctx.deps.db.select().from(tenants).where(eq(tenants.id, t.id)).limit(1))[0]?.displayName,
    ).toBe("Isolated Ltd");
  });
});
