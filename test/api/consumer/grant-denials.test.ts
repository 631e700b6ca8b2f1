/** @module Caller-narrowing refusals (403 PERMISSION_GRANT_DENIED) are audited access denials like the other RBAC refusals. */
import { beforeAll, describe, expect, test } from "bun:test";
import { queryRow, queryRows } from "../../support/end-users.ts";
import { createApp, type TestApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { createApiKey, createEndUser } from "./verify-fixtures.ts";

let ctx: TestContext;
let app: TestApp;

const denials = async () =>
  (
    await queryRows(
      ctx,
      "SELECT actor_type, actor_id, details FROM audit_log WHERE app_id = ? AND action = 'access.denied' ORDER BY seq",
      app.id,
    )
  ).map((r) => ({
    ...r,
    // jsonb arrives parsed from PostgreSQL, SQLite's JSON as text.
    details: (typeof r.details === "string" ? JSON.parse(r.details) : r.details) as Record<string, unknown>,
  }));

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "grant-denials");
});

describe("PERMISSION_GRANT_DENIED leaves an access.denied row", () => {
  test("suspending an owner with only user.status: 403, the owner untouched, one row naming what was lacking", async () => {
    const owner = await createEndUser(ctx, app, "the-owner", { role: "owner" });
    const key = await createApiKey(ctx, app, ["user.status"]);
    const res = await ctx.call("PATCH", "/{app_slug}/v1/admin/users/{user_id}/status", {
      params: { app_slug: app.slug, user_id: owner.id },
      body: { status: "suspended" },
      auth: { bearer: key.key },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("PERMISSION_GRANT_DENIED");
    const status = await queryRow(ctx, "SELECT status FROM end_users WHERE id = ?", owner.id);
    expect(status?.status).toBe("active");
    const rows = await denials();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_type: "api_key",
      actor_id: key.id,
      details: { reason: "grant", method: "PATCH", path: `/${app.slug}/v1/admin/users/${owner.id}/status` },
    });
    expect(String(rows[0]!.details.required)).toContain("role.delete");
  });

  test("granting a role's permissions the caller lacks: 403 and a row", async () => {
    const key = await createApiKey(ctx, app, ["role.update", "role.read"]);
    const before = (await denials()).length;
    const res = await ctx.call("PUT", "/{app_slug}/v1/admin/roles/{role_name}/permissions", {
      params: { app_slug: app.slug, role_name: "member" },
      body: { permissions: ["user.delete"] },
      auth: { bearer: key.key },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("PERMISSION_GRANT_DENIED");
    const rows = await denials();
    expect(rows).toHaveLength(before + 1);
    expect(rows.at(-1)).toMatchObject({
      actor_id: key.id,
      details: { reason: "grant", required: "user.delete" },
    });
  });
});
