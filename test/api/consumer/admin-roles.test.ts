/**
 * @module Consumer admin lane `/{app_slug}/v1/admin/roles*`: every route through EndUser, M2M and API-key
 * callers, the permission each route checks, caller-narrowing of permission grants, and the refusals.
 */

import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { rows } from "../../../src/db/query.ts";
import { SYSTEM_PERMISSIONS } from "../../../src/rbac/catalog.ts";
import { auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { expectResponseMatches } from "../../support/openapi.ts";
import {
  createApiKey,
  createEndUser,
  createM2mClient,
  setEnforcement,
  type TestApp,
  type TestEndUser,
} from "./verify-fixtures.ts";

const ROLES = "/{app_slug}/v1/admin/roles";
const ROLE = "/{app_slug}/v1/admin/roles/{role_name}";
const ROLE_PERMS = "/{app_slug}/v1/admin/roles/{role_name}/permissions";

const ROLE_VERBS = ["role.read", "role.create", "role.update", "role.delete"];
const STEWARD = [
  "role.read",
  "role.create",
  "role.update",
  "role.assign",
  "user.read",
  "user.list",
  "user.status",
];

let ctx: TestContext;
let app: TestApp;
let other: TestApp;
let owner: TestEndUser;
/** The documented admin (no role verb but role.assign/role.revoke). */
let admin: TestEndUser;
/** A custom role an operator made to run roles: the role verbs but role.delete, and some user verbs. */
let steward: TestEndUser;
let member: TestEndUser;
/** M2M tokens: every role verb plus user.read; only role.read; role.update + user.read + user.list. */
let m2mAll: { clientId: string; token: string };
let m2mRead: { clientId: string; token: string };
let m2mNarrow: { clientId: string; token: string };
/** API keys: every role verb plus user.read; only role.read. */
let keyAll: { id: string; key: string };
let keyRead: { id: string; key: string };

type Bearer = () => string;

const call = (
  method: string,
  path: string,
  bearer: string | null,
  opts: { role?: string; body?: unknown; slug?: string; query?: Record<string, string | number> } = {},
) =>
  ctx.call(method, path, {
    params: { app_slug: opts.slug ?? app.slug, ...(opts.role ? { role_name: opts.role } : {}) },
    auth: bearer === null ? null : { bearer },
    body: opts.body,
    query: opts.query,
  });

const boundKeys = async (role: string) =>
  (
    await rows<{ key: string }>(
      ctx.deps.db,
      sql`SELECT p.key FROM roles r JOIN role_permissions rp ON rp.role_id = r.id JOIN permissions p ON p.id = rp.permission_id
          WHERE r.app_id = ${app.id} AND r.name = ${role} ORDER BY p.key`,
    )
  ).map((r) => r.key);

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "lane-roles");
  other = await createApp(ctx, "lane-roles-b");
  owner = await createEndUser(ctx, app, "olga", { role: "owner" });
  admin = await createEndUser(ctx, app, "arne", { role: "admin" });
  for (const [method, path, body] of [
    ["POST", "/v1/apps/{app_id}/roles", { name: "steward" }],
    ["PUT", "/v1/apps/{app_id}/roles/{role_name}/permissions", { permissions: STEWARD }],
  ] as const) {
    const res = await ctx.call(method, path, { params: { app_id: app.id, role_name: "steward" }, body });
    expect(res.status).toBeLessThan(300);
  }
  steward = await createEndUser(ctx, app, "stew", { role: "steward" });
  member = await createEndUser(ctx, app, "mona", { role: "member" });
  m2mAll = await createM2mClient(ctx, app, [...ROLE_VERBS, "user.read"]);
  m2mRead = await createM2mClient(ctx, app, ["role.read"]);
  m2mNarrow = await createM2mClient(ctx, app, ["role.update", "user.read", "user.list"]);
  keyAll = await createApiKey(ctx, app, [...ROLE_VERBS, "user.read"]);
  keyRead = await createApiKey(ctx, app, ["role.read"]);
  const custom = await ctx.call("POST", "/v1/apps/{app_id}/permissions", {
    params: { app_id: app.id },
    body: { resource: "invoice", action: "approve" },
  });
  expect(custom.status).toBe(201);
  await setEnforcement(ctx, app, true);
});

describe("GET /admin/roles (role.read)", () => {
  test.each([
    ["an owner", () => owner.token],
    ["a steward", () => steward.token],
    ["a member (the documented member holds role.read)", () => member.token],
    ["an M2M token with role.read", () => m2mRead.token],
    ["an API key with role.read", () => keyRead.key],
  ] as [string, Bearer][])("%s → 200 ConsumerRoleListResponseDto", async (_n, bearer) => {
    const res = await call("GET", ROLES, bearer());
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "GET", ROLES, 200, res.body, { strict: true });
    expect(res.body.data.map((r: { name: string }) => r.name).sort()).toEqual([
      "admin",
      "member",
      "owner",
      "steward",
    ]);
  });

  test("limit and cursor page through", async () => {
    const first = await call("GET", ROLES, owner.token, { query: { limit: 2 } });
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    expect(first.body.pagination.has_more).toBe(true);
    const second = await call("GET", ROLES, owner.token, {
      query: { limit: 2, cursor: first.body.pagination.next_cursor },
    });
    expect(second.status).toBe(200);
    const names = [...first.body.data, ...second.body.data].map((r: { name: string }) => r.name);
    expect(new Set(names).size).toBe(names.length);
  });

  test.each([
    ["the documented admin (no role.read)", () => admin.token],
    ["an M2M token without role.read", () => m2mNarrow.token],
  ] as [string, Bearer][])("%s → 403 PERMISSION_DENIED", async (_n, bearer) => {
    const res = await call("GET", ROLES, bearer());
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("PERMISSION_DENIED");
  });
});

describe("POST /admin/roles (role.create)", () => {
  test.each([
    ["an owner", "end_user", () => owner.token, () => owner.id, "by-owner"],
    ["a steward", "end_user", () => steward.token, () => steward.id, "by-admin"],
    ["an M2M token", "m2m", () => m2mAll.token, () => m2mAll.clientId, "by-m2m"],
    ["an API key", "api_key", () => keyAll.key, () => keyAll.id, "by-key"],
  ] as [string, string, Bearer, () => string, string][])(
    "%s creates a role (audited as %s)",
    async (_n, actorType, bearer, actorId, name) => {
      const res = await call("POST", ROLES, bearer(), { body: { name, description: "made on the lane" } });
      expect(res.status).toBe(201);
      expectResponseMatches("heimdall", "POST", ROLES, 201, res.body, { strict: true });
      expect(res.body).toMatchObject({
        name,
        app_id: app.id,
        is_system: false,
        description: "made on the lane",
      });
      const row = (await auditRows(ctx, { app_id: app.id, action: "role.created" })).at(-1)!;
      expect(row).toMatchObject({ actor_type: actorType, actor_id: actorId(), resource_id: res.body.id });
    },
  );

  test("a duplicate → 409 ROLE_EXISTS", async () => {
    const res = await call("POST", ROLES, owner.token, { body: { name: "admin" } });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("ROLE_EXISTS");
  });

  test.each([{ name: "X" }, { name: "has space" }, {}, { name: "permissions" }])(
    "%j → 400 VALIDATION_ERROR",
    async (body) => {
      const res = await call("POST", ROLES, owner.token, { body });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
    },
  );

  test.each([
    ["a member", () => member.token],
    ["an API key with only role.read", () => keyRead.key],
    ["an M2M token without role.create", () => m2mRead.token],
  ] as [string, Bearer][])("%s → 403 PERMISSION_DENIED, nothing created", async (_n, bearer) => {
    const res = await call("POST", ROLES, bearer(), { body: { name: "refused" } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("PERMISSION_DENIED");
    expect(await boundKeys("refused")).toEqual([]);
    expect(await rows(ctx.deps.db, sql`SELECT 1 FROM roles WHERE name = 'refused'`)).toHaveLength(0);
  });
});

describe("GET /admin/roles/{role_name} (role.read)", () => {
  beforeAll(async () => {
    const res = await ctx.call("POST", "/v1/apps/{app_id}/roles", {
      params: { app_id: other.id },
      body: { name: "stranger-role" },
    });
    expect(res.status).toBe(201);
  });

  test("the role with its permission entries", async () => {
    const res = await call("GET", ROLE, keyRead.key, { role: "admin" });
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "GET", ROLE, 200, res.body, { strict: true });
    const keys = res.body.permissions.map(
      (p: { resource: string; action: string }) => `${p.resource}.${p.action}`,
    );
    expect(keys).toEqual(["role.assign", "role.revoke", "user.list", "user.read", "user.update"]);
  });

  test("owner lists the whole catalogue, custom permissions included", async () => {
    const res = await call("GET", ROLE, m2mRead.token, { role: "owner" });
    expect(res.body.permissions).toHaveLength(SYSTEM_PERMISSIONS.length + 1);
  });

  test.each([
    ["an unknown role", "ghost"],
    ["a role of another app", "stranger-role"],
  ])("%s → 404 ROLE_NOT_FOUND", async (_n, role) => {
    const res = await call("GET", ROLE, owner.token, { role });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("ROLE_NOT_FOUND");
  });
});

describe("PATCH /admin/roles/{role_name} (role.update)", () => {
  test("changes the description; audited with the lane's actor", async () => {
    const res = await call("PATCH", ROLE, m2mNarrow.token, {
      role: "by-owner",
      body: { description: "edited" },
    });
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "PATCH", ROLE, 200, res.body, { strict: true });
    expect(res.body.description).toBe("edited");
    expect((await auditRows(ctx, { app_id: app.id, action: "role.updated" })).at(-1)).toMatchObject({
      actor_type: "m2m",
      actor_id: m2mNarrow.clientId,
    });
  });

  test("a rename → 400 VALIDATION_ERROR (names are immutable)", async () => {
    const res = await call("PATCH", ROLE, owner.token, { role: "by-owner", body: { name: "renamed" } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details).toEqual([{ field: "name", reason: expect.any(String) }]);
  });

  test("unknown role → 404; missing role.update → 403", async () => {
    const missing = await call("PATCH", ROLE, owner.token, { role: "ghost", body: { description: "x" } });
    expect([missing.status, missing.body.code]).toEqual([404, "ROLE_NOT_FOUND"]);
    const denied = await call("PATCH", ROLE, keyRead.key, { role: "by-owner", body: { description: "x" } });
    expect([denied.status, denied.body.code]).toEqual([403, "PERMISSION_DENIED"]);
  });
});

describe("DELETE /admin/roles/{role_name} (role.delete)", () => {
  test.each([
    ["an owner", () => owner.token, "by-owner"],
    ["an M2M token", () => m2mAll.token, "by-m2m"],
    ["an API key", () => keyAll.key, "by-key"],
  ] as [string, Bearer, string][])("%s deletes a custom role → 204", async (_n, bearer, role) => {
    const res = await call("DELETE", ROLE, bearer(), { role });
    expect(res.status).toBe(204);
    expect((await auditRows(ctx, { app_id: app.id, action: "role.deleted" })).at(-1)?.details).toMatchObject({
      name: role,
    });
  });

  test("a steward or the documented admin lacks role.delete → 403 PERMISSION_DENIED", async () => {
    const denied = await call("DELETE", ROLE, admin.token, { role: "by-admin" });
    expect([denied.status, denied.body.code]).toEqual([403, "PERMISSION_DENIED"]);
    const res = await call("DELETE", ROLE, steward.token, { role: "by-admin" });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("PERMISSION_DENIED");
  });

  test.each(["owner", "admin", "member"])("the system role %s → 403 SYSTEM_ROLE", async (role) => {
    const res = await call("DELETE", ROLE, owner.token, { role });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("SYSTEM_ROLE");
  });

  test("a role in use → 409 ROLE_IN_USE", async () => {
    await createEndUser(ctx, app, "adminee", { role: "by-admin" });
    const res = await call("DELETE", ROLE, owner.token, { role: "by-admin" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("ROLE_IN_USE");
  });

  test("an unknown role → 404 ROLE_NOT_FOUND", async () => {
    const res = await call("DELETE", ROLE, owner.token, { role: "ghost" });
    expect([res.status, res.body.code]).toEqual([404, "ROLE_NOT_FOUND"]);
  });
});

describe("PUT /admin/roles/{role_name}/permissions (role.update, caller-narrowed)", () => {
  beforeAll(async () => {
    for (const name of ["curator", "clerk"]) {
      const res = await call("POST", ROLES, owner.token, { body: { name } });
      expect(res.status).toBe(201);
    }
  });

  test("an owner grants anything it holds, custom permissions included → 200, empty body", async () => {
    const res = await call("PUT", ROLE_PERMS, owner.token, {
      role: "curator",
      body: { permissions: ["invoice.approve", "role.delete", "user.read"] },
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe("");
    expect(await boundKeys("curator")).toEqual(["invoice.approve", "role.delete", "user.read"]);
    expect((await auditRows(ctx, { app_id: app.id, action: "role.permissions_set" })).at(-1)).toMatchObject({
      actor_type: "end_user",
      actor_id: owner.id,
    });
  });

  type Narrowed = [who: string, bearer: Bearer, permissions: string[]];
  const REFUSED: Narrowed[] = [
    ["a steward granting role.delete", () => steward.token, ["user.read", "role.delete"]],
    ["a steward granting a custom permission", () => steward.token, ["invoice.approve"]],
    ["an M2M token granting beyond its scopes", () => m2mNarrow.token, ["user.read", "user.delete"]],
    ["an API key granting beyond its permissions", () => keyAll.key, ["user.read", "user.list"]],
  ];
  test.each(REFUSED)("%s → 403 PERMISSION_GRANT_DENIED, nothing changed", async (_n, bearer, permissions) => {
    const before = await boundKeys("clerk");
    const audits = (await auditRows(ctx, { app_id: app.id, action: "role.permissions_set" })).length;
    const res = await call("PUT", ROLE_PERMS, bearer(), { role: "clerk", body: { permissions } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("PERMISSION_GRANT_DENIED");
    expect(await boundKeys("clerk")).toEqual(before);
    expect(await auditRows(ctx, { app_id: app.id, action: "role.permissions_set" })).toHaveLength(audits);
  });

  const ALLOWED: Narrowed[] = [
    ["a steward granting what it holds", () => steward.token, ["user.read", "user.status", "role.assign"]],
    ["an M2M token granting within its scopes", () => m2mNarrow.token, ["user.read", "user.list"]],
    ["an API key granting within its permissions", () => keyAll.key, ["user.read", "role.read"]],
  ];
  test.each(ALLOWED)("%s → 200", async (_n, bearer, permissions) => {
    const res = await call("PUT", ROLE_PERMS, bearer(), { role: "clerk", body: { permissions } });
    expect(res.status).toBe(200);
    expect(await boundKeys("clerk")).toEqual([...permissions].sort());
  });

  test("unknown permissions → 400 VALIDATION_ERROR (before narrowing)", async () => {
    const res = await call("PUT", ROLE_PERMS, steward.token, {
      role: "clerk",
      body: { permissions: ["user.read", "nothing.here"] },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details.map((d: { field: string }) => d.field)).toEqual(["permissions.1"]);
  });

  test("owner's set → 403 SYSTEM_ROLE; unknown role → 404; missing role.update → 403 PERMISSION_DENIED", async () => {
    const sys = await call("PUT", ROLE_PERMS, owner.token, { role: "owner", body: { permissions: [] } });
    expect([sys.status, sys.body.code]).toEqual([403, "SYSTEM_ROLE"]);
    const missing = await call("PUT", ROLE_PERMS, owner.token, { role: "ghost", body: { permissions: [] } });
    expect([missing.status, missing.body.code]).toEqual([404, "ROLE_NOT_FOUND"]);
    const denied = await call("PUT", ROLE_PERMS, keyRead.key, { role: "clerk", body: { permissions: [] } });
    expect([denied.status, denied.body.code]).toEqual([403, "PERMISSION_DENIED"]);
  });

  test("a new grant applies to the holders' live tokens at once", async () => {
    const clerk = await createEndUser(ctx, app, "clyde", { role: "clerk" });
    const put = await call("PUT", ROLE_PERMS, owner.token, {
      role: "clerk",
      body: { permissions: ["user.read"] },
    });
    expect(put.status).toBe(200);
    expect((await call("GET", ROLES, clerk.token)).status).toBe(403);
    const grant = await call("PUT", ROLE_PERMS, owner.token, {
      role: "clerk",
      body: { permissions: ["user.read", "role.read"] },
    });
    expect(grant.status).toBe(200);
    expect((await call("GET", ROLES, clerk.token)).status).toBe(200);
  });
});

describe("enforce_app_permissions off", () => {
  let loose: TestApp;
  let looseMember: TestEndUser;

  beforeAll(async () => {
    loose = await createApp(ctx, "lane-roles-loose");
    // Off is an operator's explicit choice; new apps enforce.
    await setEnforcement(ctx, loose, false);
    looseMember = await createEndUser(ctx, loose, "molly", { role: "member" });
    const res = await call("POST", ROLES, looseMember.token, { slug: loose.slug, body: { name: "helpers" } });
    expect(res.status).toBe(201);
  });

  test("any valid token may call the routes: a member lists and creates roles", async () => {
    const list = await call("GET", ROLES, looseMember.token, { slug: loose.slug });
    expect(list.status).toBe(200);
    expect(list.body.data.map((r: { name: string }) => r.name)).toContain("helpers");
  });

  test("but grants stay narrowed: a member grants only what it holds (user.read, role.read)", async () => {
    const grant = await call("PUT", ROLE_PERMS, looseMember.token, {
      slug: loose.slug,
      role: "helpers",
      body: { permissions: ["user.read", "user.list"] },
    });
    expect([grant.status, grant.body.code]).toEqual([403, "PERMISSION_GRANT_DENIED"]);
    const held = await call("PUT", ROLE_PERMS, looseMember.token, {
      slug: loose.slug,
      role: "helpers",
      body: { permissions: ["user.read", "role.read"] },
    });
    expect(held.status).toBe(200);
    const clear = await call("PUT", ROLE_PERMS, looseMember.token, {
      slug: loose.slug,
      role: "helpers",
      body: { permissions: [] },
    });
    expect(clear.status).toBe(200);
  });

  test("an API key is still held to its permissions", async () => {
    const key = await createApiKey(ctx, loose, ["user.read"]);
    const res = await call("GET", ROLES, key.key, { slug: loose.slug });
    expect([res.status, res.body.code]).toEqual([403, "PERMISSION_DENIED"]);
  });
});

describe("refused credentials", () => {
  test("no credential → 401 UNAUTHORIZED", async () => {
    const res = await call("GET", ROLES, null);
    expect([res.status, res.body.code]).toEqual([401, "UNAUTHORIZED"]);
  });

  test.each([
    [
      "an owner token of another app",
      async () => (await createEndUser(ctx, other, "intruder", { role: "owner" })).token,
    ],
    ["an M2M token of another app", async () => (await createM2mClient(ctx, other, ROLE_VERBS)).token],
    ["an API key of another app", async () => (await createApiKey(ctx, other, ROLE_VERBS)).key],
    ["a platform API key", async () => ctx.pak],
  ])("%s → 401 INVALID_TOKEN", async (_n, make) => {
    const res = await call("POST", ROLES, await make(), { body: { name: "intrusion" } });
    expect([res.status, res.body.code]).toEqual([401, "INVALID_TOKEN"]);
  });

  test("an unknown app → 404 APP_NOT_FOUND", async () => {
    const res = await call("GET", ROLES, owner.token, { slug: "no-such-app" });
    expect([res.status, res.body.code]).toEqual([404, "APP_NOT_FOUND"]);
  });
});
