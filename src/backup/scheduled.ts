/** @module Scheduled backups by the server (`backup_dir`, `backup_interval_hours`, `backup_keep`): write one when due, check it, prune beyond `keep`, and keep the figures /metrics shows. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { Db } from "../db/client.ts";
import { backupFileName, backupTime, listBackups, pruneBackups, writeBackup } from "./backup.ts";

export interface BackupSchedule {
  readonly dir: string;
  readonly intervalMs: number;
  readonly keep: number;
}

export type BackupRun =
  | { readonly skipped: "not due"; readonly nextAt: number }
  | { readonly file: string; readonly bytes: number; readonly pruned: number };

export interface BackupJob {
  /** Writes a backup when the newest one in the dir is older than the interval (or there is none). */
  run(): Promise<BackupRun>;
  /** Unix seconds of the newest good backup in the dir (0 when there is none): the staleness alarm's input. */
  lastSuccessSeconds(): number;
  /** Runs that failed since the process started. */
  failures(): number;
}

/**
 * Due-ness is read from the newest backup's name, not kept in memory, so a server that restarts often
 * still backs up once per interval (rather than at every start, which would also prune the older,
 * spaced-out backups away) and one that was down past its time catches up at once.
 */
export function createBackupJob(deps: {
  db: Db;
  clock: Clock;
  log: Logger;
  schedule: BackupSchedule;
}): BackupJob {
  const { db, clock, log, schedule } = deps;
  let failures = 0;
  let lastSuccess: number | null = null;

  const newestOnDisk = (): number | null => {
    const newest = listBackups(schedule.dir)[0];
    return newest ? backupTime(newest) : null;
  };

  return {
    async run() {
      const last = newestOnDisk();
      const now = clock.now();
      if (last !== null && now - last < schedule.intervalMs) {
        lastSuccess ??= last;
        return { skipped: "not due", nextAt: last + schedule.intervalMs };
      }
      try {
        mkdirSync(schedule.dir, { recursive: true, mode: 0o700 });
        const result = await writeBackup(db.$client, join(schedule.dir, backupFileName(now)));
        lastSuccess = now;
        const pruned = pruneBackups(schedule.dir, schedule.keep);
        log.info("backup written", {
          file: result.file,
          bytes: result.bytes,
          key_ids: result.keyIds,
          pruned: pruned.length,
        });
        return { file: result.file, bytes: result.bytes, pruned: pruned.length };
      } catch (err) {
        failures++;
        log.error("backup failed", { dir: schedule.dir, err });
        throw err;
      }
    },

    lastSuccessSeconds() {
      const ms = lastSuccess ?? newestOnDisk();
      return ms === null ? 0 : Math.floor(ms / 1000);
    },

    failures: () => failures,
  };
}
