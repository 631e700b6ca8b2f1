/** @module The checks of `heimdall doctor` (docs/operations.md, "heimdall doctor"): each looks at one thing, read-only, and returns findings with a fix. Here: the finding shape, the files, the database and the clock; keys, email and host in `doctor-keys.ts`, `doctor-email.ts`, `doctor-host.ts`. */

import { existsSync, statSync } from "node:fs";
import { sql } from "drizzle-orm";
import type { Config } from "../config/index.ts";
import { type Clock, iso, MINUTE } from "../core/clock.ts";
import { type Db, databaseFileProblem } from "../db/client.ts";
import { JOURNAL, POSTGRES_JOURNAL } from "../db/migrations.ts";
import { pgReachable, redactDatabaseUrl } from "../db/pg-connect.ts";
import { postgresOf } from "../db/postgres.ts";
import { rows } from "../db/query.ts";

export type Status = "ok" | "warn" | "fail";

/** One line of the report: `<status>  <check>: <finding> — <fix>`; `fix` is empty when there is nothing to do. */
export interface Finding {
  status: Status;
  check: string;
  finding: string;
  fix: string;
}

export const ok = (check: string, finding: string): Finding => ({ status: "ok", check, finding, fix: "" });
export const warn = (check: string, finding: string, fix: string): Finding => ({
  status: "warn",
  check,
  finding,
  fix,
});
export const fail = (check: string, finding: string, fix: string): Finding => ({
  status: "fail",
  check,
  finding,
  fix,
});

const mode = (m: number) => (m & 0o777).toString(8).padStart(3, "0");

// ─── Files ─────────────────────────────────────────────────────────────────

/**
 * The data dir and the master key file. The key must be private to its owner (the server refuses
 * anything else at start-up); a data dir others can enter exposes the database beside it, so it is a
 * warning, and one owned by somebody else usually means the server runs as another user than intended.
 */
export function checkFiles(
  config: Pick<Config, "dataDir" | "masterKeyFile" | "dbFile">,
  uid: number | null,
): Finding[] {
  const out: Finding[] = [];
  const { dataDir, masterKeyFile: key, dbFile } = config;
  if (!existsSync(dataDir)) {
    out.push(
      fail(
        "data dir",
        `${dataDir} does not exist`,
        "run `heimdall init`, or point --data-dir at the data dir",
      ),
    );
  } else {
    const st = statSync(dataDir);
    if (!st.isDirectory()) {
      out.push(fail("data dir", `${dataDir} is not a directory`, "point --data-dir at the data dir"));
    } else if (uid !== null && st.uid !== uid) {
      out.push(
        warn(
          "data dir",
          `${dataDir} is owned by uid ${st.uid}, not by this user (uid ${uid})`,
          `run doctor as the user the server runs as, or chown -R that user ${dataDir}`,
        ),
      );
    } else if ((st.mode & 0o077) !== 0) {
      out.push(
        warn(
          "data dir",
          `${dataDir} has mode ${mode(st.mode)}: other users can enter it`,
          `chmod 700 ${dataDir}`,
        ),
      );
    } else {
      out.push(ok("data dir", `${dataDir} (mode ${mode(st.mode)})`));
    }
  }
  if (!existsSync(key)) {
    out.push(
      fail(
        "master key file",
        `${key} does not exist`,
        existsSync(dbFile)
          ? "restore it from your backup (a new key cannot open the existing secrets), or point --master-key-file at it"
          : "run `heimdall init`",
      ),
    );
  } else {
    const st = statSync(key);
    if (!st.isFile()) {
      out.push(
        fail("master key file", `${key} is not a regular file`, "point --master-key-file at the key file"),
      );
    } else if ((st.mode & 0o077) !== 0) {
      out.push(
        fail(
          "master key file",
          `${key} has mode ${mode(st.mode)}: readable or writable by group or others (the server refuses to start)`,
          `chmod 600 ${key}, and treat the key as exposed if others could read it`,
        ),
      );
    } else if (uid !== null && st.uid !== uid) {
      out.push(
        warn(
          "master key file",
          `${key} is owned by uid ${st.uid}, not by this user (uid ${uid})`,
          `chown the file to the user the server runs as`,
        ),
      );
    } else {
      out.push(ok("master key file", `${key} (mode ${mode(st.mode)})`));
    }
  }
  return out;
}

// ─── Database ──────────────────────────────────────────────────────────────

/** The file itself: header, schema and `PRAGMA quick_check`, through a read-only connection. */
export function checkDatabaseFile(dbFile: string): Finding {
  if (!existsSync(dbFile))
    return fail(
      "database",
      `no database at ${dbFile}`,
      "run `heimdall init`, or point --data-dir at the data dir",
    );
  if (statSync(dbFile).size === 0)
    return fail(
      "database",
      `${dbFile} is empty (0 bytes)`,
      "restore it from a backup, or remove it to start fresh",
    );
  const problem = databaseFileProblem(dbFile);
  if (problem)
    return fail("database", `${dbFile} ${problem}`, "restore it (with its master key) from a backup");
  return ok("database", `${dbFile}: quick_check ok`);
}

/**
 * Applied migrations against the ones embedded in this binary, by their timestamps (what drizzle records).
 * Three ways to differ: the newest ones missing (an upgrade not applied yet), a hole in the middle (the
 * table was edited: the migrator only looks past the newest row, so it would never fill it), and rows
 * this binary does not know (a database from a newer Heimdall).
 */
export function checkMigrations(db: Pick<Db, "$client">): Finding {
  const applied = db.$client
    .query<{ at: number }, []>("SELECT created_at AS at FROM __drizzle_migrations")
    .all()
    .map((r) => Number(r.at));
  return compareMigrations(
    applied,
    JOURNAL,
    "stop the server and run `heimdall migrate` (or start the server, which migrates at start-up)",
    "restore the database from a backup; `heimdall migrate` only applies migrations newer than the last recorded one",
  );
}

/** The recorded migrations against a journal's (see checkMigrations for the three ways they differ). */
function compareMigrations(
  at: readonly number[],
  journal: typeof JOURNAL,
  pendingFix: string,
  holeFix: string,
): Finding {
  const check = "migrations";
  const applied = new Set(at);
  const known = new Set(journal.entries.map((e) => e.when));
  const newest = Math.max(-1, ...applied);
  const unknown = [...applied].filter((at) => !known.has(at));
  if (unknown.length > 0)
    return fail(
      check,
      `the database has ${unknown.length} migration(s) this binary does not know: it was written by a newer Heimdall`,
      "run the newer Heimdall binary (or restore a backup taken before the upgrade)",
    );
  const missing = journal.entries.filter((e) => !applied.has(e.when));
  const holes = missing.filter((e) => e.when < newest);
  if (holes.length > 0)
    return fail(
      check,
      `migration(s) ${holes.map((e) => e.tag).join(", ")} are not recorded although later ones are: the migrations table was edited`,
      holeFix,
    );
  if (missing.length > 0)
    return fail(
      check,
      `${missing.length} pending migration(s): ${missing.map((e) => e.tag).join(", ")}`,
      pendingFix,
    );
  return ok(check, `all ${journal.entries.length} migrations applied`);
}

// ─── PostgreSQL ────────────────────────────────────────────────────────────

/** The PostgreSQL server answers `select 1` (within 2 s); the finding names the URL without its password. */
export async function checkPostgresConnection(db: Db, url: string): Promise<Finding> {
  const where = redactDatabaseUrl(url);
  const problem = await pgReachable(postgresOf(db).$client);
  if (problem)
    return fail(
      "database",
      `${where} cannot be reached: ${problem}`,
      "check the URL (--database-url, HEIMDALL_DATABASE_URL), that the server runs and accepts this host and user",
    );
  return ok("database", `${where}: connected (PostgreSQL)`);
}

/**
 * The migrations recorded in `drizzle.__drizzle_migrations` against the PostgreSQL set embedded in this binary.
 * Servers apply pending ones at start-up, once (an advisory lock keeps several instances from racing).
 */
export async function checkPostgresMigrations(db: Db): Promise<Finding> {
  const [table] = await rows<{ present: boolean }>(
    db,
    sql`SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS present`,
  );
  const pendingFix =
    "start one instance of this version (it applies them at start-up under an advisory lock), or `heimdall migrate-store` to fill an empty database from a SQLite data dir";
  if (!table?.present)
    return fail(
      "migrations",
      `none applied: the database holds no Heimdall schema (all ${POSTGRES_JOURNAL.entries.length} pending)`,
      pendingFix,
    );
  const applied = await rows<{ at: string | number }>(
    db,
    sql`SELECT created_at AS at FROM drizzle.__drizzle_migrations`,
  );
  return compareMigrations(
    applied.map((r) => Number(r.at)),
    POSTGRES_JOURNAL,
    pendingFix,
    "restore the database from a backup (pg_dump); the migrator only applies migrations newer than the last recorded one",
  );
}

/**
 * Which instance leads the scheduler (key rotation, cleanup, retention), by the `scheduler` lease row and the
 * database's clock. Informational: no leader is normal while no instance runs, and a lapsed lease is taken
 * over by the next instance's renewal beat.
 */
export async function checkSchedulerLease(db: Db): Promise<Finding> {
  const [lease] = await rows<{ holder: string; fencing: number | string; left: number | string }>(
    db,
    sql`SELECT holder, fencing,
               expires_at - CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) AS "left"
          FROM leases WHERE name = 'scheduler'`,
  );
  if (!lease) return ok("scheduler lease", "never taken: no instance has served from this database yet");
  const left = Number(lease.left);
  return left > 0
    ? ok(
        "scheduler lease",
        `held by ${lease.holder} (tenure ${lease.fencing}), ${Math.ceil(left / 1000)} s left before renewal is due`,
      )
    : ok(
        "scheduler lease",
        `free (last held by ${lease.holder}, tenure ${lease.fencing}, lapsed ${Math.ceil(-left / 1000)} s ago): the next running instance takes it`,
      );
}

/** What doctor says about the data dir's SQLite file when the store is PostgreSQL: its checks do not apply. */
export function sqliteNotInUse(dbFile: string, url: string): Finding {
  const left = existsSync(dbFile)
    ? ` ${dbFile} is there but not read (left from before \`heimdall migrate-store\`?); keep it as a fallback or archive it`
    : "";
  return ok(
    "data dir database",
    `the SQLite checks (quick_check, migrations, clock) do not apply: the store is ${redactDatabaseUrl(url)}.${left}`,
  );
}

/** checkClock's comparison on PostgreSQL: the newest audit row, signing key and secret against the system clock. */
export async function checkPostgresClock(db: Db, clock: Clock): Promise<Finding> {
  const [r] = await rows<{ at: string | number | null }>(
    db,
    sql`SELECT greatest((SELECT max(created_at) FROM audit_log), (SELECT max(created_at) FROM signing_keys),
               (SELECT max(created_at) FROM vault_secrets)) AS at`,
  );
  return clockFinding(Number(r?.at ?? 0), clock);
}

/**
 * The system clock against the newest timestamps the database holds: a clock far behind them signs
 * tokens that are not valid yet and reorders audit rows and rotations.
 */
export function checkClock(db: Pick<Db, "$client">, clock: Clock): Finding {
  const newest = Math.max(
    0,
    ...["audit_log", "signing_keys", "vault_secrets"].map((table) =>
      Number(
        db.$client.query<{ at: number | null }, []>(`SELECT max(created_at) AS at FROM ${table}`).get()?.at ??
          0,
      ),
    ),
  );
  return clockFinding(newest, clock);
}

function clockFinding(newest: number, clock: Clock): Finding {
  const check = "clock";
  const now = clock.now();
  if (newest === 0) return ok(check, `${iso(now)}; the database holds no timestamps to compare with`);
  const behind = newest - now;
  if (behind > MINUTE)
    return fail(
      check,
      `the system clock (${iso(now)}) is ${Math.round(behind / 1000)} s behind the newest row in the database (${iso(newest)})`,
      "synchronise the clock (NTP: `timedatectl set-ntp true`) before starting the server",
    );
  return ok(check, `${iso(now)}; newest row ${iso(newest)}`);
}
