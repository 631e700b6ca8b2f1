import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { memoryLogger } from "../../src/core/logger.ts";
import { createChangeFeed } from "../../src/db/changes.ts";
import type { Db } from "../../src/db/client.ts";
import { openDatabase, tx } from "../../src/db/client.ts";
import { createLease } from "../../src/db/lease.ts";
import { closePostgres, migratePostgres, openPostgresDatabase } from "../../src/db/postgres.ts";
import { freshPostgresDatabase } from "../support/postgres.ts";

let a: Db;
let b: Db;

beforeAll(async () => {
  const url = await freshPostgresDatabase();
  a = openPostgresDatabase(url, { max: 3 });
  b = openPostgresDatabase(url, { max: 3 });
  await migratePostgres(a);
});

afterAll(async () => {
  await closePostgres(a);
  await closePostgres(b);
});

/** Waits until `check` holds (polling), or fails after `ms`. */
async function eventually(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
}

describe("lease (PostgreSQL)", () => {
  test("one holder at a time; renewal keeps it; an expired lease is taken over with a higher fencing token", async () => {
    const one = createLease(a, { name: "test-expiry", ttlMs: 300, holder: "one" });
    const two = createLease(b, { name: "test-expiry", ttlMs: 300, holder: "two" });
    expect(await one.tick()).toBe(true);
    expect(one.fencing()).toBe(1);
    expect(await two.tick()).toBe(false);
    expect(two.isLeader()).toBe(false);
    expect(await one.tick()).toBe(true);
    expect(one.fencing()).toBe(1);
    // `one` stops renewing (a crashed leader): after the TTL, `two` takes over.
    await eventually(() => !one.isLeader());
    const end = Date.now() + 3000;
    while (!(await two.tick())) {
      if (Date.now() > end) throw new Error("the expired lease was not taken over");
      await Bun.sleep(20);
    }
    expect(two.fencing()).toBe(2);
    expect(await one.tick()).toBe(false);
  });

  test("release hands the lease over at once", async () => {
    const one = createLease(a, { name: "test-release", ttlMs: 60_000, holder: "one" });
    const two = createLease(b, { name: "test-release", ttlMs: 60_000, holder: "two" });
    expect(await one.tick()).toBe(true);
    expect(await two.tick()).toBe(false);
    await one.release();
    expect(one.isLeader()).toBe(false);
    expect(await two.tick()).toBe(true);
    expect(two.fencing()).toBe(2);
  });

  test("on SQLite the one process always leads", async () => {
    const lease = createLease(openDatabase(":memory:"), { name: "x", ttlMs: 1000 });
    expect(await lease.tick()).toBe(true);
    expect(lease.isLeader()).toBe(true);
  });
});

describe("change feed (PostgreSQL)", () => {
  test("a change announced in a transaction reaches the other instance at commit, never the publisher", async () => {
    const feedA = createChangeFeed({ db: a, log: memoryLogger("warn") });
    const feedB = createChangeFeed({ db: b, log: memoryLogger("warn") });
    const gotA: string[] = [];
    const gotB: string[] = [];
    feedA.onChange((s) => gotA.push(s));
    feedB.onChange((s) => gotB.push(s));
    await feedA.start();
    await feedB.start();
    try {
      await tx(a, async () => {
        await feedA.publish("app:1");
        // Not before the commit.
        await Bun.sleep(50);
        expect(gotB).toEqual([]);
      });
      await eventually(() => gotB.length === 1);
      expect(gotB).toEqual(["app:1"]);
      // A rolled-back change is never announced.
      await tx(a, async () => {
        await feedA.publish("app:2");
        throw new Error("roll back");
      }).catch(() => {});
      await tx(a, async () => feedA.publish("apps"));
      await eventually(() => gotB.length === 2);
      expect(gotB).toEqual(["app:1", "apps"]);
      expect(gotA).toEqual([]);
      // Nothing left for the fallback check: every change was seen.
      expect(await feedB.check()).toBe(0);
    } finally {
      await feedA.stop();
      await feedB.stop();
    }
  });

  test("a notification missed while not listening is caught by the periodic check", async () => {
    const feedA = createChangeFeed({ db: a, log: memoryLogger("warn") });
    const feedB = createChangeFeed({ db: b, log: memoryLogger("warn") });
    const gotB: string[] = [];
    feedB.onChange((s) => gotB.push(s));
    await feedB.start();
    await feedB.stop();
    await tx(a, async () => feedA.publish("app:missed"));
    await Bun.sleep(50);
    expect(gotB).toEqual([]);
    expect(await feedB.check()).toBe(1);
    expect(gotB).toEqual(["app:missed"]);
    expect(await feedB.check()).toBe(0);
  });
});
