/** @module SQLite connection with the pragmas of docs/architecture.md ("Storage"), drizzle on top, the embedded migrator, and a tx helper. */
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { sql } from "drizzle-orm";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import type { MigrationMeta } from "drizzle-orm/migrator";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { EMBEDDED_MIGRATIONS, JOURNAL } from "./migrations.ts";
import * as schema from "./schema.ts";

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

export function openDatabase(file: string): Db {
  const sqlite = new Database(file, { create: true, strict: true });
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = FULL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  sqlite.exec("PRAGMA busy_timeout = 5000");
  return drizzle({ client: sqlite, schema }) as Db;
}

const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");

/**
 * Proves that `file` is a readable SQLite database before anything opens it for writing; returns the
 * problem in words, or null when it is sound. It must come first because a read-write open is not
 * harmless on a broken store: with a `-wal` that belongs to another database, SQLite replays that
 * WAL's pages and checkpoints them into the file when the connection closes, destroying it for good.
 * So: the header is read by hand, then a read-only connection (which never checkpoints) reads the
 * schema, the migrations table and runs `PRAGMA quick_check` (about 0.3 s per 300 MB warm; see
 * docs/operations.md). A WAL with the same schema as the database still replays unnoticed — SQLite
 * has no way to tell it apart from the database's own.
 */
export function databaseFileProblem(file: string): string | null {
  const size = statSync(file).size;
  const wal = `${file}-wal`;
  const hasWal = existsSync(wal) && statSync(wal).size > 0;
  const header = Buffer.alloc(100);
  const fd = openSync(file, "r");
  try {
    readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (size < 100 && !header.subarray(0, 16).equals(SQLITE_MAGIC.subarray(0, 16)))
    return `is not a SQLite database (${size} bytes, no SQLite header)`;
  if (size < 100) return `is truncated (${size} bytes, shorter than a SQLite header)`;
  if (!header.subarray(0, 16).equals(SQLITE_MAGIC)) return "is not a SQLite database (no SQLite header)";
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0)
    return "is corrupt (invalid page size in its header)";
  // The page count in the header is valid when its "version-valid-for" matches the change counter. A
  // WAL may legitimately hold pages a crashed checkpoint did not write yet, so only without one.
  const pages = header.readUInt32BE(28);
  if (!hasWal && header.readUInt32BE(92) === header.readUInt32BE(24) && size < pages * pageSize)
    return `is truncated (${size} bytes; its header says ${pages * pageSize})`;
  const problem = readableProblem(file);
  // The WAL is read as part of the database: with one present, it is as likely the culprit.
  return problem && hasWal ? `${problem} when read with the WAL beside it (${wal})` : problem;
}

function readableProblem(file: string): string | null {
  let db: Database | undefined;
  try {
    db = new Database(file, { readonly: true });
    const migrations = db
      .query<{ n: number }, []>(
        "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name = '__drizzle_migrations'",
      )
      .get()!.n;
    if (migrations === 0) return "is a SQLite database but not Heimdall's (it has no migrations table)";
    db.query("SELECT count(*) FROM __drizzle_migrations").get();
    const check = db.query<{ quick_check: string }, []>("PRAGMA quick_check(1)").get();
    return check?.quick_check === "ok"
      ? null
      : `is corrupt (quick_check: ${check?.quick_check ?? "no answer"})`;
  } catch (err) {
    return unreadable(err);
  } finally {
    db?.close();
  }
}

/**
 * The migrations recorded in the database that this binary does not embed (by their journal timestamp,
 * which drizzle stores as `created_at`): the database was written by a newer Heimdall. Drizzle's migrator
 * would apply nothing and carry on, so an old binary would run on a schema it does not know; callers
 * refuse instead (see `newerDatabaseMessage`). Read-only, so it is safe before anything opens the file for
 * writing.
 */
export function unknownMigrations(sqlite: Database): { createdAt: number; hash: string }[] {
  const table = sqlite
    .query<{ n: number }, []>(
      "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name = '__drizzle_migrations'",
    )
    .get()!.n;
  if (table === 0) return [];
  const known = new Set(JOURNAL.entries.map((e) => e.when));
  return sqlite
    .query<{ created_at: number | null; hash: string }, []>(
      "SELECT created_at, hash FROM __drizzle_migrations ORDER BY created_at",
    )
    .all()
    .filter((r) => !known.has(Number(r.created_at)))
    .map((r) => ({ createdAt: Number(r.created_at), hash: r.hash }));
}

/** The one-line refusal for a database from a newer Heimdall, or null when this binary knows all its migrations. */
export function newerDatabaseMessage(file: string, sqlite: Database): string | null {
  const unknown = unknownMigrations(sqlite);
  if (unknown.length === 0) return null;
  const latest = unknown.at(-1)!.createdAt;
  const when = Number.isFinite(latest) ? new Date(latest).toISOString() : "an unknown time";
  return (
    `${file} was written by a newer Heimdall: it has ${unknown.length} migration(s) this binary does not know ` +
    `(the latest from ${when}). Run the newer heimdall binary, or restore a backup taken before the upgrade`
  );
}

/** Thrown by `migrate` on a database from a newer Heimdall (the CLI checks first and words it as a refusal). */
export class NewerDatabaseError extends Error {
  override readonly name = "NewerDatabaseError";
}

/** How many embedded migrations the database has not applied yet (drizzle's rule: newer than the last applied). */
export function pendingMigrations(db: Db): number {
  const table = db.$client
    .query<{ n: number }, []>(
      "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name = '__drizzle_migrations'",
    )
    .get()!.n;
  const last =
    table === 0
      ? -1
      : (db.$client
          .query<{ at: number | null }, []>("SELECT max(created_at) AS at FROM __drizzle_migrations")
          .get()?.at ?? -1);
  return JOURNAL.entries.filter((e) => e.when > last).length;
}

/** The migrations in journal order, built from the embedded SQL (hash as drizzle's file reader computes it). */
export function embeddedMigrations(): MigrationMeta[] {
  return JOURNAL.entries.map((entry) => {
    const query = EMBEDDED_MIGRATIONS[entry.tag];
    if (query === undefined) throw new Error(`migration ${entry.tag} is in the journal but not embedded`);
    return {
      sql: query.split("--> statement-breakpoint"),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: createHash("sha256").update(query).digest("hex"),
    };
  });
}

/** Rows affected by a drizzle `.run()`: bun:sqlite reports them, drizzle's bun-sqlite typings declare `void`. */
export function changes(result: unknown): number {
  return (result as { changes: number }).changes;
}

/** Applies pending migrations in one transaction; a no-op when the database is current; refuses one from a newer Heimdall. */
export function migrate(db: Db): void {
  // Before drizzle, which would apply nothing to a newer database and let this binary run on it.
  const newer = newerDatabaseMessage("the database", db.$client);
  if (newer) throw new NewerDatabaseError(newer);
  // biome-ignore lint/suspicious/noExplicitAny: drizzle exposes the dialect migrator only untyped.
  const d = db as any;
  d.dialect.migrate(embeddedMigrations(), d.session, {});
}

/**
 * Runs `fn` in a write transaction (BEGIN IMMEDIATE, so concurrent writers queue on the lock
 * instead of failing at commit). Synchronous on purpose: bun:sqlite is synchronous, and an await
 * inside a transaction would let other requests interleave their statements into it.
 */
export function tx<T>(db: Db, fn: () => T): T {
  return db.$client.transaction(fn).immediate();
}

/**
 * An INSERT of the listed columns, built and compiled once. Hot paths use it instead of building the statement
 * per call: drizzle's builder plus SQLite's prepare cost tens of microseconds per statement, more than the
 * insert itself. Values still go through the columns' encoders (JSON, booleans, timestamps); a listed column the
 * row leaves out is written as NULL.
 */
export function preparedInsert<T extends SQLiteTable>(
  db: Db,
  table: T,
  columns: readonly (keyof T["$inferInsert"] & string)[],
): (row: T["$inferInsert"]) => void {
  const placeholders = Object.fromEntries(columns.map((c) => [c, sql.placeholder(c)]));
  const statement = db
    .insert(table)
    .values(placeholders as T["$inferInsert"])
    .prepare();
  return (row) => {
    const values: Record<string, unknown> = {};
    for (const c of columns) values[c] = (row as Record<string, unknown>)[c] ?? null;
    statement.run(values);
  };
}

/** What a SQLite error opening or reading a database file says about the file, as the end of a sentence. */
export function unreadable(err: unknown): string {
  const e = err as Error & { code?: string };
  if (e.code === "SQLITE_NOTADB") return "is not a SQLite database";
  if (e.code?.startsWith("SQLITE_CORRUPT")) return "is corrupt (database disk image is malformed)";
  return `cannot be read (${e.message})`;
}
