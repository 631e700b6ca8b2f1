/** @module Online database backups (`VACUUM INTO` a temp file, integrity-checked, renamed into place), the checks a restore runs on a backup before it replaces anything, and pruning of scheduled backups. */
import { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { drizzle } from "drizzle-orm/bun-sqlite";
import type { Clock } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import { type Db, sqliteDb, unreadable } from "../db/client.ts";
import { JOURNAL } from "../db/migrations.ts";
import * as schema from "../db/schema.ts";
import { type MasterKeys, VaultError } from "../vault/master-key.ts";
import { createVault } from "../vault/vault.ts";

/** `heimdall-20261205T125500Z.db`: sorts by time as text, so pruning needs no clock and no stat. */
const NAME = /^heimdall-(\d{8}T\d{6})Z\.db$/;

export function backupFileName(ms: number): string {
  const stamp = new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  return `heimdall-${stamp}.db`;
}

/** The time a backup's name says it was taken, or null for a file that is not one of ours. */
export function backupTime(file: string): number | null {
  const m = NAME.exec(basename(file));
  if (!m) return null;
  const s = m[1]!;
  return Date.UTC(
    +s.slice(0, 4),
    +s.slice(4, 6) - 1,
    +s.slice(6, 8),
    +s.slice(9, 11),
    +s.slice(11, 13),
    +s.slice(13, 15),
  );
}

export interface BackupResult {
  readonly file: string;
  readonly bytes: number;
  /** The master key ids the backup's sealed secrets are wrapped by: a restore needs a key file holding them. */
  readonly keyIds: readonly string[];
}

/**
 * Writes a consistent copy of the open database to `target`. `VACUUM INTO` reads inside one read
 * transaction, so the copy is a snapshot of committed data however many writers run meanwhile (WAL
 * readers never block them, nor they it); a plain file copy of a live WAL database is not (it misses
 * what sits in the `-wal`). The copy goes to a temp name beside `target`, is checked with
 * `PRAGMA integrity_check`, fsynced, and only then renamed, so `target` is either absent or whole.
 */
export async function writeBackup(client: Database, target: string): Promise<BackupResult> {
  if (existsSync(target))
    throw fail("BACKUP_FAILED", { message: `${target} already exists; not overwriting it` });
  const tmp = join(dirname(target), `.${basename(target)}.partial-${randomBytes(4).toString("hex")}`);
  try {
    try {
      client.query("VACUUM INTO ?").run(tmp);
    } catch (err) {
      throw fail("BACKUP_FAILED", { message: `cannot write ${tmp}: ${(err as Error).message}` });
    }
    // The copy holds password hashes and sealed secrets: private like the database itself.
    chmodSync(tmp, 0o600);
    const problem = backupProblem(tmp);
    if (problem) throw fail("BACKUP_FAILED", { message: `the copy ${problem}; nothing was kept` });
    const keyIds = await withBackupDb(tmp, kekIds);
    syncFile(tmp);
    renameSync(tmp, target);
    syncFile(dirname(target));
    return { file: target, bytes: statSync(target).size, keyIds };
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * What is wrong with a backup file, in words, or null when it is sound: a SQLite database that passes
 * the full `PRAGMA integrity_check` and is Heimdall's (it has the migrations table). Read-only: a
 * backup is never changed by being checked.
 */
export function backupProblem(file: string): string | null {
  if (!existsSync(file)) return "does not exist";
  if (!statSync(file).isFile()) return "is not a regular file";
  let db: Database | undefined;
  try {
    db = new Database(file, { readonly: true });
    const rows = db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
    if (rows.length !== 1 || rows[0]!.integrity_check !== "ok")
      return `fails the integrity check (${rows
        .slice(0, 3)
        .map((r) => r.integrity_check)
        .join("; ")})`;
    const table = db
      .query<{ n: number }, []>(
        "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name = '__drizzle_migrations'",
      )
      .get()!.n;
    if (table === 0) return "is a SQLite database but not a Heimdall one (it has no migrations table)";
    return null;
  } catch (err) {
    return unreadable(err);
  } finally {
    db?.close();
  }
}

/**
 * Proves `keys` open every sealed secret in the backup, before a restore replaces anything. A secret
 * wrapped by a key id the file does not hold is named by that id: the operator then knows which key
 * file to fetch from where the backup came from.
 */
export async function verifyBackupSecrets(
  file: string,
  keys: MasterKeys,
  clock: Clock,
  keyFile: string,
): Promise<void> {
  await withBackupDb(file, async (db) => {
    const missing = kekIds(db).filter((id) => !keys.all.has(id));
    if (missing.length > 0)
      throw new VaultError(
        `the backup's secrets are sealed under master key ${missing.join(", ")}, which ${keyFile} does not hold; ` +
          `restore with the key file that was current when the backup was taken (or a later one that still holds ${missing.length > 1 ? "those lines" : "that line"})`,
      );
    await createVault({ db, keys, clock }).verifyAll();
  });
}

/**
 * Whether the backup has a migration later than the last one this binary embeds: it was taken by a
 * newer Heimdall, whose schema this one would run against blind. Restoring it is refused.
 */
export async function backupIsNewer(file: string): Promise<boolean> {
  const newest = Math.max(...JOURNAL.entries.map((e) => e.when));
  return await withBackupDb(file, (db) => {
    const at = db.$client
      .query<{ at: number | null }, []>("SELECT max(created_at) AS at FROM __drizzle_migrations")
      .get()?.at;
    return at != null && at > newest;
  });
}

function kekIds(db: Db): string[] {
  return db.$client
    .query<{ kek_id: string }, []>("SELECT DISTINCT kek_id FROM vault_secrets ORDER BY kek_id")
    .all()
    .map((r) => r.kek_id);
}

/** A read-only drizzle handle on a backup file, closed when `fn` returns. */
async function withBackupDb<T>(file: string, fn: (db: Db) => T | Promise<T>): Promise<T> {
  const client = new Database(file, { readonly: true, strict: true });
  try {
    return await fn(sqliteDb(drizzle({ client, schema })));
  } finally {
    client.close();
  }
}

/** The backups `pruneBackups` manages in `dir`, newest first. Files of any other name are never touched. */
export function listBackups(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    // Missing or not a directory: no backups yet (the job reports its own write failure).
    return [];
  }
  return names
    .filter((n) => NAME.test(n))
    .sort()
    .reverse()
    .map((n) => join(dir, n));
}

/** Deletes all but the newest `keep` backups in `dir`; returns the files removed. */
export function pruneBackups(dir: string, keep: number): string[] {
  const doomed = listBackups(dir).slice(Math.max(keep, 1));
  for (const f of doomed) rmSync(f, { force: true });
  return doomed;
}

function syncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
