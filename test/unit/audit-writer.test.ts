/** @module The audit writer's group commit (`recordDurably`): one transaction per turn of the loop, side writes once per key. */
import { expect, test } from "bun:test";
import { type AuditEntry, createAuditWriter } from "../../src/audit/writer.ts";
import { FakeClock } from "../../src/core/clock.ts";
import { migrate, openDatabase } from "../../src/db/client.ts";

function setup() {
  const db = openDatabase(":memory:");
  migrate(db);
  const clock = new FakeClock(1_000_000);
  const audit = createAuditWriter({ db, clock });
  const rows = () =>
    db.$client
      .query<{ action: string }, []>("SELECT action FROM audit_log ORDER BY seq")
      .all()
      .map((r) => r.action);
  return { db, clock, audit, rows };
}

const entry = (action: string): AuditEntry => ({
  appId: "app-1",
  action,
  actor: { type: "system", id: null },
});

test("rows recorded in one turn commit together, in order, and each caller resolves after the commit", async () => {
  const { audit, rows } = setup();
  const waits = ["a", "b", "c"].map((a) => audit.recordDurably({ entry: entry(a) }));
  // Nothing is written before the turn ends: the batch is one transaction.
  expect(rows()).toEqual([]);
  await Promise.all(waits);
  expect(rows()).toEqual(["a", "b", "c"]);
  expect(await audit.verify()).toMatchObject({ ok: true, rows: 3 });
});

test("a side write runs once per key per batch, inside the batch, at the batch's time", async () => {
  const { audit, clock } = setup();
  const calls: [string, number][] = [];
  const side = (key: string) => ({ key, write: async (now: number) => void calls.push([key, now]) });
  await Promise.all([
    audit.recordDurably({ entry: entry("t1"), alongside: side("client-1") }),
    audit.recordDurably({ entry: entry("t2"), alongside: side("client-1") }),
    audit.recordDurably({ entry: entry("t3"), alongside: side("client-2") }),
  ]);
  expect(calls).toEqual([
    ["client-1", clock.now()],
    ["client-2", clock.now()],
  ]);
  // The next batch runs it again.
  await audit.recordDurably({ entry: entry("t4"), alongside: side("client-1") });
  expect(calls).toHaveLength(3);
});

test("a failing batch rolls back every row of it and rejects every caller; the next batch commits", async () => {
  const { audit, rows } = setup();
  const boom = {
    key: "k",
    write: () => {
      throw new Error("disk full");
    },
  };
  const results = await Promise.allSettled([
    audit.recordDurably({ entry: entry("x") }),
    audit.recordDurably({ entry: entry("y"), alongside: boom }),
  ]);
  expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  expect(rows()).toEqual([]);
  await audit.recordDurably({ entry: entry("z") });
  expect(rows()).toEqual(["z"]);
});

test("a batch over several chains links each row to the one before it in its chain, as rows recorded one by one do", async () => {
  const { db, audit } = setup();
  // A row recorded on its own first, so the batch's first row of that chain reads its head from the database.
  await audit.record(entry("before"));
  const other = (action: string): AuditEntry => ({ ...entry(action), appId: "app-2" });
  await Promise.all(
    ["t1", "t2", "t3", "t4"].map((a, i) => audit.recordDurably({ entry: i % 2 ? other(a) : entry(a) })),
  );
  await audit.record(entry("after"));
  const chain = (appId: string) =>
    db.$client
      .query<{ action: string; prev_hash: string; hash: string }, [string]>(
        "SELECT action, prev_hash, hash FROM audit_log WHERE chain = ?1 ORDER BY seq",
      )
      .all(appId);
  for (const [appId, actions] of [
    ["app-1", ["before", "t1", "t3", "after"]],
    ["app-2", ["t2", "t4"]],
  ] as const) {
    const rows = chain(appId);
    expect(rows.map((r) => r.action)).toEqual([...actions]);
    rows.forEach((r, i) => {
      expect(r.prev_hash).toBe(i === 0 ? "0".repeat(64) : rows[i - 1]!.hash);
    });
  }
  expect(await audit.verify()).toMatchObject({ ok: true, rows: 6, chains: 2 });
});
