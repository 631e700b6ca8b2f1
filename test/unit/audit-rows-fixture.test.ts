/** @module Tests for the shared auditRows fixture (test/support/fixtures.ts): its filter is what many API tests assert through. */
import { beforeAll, describe, expect, test } from "bun:test";
import { type AuditFilter, auditRows, createApp, type TestApp } from "../support/fixtures.ts";
import { createTestContext, type TestContext } from "../support/harness.ts";

let ctx: TestContext;
let app: TestApp;
let other: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "rows-app");
  other = await createApp(ctx, "rows-other");
  const actor = { type: "system" as const, id: null };
  await ctx.deps.audit.record({
    appId: app.id,
    action: "probe.one",
    resourceId: "r1",
    actor,
    details: { n: 1 },
  });
  await ctx.deps.audit.record({ appId: app.id, action: "probe.one", resourceId: "r2", actor });
  await ctx.deps.audit.record({ appId: other.id, action: "probe.one", resourceId: "r1", actor });
  await ctx.deps.audit.record({ workspaceId: ctx.workspaceId, action: "probe.one", resourceId: "r1", actor });
});

describe("auditRows", () => {
  test("every column given must match; rows come oldest first, as stored, with details parsed", async () => {
    const rows = await auditRows(ctx, { app_id: app.id, action: "probe.one" });
    expect(rows.map((r) => r.resource_id)).toEqual(["r1", "r2"]);
    expect(rows[0]).toMatchObject({ app_id: app.id, actor_type: "system", chain: app.id, details: { n: 1 } });
    expect(rows[0]!.seq).toBeLessThan(rows[1]!.seq);
    expect(rows[1]!.details).toEqual({});
    expect(await auditRows(ctx, { app_id: app.id, action: "probe.one", resource_id: "r1" })).toHaveLength(1);
  });

  test("null matches NULL: app_id null is the platform rows", async () => {
    const rows = await auditRows(ctx, { app_id: null, action: "probe.one" });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ workspace_id: ctx.workspaceId, chain: `workspace:${ctx.workspaceId}` });
    expect((await auditRows(ctx, { action: "probe.one", resource_id: "r1" })).map((r) => r.app_id)).toEqual([
      app.id,
      other.id,
      null,
    ]);
  });

  test("the empty filter reads every row", async () => {
    const all = await auditRows(ctx);
    expect(all.length).toBeGreaterThan(4);
    expect(all.map((r) => r.seq)).toEqual([...all.map((r) => r.seq)].sort((a, b) => a - b));
  });

  test("a column named without a value throws instead of matching every row", () => {
    const unset: string | undefined = undefined;
    expect(() => auditRows(ctx, { app_id: app.id, resource_id: unset })).toThrow("resource_id is undefined");
  });

  test("only audit_log's filter columns are accepted", () => {
    const injected = { "app_id = app_id OR 1": "x" } as unknown as AuditFilter;
    expect(() => auditRows(ctx, injected)).toThrow("cannot filter on");
  });
});
