/**
 * @module `GET /{app_slug}/v1/me/permissions` and how role edits reach it: at once in this process (every
 * writer invalidates), within the 60 s cache TTL for a writer in another process.
 */

import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { SECOND } from "../../../src/core/clock.ts";
import { tx } from "../../../src/db/client.ts";
import { exec, row } from "../../../src/db/query.ts";
import { SYSTEM_PERMISSIONS } from "../../../src/rbac/catalog.ts";
import { PERMISSION_CACHE_TTL } from "../../../src/rbac/resolver.ts";
import { createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { expectResponseMatches } from "../../support/openapi.ts";
import {
  createEndUser,
  createM2mClient,
  setEnforcement,
  setUser,
  type TestApp,
  type TestEndUser,
} from "./verify-fixtures.ts";

const ME = "/{app_slug}/v1/me/permissions";

let ctx: TestContext;
let app: TestApp;
let other: TestApp;

const me = (bearer: string | null, slug = app.slug) =>
  ctx.call("GET", ME, { params: { app_slug: slug }, auth: bearer === null ? null : { bearer } });

const authorize = (bearer: string, permissions: string[]) =>
  ctx.call("POST", "/{app_slug}/v1/authorize", {
    params: { app_slug: app.slug },
    auth: { bearer },
    body: { permissions },
  });

const setRolePermissions = async (role: string, permissions: string[]) => {
  const res = await ctx.call("PUT", "/v1/apps/{app_id}/roles/{role_name}/permissions", {
    params: { app_id: app.id, role_name: role },
    body: { permissions },
  });
  expect(res.status).toBe(200);
};

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "me-perms");
  other = await createApp(ctx, "me-perms-b");
  for (const [resource, action] of [
    ["invoice", "read"],
    ["invoice", "pay"],
  ]) {
    const res = await ctx.call("POST", "/v1/apps/{app_id}/permissions", {
      params: { app_id: app.id },
      body: { resource, action },
    });
    expect(res.status).toBe(201);
  }
  for (const name of ["accountant", "auditor"]) {
    const res = await ctx.call("POST", "/v1/apps/{app_id}/roles", {
      params: { app_id: app.id },
      body: { name },
    });
    expect(res.status).toBe(201);
  }
  await setRolePermissions("accountant", ["invoice.read", "invoice.pay", "user.read"]);
});

describe("what each role resolves to", () => {
  const sorted = (s: Iterable<string>) => [...s].sort();
  type Case = [role: string, expected: () => string[]];
  const CASES: Case[] = [
    ["owner", () => sorted([...SYSTEM_PERMISSIONS.map((p) => p.key), "invoice.pay", "invoice.read"])],
    // The hosted documentation's bindings.
    ["admin", () => ["role.assign", "role.revoke", "user.list", "user.read", "user.update"]],
    ["member", () => ["role.read", "user.read"]],
    ["accountant", () => ["invoice.pay", "invoice.read", "user.read"]],
    ["auditor", () => []],
  ];
  test.each(CASES)("%s → its sorted permission set", async (role, expected) => {
    const u = await createEndUser(ctx, app, `u-${role}`, { role });
    const res = await me(u.token);
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "GET", ME, 200, res.body, { strict: true });
    expect(res.body).toEqual({ role, org_role: null, permissions: expected() });
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  test("the same with enforce_app_permissions on: reading your own permissions needs none", async () => {
    const loose = await createApp(ctx, "me-perms-enforced");
    await setEnforcement(ctx, loose, true);
    const u = await createEndUser(ctx, loose, "plain", { role: "member" });
    const res = await me(u.token, loose.slug);
    expect(res.status).toBe(200);
    expect(res.body.permissions).toEqual(["role.read", "user.read"]);
  });
});

describe("refused callers", () => {
  test("no token → 401 UNAUTHORIZED", async () => {
    const res = await me(null);
    expect([res.status, res.body.code]).toEqual([401, "UNAUTHORIZED"]);
  });

  test("an M2M token → 401 INVALID_TOKEN (its scopes are read through introspection)", async () => {
    const client = await createM2mClient(ctx, app, ["user.read"]);
    const res = await me(client.token);
    expect([res.status, res.body.code]).toEqual([401, "INVALID_TOKEN"]);
  });

  test("an EndUser token of another app → 401 INVALID_TOKEN", async () => {
    const stranger = await createEndUser(ctx, other, "stranger", { role: "owner" });
    const res = await me(stranger.token);
    expect([res.status, res.body.code]).toEqual([401, "INVALID_TOKEN"]);
  });

  test("a suspended account → 403 ACCOUNT_SUSPENDED", async () => {
    const u = await createEndUser(ctx, app, "suspendee", { role: "admin" });
    await setUser(ctx, u.id, { status: "suspended" });
    const res = await me(u.token);
    expect([res.status, res.body.code]).toEqual([403, "ACCOUNT_SUSPENDED"]);
  });

  test("a revoked session → 401 TOKEN_REVOKED", async () => {
    const u = await createEndUser(ctx, app, "revokee", { role: "admin" });
    await ctx.deps.sessions.revoke(u.sessionId, "logout");
    const res = await me(u.token);
    expect([res.status, res.body.code]).toEqual([401, "TOKEN_REVOKED"]);
  });
});

describe("role edits reach live tokens", () => {
  let auditor: TestEndUser;

  beforeAll(async () => {
    auditor = await createEndUser(ctx, app, "aud", { role: "auditor" });
    // Warm the cache so the tests below prove invalidation, not a first read.
    expect((await me(auditor.token)).body.permissions).toEqual([]);
    expect((await authorize(auditor.token, ["invoice.read"])).body.authorized).toBe(false);
  });

  test("a changed permission set: /me/permissions and /authorize answer the new set at once", async () => {
    await setRolePermissions("auditor", ["invoice.read", "user.list"]);
    expect((await me(auditor.token)).body.permissions).toEqual(["invoice.read", "user.list"]);
    expect((await authorize(auditor.token, ["invoice.read", "user.list"])).body).toEqual({
      authorized: true,
      missing_permissions: [],
    });
    await setRolePermissions("auditor", ["user.list"]);
    expect((await authorize(auditor.token, ["invoice.read"])).body).toEqual({
      authorized: false,
      missing_permissions: ["invoice.read"],
    });
  });

  test("a new custom permission reaches the owner at once", async () => {
    const owner = await createEndUser(ctx, app, "fresh-owner", { role: "owner" });
    expect((await me(owner.token)).body.permissions).not.toContain("invoice.refund");
    const res = await ctx.call("POST", "/v1/apps/{app_id}/permissions", {
      params: { app_id: app.id },
      body: { resource: "invoice", action: "refund" },
    });
    expect(res.status).toBe(201);
    expect((await me(owner.token)).body.permissions).toContain("invoice.refund");
    expect((await authorize(owner.token, ["invoice.refund"])).body.authorized).toBe(true);
  });

  test("an assigned role applies to the account's existing token at once", async () => {
    const u = await createEndUser(ctx, app, "promotee", { role: "member" });
    const res = await ctx.call("POST", "/v1/apps/{app_id}/roles/assign", {
      params: { app_id: app.id },
      body: { account_id: u.id, role: "accountant" },
    });
    expect(res.status).toBe(200);
    const after = await me(u.token);
    expect(after.body.role).toBe("accountant");
    expect(after.body.permissions).toEqual(["invoice.pay", "invoice.read", "user.read"]);
  });

  test("an edit by another process (straight to the database) shows within the 60 s cache TTL", async () => {
    expect((await me(auditor.token)).body.permissions).toEqual(["user.list"]);
    // Another process binds invoice.pay to the role: this process has no invalidation to go by.
    const { db } = ctx.deps;
    const roleId = (await row<{ id: string }>(
      db,
      sql`SELECT id FROM roles WHERE app_id = ${app.id} AND name = 'auditor'`,
    ))!.id;
    const permId = (await row<{ id: string }>(
      db,
      sql`SELECT id FROM permissions WHERE app_id = ${app.id} AND key = 'invoice.pay'`,
    ))!.id;
    await tx(db, () =>
      exec(db, sql`INSERT INTO role_permissions (role_id, permission_id) VALUES (${roleId}, ${permId})`),
    );
    expect((await me(auditor.token)).body.permissions).toEqual(["user.list"]);
    ctx.clock.advance(PERMISSION_CACHE_TTL - SECOND);
    expect((await authorize(auditor.token, ["invoice.pay"])).body.authorized).toBe(false);
    ctx.clock.advance(SECOND);
    expect((await me(auditor.token)).body.permissions).toEqual(["invoice.pay", "user.list"]);
    expect((await authorize(auditor.token, ["invoice.pay"])).body.authorized).toBe(true);
  });
});
