/** @module GET /v1/stats/me counts real rows: the visible apps, their end users and their live API keys (not PAKs, not M2M clients). */
import { beforeAll, describe, expect, test } from "bun:test";
import { count, eq, inArray } from "drizzle-orm";
import { HOUR } from "../../../src/core/clock.ts";
import { newId } from "../../../src/core/ids.ts";
import { type AppBody, createApp, insertEndUser, insertWorkspace } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { allow, insertBareApp, insertPak } from "./fixtures.ts";

type StatsBody = { apps: number; end_users: number; api_keys_active: number };

let ctx: TestContext;
let cookie: string;
let alpha: AppBody;
let beta: AppBody;
let other: AppBody;
let otherWs: string;

const stats = async (opts: Parameters<TestContext["call"]>[2] = {}) => {
  const res = await ctx.call<StatsBody>("GET", "/v1/stats/me", opts);
  expect(res.status).toBe(200);
  return res.body;
};

function mintKey(app: AppBody, body: Record<string, unknown> = {}) {
  return ctx.call("POST", "/v1/apps/{app_id}/api-keys", {
    params: { app_id: app.id },
    // The bootstrap PAK is the default workspace's; the owner's cookie reaches the other one too.
    auth: { cookie },
    body: { name: "stats", permissions: ["user.list"], ...body },
  });
}

function mintM2m(app: AppBody) {
  return ctx.call("POST", "/v1/apps/{app_id}/credentials", {
    params: { app_id: app.id },
    body: { name: "stats-worker", scopes: ["user.list"] },
  });
}

beforeAll(async () => {
  ctx = await createTestContext();
  cookie = await ctx.signIn();
  alpha = await createApp(ctx, "stats-alpha");
  beta = await createApp(ctx, "stats-beta");
  // A second workspace of the owner's, with its own app: in the cookie's totals, outside the PAK's.
  otherWs = await insertWorkspace(ctx, "stats-other", "admin");
  other = await createApp(ctx, "stats-other-app", { auth: { cookie }, workspace_id: otherWs });
  // A workspace the owner is not in: its rows never count, on any lane.
  const foreignWs = await insertWorkspace(ctx, "stats-foreign");
  const foreign = { id: await insertBareApp(ctx, foreignWs, "stats-foreign-app"), slug: "stats-foreign-app" };
  await insertEndUser(ctx, foreign, "zed");
  const { appApiKeys } = ctx.deps.db.tables;
  await ctx.deps.db.insert(appApiKeys).values({
    id: newId(ctx.clock),
    appId: foreign.id,
    name: "foreign",
    keyPrefix: "hdk_live_foreign",
    keyHash: "0".repeat(64),
    permissions: ["user.list"],
    createdAt: ctx.clock.now(),
  });
});

describe("GET /v1/stats/me counts real rows", () => {
  test("a fresh workspace: its apps, no end users, no API keys (the bootstrap PAK is not an app API key)", async () => {
    expect(await stats()).toEqual({ apps: 2, end_users: 0, api_keys_active: 0 });
  });

  test("end users of every status count; each in its own app's workspace", async () => {
    await insertEndUser(ctx, alpha, "ann");
    await insertEndUser(ctx, alpha, "bob", { status: "suspended" });
    await insertEndUser(ctx, beta, "cyd", { status: "deactivated" });
    await insertEndUser(ctx, other, "dee");
    const { endUsers } = ctx.deps.db.tables;
    const rows = async (ids: string[]) =>
      (await ctx.deps.db.select({ n: count() }).from(endUsers).where(inArray(endUsers.appId, ids)))[0]!.n;
    expect(await rows([alpha.id, beta.id])).toBe(3);

    expect((await stats()).end_users).toBe(3);
    expect((await stats({ auth: { cookie } })).end_users).toBe(4);
    expect((await stats({ auth: { cookie }, query: { workspace_id: otherWs } })).end_users).toBe(1);
  });

  test("app API keys count until they expire or are deleted; PAKs and M2M clients never do", async () => {
    const forever = await mintKey(alpha);
    expect(forever.status).toBe(201);
    const expiring = await mintKey(beta, {
      expires_at: new Date(ctx.clock.now() + HOUR).toISOString(),
    });
    expect(expiring.status).toBe(201);
    expect((await mintKey(other)).status).toBe(201);
    const { appApiKeys, m2mClients } = ctx.deps.db.tables;
    expect((await ctx.deps.db.select({ n: count() }).from(appApiKeys))[0]!.n).toBe(4);

    // Neither a workspace PAK nor an M2M client is one of the apps' API keys.
    await insertPak(ctx, [allow(["heimdall.read"])]);
    expect((await mintM2m(alpha)).status).toBe(201);
    expect(
      (await ctx.deps.db.select({ n: count() }).from(m2mClients).where(eq(m2mClients.appId, alpha.id)))[0]!.n,
    ).toBe(1);

    expect((await stats()).api_keys_active).toBe(2);
    expect((await stats({ auth: { cookie } })).api_keys_active).toBe(3);

    // Past its expiry a key no longer authenticates, so it no longer counts (the row is still there).
    ctx.clock.advance(HOUR);
    expect((await stats()).api_keys_active).toBe(1);
    const [expiredRow] = await ctx.deps.db.select().from(appApiKeys).where(eq(appApiKeys.appId, beta.id));
    expect(expiredRow).toBeDefined();

    // Revoking deletes the row.
    const del = await ctx.call("DELETE", "/v1/apps/{app_id}/api-keys/{key_id}", {
      params: { app_id: alpha.id, key_id: forever.body.id },
    });
    expect(del.status).toBe(204);
    expect(await stats()).toEqual({ apps: 2, end_users: 3, api_keys_active: 0 });
    expect((await stats({ auth: { cookie } })).api_keys_active).toBe(1);
  });

  test("a PAK limited to one app sees that app's figures only", async () => {
    await mintKey(beta);
    await insertEndUser(ctx, beta, "eve");
    const pak = await insertPak(ctx, [allow(["heimdall.read"], [`pcft:heimdall:app/${beta.id}`])]);
    expect(await stats({ auth: { pak: pak.token } })).toEqual({ apps: 1, end_users: 2, api_keys_active: 1 });
  });
});
