/** @module `GET /{app_slug}/v1/admin/users`: the admin view of accounts, keyset pagination, status and search filters. */
import { beforeAll, describe, expect, test } from "bun:test";
import { SECOND } from "../../../src/core/clock.ts";
import { tx } from "../../../src/db/client.ts";
import { auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import {
  createEndUser,
  createM2mClient,
  setUser,
  type TestApp,
  type TestEndUser,
} from "./verify-fixtures.ts";

const PATH = "/{app_slug}/v1/admin/users";

describe("GET /admin/users", () => {
  let ctx: TestContext;
  let app: TestApp;
  let other: TestApp;
  let caller: string;
  const users: Record<string, TestEndUser> = {};
  const createdAt: Record<string, string> = {};

  const list = (query: Record<string, string | number | undefined> = {}, slug = app.slug) =>
    ctx.call("GET", PATH, { params: { app_slug: slug }, query, auth: { bearer: caller } });

  beforeAll(async () => {
    ctx = await createTestContext();
    app = await createApp(ctx, "lane-users");
    other = await createApp(ctx, "lane-other");
    caller = (await createM2mClient(ctx, app, ["user.list"])).token;
    // Oldest first; one second apart so the newest-first order is unambiguous.
    const specs: [string, Parameters<typeof createEndUser>[3]][] = [
      ["zed", { role: "owner" }],
      ["zelda", { email: "princess@hyrule.test", emailVerified: false }],
      ["yann", { email: null }],
      ["x_man", { email: "xavier@mansion.test" }],
      ["xaviera", { email: "x.aviera@example.test" }],
      ["walt", {}],
    ];
    for (const [name, opts] of specs) {
      users[name] = await createEndUser(ctx, app, name, opts);
      createdAt[name] = new Date(ctx.clock.now()).toISOString();
      ctx.clock.advance(SECOND);
    }
    await setUser(ctx, users.yann!.id, { status: "suspended" });
    await setUser(ctx, users.walt!.id, { status: "deactivated" });
    // A second live session for zed, and a dead one for x_man.
    await tx(
      ctx.deps.db,
      async () =>
        await ctx.deps.sessions.create({
          appId: app.id,
          userId: users.zed!.id,
          amr: ["pwd"],
          durationMinutes: 60,
          maxSessions: 5,
          meta: {},
        }),
    );
    await ctx.deps.sessions.revoke(users.x_man!.sessionId, "logout");
    await createEndUser(ctx, other, "zed-elsewhere");
  });

  test("the admin view of each account, newest first", async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.body.pagination).toEqual({ has_more: false, next_cursor: null });
    expect(res.body.data.map((u: { username: string }) => u.username)).toEqual([
      "walt",
      "xaviera",
      "x_man",
      "yann",
      "zelda",
      "zed",
    ]);
    const byName = Object.fromEntries(res.body.data.map((u: { username: string }) => [u.username, u]));
    expect(byName.zed).toEqual({
      id: users.zed!.id,
      username: "zed",
      display_name: null,
      status: "active",
      role: "owner",
      joined_at: createdAt.zed,
      created_at: createdAt.zed,
      email: "zed@example.test",
      email_verified_at: createdAt.zed,
      active_session_count: 2,
      last_used_at: null,
    });
    expect(byName.zelda).toMatchObject({
      email: "princess@hyrule.test",
      email_verified_at: null,
      active_session_count: 1,
    });
    expect(byName.yann).toMatchObject({
      email: null,
      email_verified_at: null,
      status: "suspended",
      role: "member",
    });
    expect(byName.x_man.active_session_count).toBe(0);
    expect(byName.walt.status).toBe("deactivated");
  });

  test("keyset pages cover every account once, in order", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await list({ limit: 4, cursor });
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((u: { username: string }) => u.username));
      cursor = res.body.pagination.next_cursor ?? undefined;
      expect(res.body.pagination.has_more).toBe(cursor !== undefined);
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(seen).toEqual(["walt", "xaviera", "x_man", "yann", "zelda", "zed"]);
  });

  test.each([
    ["status=suspended", { status: "suspended" }, ["yann"]],
    ["status=deactivated", { status: "deactivated" }, ["walt"]],
    ["status=active", { status: "active" }, ["xaviera", "x_man", "zelda", "zed"]],
    // Search results are ordered by the identifier that matched (see src/users/admin-store.ts).
    ["a username prefix", { search: "ze" }, ["zed", "zelda"]],
    ["a username prefix in another case", { search: "ZEL" }, ["zelda"]],
    ["an email prefix", { search: "princess@" }, ["zelda"]],
    ["a prefix matching a username and an email", { search: "x" }, ["x_man", "xaviera"]],
    ["an underscore taken literally", { search: "x_" }, ["x_man"]],
    ["a percent sign taken literally", { search: "%" }, []],
    ["a blank search", { search: "  " }, ["walt", "xaviera", "x_man", "yann", "zelda", "zed"]],
    ["a search and a status", { search: "y", status: "active" }, []],
    ["a mid-string fragment", { search: "aviera" }, []],
  ])("filters by %s", async (_name, query, expected) => {
    const res = await list(query);
    expect(res.status).toBe(200);
    expect(res.body.data.map((u: { username: string }) => u.username)).toEqual(expected);
  });

  test("each app lists only its own accounts", async () => {
    const mine = await list({ search: "zed" });
    expect(mine.body.data.map((u: { username: string }) => u.username)).toEqual(["zed"]);
    const otherCaller = (await createM2mClient(ctx, other, ["user.list"])).token;
    const res = await ctx.call("GET", PATH, {
      params: { app_slug: other.slug },
      auth: { bearer: otherCaller },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.map((u: { username: string }) => u.username)).toEqual(["zed-elsewhere"]);
  });

  test("no match is an empty page", async () => {
    const res = await list({ search: "nobody" });
    expect(res.body).toEqual({ data: [], pagination: { has_more: false, next_cursor: null } });
  });

  test("the listing is audited with its filters and count", async () => {
    await list({ status: "active", search: "ZE" });
    const row = (await auditRows(ctx, { app_id: app.id, action: "end_user.listed" })).at(-1)!;
    expect(row.details).toEqual({ count: 2, status: "active", search: "ze" });
    expect(row.resource_type).toBe("user");
    expect(row.actor_type).toBe("m2m");
  });

  test.each([
    ["an unknown status", { status: "banned" }, "status"],
    ["limit 0", { limit: 0 }, "limit"],
    ["limit 201", { limit: 201 }, "limit"],
    ["a non-numeric limit", { limit: "ten" }, "limit"],
    ["a tampered cursor", { cursor: "eyJub3QiOiJhIGN1cnNvciJ9" }, "cursor"],
    ["a search longer than any address", { search: "a".repeat(321) }, "search"],
  ])("%s is a 400", async (_name, query, field) => {
    const res = await list(query);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details[0].field).toBe(field);
  });
});
