/** @module Admin API: app listing (visibility, workspace filter, keyset pagination) and GET /v1/stats/me. */
import { beforeAll, describe, expect, test } from "bun:test";
import { encodeCursor } from "../../../src/core/pagination.ts";
import { type AppBody, createApp, insertWorkspace } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { allow, detailFields, errCode, insertBareApp, insertPak } from "./fixtures.ts";

type ListBody = { data: AppBody[]; pagination: { has_more: boolean; next_cursor: string | null } };
type StatsBody = { apps: number; end_users: number; api_keys_active: number };

let ctx: TestContext;
let cookie: string;
/** Ids of the default workspace's apps, newest first (created_at desc, id desc). */
let defaultIds: string[];
let sharedWs: string;
let sharedAppId: string;
let foreignWs: string;
let realApp: AppBody;

beforeAll(async () => {
  ctx = await createTestContext();
  cookie = await ctx.signIn();
  realApp = await createApp(ctx, "real-app");
  const t0 = ctx.clock.now() - 10_000;
  // Seven apps, two pairs with equal created_at so the id tie-break is exercised.
  const inserted: { id: string; at: number }[] = [];
  for (const [i, d] of [0, 1, 1, 2, 3, 3, 4].entries())
    inserted.push({
      id: await insertBareApp(ctx, ctx.workspaceId, `bare-${i}`, t0 + d * 1000),
      at: t0 + d * 1000,
    });
  const all = [...inserted, { id: realApp.id, at: Date.parse(realApp.created_at) }];
  defaultIds = all.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1)).map((a) => a.id);
  sharedWs = await insertWorkspace(ctx, "shared", "viewer");
  sharedAppId = await insertBareApp(ctx, sharedWs, "shared-app");
  foreignWs = await insertWorkspace(ctx, "foreign");
  await insertBareApp(ctx, foreignWs, "foreign-app");
});

async function walk(
  limit: number,
  extra: Record<string, string> = {},
  auth?: { cookie: string } | { pak: string },
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const res = await ctx.call<ListBody>("GET", "/v1/apps", { query: { limit, cursor, ...extra }, auth });
    expect(res.status).toBe(200);
    pages++;
    expect(res.body.data.length).toBeLessThanOrEqual(limit);
    ids.push(...res.body.data.map((a) => a.id));
    if (!res.body.pagination.has_more) {
      expect(res.body.pagination.next_cursor).toBeNull();
      return { ids, pages };
    }
    expect(res.body.data.length).toBe(limit);
    cursor = res.body.pagination.next_cursor!;
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
  }
}

describe("GET /v1/apps", () => {
  test("PAK lane lists its workspace's apps newest first, with the default page", async () => {
    const res = await ctx.call<ListBody>("GET", "/v1/apps");
    expect(res.status).toBe(200);
    expect(res.body.data.map((a) => a.id)).toEqual(defaultIds);
    expect(res.body.pagination).toEqual({ has_more: false, next_cursor: null });
    expect(res.body.data.find((a) => a.id === realApp.id)).toEqual(realApp);
  });

  test.each([1, 2, 3, 7])("limit=%i walks every app exactly once in order", async (limit) => {
    const { ids, pages } = await walk(limit);
    expect(ids).toEqual(defaultIds);
    expect(pages).toBe(Math.ceil(defaultIds.length / limit));
  });

  test("cookie lane sees every workspace it belongs to; workspace_id scopes the list", async () => {
    const all = await ctx.call<ListBody>("GET", "/v1/apps", { auth: { cookie }, query: { limit: 200 } });
    expect(all.status).toBe(200);
    expect(new Set(all.body.data.map((a) => a.id))).toEqual(new Set([...defaultIds, sharedAppId]));

    const scoped = await ctx.call<ListBody>("GET", "/v1/apps", {
      auth: { cookie },
      query: { workspace_id: sharedWs },
    });
    expect(scoped.body.data.map((a) => a.id)).toEqual([sharedAppId]);
    const def = await walk(3, { workspace_id: ctx.workspaceId }, { cookie });
    expect(def.ids).toEqual(defaultIds);
  });

  test("a PAK never sees another workspace, even when it names it", async () => {
    const res = await ctx.call("GET", "/v1/apps", { query: { workspace_id: sharedWs } });
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe("WORKSPACE_NOT_FOUND");
  });

  test.each([
    ["a workspace the user is not in", () => foreignWs],
    ["an unknown workspace", () => "00000000-0000-7000-8000-000000000000"],
  ])("workspace_id of %s → 404 WORKSPACE_NOT_FOUND", async (_name, ws) => {
    const res = await ctx.call("GET", "/v1/apps", { auth: { cookie }, query: { workspace_id: ws() } });
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe("WORKSPACE_NOT_FOUND");
  });

  test("a PAK limited to some apps lists only those, and pages stay full", async () => {
    const picked = [defaultIds[1]!, defaultIds[4]!, defaultIds[6]!];
    const pak = await insertPak(ctx, [
      allow(
        ["heimdall.read"],
        picked.map((id) => `pcft:heimdall:app/${id}`),
      ),
    ]);
    const { ids } = await walk(2, {}, { pak: pak.token });
    expect(ids).toEqual(picked);
    const none = await insertPak(ctx, [allow(["heimdall.update"])]);
    const res = await ctx.call<ListBody>("GET", "/v1/apps", { auth: { pak: none.token } });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([]);
  });

  test.each([
    ["limit=0", { limit: "0" }, "limit"],
    ["limit=201", { limit: "201" }, "limit"],
    ["limit=abc", { limit: "abc" }, "limit"],
    ["limit=1.5", { limit: "1.5" }, "limit"],
    ["limit=-1", { limit: "-1" }, "limit"],
    ["cursor not base64url", { cursor: "not a cursor!" }, "cursor"],
    ["cursor not JSON", { cursor: Buffer.from("nope").toString("base64url") }, "cursor"],
    ["cursor of another shape", { cursor: encodeCursor({ s: 5 }) }, "cursor"],
    ["cursor with a string timestamp", { cursor: encodeCursor({ c: "1", i: "x" }) }, "cursor"],
  ])("%s → 400 VALIDATION_ERROR", async (_name, query, field) => {
    const res = await ctx.call("GET", "/v1/apps", { query });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toEqual([field]);
  });

  test("limit=200 is accepted", async () => {
    expect((await ctx.call("GET", "/v1/apps", { query: { limit: 200 } })).status).toBe(200);
  });
});

describe("GET /v1/stats/me", () => {
  test("PAK lane counts its workspace's apps; its PAKs are not app API keys", async () => {
    const res = await ctx.call<StatsBody>("GET", "/v1/stats/me");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ apps: defaultIds.length, end_users: 0, api_keys_active: 0 });

    // Another live PAK in the workspace changes nothing (test/api/admin/stats.test.ts counts the real keys).
    await insertPak(ctx, [allow(["heimdall.read"])]);
    expect((await ctx.call<StatsBody>("GET", "/v1/stats/me")).body.api_keys_active).toBe(0);
  });

  test("cookie lane sums its workspaces unless workspace_id narrows it", async () => {
    const all = await ctx.call<StatsBody>("GET", "/v1/stats/me", { auth: { cookie } });
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ apps: defaultIds.length + 1, end_users: 0, api_keys_active: 0 });
    const shared = await ctx.call<StatsBody>("GET", "/v1/stats/me", {
      auth: { cookie },
      query: { workspace_id: sharedWs },
    });
    expect(shared.body).toEqual({ apps: 1, end_users: 0, api_keys_active: 0 });
  });

  test("a PAK limited to one app counts that app only", async () => {
    const pak = await insertPak(ctx, [allow(["heimdall.read"], [`pcft:heimdall:app/${realApp.id}`])]);
    const res = await ctx.call<StatsBody>("GET", "/v1/stats/me", { auth: { pak: pak.token } });
    expect(res.status).toBe(200);
    expect(res.body.apps).toBe(1);
  });

  test.each([
    ["PAK naming another workspace", undefined, () => sharedWs],
    ["cookie naming a foreign workspace", "cookie", () => foreignWs],
  ] as const)("%s → 404 WORKSPACE_NOT_FOUND", async (_name, lane, ws) => {
    const res = await ctx.call("GET", "/v1/stats/me", {
      query: { workspace_id: ws() },
      auth: lane ? { cookie } : undefined,
    });
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe("WORKSPACE_NOT_FOUND");
  });

  test("no credential → 401", async () => {
    expect((await ctx.call("GET", "/v1/stats/me", { auth: null })).status).toBe(401);
  });
});
