/** @module Admin API permissions: the catalogue (system + custom), create, delete with cascade, and the enforced list. */

import { beforeAll, describe, expect, test } from "bun:test";
import { SYSTEM_PERMISSIONS } from "../../../src/rbac/catalog.ts";
import { type QueryParam, queryRowsAsSqlite } from "../../support/end-users.ts";
import { type AppBody, createApp, insertWorkspace } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { expectResponseMatches } from "../../support/openapi.ts";
import {
  allow,
  auditCount,
  bootstrapPakId,
  detailFields,
  errCode,
  expectLastAudit,
  insertBareApp,
  insertPak,
} from "./fixtures.ts";

const LIST = "/v1/apps/{app_id}/permissions";
const ONE = "/v1/apps/{app_id}/permissions/{permission_key}";
const ENFORCED = "/v1/apps/{app_id}/permissions/enforcement";

let ctx: TestContext;
let app: AppBody;
let other: AppBody;

/** A raw read on either engine: `?` binds the next argument; booleans read as SQLite's 1/0. */
const q = <T>(text: string, ...args: QueryParam[]) => queryRowsAsSqlite<T>(ctx, text, ...args);
const keysOf = (body: { resource: string; action: string }[]) => body.map((p) => `${p.resource}.${p.action}`);

async function create(appId: string, body: Record<string, unknown>) {
  return ctx.call("POST", LIST, { params: { app_id: appId }, body });
}

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "perms-app");
  other = await createApp(ctx, "perms-other");
});

describe("POST /permissions", () => {
  test("201 PermissionDto of the app; audited permission.created", async () => {
    const res = await create(app.id, { resource: "invoice", action: "read", description: "View invoices" });
    expect(res.status).toBe(201);
    expectResponseMatches("heimdall", "POST", LIST, 201, res.body, { strict: true });
    expect(res.body).toMatchObject({
      app_id: app.id,
      resource: "invoice",
      action: "read",
      description: "View invoices",
    });
    expect(await q("SELECT key, is_system FROM permissions WHERE id = ?", res.body.id)).toEqual([
      { key: "invoice.read", is_system: 0 },
    ]);
    const audit = await expectLastAudit(ctx, app.id, "permission.created", "pak", await bootstrapPakId(ctx));
    expect(audit.resource_id).toBe(res.body.id);
    expect(audit.details).toMatchObject({ key: "invoice.read" });
  });

  test("segments with digits, _ and - are fine; the description is optional", async () => {
    const res = await create(app.id, { resource: "audit_log2", action: "bulk-export" });
    expect(res.status).toBe(201);
    expect(res.body.description).toBeNull();
  });

  test.each([
    ["a system permission", { resource: "user", action: "read" }],
    ["an existing custom permission", { resource: "invoice", action: "read" }],
  ])("%s → 409 PERMISSION_EXISTS", async (_n, body) => {
    const before = await auditCount(ctx);
    const res = await create(app.id, body);
    expect(res.status).toBe(409);
    expect(errCode(res)).toBe("PERMISSION_EXISTS");
    expect(await auditCount(ctx)).toBe(before);
  });

  test("the same key in another app is that app's own permission", async () => {
    const res = await create(other.id, { resource: "invoice", action: "read" });
    expect(res.status).toBe(201);
    expect(res.body.app_id).toBe(other.id);
  });

  const INVALID: [string, Record<string, unknown>, string][] = [
    ["missing resource", { action: "read" }, "resource"],
    ["missing action", { resource: "invoice" }, "action"],
    ["one-letter resource", { resource: "i", action: "read" }, "resource"],
    ["upper case", { resource: "Invoice", action: "read" }, "resource"],
    ["leading digit", { resource: "invoice", action: "1read" }, "action"],
    ["a dot in a segment", { resource: "invoice.line", action: "read" }, "resource"],
    ["49-character action", { resource: "invoice", action: `r${"e".repeat(48)}` }, "action"],
    ["not a string", { resource: "invoice", action: 7 }, "action"],
    [
      "overlong description",
      { resource: "invoice", action: "void", description: "x".repeat(501) },
      "description",
    ],
  ];
  test.each(INVALID)("%s → 400 VALIDATION_ERROR", async (_n, body, field) => {
    const before = await auditCount(ctx);
    const res = await create(app.id, body);
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toContain(field);
    expect(await auditCount(ctx)).toBe(before);
  });
});

describe("GET /permissions", () => {
  test("a flat list: every system permission (app_id null), then the app's own — not another app's", async () => {
    const res = await ctx.call("GET", LIST, { params: { app_id: app.id } });
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "GET", LIST, 200, res.body, { strict: true });
    const system = res.body.filter((p: { app_id: string | null }) => p.app_id === null);
    expect(keysOf(system)).toEqual(SYSTEM_PERMISSIONS.map((p) => p.key).sort());
    const custom = res.body.filter((p: { app_id: string | null }) => p.app_id !== null);
    expect(keysOf(custom)).toEqual(["audit_log2.bulk-export", "invoice.read"]);
    expect(custom.every((p: { app_id: string }) => p.app_id === app.id)).toBe(true);
  });
});

describe("DELETE /permissions/{permission_key}", () => {
  beforeAll(async () => {
    expect((await create(other.id, { resource: "only", action: "there" })).status).toBe(201);
  });

  test("204: removes the permission and every role binding of it; the owner loses it too; audited", async () => {
    expect((await create(app.id, { resource: "report", action: "export" })).status).toBe(201);
    expect(
      (
        await ctx.call("POST", "/v1/apps/{app_id}/roles", {
          params: { app_id: app.id },
          body: { name: "analyst" },
        })
      ).status,
    ).toBe(201);
    const put = await ctx.call("PUT", "/v1/apps/{app_id}/roles/{role_name}/permissions", {
      params: { app_id: app.id, role_name: "analyst" },
      body: { permissions: ["report.export", "user.read"] },
    });
    expect(put.status).toBe(200);
    expect((await ctx.deps.permissions.forEndUser(app.id, "owner")).has("report.export")).toBe(true);
    const id = (
      await q<{ id: string }>("SELECT id FROM permissions WHERE app_id = ? AND key = 'report.export'", app.id)
    )[0]!.id;

    const res = await ctx.call("DELETE", ONE, {
      params: { app_id: app.id, permission_key: "report.export" },
    });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(await q("SELECT 1 FROM permissions WHERE id = ?", id)).toHaveLength(0);
    expect(await q("SELECT 1 FROM role_permissions WHERE permission_id = ?", id)).toHaveLength(0);
    const role = await ctx.call("GET", "/v1/apps/{app_id}/roles/{role_name}", {
      params: { app_id: app.id, role_name: "analyst" },
    });
    expect(keysOf(role.body.permissions)).toEqual(["user.read"]);
    expect((await ctx.deps.permissions.forEndUser(app.id, "owner")).has("report.export")).toBe(false);
    expect(await ctx.deps.permissions.forEndUser(app.id, "analyst")).toEqual(new Set(["user.read"]));
    const audit = await expectLastAudit(ctx, app.id, "permission.deleted", "pak");
    expect(audit.resource_id).toBe(id);
    expect(audit.details).toEqual({ key: "report.export", unbound_roles: 1 });
  });

  test.each(SYSTEM_PERMISSIONS.slice(0, 4).map((p) => p.key))(
    "the system permission %s → 403 SYSTEM_PERMISSION",
    async (key) => {
      const res = await ctx.call("DELETE", ONE, { params: { app_id: app.id, permission_key: key } });
      expect(res.status).toBe(403);
      expect(errCode(res)).toBe("SYSTEM_PERMISSION");
      expect(await q("SELECT 1 FROM permissions WHERE app_id IS NULL AND key = ?", key)).toHaveLength(1);
    },
  );

  test.each([
    ["an unknown key", "ghost.read"],
    ["a key only another app defined", "only.there"],
  ])("%s → 404 PERMISSION_NOT_FOUND", async (_n, key) => {
    const res = await ctx.call("DELETE", ONE, { params: { app_id: app.id, permission_key: key } });
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe("PERMISSION_NOT_FOUND");
  });

  test("deleting in one app leaves the same key of another app alone", async () => {
    const res = await ctx.call("DELETE", ONE, {
      params: { app_id: other.id, permission_key: "invoice.read" },
    });
    expect(res.status).toBe(204);
    expect(
      await q("SELECT 1 FROM permissions WHERE app_id = ? AND key = 'invoice.read'", app.id),
    ).toHaveLength(1);
  });

  test.each(["invoice", "Invoice.Read", "a.b", "invoice.read.all"])(
    "a malformed key %p → 400 VALIDATION_ERROR",
    async (key) => {
      const res = await ctx.call("DELETE", ONE, { params: { app_id: app.id, permission_key: key } });
      expect(res.status).toBe(400);
      expect(errCode(res)).toBe("VALIDATION_ERROR");
      expect(detailFields(res)).toEqual(["permission_key"]);
    },
  );
});

describe("GET /permissions/enforcement", () => {
  test("exactly the permissions the mounted Consumer routes declare, sorted", async () => {
    const res = await ctx.call("GET", ENFORCED, { params: { app_id: app.id } });
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "GET", ENFORCED, 200, res.body, { strict: true });
    // The route table itself: every route the guard stamped with the permission it checks.
    const declared = new Set<string>();
    for (const r of ctx.app.routes) {
      const p = (r.hooks?.detail as Record<string, unknown> | undefined)?.["x-required-permission"];
      if (typeof p === "string") declared.add(p);
    }
    expect(res.body.data).toEqual([...declared].sort());
    // The RBAC routes of this slice are among them.
    for (const p of [
      "role.read",
      "role.create",
      "role.update",
      "role.delete",
      "permission.read",
      "permission.create",
      "permission.delete",
      "user.list",
    ])
      expect(res.body.data).toContain(p);
    // Only verbs of the system catalogue are checked by Heimdall's own routes.
    const system = new Set(SYSTEM_PERMISSIONS.map((p) => p.key));
    expect(res.body.data.filter((p: string) => !system.has(p))).toEqual([]);
  });

  test("the same list for every app; the caller must still be able to read the app", async () => {
    const a = await ctx.call("GET", ENFORCED, { params: { app_id: app.id } });
    const b = await ctx.call("GET", ENFORCED, { params: { app_id: other.id } });
    expect(b.body).toEqual(a.body);
    const foreign = await insertBareApp(ctx, await insertWorkspace(ctx, "enf-foreign"), "enf-foreign-app");
    const res = await ctx.call("GET", ENFORCED, { params: { app_id: foreign } });
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe("APP_NOT_FOUND");
  });
});

describe("who may call", () => {
  test("a console user (cookie) creates and deletes permissions", async () => {
    const cookie = await ctx.signIn();
    const res = await ctx.call("POST", LIST, {
      params: { app_id: app.id },
      body: { resource: "ticket", action: "close" },
      auth: { cookie },
    });
    expect(res.status).toBe(201);
    await expectLastAudit(ctx, app.id, "permission.created", "platform_user", ctx.ownerId);
    const del = await ctx.call("DELETE", ONE, {
      params: { app_id: app.id, permission_key: "ticket.close" },
      auth: { cookie },
    });
    expect(del.status).toBe(204);
  });

  test("a PAK allowed only heimdall.read lists but cannot create or delete", async () => {
    const auth = { pak: (await insertPak(ctx, [allow(["heimdall.read"])])).token };
    expect((await ctx.call("GET", LIST, { params: { app_id: app.id }, auth })).status).toBe(200);
    expect((await ctx.call("GET", ENFORCED, { params: { app_id: app.id }, auth })).status).toBe(200);
    const post = await ctx.call("POST", LIST, {
      params: { app_id: app.id },
      body: { resource: "x-res", action: "read" },
      auth,
    });
    expect([post.status, errCode(post)]).toEqual([403, "POLICY_DENIED"]);
    const del = await ctx.call("DELETE", ONE, {
      params: { app_id: app.id, permission_key: "invoice.read" },
      auth,
    });
    expect([del.status, errCode(del)]).toEqual([403, "POLICY_DENIED"]);
  });

  test("a PAK scoped to another app → 403 POLICY_DENIED here", async () => {
    const auth = {
      pak: (await insertPak(ctx, [allow(["heimdall.*"], [`pcft:heimdall:app/${other.id}`])])).token,
    };
    expect((await ctx.call("GET", LIST, { params: { app_id: other.id }, auth })).status).toBe(200);
    const res = await ctx.call("GET", LIST, { params: { app_id: app.id }, auth });
    expect([res.status, errCode(res)]).toEqual([403, "POLICY_DENIED"]);
  });

  test("no credential → 401; unknown app → 404 APP_NOT_FOUND", async () => {
    expect((await ctx.call("GET", LIST, { params: { app_id: app.id }, auth: null })).status).toBe(401);
    const res = await ctx.call("GET", LIST, { params: { app_id: "missing-app" } });
    expect([res.status, errCode(res)]).toEqual([404, "APP_NOT_FOUND"]);
  });
});
