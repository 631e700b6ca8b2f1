/** @module Audit retention: the daily job prunes rows past the cutoff per chain, anchors each cut, and verify keeps working across it. */
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { createAuditRetention } from "../../../src/audit/retention.ts";
import { DAY } from "../../../src/core/clock.ts";
import { type AppBody, auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";

const anchors = async (ctx: TestContext) =>
  new Map((await ctx.deps.db.select().from(ctx.deps.db.tables.auditAnchors)).map((a) => [a.chain, a]));

async function rename(ctx: TestContext, app: AppBody, name: string) {
  const res = await ctx.call("PATCH", "/v1/apps/{app_id}", {
    params: { app_id: app.id },
    body: { display_name: name },
  });
  expect(res.status).toBe(200);
}

/**
 * Day 0: bootstrap, an app created and renamed (old rows). Day 60: renamed again (kept rows). Day 91:
 * the 90-day cutoff lies between the two groups.
 */
async function agedLog(env: Record<string, string> = {}) {
  const ctx = await createTestContext(env);
  const app = await createApp(ctx, "retained");
  await rename(ctx, app, "Old one");
  await rename(ctx, app, "Old two");
  ctx.clock.advance(60 * DAY);
  await rename(ctx, app, "Kept one");
  await rename(ctx, app, "Kept two");
  ctx.clock.advance(31 * DAY);
  const before = await auditRows(ctx);
  const cutoff = ctx.clock.now() - 90 * DAY;
  return { ctx, app, before, cutoff };
}

describe("audit.retention (default 90 days)", () => {
  test("the job prunes rows older than the cutoff, keeps the newer ones and anchors every chain it cut", async () => {
    const { ctx, app, before, cutoff } = await agedLog();
    const old = before.filter((r) => r.created_at < cutoff);
    const young = before.filter((r) => r.created_at >= cutoff);
    expect(old.length).toBeGreaterThanOrEqual(3);
    expect(young.filter((r) => r.app_id === app.id).length).toBe(2);

    await ctx.deps.scheduler.runOnce("audit.retention");

    const after = await auditRows(ctx);
    expect(after.map((r) => r.id)).toEqual(young.map((r) => r.id));
    const cut = await anchors(ctx);
    const chains = [...new Set(old.map((r) => r.chain))];
    expect([...cut.keys()].sort()).toEqual(chains.sort());
    for (const chain of chains) {
      const pruned = old.filter((r) => r.chain === chain);
      const last = pruned.at(-1)!;
      expect(cut.get(chain)).toEqual({
        chain,
        prunedThroughSeq: last.seq,
        hash: last.hash,
        prunedCount: pruned.length,
        updatedAt: ctx.clock.now(),
      });
    }
    expect(await ctx.deps.audit.verify()).toEqual({
      ok: true,
      rows: after.length,
      chains: new Set(before.map((r) => r.chain)).size,
      pruned: old.length,
    });
    // The Admin API lists what is left, newest first.
    const listed = await ctx.call("GET", "/v1/apps/{app_id}/audit-logs", { params: { app_id: app.id } });
    expect(listed.status).toBe(200);
    expect((listed.body.data as { id: string }[]).map((e) => e.id)).toEqual(
      after
        .filter((r) => r.app_id === app.id)
        .map((r) => r.id)
        .reverse(),
    );
    // The metrics show the cut.
    const metrics = (await ctx.call("GET", "/metrics", { auth: null })).text;
    expect(metrics).toMatch(new RegExp(`^heimdall_audit_rows_pruned\\{\\} ${old.length}$`, "m"));
    const oldest = Number(metrics.match(/^heimdall_audit_oldest_row_age_seconds\{\} (\S+)$/m)?.[1]);
    expect(oldest).toBe((ctx.clock.now() - after[0]!.created_at) / 1000);
    expect(oldest).toBeLessThan(90 * 86_400);
  });

  test("a second run finds nothing; later cuts move the anchor and add to its count", async () => {
    const { ctx, app, before, cutoff } = await agedLog();
    const first = await ctx.deps.auditRetention.prune();
    expect(first.pruned).toBe(before.filter((r) => r.created_at < cutoff).length);
    expect(await ctx.deps.auditRetention.prune()).toEqual({ pruned: 0, chains: 0, batches: 0 });
    const appAnchor = (await anchors(ctx)).get(app.id)!;

    ctx.clock.advance(60 * DAY);
    const second = await ctx.deps.auditRetention.prune();
    expect(second.pruned).toBeGreaterThanOrEqual(2);
    const moved = (await anchors(ctx)).get(app.id)!;
    const keptBefore = before.filter((r) => r.app_id === app.id && r.created_at >= cutoff);
    expect(moved.prunedThroughSeq).toBe(keptBefore.at(-1)!.seq);
    expect(moved.hash).toBe(keptBefore.at(-1)!.hash);
    expect(moved.prunedCount).toBe(appAnchor.prunedCount + keptBefore.length);
    expect(await ctx.deps.audit.verify()).toMatchObject({ ok: true });
  });

  test("a chain pruned to nothing continues from its anchor: new rows still verify", async () => {
    const { ctx, app } = await agedLog();
    ctx.clock.advance(365 * DAY);
    await ctx.deps.auditRetention.prune();
    expect(await auditRows(ctx, { app_id: app.id })).toEqual([]);
    await rename(ctx, app, "After the cut");
    const [row] = await auditRows(ctx, { app_id: app.id });
    expect(row?.prev_hash).toBe((await anchors(ctx)).get(app.id)!.hash);
    expect(await ctx.deps.audit.verify()).toMatchObject({ ok: true });
  });

  test("small batches give the same result as one, in several transactions", async () => {
    const { ctx, before, cutoff } = await agedLog();
    const old = before.filter((r) => r.created_at < cutoff);
    const retention = createAuditRetention({
      db: ctx.deps.db,
      clock: ctx.clock,
      retentionDays: 90,
      batchSize: 2,
    });
    const result = await retention.prune();
    expect(result.pruned).toBe(old.length);
    expect(result.batches).toBe(Math.ceil(old.length / 2));
    expect((await auditRows(ctx)).length).toBe(before.length - old.length);
    const cut = await anchors(ctx);
    for (const chain of new Set(old.map((r) => r.chain)))
      expect(cut.get(chain)?.prunedCount).toBe(old.filter((r) => r.chain === chain).length);
    expect(await ctx.deps.audit.verify()).toMatchObject({ ok: true, pruned: old.length });
  });

  test("pruning stops at the first young row: an older row behind it (clock stepped back) waits", async () => {
    const { ctx, app, cutoff } = await agedLog();
    // Written now, but stamped before the cutoff, as after a clock step back.
    ctx.clock.advance(-200 * DAY);
    await rename(ctx, app, "Back in time");
    ctx.clock.advance(200 * DAY);
    await ctx.deps.auditRetention.prune();
    const kept = await auditRows(ctx);
    expect(kept.some((r) => r.created_at < cutoff)).toBe(true);
    expect(await ctx.deps.audit.verify()).toMatchObject({ ok: true });
  });
});

describe("verify after pruning still catches tampering", () => {
  async function pruned() {
    const aged = await agedLog();
    await aged.ctx.deps.auditRetention.prune();
    const kept = await auditRows(aged.ctx, { app_id: aged.app.id });
    expect(kept.length).toBe(2);
    return { ...aged, kept };
  }

  test("an altered kept row", async () => {
    const { ctx, app, kept } = await pruned();
    const { auditLog } = ctx.deps.db.tables;
    await ctx.deps.db.update(auditLog).set({ action: "tampered" }).where(eq(auditLog.seq, kept[1]!.seq));
    expect(await ctx.deps.audit.verify()).toEqual({
      ok: false,
      chain: app.id,
      seq: kept[1]!.seq,
      reason: "hash mismatch",
    });
  });

  test("a deleted first kept row", async () => {
    const { ctx, app, kept } = await pruned();
    const { auditLog } = ctx.deps.db.tables;
    await ctx.deps.db.delete(auditLog).where(eq(auditLog.seq, kept[0]!.seq));
    expect(await ctx.deps.audit.verify()).toEqual({
      ok: false,
      chain: app.id,
      seq: kept[1]!.seq,
      reason: "prev_hash does not continue from the chain's start",
    });
  });

  test("a forged anchor hash, a deleted anchor, an anchor claiming rows that are still there", async () => {
    const { ctx, app, kept } = await pruned();
    const anchor = (await anchors(ctx)).get(app.id)!;
    const { auditAnchors } = ctx.deps.db.tables;
    const where = eq(auditAnchors.chain, app.id);

    await ctx.deps.db
      .update(auditAnchors)
      .set({ hash: "f".repeat(64) })
      .where(where);
    expect(await ctx.deps.audit.verify()).toMatchObject({ ok: false, chain: app.id, seq: kept[0]!.seq });

    await ctx.deps.db.delete(auditAnchors).where(where);
    expect(await ctx.deps.audit.verify()).toMatchObject({ ok: false, chain: app.id, seq: kept[0]!.seq });

    await ctx.deps.db.insert(auditAnchors).values({ ...anchor, prunedThroughSeq: kept[0]!.seq });
    expect(await ctx.deps.audit.verify()).toEqual({
      ok: false,
      chain: app.id,
      seq: kept[0]!.seq,
      reason: "row at or before the retention anchor",
    });

    await ctx.deps.db.update(auditAnchors).set({ prunedThroughSeq: anchor.prunedThroughSeq }).where(where);
    expect(await ctx.deps.audit.verify()).toMatchObject({ ok: true });
  });
});

describe("audit_retention_days = 0 keeps everything", () => {
  test("nothing is pruned however old, and no anchor is written", async () => {
    const { ctx, before } = await agedLog({ HEIMDALL_AUDIT_RETENTION_DAYS: "0" });
    ctx.clock.advance(3650 * DAY);
    await ctx.deps.scheduler.runOnce("audit.retention");
    expect(await ctx.deps.auditRetention.prune()).toEqual({ pruned: 0, chains: 0, batches: 0 });
    expect((await auditRows(ctx)).map((r) => r.id)).toEqual(before.map((r) => r.id));
    expect((await anchors(ctx)).size).toBe(0);
    expect(await ctx.deps.audit.verify()).toMatchObject({ ok: true, pruned: 0 });
  });

  test("a shorter retention cuts more: 30 days prunes the day-60 rows too", async () => {
    const { ctx, app } = await agedLog({ HEIMDALL_AUDIT_RETENTION_DAYS: "30" });
    await ctx.deps.auditRetention.prune();
    expect(await auditRows(ctx, { app_id: app.id })).toEqual([]);
    expect(await ctx.deps.audit.verify()).toMatchObject({ ok: true });
  });
});
