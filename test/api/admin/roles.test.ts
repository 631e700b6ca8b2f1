/** @module Admin API roles: list, create, read, describe, delete, set permissions, assign, the catalogue; both platform lanes. */

import { beforeAll, describe, expect, test } from "bun:test";
import { SYSTEM_PERMISSIONS } from "../../../src/rbac/catalog.ts";
import { type QueryParam, queryRowsAsSqlite } from "../../support/end-users.ts";
import { type AppBody, createApp, insertWorkspace } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { expectResponseMatches } from "../../support/openapi.ts";
import { createEndUser } from "../consumer/verify-fixtures.ts";
import {
  allow,
  auditCount,
  bootstrapPakId,
  detailFields,
  errCode,
  expectLastAudit,
  insertBareApp,
  insertMember,
  insertPak,
} from "./fixtures.ts";

const ROLES = "/v1/apps/{app_id}/roles";
const ROLE = "/v1/apps/{app_id}/roles/{role_name}";
const ROLE_PERMS = "/v1/apps/{app_id}/roles/{role_name}/permissions";
const ASSIGN = "/v1/apps/{app_id}/roles/assign";
const CATALOGUE = "/v1/apps/{app_id}/roles/permissions";

let ctx: TestContext;
let app: AppBody;
let other: AppBody;
/** Accounts made once: one in the app, one in the other app. */
const ids = { local: "", foreign: "" };

/** A raw read on either engine: `?` binds the next argument; booleans read as SQLite's 1/0. */
const q = <T>(text: string, ...args: QueryParam[]) => queryRowsAsSqlite<T>(ctx, text, ...args);
const boundKeys = async (appId: string, role: string) =>
  (
    await q<{ key: string }>(
      `SELECT p.key FROM roles r JOIN role_permissions rp ON rp.role_id = r.id JOIN permissions p ON p.id = rp.permission_id
      WHERE r.app_id = ? AND r.name = ? ORDER BY p.key`,
      appId,
      role,
    )
  ).map((r) => r.key);

async function createRole(appId: string, name: string, description?: string) {
  const res = await ctx.call("POST", ROLES, { params: { app_id: appId }, body: { name, description } });
  if (res.status !== 201) throw new Error(`create role ${name}: ${res.status} ${res.text}`);
  return res.body;
}

async function addPermission(appId: string, resource: string, action: string) {
  const res = await ctx.call("POST", "/v1/apps/{app_id}/permissions", {
    params: { app_id: appId },
    body: { resource, action },
  });
  if (res.status !== 201) throw new Error(`create permission: ${res.status} ${res.text}`);
  return res.body;
}

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "roles-app");
  other = await createApp(ctx, "roles-other");
  await addPermission(app.id, "invoice", "read");
  await createRole(other.id, "only-there");
  ids.local = (await createEndUser(ctx, { id: app.id, slug: app.slug }, "local-one")).id;
  ids.foreign = (await createEndUser(ctx, { id: other.id, slug: other.slug }, "foreign-one")).id;
});

describe("GET /roles", () => {
  test("lists the three system roles, newest first, paginated by cursor", async () => {
    const res = await ctx.call("GET", ROLES, { params: { app_id: app.id } });
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "GET", ROLES, 200, res.body, { strict: true });
    const names = res.body.data.map((r: { name: string }) => r.name);
    expect(names.sort()).toEqual(["admin", "member", "owner"]);
    expect(
      res.body.data.every((r: { is_system: boolean; app_id: string }) => r.is_system && r.app_id === app.id),
    ).toBe(true);
    expect(res.body.pagination).toEqual({ has_more: false, next_cursor: null });
  });

  test("pages through the roles with limit and cursor, without repeats", async () => {
    const paged = await createApp(ctx, "roles-paged");
    for (const n of ["editor", "viewer", "billing"]) {
      ctx.clock.advance(1);
      await createRole(paged.id, n);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const res = await ctx.call("GET", ROLES, { params: { app_id: paged.id }, query: { limit: 2, cursor } });
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((r: { name: string }) => r.name));
      if (!res.body.pagination.has_more) break;
      cursor = res.body.pagination.next_cursor;
    }
    expect(seen.slice(0, 3)).toEqual(["billing", "viewer", "editor"]);
    expect([...seen].sort()).toEqual(["admin", "billing", "editor", "member", "owner", "viewer"]);
  });

  test.each([
    ["limit 0", { limit: 0 }, "limit"],
    ["limit 201", { limit: 201 }, "limit"],
    ["garbage cursor", { cursor: "!!" }, "cursor"],
  ])("%s → 400 VALIDATION_ERROR", async (_n, query, field) => {
    const res = await ctx.call("GET", ROLES, { params: { app_id: app.id }, query });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toContain(field);
  });
});

describe("POST /roles", () => {
  test("201: a custom role with no permissions, audited role.created", async () => {
    const res = await ctx.call("POST", ROLES, {
      params: { app_id: app.id },
      body: { name: "editor", description: "Edits content" },
    });
    expect(res.status).toBe(201);
    expectResponseMatches("heimdall", "POST", ROLES, 201, res.body, { strict: true });
    expect(res.body).toMatchObject({
      name: "editor",
      description: "Edits content",
      is_system: false,
      app_id: app.id,
    });
    expect(await boundKeys(app.id, "editor")).toEqual([]);
    const audit = await expectLastAudit(ctx, app.id, "role.created", "pak", await bootstrapPakId(ctx));
    expect(audit.resource_id).toBe(res.body.id);
  });

  test("a description is optional (null)", async () => {
    const body = await createRole(app.id, "support");
    expect(body.description).toBeNull();
  });

  test.each(["editor", "owner", "member"])("an existing name (%s) → 409 ROLE_EXISTS", async (name) => {
    const before = await auditCount(ctx);
    const res = await ctx.call("POST", ROLES, { params: { app_id: app.id }, body: { name } });
    expect(res.status).toBe(409);
    expect(errCode(res)).toBe("ROLE_EXISTS");
    expect(await auditCount(ctx)).toBe(before);
  });

  test("the same name in another app is another role", async () => {
    expect((await createRole(other.id, "editor")).app_id).toBe(other.id);
  });

  const INVALID: [string, unknown, string][] = [
    ["missing name", { description: "x" }, "name"],
    ["one character", { name: "a" }, "name"],
    ["49 characters", { name: `a${"b".repeat(48)}` }, "name"],
    ["upper case", { name: "Editor" }, "name"],
    ["leading digit", { name: "1editor" }, "name"],
    ["space", { name: "content editor" }, "name"],
    ["dot", { name: "content.editor" }, "name"],
    ["not a string", { name: 42 }, "name"],
    ["reserved: permissions", { name: "permissions" }, "name"],
    ["reserved: assign", { name: "assign" }, "name"],
    ["description too long", { name: "longdesc", description: "x".repeat(501) }, "description"],
    ["description not a string", { name: "numdesc", description: 5 }, "description"],
  ];
  test.each(INVALID)("%s → 400 VALIDATION_ERROR, nothing written", async (_n, body, field) => {
    const before = await auditCount(ctx);
    const res = await ctx.call("POST", ROLES, { params: { app_id: app.id }, body });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toContain(field);
    expect(await auditCount(ctx)).toBe(before);
  });

  test("a 48-character name is accepted", async () => {
    const name = `a${"b".repeat(47)}`;
    expect((await createRole(app.id, name)).name).toBe(name);
  });
});

describe("GET /roles/{role_name}", () => {
  test("a system role with its bound permissions, by key", async () => {
    const res = await ctx.call("GET", ROLE, { params: { app_id: app.id, role_name: "admin" } });
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "GET", ROLE, 200, res.body, { strict: true });
    const keys = res.body.permissions.map(
      (p: { resource: string; action: string }) => `${p.resource}.${p.action}`,
    );
    // The hosted documentation's admin, exactly.
    expect(keys).toEqual(["role.assign", "role.revoke", "user.list", "user.read", "user.update"]);
    expect(res.body.description).toBe("Reads and edits end users; assigns and revokes their roles");
  });

  test("owner shows the whole catalogue, the app's custom permissions included", async () => {
    const res = await ctx.call("GET", ROLE, { params: { app_id: app.id, role_name: "owner" } });
    expect(res.status).toBe(200);
    const keys = res.body.permissions.map(
      (p: { resource: string; action: string }) => `${p.resource}.${p.action}`,
    );
    expect(keys).toEqual([...SYSTEM_PERMISSIONS.map((p) => p.key), "invoice.read"].sort());
  });

  test("member holds the documented user.read and role.read; the lookup folds case", async () => {
    const res = await ctx.call("GET", ROLE, { params: { app_id: app.id, role_name: "MEMBER" } });
    expect(res.status).toBe(200);
    expect(res.body.name).toBe("member");
    const keys = res.body.permissions.map(
      (p: { resource: string; action: string }) => `${p.resource}.${p.action}`,
    );
    expect(keys).toEqual(["role.read", "user.read"]);
  });

  test.each([
    ["an unknown role", "ROLE_NOT_FOUND", () => app.id, "ghost"],
    ["a role of another app only", "ROLE_NOT_FOUND", () => app.id, "only-there"],
    ["an unknown app", "APP_NOT_FOUND", () => "no-such-app", "admin"],
  ])("%s → 404 %s", async (_n, code, appId, role) => {
    const res = await ctx.call("GET", ROLE, { params: { app_id: appId(), role_name: role } });
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe(code);
  });
});

describe("PATCH /roles/{role_name}", () => {
  test("changes the description, bumps updated_at, audits role.updated", async () => {
    await createRole(app.id, "describer", "old");
    ctx.clock.advance(1000);
    const res = await ctx.call("PATCH", ROLE, {
      params: { app_id: app.id, role_name: "describer" },
      body: { description: "new" },
    });
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "PATCH", ROLE, 200, res.body, { strict: true });
    expect(res.body.description).toBe("new");
    expect(res.body.updated_at > res.body.created_at).toBe(true);
    const audit = await expectLastAudit(ctx, app.id, "role.updated", "pak");
    expect(audit.details).toMatchObject({ previous_description: "old", description: "new" });
  });

  test("a system role's description may change too", async () => {
    const res = await ctx.call("PATCH", ROLE, {
      params: { app_id: app.id, role_name: "member" },
      body: { description: "Everyone who signs up" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: "member", is_system: true, description: "Everyone who signs up" });
  });

  test("the same description, or none, writes nothing", async () => {
    const before = await auditCount(ctx);
    for (const body of [{ description: "new" }, {}]) {
      const res = await ctx.call("PATCH", ROLE, { params: { app_id: app.id, role_name: "describer" }, body });
      expect(res.status).toBe(200);
      expect(res.body.description).toBe("new");
    }
    expect(await auditCount(ctx)).toBe(before);
  });

  test.each([
    ["a rename", { name: "renamed" }, "name"],
    ["a rename along with a description", { name: "renamed", description: "x" }, "name"],
    ["an overlong description", { description: "x".repeat(501) }, "description"],
  ])("%s → 400 VALIDATION_ERROR", async (_n, body, field) => {
    const res = await ctx.call("PATCH", ROLE, { params: { app_id: app.id, role_name: "describer" }, body });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toEqual([field]);
    expect(await q("SELECT 1 FROM roles WHERE app_id = ? AND name = 'renamed'", app.id)).toHaveLength(0);
  });

  test("an unknown role → 404 ROLE_NOT_FOUND", async () => {
    const res = await ctx.call("PATCH", ROLE, {
      params: { app_id: app.id, role_name: "ghost" },
      body: { description: "x" },
    });
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe("ROLE_NOT_FOUND");
  });
});

describe("DELETE /roles/{role_name}", () => {
  test("204: the role and its bindings go, audited role.deleted", async () => {
    await createRole(app.id, "temp");
    const put = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: app.id, role_name: "temp" },
      body: { permissions: ["user.read", "invoice.read"] },
    });
    expect(put.status).toBe(200);
    const roleId = (
      await q<{ id: string }>("SELECT id FROM roles WHERE app_id = ? AND name = 'temp'", app.id)
    )[0]!.id;
    const res = await ctx.call("DELETE", ROLE, { params: { app_id: app.id, role_name: "temp" } });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(await q("SELECT 1 FROM roles WHERE id = ?", roleId)).toHaveLength(0);
    expect(await q("SELECT 1 FROM role_permissions WHERE role_id = ?", roleId)).toHaveLength(0);
    const audit = await expectLastAudit(ctx, app.id, "role.deleted", "pak");
    expect(audit.resource_id).toBe(roleId);
    expect(audit.details).toMatchObject({ name: "temp", permissions: ["invoice.read", "user.read"] });
  });

  test.each(["owner", "admin", "member"])("the system role %s → 403 SYSTEM_ROLE", async (name) => {
    const res = await ctx.call("DELETE", ROLE, { params: { app_id: app.id, role_name: name } });
    expect(res.status).toBe(403);
    expect(errCode(res)).toBe("SYSTEM_ROLE");
    expect(await q("SELECT 1 FROM roles WHERE app_id = ? AND name = ?", app.id, name)).toHaveLength(1);
  });

  test("a role an account holds → 409 ROLE_IN_USE; once reassigned it can go", async () => {
    await createRole(app.id, "held");
    const u = await createEndUser(ctx, { id: app.id, slug: app.slug }, "holder", { role: "held" });
    const res = await ctx.call("DELETE", ROLE, { params: { app_id: app.id, role_name: "held" } });
    expect(res.status).toBe(409);
    expect(errCode(res)).toBe("ROLE_IN_USE");
    const assign = await ctx.call("POST", ASSIGN, {
      params: { app_id: app.id },
      body: { account_id: u.id, role: "member" },
    });
    expect(assign.status).toBe(200);
    expect((await ctx.call("DELETE", ROLE, { params: { app_id: app.id, role_name: "held" } })).status).toBe(
      204,
    );
  });

  test("a role a live invite grants → 409 ROLE_IN_USE; once the invite is revoked it can go", async () => {
    await createRole(app.id, "invited");
    const inv = await ctx.call("POST", "/v1/apps/{app_id}/end-users/invites", {
      params: { app_id: app.id },
      body: { email: "invitee@example.test", role_name: "invited" },
    });
    expect(inv.status).toBe(201);
    const res = await ctx.call("DELETE", ROLE, { params: { app_id: app.id, role_name: "invited" } });
    expect(res.status).toBe(409);
    expect(errCode(res)).toBe("ROLE_IN_USE");
    expect(await q("SELECT 1 FROM roles WHERE app_id = ? AND name = ?", app.id, "invited")).toHaveLength(1);
    const revoked = await ctx.call("DELETE", "/v1/apps/{app_id}/end-users/invites/{invite_id}", {
      params: { app_id: app.id, invite_id: inv.body.id },
    });
    expect(revoked.status).toBe(204);
    expect(
      (await ctx.call("DELETE", ROLE, { params: { app_id: app.id, role_name: "invited" } })).status,
    ).toBe(204);
  });

  test("the app's sign-up default role → 409 ROLE_IN_USE", async () => {
    await createRole(app.id, "newcomer");
    const cfg = await ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", {
      params: { app_id: app.id },
      body: { signup_default_role: "newcomer" },
    });
    expect(cfg.status).toBe(200);
    const res = await ctx.call("DELETE", ROLE, { params: { app_id: app.id, role_name: "newcomer" } });
    expect(res.status).toBe(409);
    expect(errCode(res)).toBe("ROLE_IN_USE");
    await ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", {
      params: { app_id: app.id },
      body: { signup_default_role: "member" },
    });
  });

  test("an unknown role → 404 ROLE_NOT_FOUND", async () => {
    const res = await ctx.call("DELETE", ROLE, { params: { app_id: app.id, role_name: "ghost" } });
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe("ROLE_NOT_FOUND");
  });
});

describe("PUT /roles/{role_name}/permissions", () => {
  beforeAll(async () => {
    await createRole(app.id, "reviewer");
  });

  test("200 with an empty body; replaces the set wholesale; audited with what was added and removed", async () => {
    const first = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: app.id, role_name: "reviewer" },
      body: { permissions: ["user.read", "user.list", "user.read"] },
    });
    expect(first.status).toBe(200);
    expect(first.text).toBe("");
    expect(await boundKeys(app.id, "reviewer")).toEqual(["user.list", "user.read"]);
    const res = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: app.id, role_name: "reviewer" },
      body: { permissions: ["user.read", "invoice.read"] },
    });
    expect(res.status).toBe(200);
    expect(await boundKeys(app.id, "reviewer")).toEqual(["invoice.read", "user.read"]);
    const audit = await expectLastAudit(ctx, app.id, "role.permissions_set", "pak");
    expect(audit.details).toMatchObject({
      name: "reviewer",
      permissions: ["invoice.read", "user.read"],
      added: ["invoice.read"],
      removed: ["user.list"],
    });
    const read = await ctx.call("GET", ROLE, { params: { app_id: app.id, role_name: "reviewer" } });
    expect(read.body.permissions.map((p: { action: string }) => p.action)).toEqual(["read", "read"]);
  });

  test("the same set again writes nothing; an empty list clears the role", async () => {
    const before = await auditCount(ctx);
    const same = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: app.id, role_name: "reviewer" },
      body: { permissions: ["invoice.read", "user.read"] },
    });
    expect(same.status).toBe(200);
    expect(await auditCount(ctx)).toBe(before);
    const cleared = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: app.id, role_name: "reviewer" },
      body: { permissions: [] },
    });
    expect(cleared.status).toBe(200);
    expect(await boundKeys(app.id, "reviewer")).toEqual([]);
  });

  test("system roles other than owner can be re-bound", async () => {
    const res = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: other.id, role_name: "member" },
      body: { permissions: ["user.read"] },
    });
    expect(res.status).toBe(200);
    expect(await boundKeys(other.id, "member")).toEqual(["user.read"]);
  });

  test("a platform caller may grant anything in the catalogue (it administers the app)", async () => {
    const res = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: app.id, role_name: "reviewer" },
      body: { permissions: ["permission.delete", "role.delete", "invoice.read"] },
    });
    expect(res.status).toBe(200);
  });

  test("owner → 403 SYSTEM_ROLE (its set is the whole catalogue)", async () => {
    const res = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: app.id, role_name: "owner" },
      body: { permissions: ["user.read"] },
    });
    expect(res.status).toBe(403);
    expect(errCode(res)).toBe("SYSTEM_ROLE");
    expect(await boundKeys(app.id, "owner")).toHaveLength(SYSTEM_PERMISSIONS.length);
  });

  test("unknown permissions → 400 VALIDATION_ERROR naming each, nothing changed", async () => {
    const before = await boundKeys(app.id, "reviewer");
    const res = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: app.id, role_name: "reviewer" },
      // invoice.delete exists only in no app; `nope` is not even a key; another app's custom key is unknown here.
      body: { permissions: ["user.read", "invoice.delete", "nope", "report.export"] },
    });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toEqual(["permissions.1", "permissions.2", "permissions.3"]);
    expect(await boundKeys(app.id, "reviewer")).toEqual(before);
  });

  test("another app's custom permission is unknown here", async () => {
    await addPermission(other.id, "report", "export");
    const res = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: app.id, role_name: "reviewer" },
      body: { permissions: ["report.export"] },
    });
    expect(res.status).toBe(400);
    expect(detailFields(res)).toEqual(["permissions.0"]);
  });

  test.each([
    ["missing list", {}, "permissions"],
    ["not a list", { permissions: "user.read" }, "permissions"],
    ["a non-string entry", { permissions: [1] }, "permissions.0"],
    ["too many entries", { permissions: Array.from({ length: 1001 }, () => "user.read") }, "permissions"],
  ])("%s → 400 VALIDATION_ERROR", async (_n, body, field) => {
    const res = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: app.id, role_name: "reviewer" },
      body,
    });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toContain(field);
  });

  test("an unknown role → 404 ROLE_NOT_FOUND", async () => {
    const res = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: app.id, role_name: "ghost" },
      body: { permissions: [] },
    });
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe("ROLE_NOT_FOUND");
  });
});

describe("POST /roles/assign", () => {
  test("200 AppMembershipResponseDto; the account's role changes; audited role.assigned", async () => {
    const u = await createEndUser(ctx, { id: app.id, slug: app.slug }, "assignee");
    const res = await ctx.call("POST", ASSIGN, {
      params: { app_id: app.id },
      body: { account_id: u.id, role: "editor" },
    });
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "POST", ASSIGN, 200, res.body, { strict: true });
    const roleId = (
      await q<{ id: string }>("SELECT id FROM roles WHERE app_id = ? AND name = 'editor'", app.id)
    )[0]!.id;
    expect(res.body).toMatchObject({ id: u.id, app_id: app.id, account_id: u.id, role_id: roleId });
    expect(await q<{ role: string }>("SELECT role FROM end_users WHERE id = ?", u.id)).toEqual([
      { role: "editor" },
    ]);
    const audit = await expectLastAudit(ctx, app.id, "role.assigned", "pak");
    expect(audit.resource_id).toBe(u.id);
    expect(audit.details).toEqual({ role: "editor", previous_role: "member" });
  });

  test("the same role again writes nothing", async () => {
    const u = await createEndUser(ctx, { id: app.id, slug: app.slug }, "steady", { role: "admin" });
    const before = await auditCount(ctx);
    const res = await ctx.call("POST", ASSIGN, {
      params: { app_id: app.id },
      body: { account_id: u.id, role: "Admin" },
    });
    expect(res.status).toBe(200);
    expect(await auditCount(ctx)).toBe(before);
  });

  test.each([
    ["an unknown account", "USER_NOT_FOUND", () => "0190e4f0-0000-7000-8000-000000000000", "admin"],
    ["an unknown role", "ROLE_NOT_FOUND", () => ids.local, "ghost"],
    ["an account of another app", "USER_NOT_FOUND", () => ids.foreign, "admin"],
  ])("%s → 404 %s", async (_n, code, account, role) => {
    const res = await ctx.call("POST", ASSIGN, {
      params: { app_id: app.id },
      body: { account_id: account(), role },
    });
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe(code);
  });

  test.each([
    ["missing account_id", { role: "admin" }, "account_id"],
    ["missing role", { account_id: "x" }, "role"],
    ["empty role", { account_id: "x", role: "" }, "role"],
  ])("%s → 400 VALIDATION_ERROR", async (_n, body, field) => {
    const res = await ctx.call("POST", ASSIGN, { params: { app_id: app.id }, body });
    expect(res.status).toBe(400);
    expect(detailFields(res)).toContain(field);
  });
});

describe("GET /roles/permissions", () => {
  test("the catalogue this app sees: system rows then its own, with is_system", async () => {
    const res = await ctx.call("GET", CATALOGUE, { params: { app_id: app.id } });
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "GET", CATALOGUE, 200, res.body, { strict: true });
    const entries = res.body as {
      resource: string;
      action: string;
      is_system: boolean;
      app_id: string | null;
    }[];
    const system = entries.filter((e) => e.is_system);
    expect(system.map((e) => `${e.resource}.${e.action}`)).toEqual(
      SYSTEM_PERMISSIONS.map((p) => p.key).sort(),
    );
    expect(system.every((e) => e.app_id === null)).toBe(true);
    expect(entries.filter((e) => !e.is_system).map((e) => [e.resource, e.action, e.app_id])).toEqual([
      ["invoice", "read", app.id],
    ]);
  });
});

describe("who may call", () => {
  test("a console user (cookie) of the workspace administers roles like the PAK", async () => {
    const cookie = await ctx.signIn();
    const list = await ctx.call("GET", ROLES, { params: { app_id: app.id }, auth: { cookie } });
    expect(list.status).toBe(200);
    const created = await ctx.call("POST", ROLES, {
      params: { app_id: app.id },
      body: { name: "cookie-made" },
      auth: { cookie },
    });
    expect(created.status).toBe(201);
    await expectLastAudit(ctx, app.id, "role.created", "platform_user", ctx.ownerId);
    const put = await ctx.call("PUT", ROLE_PERMS, {
      params: { app_id: app.id, role_name: "cookie-made" },
      body: { permissions: ["user.read"] },
      auth: { cookie },
    });
    expect(put.status).toBe(200);
  });

  test("a cookie write without Origin → 403 (CSRF rule)", async () => {
    const cookie = await ctx.signIn();
    const res = await ctx.call("POST", ROLES, {
      params: { app_id: app.id },
      body: { name: "csrf-made" },
      auth: { cookie, csrf: false },
    });
    expect(res.status).toBe(403);
    expect(errCode(res)).toBe("CSRF_REJECTED");
  });

  test("a workspace viewer may read but not write", async () => {
    const viewer = await insertMember(ctx, "viewer@example.test", "viewer");
    const cookie = await ctx.signIn("viewer@example.test", viewer.password);
    expect(
      (await ctx.call("GET", ROLE, { params: { app_id: app.id, role_name: "admin" }, auth: { cookie } }))
        .status,
    ).toBe(200);
    const res = await ctx.call("DELETE", ROLE, {
      params: { app_id: app.id, role_name: "editor" },
      auth: { cookie },
    });
    expect(res.status).toBe(403);
    expect(errCode(res)).toBe("FORBIDDEN");
  });

  test("a read-only PAK → 403 POLICY_DENIED on each write, 200 on reads", async () => {
    const pak = (await insertPak(ctx, [allow(["heimdall.read"])])).token;
    const auth = { pak };
    expect((await ctx.call("GET", ROLES, { params: { app_id: app.id }, auth })).status).toBe(200);
    expect((await ctx.call("GET", CATALOGUE, { params: { app_id: app.id }, auth })).status).toBe(200);
    const writes: [string, string, Record<string, string>, unknown][] = [
      ["POST", ROLES, { app_id: app.id }, { name: "nope" }],
      ["PATCH", ROLE, { app_id: app.id, role_name: "editor" }, { description: "x" }],
      ["DELETE", ROLE, { app_id: app.id, role_name: "editor" }, undefined],
      ["PUT", ROLE_PERMS, { app_id: app.id, role_name: "editor" }, { permissions: [] }],
      ["POST", ASSIGN, { app_id: app.id }, { account_id: ids.local, role: "admin" }],
    ];
    for (const [method, path, params, body] of writes) {
      const res = await ctx.call(method, path, { params, body, auth });
      expect([method, res.status, errCode(res)]).toEqual([method, 403, "POLICY_DENIED"]);
    }
  });

  test("an app of a workspace the caller is not in → 404 APP_NOT_FOUND", async () => {
    const ws = await insertWorkspace(ctx, "foreign-ws");
    const foreign = await insertBareApp(ctx, ws, "foreign-roles");
    for (const [method, path, params] of [
      ["GET", ROLES, { app_id: foreign }],
      ["GET", ROLE, { app_id: foreign, role_name: "owner" }],
      ["POST", ROLES, { app_id: foreign }],
    ] as const) {
      const res = await ctx.call(method, path, {
        params,
        body: method === "POST" ? { name: "x-role" } : undefined,
      });
      expect(res.status).toBe(404);
      expect(errCode(res)).toBe("APP_NOT_FOUND");
    }
  });

  test("no credential → 401", async () => {
    const res = await ctx.call("GET", ROLES, { params: { app_id: app.id }, auth: null });
    expect(res.status).toBe(401);
  });

  test("an archived app is read-only: writes → 409 APP_ARCHIVED, reads answer", async () => {
    const archivedApp = await createApp(ctx, "roles-archived");
    await q("UPDATE apps SET status = 'archived' WHERE id = ?", archivedApp.id);
    expect((await ctx.call("GET", ROLES, { params: { app_id: archivedApp.id } })).status).toBe(200);
    const res = await ctx.call("POST", ROLES, { params: { app_id: archivedApp.id }, body: { name: "late" } });
    expect(res.status).toBe(409);
    expect(errCode(res)).toBe("APP_ARCHIVED");
  });

  test("the app may be named by slug", async () => {
    const res = await ctx.call("GET", ROLE, { params: { app_id: app.slug, role_name: "owner" } });
    expect(res.status).toBe(200);
    expect(res.body.app_id).toBe(app.id);
  });
});
