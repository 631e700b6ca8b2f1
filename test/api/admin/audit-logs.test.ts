/** @module GET /v1/apps/{app_id}/audit-logs: shape, order, filters, cursor pagination, isolation between apps. */
import { beforeAll, describe, expect, test } from "bun:test";
import { encodeCursor } from "../../../src/core/pagination.ts";
import { type AppBody, auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { auditCount, bootstrapPakId, detailFields, errCode, insertBareApp } from "./fixtures.ts";

type Entry = {
  id: string;
  app_id: string;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  actor_type: string;
  actor_id: string | null;
  details: Record<string, unknown> | null;
  ip: string | null;
  request_id: string | null;
  created_at: string;
};
type ListBody = { data: Entry[]; pagination: { has_more: boolean; next_cursor: string | null } };

let ctx: TestContext;
let cookie: string;
let app: AppBody;
let pakId: string;
/** Every row of the app, newest first, as the API must return them. */
let expected: string[];

beforeAll(async () => {
  ctx = await createTestContext();
  cookie = await ctx.signIn();
  pakId = await bootstrapPakId(ctx);
  app = await createApp(ctx, "audited");
  const path = "/v1/apps/{app_id}";
  const params = { app_id: app.id };
  // A mix of actions and actors; request ids are fixed so the rows can be matched to the calls.
  await ctx.call("PATCH", path, {
    params,
    body: { display_name: "One" },
    headers: { "x-request-id": "req-1" },
  });
  await ctx.call("PATCH", path, {
    params,
    body: { display_name: "Two" },
    auth: { cookie },
    headers: { "x-request-id": "req-2" },
  });
  await ctx.call("PATCH", `${path}/auth-config`, { params, body: { max_sessions: 9 }, auth: { cookie } });
  await ctx.call("PATCH", `${path}/status`, { params, body: { status: "suspended" } });
  await ctx.call("PATCH", `${path}/status`, { params, body: { status: "active" }, auth: { cookie } });
  await ctx.call("PATCH", path, { params, body: { display_name: "Three" } });
  // Rows of another app must never show up here.
  const other = await insertBareApp(ctx, ctx.workspaceId, "other-app");
  await ctx.deps.audit.record({
    appId: other,
    action: "app.updated",
    actor: { type: "pak", id: pakId },
    details: {},
  });
  expected = (await auditRows(ctx, { app_id: app.id })).map((r) => r.id).reverse();
});

const list = (query: Record<string, string | number | undefined> = {}, auth?: { cookie: string }) =>
  ctx.call<ListBody>("GET", "/v1/apps/{app_id}/audit-logs", { params: { app_id: app.id }, query, auth });

async function walk(limit: number, query: Record<string, string> = {}): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const res = await list({ limit, cursor, ...query });
    expect(res.status).toBe(200);
    ids.push(...res.body.data.map((e) => e.id));
    if (!res.body.pagination.has_more) {
      expect(res.body.pagination.next_cursor).toBeNull();
      return ids;
    }
    expect(res.body.data).toHaveLength(limit);
    cursor = res.body.pagination.next_cursor!;
  }
}

describe("GET /v1/apps/{app_id}/audit-logs", () => {
  test("PAK lane: every row of the app, newest first, with the appliance fields", async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(expected).toHaveLength(7);
    expect(res.body.data.map((e) => e.id)).toEqual(expected);
    expect(res.body.pagination).toEqual({ has_more: false, next_cursor: null });
    expect(res.body.data.map((e) => e.action)).toEqual([
      "app.updated",
      "app.status_changed",
      "app.status_changed",
      "auth_config.updated",
      "app.updated",
      "app.updated",
      "app.created",
    ]);
    const created = res.body.data.at(-1)!;
    expect(created).toMatchObject({
      app_id: app.id,
      resource_type: "app",
      resource_id: app.id,
      actor_type: "pak",
      actor_id: pakId,
    });
    const byUser = res.body.data.find((e) => e.request_id === "req-2")!;
    expect(byUser).toMatchObject({
      action: "app.updated",
      actor_type: "platform_user",
      actor_id: ctx.ownerId,
      details: { changed: ["display_name"] },
    });
    expect(res.body.data.find((e) => e.request_id === "req-1")?.actor_type).toBe("pak");
  });

  test("cookie lane by slug reads the same page", async () => {
    const res = await ctx.call<ListBody>("GET", "/v1/apps/{app_id}/audit-logs", {
      params: { app_id: app.slug },
      auth: { cookie },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.map((e) => e.id)).toEqual(expected);
  });

  test("reading the log writes nothing to it", async () => {
    const before = await auditCount(ctx);
    await list();
    expect(await auditCount(ctx)).toBe(before);
  });

  test.each([1, 2, 3, 7, 50])("limit=%i pages through every row exactly once", async (limit) => {
    expect(await walk(limit)).toEqual(expected);
  });

  test.each([
    ["action=app.updated", { action: "app.updated" }, (e: Entry) => e.action === "app.updated"],
    [
      "action=app.status_changed",
      { action: "app.status_changed" },
      (e: Entry) => e.action === "app.status_changed",
    ],
    ["actor_id=owner", { actor_id: "OWNER" }, (e: Entry) => e.actor_type === "platform_user"],
    ["actor_id=pak", { actor_id: "PAK" }, (e: Entry) => e.actor_type === "pak"],
    [
      "action and actor_id",
      { action: "app.updated", actor_id: "OWNER" },
      (e: Entry) => e.action === "app.updated" && e.actor_type === "platform_user",
    ],
    ["an action nobody did", { action: "app.deleted" }, () => false],
    ["empty filters mean none", { action: "", actor_id: "" }, () => true],
  ] as const)("filter %s", async (_n, rawQuery, keep) => {
    const query: Record<string, string> = { ...rawQuery };
    if (query.actor_id === "OWNER") query.actor_id = ctx.ownerId;
    if (query.actor_id === "PAK") query.actor_id = pakId;
    const all = (await list()).body.data.filter(keep).map((e) => e.id);
    const res = await list(query);
    expect(res.status).toBe(200);
    expect(res.body.data.map((e) => e.id)).toEqual(all);
    expect(await walk(1, query)).toEqual(all);
  });

  test.each([
    ["limit=0", { limit: "0" }, "limit"],
    ["limit=201", { limit: "201" }, "limit"],
    ["limit=ten", { limit: "ten" }, "limit"],
    ["cursor garbage", { cursor: "%%%" }, "cursor"],
    ["cursor of the app list", { cursor: encodeCursor({ c: 1, i: "x" }) }, "cursor"],
    ["cursor with seq 0", { cursor: encodeCursor({ s: 0 }) }, "cursor"],
    ["action too long", { action: "a".repeat(129) }, "action"],
    ["actor_id too long", { actor_id: "a".repeat(129) }, "actor_id"],
  ])("%s → 400 VALIDATION_ERROR", async (_n, query, field) => {
    const res = await list(query);
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toEqual([field]);
  });

  test("limit=200 is accepted", async () => {
    expect((await list({ limit: 200 })).status).toBe(200);
  });

  test("the hash chain of every app is intact", async () => {
    expect(await ctx.deps.audit.verify()).toMatchObject({ ok: true });
  });
});
