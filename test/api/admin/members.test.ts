/**
 * @module Admin API app members (`/v1/apps/{app_id}/members*`): the operator's view of an app's accounts as
 * memberships (role id and name, primary email), paginated and audited; removing a member deletes the account.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { SECOND } from "../../../src/core/clock.ts";
import { queryRow, queryRows } from "../../support/end-users.ts";
import { auditRows, createApp, insertWorkspace } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { insertUser } from "../consumer/codes-fixtures.ts";
import { createEndUser, type TestApp } from "../consumer/verify-fixtures.ts";
import { allow, insertBareApp, insertMember, insertPak } from "./fixtures.ts";

const MEMBERS = "/v1/apps/{app_id}/members";
const MEMBER = `${MEMBERS}/{account_id}`;

let ctx: TestContext;
let app: TestApp;
let other: TestApp;
const ids: Record<string, string> = {};
const joined: Record<string, string> = {};

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "members-app");
  other = await createApp(ctx, "members-other");
  for (const [name, role, email] of [
    ["olga", "owner", "olga@example.test"],
    ["adam", "admin", null],
    ["mia", "member", "mia@example.test"],
  ] as const) {
    ids[name] = (await insertUser(ctx, app, name, { email })).id;
    const { endUsers } = ctx.deps.db.tables;
    await ctx.deps.db
      .update(endUsers)
      .set({ role, displayName: name.toUpperCase() })
      .where(eq(endUsers.id, ids[name]!));
    joined[name] = new Date(ctx.clock.now()).toISOString();
    ctx.clock.advance(SECOND);
  }
  await createEndUser(ctx, other, "elsewhere");
  for (const name of ["owner", "admin", "member"])
    roleIds[name] = (await queryRow(ctx, "SELECT id FROM roles WHERE app_id = ? AND name = ?", app.id, name))!
      .id as string;
});

const roleIds: Record<string, string> = {};
const roleId = (name: string) => roleIds[name];

describe("GET /members", () => {
  test("each account as a membership, newest first", async () => {
    const res = await ctx.call("GET", MEMBERS, { params: { app_id: app.id } });
    expect(res.status).toBe(200);
    expect(res.body.pagination).toEqual({ has_more: false, next_cursor: null });
    expect(res.body.data).toEqual([
      {
        id: ids.mia,
        account_id: ids.mia,
        username: "mia",
        display_name: "MIA",
        role_id: roleId("member"),
        role_name: "member",
        joined_at: joined.mia,
        primary_email: "mia@example.test",
      },
      expect.objectContaining({
        username: "adam",
        role_id: roleId("admin"),
        role_name: "admin",
        primary_email: null,
      }),
      expect.objectContaining({ username: "olga", role_id: roleId("owner"), role_name: "owner" }),
    ]);
  });

  test("pages by cursor", async () => {
    const first = await ctx.call("GET", MEMBERS, { params: { app_id: app.id }, query: { limit: 2 } });
    expect(first.body.data.map((m: { username: string }) => m.username)).toEqual(["mia", "adam"]);
    expect(first.body.pagination.has_more).toBe(true);
    const second = await ctx.call("GET", MEMBERS, {
      params: { app_id: app.id },
      query: { limit: 2, cursor: first.body.pagination.next_cursor },
    });
    expect(second.body.data.map((m: { username: string }) => m.username)).toEqual(["olga"]);
    expect(second.body.pagination).toEqual({ has_more: false, next_cursor: null });
  });

  test("the read is audited as a user listing", async () => {
    await ctx.call("GET", MEMBERS, { params: { app_id: app.id } });
    expect((await auditRows(ctx, { app_id: app.id, action: "end_user.listed" })).at(-1)).toMatchObject({
      actor_type: "pak",
      details: { count: 3, view: "members" },
    });
  });

  test.each([
    ["limit 0", { limit: 0 }, "limit"],
    ["a tampered cursor", { cursor: "bm90LWEtY3Vyc29y" }, "cursor"],
  ])("%s → 400 VALIDATION_ERROR", async (_name, query, field) => {
    const res = await ctx.call("GET", MEMBERS, { params: { app_id: app.id }, query });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details[0].field).toBe(field);
  });
});

describe("DELETE /members/{account_id}", () => {
  test("removes the account; its audit rows stay", async () => {
    const u = await createEndUser(ctx, app, "departing");
    const res = await ctx.call("DELETE", MEMBER, { params: { app_id: app.id, account_id: u.id } });
    expect(res.status).toBe(204);
    expect(await queryRows(ctx, "SELECT id FROM end_users WHERE id = ?", u.id)).toEqual([]);
    expect((await auditRows(ctx, { app_id: app.id, action: "user.deleted" })).at(-1)).toMatchObject({
      resource_id: u.id,
      details: { via: "members" },
    });
  });

  test.each([
    ["an unknown account", async () => "0190d8c4-0000-7000-8000-0000000000aa"],
    [
      "an account of another app",
      async () =>
        (await queryRow(ctx, "SELECT id FROM end_users WHERE username = 'elsewhere'"))!.id as string,
    ],
  ])("%s → 404 USER_NOT_FOUND", async (_name, id) => {
    const res = await ctx.call("DELETE", MEMBER, { params: { app_id: app.id, account_id: await id() } });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("USER_NOT_FOUND");
  });
});

describe("access", () => {
  test("no credential → 401", async () => {
    expect((await ctx.call("GET", MEMBERS, { params: { app_id: app.id }, auth: null })).status).toBe(401);
    expect(
      (await ctx.call("DELETE", MEMBER, { params: { app_id: app.id, account_id: ids.mia! }, auth: null }))
        .status,
    ).toBe(401);
  });

  test("an app of another workspace → 404 APP_NOT_FOUND", async () => {
    const ws = await insertWorkspace(ctx, "members-elsewhere");
    const foreign = await insertBareApp(ctx, ws, "members-foreign");
    const res = await ctx.call("GET", MEMBERS, { params: { app_id: foreign } });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("APP_NOT_FOUND");
  });

  test("a read-only PAK lists but cannot remove → 403 POLICY_DENIED", async () => {
    const pak = (await insertPak(ctx, [allow(["heimdall.read"])])).token;
    expect((await ctx.call("GET", MEMBERS, { params: { app_id: app.id }, auth: { pak } })).status).toBe(200);
    const res = await ctx.call("DELETE", MEMBER, {
      params: { app_id: app.id, account_id: ids.mia! },
      auth: { pak },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("POLICY_DENIED");
  });

  test("a workspace viewer lists but cannot remove → 403 FORBIDDEN", async () => {
    const viewer = await insertMember(ctx, "members-viewer@example.test", "viewer");
    const cookie = await ctx.signIn("members-viewer@example.test", viewer.password);
    expect((await ctx.call("GET", MEMBERS, { params: { app_id: app.id }, auth: { cookie } })).status).toBe(
      200,
    );
    const res = await ctx.call("DELETE", MEMBER, {
      params: { app_id: app.id, account_id: ids.mia! },
      auth: { cookie },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("FORBIDDEN");
    expect((await auditRows(ctx, { app_id: app.id, action: "end_user.listed" })).at(-1)!.actor_type).toBe(
      "platform_user",
    );
  });
});
