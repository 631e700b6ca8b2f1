/** @module Scheduled backups by the server: the `backup` job writes a checked copy when one is due, prunes beyond `backup_keep`, and /metrics shows the last success and the failures. */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backupFileName } from "../../src/backup/backup.ts";
import { ConfigError, loadConfig } from "../../src/config/index.ts";
import { HOUR } from "../../src/core/clock.ts";
import { createTestContext, type TestContext } from "../support/harness.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function backupDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "heimdall-backups-"));
  dirs.push(dir);
  return join(dir, "backups");
}

const metric = async (ctx: TestContext, name: string): Promise<number | null> => {
  const text = (await ctx.call("GET", "/metrics", { auth: null, unchecked: true })).text;
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`));
  return line === undefined ? null : Number(line.split(" ").pop());
};

const files = (dir: string) => readdirSync(dir).sort();

// Scheduled backups copy the SQLite file (VACUUM INTO); a PostgreSQL store has none and skips them (last test).
const onPostgres = process.env.HEIMDALL_TEST_DB === "postgres";
const sqliteOnly = test.skipIf(onPostgres);

describe("scheduled backups", () => {
  sqliteOnly(
    "writes a checked backup when due, skips when not, prunes beyond backup_keep and reports the last success",
    async () => {
      const dir = backupDir();
      const ctx = await createTestContext({ HEIMDALL_BACKUP_DIR: dir, HEIMDALL_BACKUP_KEEP: "3" });
      expect(await metric(ctx, "heimdall_backup_last_success_timestamp_seconds")).toBe(0);

      const first = ctx.clock.now();
      await ctx.deps.scheduler.runOnce("backup");
      expect(files(dir)).toEqual([backupFileName(first)]);
      const copy = new Database(join(dir, backupFileName(first)), { readonly: true });
      try {
        expect(copy.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
        // A copy of this server's database: the bootstrap workspace is in it.
        expect(copy.query<{ id: string }, []>("SELECT id FROM workspaces").all()).toEqual([
          { id: ctx.workspaceId },
        ]);
      } finally {
        copy.close();
      }
      expect(await metric(ctx, "heimdall_backup_last_success_timestamp_seconds")).toBe(
        Math.floor(first / 1000),
      );

      // Within the interval (24 h by default) nothing is written, however often the job runs.
      ctx.clock.advance(23 * HOUR);
      await ctx.deps.scheduler.runOnce("backup");
      expect(files(dir)).toHaveLength(1);

      // A file of another name in the dir is the operator's: never pruned.
      writeFileSync(join(dir, "keep-me.db"), "mine");
      const times: number[] = [first];
      for (let i = 0; i < 4; i++) {
        ctx.clock.advance(24 * HOUR);
        times.push(ctx.clock.now());
        await ctx.deps.scheduler.runOnce("backup");
      }
      expect(files(dir)).toEqual([...times.slice(-3).map(backupFileName), "keep-me.db"].sort());
      expect(await metric(ctx, "heimdall_backup_last_success_timestamp_seconds")).toBe(
        Math.floor(times.at(-1)! / 1000),
      );
      expect(await metric(ctx, "heimdall_backup_failures")).toBe(0);
    },
  );

  sqliteOnly(
    "a backup that cannot be written counts as a failure and is logged; the last success stays",
    async () => {
      const dir = backupDir();
      // The backup dir's path is taken by a file: nothing can be written there.
      writeFileSync(dir, "in the way");
      const ctx = await createTestContext({ HEIMDALL_BACKUP_DIR: dir });
      await ctx.deps.scheduler.runOnce("backup");
      expect(await metric(ctx, "heimdall_backup_failures")).toBe(1);
      expect(await metric(ctx, "heimdall_backup_last_success_timestamp_seconds")).toBe(0);
      expect(ctx.log.lines.some((l) => l.includes("backup failed"))).toBe(true);
    },
  );

  test("off unless backup_dir is set: no job, no metrics", async () => {
    const ctx = await createTestContext();
    expect(ctx.deps.backups).toBeNull();
    await expect(ctx.deps.scheduler.runOnce("backup")).rejects.toThrow("unknown job backup");
    expect(await metric(ctx, "heimdall_backup_last_success_timestamp_seconds")).toBeNull();
  });

  test.skipIf(!onPostgres)(
    "on PostgreSQL backup_dir is ignored with a warning: no job, no metrics",
    async () => {
      const ctx = await createTestContext({ HEIMDALL_BACKUP_DIR: backupDir() });
      expect(ctx.deps.backups).toBeNull();
      expect(ctx.log.lines.some((l) => l.includes("backup_dir ignored"))).toBe(true);
      expect(await metric(ctx, "heimdall_backup_last_success_timestamp_seconds")).toBeNull();
    },
  );

  test("backup_interval_hours and backup_keep default to 24 and 7 and refuse values below 1", () => {
    const c = loadConfig({ "backup-dir": "/var/backups/heimdall" }, {});
    expect([c.backupDir, c.backupIntervalHours, c.backupKeep]).toEqual(["/var/backups/heimdall", 24, 7]);
    expect(loadConfig({}, {}).backupDir).toBeUndefined();
    expect(() => loadConfig({}, { HEIMDALL_BACKUP_KEEP: "0" })).toThrow(ConfigError);
    expect(() => loadConfig({}, { HEIMDALL_BACKUP_KEEP: "0" })).toThrow(
      "HEIMDALL_BACKUP_KEEP (env): expected a whole number of backups to keep, 1–10000",
    );
    expect(() => loadConfig({}, { HEIMDALL_BACKUP_INTERVAL_HOURS: "daily" })).toThrow(
      "HEIMDALL_BACKUP_INTERVAL_HOURS (env): expected a whole number of hours 1–8760",
    );
  });
});
