/**
 * @module Consumer admin lane `/{app_slug}/v1/admin/permissions*`: the catalogue, custom permissions created
 * and deleted (with their bindings) through each credential kind, and the refusals.
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

const LIST = "/{app_slug}/v1/admin/permissions";
const ONE = "/{app_slug}/v1/admin/permissions/{permission_key}";
const VERBS = ["permission.read", "permission.create", "permission.delete"];

let ctx: TestContext;
let app: TestApp;
let other: TestApp;
let owner: TestEndUser;
let admin: TestEndUser;
let member: TestEndUser;
let m2m: { clientId: string; token: string };
let key: { id: string; key: string };
let readKey: { id: string; key: string };

const call = (
  method: string,
  path: string,
  bearer: string | null,
  opts: { key?: string; body?: unknown; slug?: string } = {},
) =>
  ctx.call(method, path, {
    params: { app_slug: opts.slug ?? app.slug, ...(opts.key ? { permission_key: opts.key } : {}) },
    auth: bearer === null ? null : { bearer },
    body: opts.body,
  });

const customKeys = async (appId: string) =>
  (
    await rows<{ key: string }>(
      ctx.deps.db,
      sql`SELECT key FROM permissions WHERE app_id = ${appId} ORDER BY key`,
    )
  ).map((r) => r.key);

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "lane-perms");
  other = await createApp(ctx, "lane-perms-b");
  owner = await createEndUser(ctx, app, "oskar", { role: "owner" });
  admin = await createEndUser(ctx, app, "anja", { role: "admin" });
  member = await createEndUser(ctx, app, "milo", { role: "member" });
  m2m = await createM2mClient(ctx, app, VERBS);
  key = await createApiKey(ctx, app, VERBS);
  readKey = await createApiKey(ctx, app, ["permission.read"]);
  await setEnforcement(ctx, app, true);
});

describe("POST /admin/permissions (permission.create)", () => {
  test.each([
    ["an owner", "end_user", () => owner.token, () => owner.id, "invoice"],
    ["an M2M token", "m2m", () => m2m.token, () => m2m.clientId, "report"],
    ["an API key", "api_key", () => key.key, () => key.id, "ticket"],
  ] as [string, string, () => string, () => string, string][])(
    "%s creates a custom permission (audited as %s)",
    async (_n, actorType, bearer, actorId, resource) => {
      const res = await call("POST", LIST, bearer(), {
        body: { resource, action: "approve", description: "Approve" },
      });
      expect(res.status).toBe(201);
      expectResponseMatches("heimdall", "POST", LIST, 201, res.body, { strict: true });
      expect(res.body).toMatchObject({ app_id: app.id, resource, action: "approve", description: "Approve" });
      expect((await auditRows(ctx, { app_id: app.id, action: "permission.created" })).at(-1)).toMatchObject({
        actor_type: actorType,
        actor_id: actorId(),
        resource_id: res.body.id,
      });
    },
  );

  test.each([
    ["a system permission's name", { resource: "user", action: "delete" }],
    ["an existing custom permission", { resource: "invoice", action: "approve" }],
  ])("%s → 409 PERMISSION_EXISTS", async (_n, body) => {
    const res = await call("POST", LIST, owner.token, { body });
    expect([res.status, res.body.code]).toEqual([409, "PERMISSION_EXISTS"]);
  });

  test.each([
    { resource: "Invoice", action: "approve" },
    { resource: "invoice", action: "a" },
    { resource: "invoice" },
    { resource: "in voice", action: "approve" },
  ])("%j → 400 VALIDATION_ERROR", async (body) => {
    const res = await call("POST", LIST, owner.token, { body });
    expect([res.status, res.body.code]).toEqual([400, "VALIDATION_ERROR"]);
  });

  test.each([
    ["an admin (the catalogue is the owner's)", () => admin.token],
    ["a member", () => member.token],
    ["an API key with only permission.read", () => readKey.key],
  ])("%s → 403 PERMISSION_DENIED", async (_n, bearer) => {
    const res = await call("POST", LIST, bearer(), { body: { resource: "sneaky", action: "add" } });
    expect([res.status, res.body.code]).toEqual([403, "PERMISSION_DENIED"]);
    expect(await customKeys(app.id)).not.toContain("sneaky.add");
  });
});

describe("GET /admin/permissions (permission.read)", () => {
  test.each([
    ["an owner", () => owner.token],
    ["an API key with permission.read", () => readKey.key],
    ["an M2M token", () => m2m.token],
  ])("%s: the system catalogue then this app's own, with is_system", async (_n, bearer) => {
    const res = await call("GET", LIST, bearer());
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "GET", LIST, 200, res.body, { strict: true });
    const rows = res.body as {
      resource: string;
      action: string;
      is_system: boolean;
      app_id: string | null;
    }[];
    const key = (r: { resource: string; action: string }) => `${r.resource}.${r.action}`;
    expect(rows.filter((r) => r.is_system).map(key)).toEqual(SYSTEM_PERMISSIONS.map((p) => p.key).sort());
    // The hosted catalogue's 16 and Heimdall's four additions.
    expect(rows.filter((r) => r.is_system)).toHaveLength(20);
    expect(rows.map(key)).toEqual(expect.arrayContaining(["role.revoke", "token.create", "user.status"]));
    expect(rows.filter((r) => !r.is_system).map(key)).toEqual([
      "invoice.approve",
      "report.approve",
      "ticket.approve",
    ]);
    expect(rows.every((r) => (r.is_system ? r.app_id === null : r.app_id === app.id))).toBe(true);
  });

  test.each([
    ["a member", () => member.token],
    ["the documented admin", () => admin.token],
  ])("%s (no permission.read) → 403 PERMISSION_DENIED", async (_n, bearer) => {
    const res = await call("GET", LIST, bearer());
    expect([res.status, res.body.code]).toEqual([403, "PERMISSION_DENIED"]);
  });

  test("another app sees none of these custom permissions", async () => {
    const otherOwner = await createEndUser(ctx, other, "other-owner", { role: "owner" });
    const res = await call("GET", LIST, otherOwner.token, { slug: other.slug });
    expect(res.status).toBe(200);
    expect(res.body.filter((r: { is_system: boolean }) => !r.is_system)).toEqual([]);
  });
});

describe("DELETE /admin/permissions/{permission_key} (permission.delete)", () => {
  test("204: gone with its bindings; roles and the owner stop holding it at once", async () => {
    const role = await ctx.call("POST", "/v1/apps/{app_id}/roles", {
      params: { app_id: app.id },
      body: { name: "approver" },
    });
    expect(role.status).toBe(201);
    const put = await ctx.call("PUT", "/v1/apps/{app_id}/roles/{role_name}/permissions", {
      params: { app_id: app.id, role_name: "approver" },
      body: { permissions: ["ticket.approve", "user.read"] },
    });
    expect(put.status).toBe(200);
    const approver = await createEndUser(ctx, app, "ada-approver", { role: "approver" });
    const authorize = (token: string) =>
      ctx.call("POST", "/{app_slug}/v1/authorize", {
        params: { app_slug: app.slug },
        auth: { bearer: token },
        body: { permission: "ticket.approve" },
      });
    expect((await authorize(approver.token)).body.authorized).toBe(true);
    expect((await authorize(owner.token)).body.authorized).toBe(true);

    const res = await call("DELETE", ONE, key.key, { key: "ticket.approve" });
    expect(res.status).toBe(204);
    expect(await customKeys(app.id)).not.toContain("ticket.approve");
    expect((await authorize(approver.token)).body).toEqual({
      authorized: false,
      missing_permissions: ["ticket.approve"],
    });
    expect((await authorize(owner.token)).body.authorized).toBe(false);
    expect((await auditRows(ctx, { app_id: app.id, action: "permission.deleted" })).at(-1)).toMatchObject({
      actor_type: "api_key",
      actor_id: key.id,
      details: { key: "ticket.approve", unbound_roles: 1 },
    });
  });

  test.each(SYSTEM_PERMISSIONS.map((p) => p.key).filter((k) => k.startsWith("permission.")))(
    "the system permission %s → 403 SYSTEM_PERMISSION",
    async (k) => {
      const res = await call("DELETE", ONE, owner.token, { key: k });
      expect([res.status, res.body.code]).toEqual([403, "SYSTEM_PERMISSION"]);
    },
  );

  test("unknown → 404 PERMISSION_NOT_FOUND; malformed → 400; another app's → 404", async () => {
    const otherPerm = await ctx.call("POST", "/v1/apps/{app_id}/permissions", {
      params: { app_id: other.id },
      body: { resource: "theirs", action: "only" },
    });
    expect(otherPerm.status).toBe(201);
    for (const [k, status, code] of [
      ["ghost.read", 404, "PERMISSION_NOT_FOUND"],
      ["theirs.only", 404, "PERMISSION_NOT_FOUND"],
      ["no-dot", 400, "VALIDATION_ERROR"],
    ] as const) {
      const res = await call("DELETE", ONE, owner.token, { key: k });
      expect([k, res.status, res.body.code]).toEqual([k, status, code]);
    }
    expect(await customKeys(other.id)).toEqual(["theirs.only"]);
  });

  test.each([
    ["an admin", () => admin.token],
    ["an API key with only permission.read", () => readKey.key],
  ])("%s → 403 PERMISSION_DENIED", async (_n, bearer) => {
    const res = await call("DELETE", ONE, bearer(), { key: "report.approve" });
    expect([res.status, res.body.code]).toEqual([403, "PERMISSION_DENIED"]);
    expect(await customKeys(app.id)).toContain("report.approve");
  });

  test("a token of another app → 401 INVALID_TOKEN", async () => {
    const intruder = await createM2mClient(ctx, other, VERBS);
    const res = await call("DELETE", ONE, intruder.token, { key: "report.approve" });
    expect([res.status, res.body.code]).toEqual([401, "INVALID_TOKEN"]);
  });
});
