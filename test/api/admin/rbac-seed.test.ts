/** @module RBAC seeding: system permissions once per database, three system roles per app, backfill at start-up. */

import { beforeAll, expect, test } from "bun:test";
import { SYSTEM_PERMISSIONS, SYSTEM_ROLE_PERMISSIONS } from "../../../src/rbac/catalog.ts";
import { backfillAppRoles, seedSystemPermissions } from "../../../src/rbac/seed.ts";
import { type QueryParam, queryRowsAsSqlite } from "../../support/end-users.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});

/** A raw read on either engine: `?` binds the next argument; booleans read as SQLite's 1/0. */
const q = <T>(text: string, ...args: QueryParam[]) => queryRowsAsSqlite<T>(ctx, text, ...args);

test("the system permission catalogue exists once, shared by every app", async () => {
  const rows = await q<{ key: string }>(
    "SELECT key FROM permissions WHERE app_id IS NULL AND is_system = ? ORDER BY key",
    true,
  );
  expect(rows.map((r) => r.key)).toEqual(SYSTEM_PERMISSIONS.map((p) => p.key).sort());
  // Seeding again adds nothing.
  expect(await seedSystemPermissions(ctx.deps.db, ctx.clock)).toBe(0);
});

test("creating an app seeds owner, admin and member with their bindings, in the same transaction", async () => {
  const res = await ctx.call("POST", "/v1/apps", { body: { slug: "seeded-app", display_name: "Seeded" } });
  expect(res.status).toBe(201);
  const roles = await q<{ name: string; n: number; is_system: number }>(
    `SELECT r.name, r.is_system, (SELECT CAST(count(*) AS INTEGER) FROM role_permissions rp WHERE rp.role_id = r.id) AS n
       FROM roles r WHERE r.app_id = ? ORDER BY r.name`,
    res.body.id,
  );
  expect(roles).toEqual([
    { name: "admin", is_system: 1, n: SYSTEM_ROLE_PERMISSIONS.admin.size },
    { name: "member", is_system: 1, n: SYSTEM_ROLE_PERMISSIONS.member.size },
    { name: "owner", is_system: 1, n: SYSTEM_ROLE_PERMISSIONS.owner.size },
  ]);
});

test("apps without roles (from before roles existed) are backfilled, and only they", async () => {
  const res = await ctx.call("POST", "/v1/apps", { body: { slug: "legacy-app", display_name: "Legacy" } });
  await q("DELETE FROM roles WHERE app_id = ?", res.body.id);
  expect(await backfillAppRoles(ctx.deps.db, ctx.clock)).toBe(1);
  expect(
    await q<{ n: number }>("SELECT CAST(count(*) AS INTEGER) AS n FROM roles WHERE app_id = ?", res.body.id),
  ).toEqual([{ n: 3 }]);
  expect(await backfillAppRoles(ctx.deps.db, ctx.clock)).toBe(0);
});
