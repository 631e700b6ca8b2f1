import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { memoryLogger } from "../../src/core/logger.ts";
import { createChangeFeed } from "../../src/db/changes.ts";
import type { Db } from "../../src/db/client.ts";
import { openDatabase, tx } from "../../src/db/client.ts";
import { createLease } from "../../src/db/lease.ts";
import { exec } from "../../src/db/query.ts";
import { twoInstances } from "../support/postgres.ts";

let a: Db;
let b: Db;
let closeInstances: () => Promise<void>;

beforeAll(async () => {
  ({ a, b, close: closeInstances } = await twoInstances(3));
});

afterAll(async () => {
  await closeInstances();
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
  test("a committed write to a cached table reaches every listening instance; a rolled-back one never does", async () => {
    const feedA = createChangeFeed({ db: a, log: memoryLogger("warn") });
    const feedB = createChangeFeed({ db: b, log: memoryLogger("warn") });
    const gotA: string[] = [];
    const gotB: string[] = [];
    feedA.onChange((t) => gotA.push(t));
    feedB.onChange((t) => gotB.push(t));
    await feedA.start();
    await feedB.start();
    try {
      await tx(a, async () => {
        await exec(
          a,
          sql`INSERT INTO workspaces (id, slug, display_name, created_by, created_at, updated_at) VALUES ('w1', 'w1', 'w', 't', 0, 0)`,
        );
        await exec(
          a,
          sql`INSERT INTO apps (id, workspace_id, slug, display_name, created_by, created_at, updated_at) VALUES ('a1', 'w1', 'one', 'a', 't', 0, 0)`,
        );
        // Not before the commit.
        await Bun.sleep(50);
        expect(gotB).toEqual([]);
      });
      await eventually(() => gotA.length === 1 && gotB.length === 1);
      expect(gotB).toEqual(["apps"]);
      await tx(a, async () => {
        await exec(a, sql`UPDATE apps SET display_name = 'b' WHERE id = 'a1'`);
        throw new Error("roll back");
      }).catch(() => {});
      await exec(b, sql`UPDATE apps SET display_name = 'c' WHERE id = 'a1'`);
      await eventually(() => gotA.length === 2 && gotB.length === 2);
      expect(gotA).toEqual(["apps", "apps"]);
      // A table no instance caches says nothing.
      await exec(a, sql`UPDATE workspaces SET display_name = 'x' WHERE id = 'w1'`);
      await Bun.sleep(100);
      expect(gotB).toHaveLength(2);
      // Every change was seen: nothing left for the fallback check.
      expect(await feedB.check()).toBe(0);
    } finally {
      await feedA.stop();
      await feedB.stop();
    }
  });

  test("a notification missed while not listening is caught by the periodic check", async () => {
    const feedB = createChangeFeed({ db: b, log: memoryLogger("warn") });
    const gotB: string[] = [];
    feedB.onChange((t) => gotB.push(t));
    await feedB.start();
    await feedB.stop();
    await exec(a, sql`UPDATE apps SET display_name = 'd' WHERE id = 'a1'`);
    await Bun.sleep(50);
    expect(gotB).toEqual([]);
    expect(await feedB.check()).toBe(1);
    expect(gotB).toEqual(["apps"]);
    expect(await feedB.check()).toBe(0);
  });
});
