/**
 * @module The audit hash chain with several writers on one PostgreSQL database (two pools, as two instances
 * have): appends to one app's chain at the same time stay one chain, and rows hash the same after jsonb has
 * reordered their details.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { type AuditEntry, type AuditWriter, createAuditWriter } from "../../src/audit/writer.ts";
import { FakeClock } from "../../src/core/clock.ts";
import { type Db, tx } from "../../src/db/client.ts";
import { rows } from "../../src/db/query.ts";
import { twoInstances } from "../support/postgres.ts";

let a: Db;
let b: Db;
let closeInstances: () => Promise<void>;
let writerA: AuditWriter;
let writerB: AuditWriter;

beforeAll(async () => {
  ({ a, b, close: closeInstances } = await twoInstances(4));
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 12));
  writerA = createAuditWriter({ db: a, clock });
  writerB = createAuditWriter({ db: b, clock });
});

afterAll(async () => {
  await closeInstances();
});

const entry = (appId: string, action: string, n: number): AuditEntry => ({
  appId,
  action,
  actor: { type: "system", id: null },
  // Keys out of order and nested: jsonb hands them back in its own order.
  details: { zeta: n, alpha: { yy: [3, { q: 1, b: 2 }], aa: "x" }, longer_key: null, b: true },
});

test("two writers appending to one app's chain at once leave one intact chain", async () => {
  const N = 40;
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    // Each in its own transaction, as requests do, and some in group-committed batches.
    writes.push(tx(a, () => writerA.record(entry("app-1", "a.tx", i))));
    writes.push(tx(b, () => writerB.record(entry("app-1", "b.tx", i))));
    writes.push(writerA.recordDurably({ entry: entry("app-1", "a.durable", i) }));
    writes.push(writerB.recordDurably({ entry: entry("app-1", "b.durable", i) }));
    // A second chain in the same transactions' company.
    writes.push(tx(b, () => writerB.record(entry("app-2", "b.other", i))));
  }
  await Promise.all(writes);

  for (const w of [writerA, writerB]) {
    expect(await w.verify("app-1")).toEqual({ ok: true, rows: 4 * N, chains: 1, pruned: 0 });
    expect(await w.verify()).toEqual({ ok: true, rows: 5 * N, chains: 2, pruned: 0 });
  }
  // One chain: every row's predecessor is a distinct row (no fork).
  const forks = await rows<{ n: number }>(
    a,
    sql`SELECT CAST(count(*) AS INTEGER) AS "n" FROM (SELECT prev_hash FROM audit_log WHERE chain = 'app-1'
        GROUP BY prev_hash HAVING count(*) > 1) AS f`,
  );
  expect(forks[0]!.n).toBe(0);
});

test("a row recorded outside a transaction still takes its place in the chain", async () => {
  await Promise.all([
    writerA.record(entry("app-3", "alone", 1)),
    writerB.record(entry("app-3", "alone", 2)),
    writerA.record(entry("app-3", "alone", 3)),
  ]);
  expect(await writerB.verify("app-3")).toEqual({ ok: true, rows: 3, chains: 1, pruned: 0 });
});
