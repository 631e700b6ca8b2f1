/** @module SQLite connection with the pragmas of docs/architecture.md ("Storage"), drizzle on top, the embedded migrator, and a tx helper. */
import { Database, type SQLQueryBindings } from "bun:sqlite";
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { getTableName } from "drizzle-orm";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import type { MigrationMeta } from "drizzle-orm/migrator";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import { EMBEDDED_MIGRATIONS, JOURNAL } from "./migrations.ts";
import * as schema from "./schema.ts";

/** The database engine behind a {@link Db}. */
export type Engine = "sqlite" | "postgres";

/** The tables of one dialect: `schema.ts`'s for SQLite, `schema.pg.ts`'s twins for PostgreSQL (same names and row types). */
export type Tables = typeof schema;

/**
 * The database as stores see it: drizzle's query builders (typed with the SQLite schema; on PostgreSQL the same
 * calls build PostgreSQL), plus which `engine` it is and that engine's `tables`. Portable code awaits builders
 * and uses `tables`; `.get()`/`.all()`/`.run()` and `$client` exist on SQLite only (`src/db/query.ts` has the
 * portable forms).
 */
export type Db = BunSQLiteDatabase<typeof schema> & {
  $client: Database;
  readonly engine: Engine;
  readonly tables: Tables;
  /** PostgreSQL only: runs `fn` in a transaction on one pooled connection (see `tx`). */
  readonly $transaction?: <T>(fn: () => T | Promise<T>) => Promise<T>;
};

/** Attaches `engine` and `tables` to a drizzle SQLite database (a backup copy, a test database). */
export function sqliteDb(orm: BunSQLiteDatabase<typeof schema> & { $client: Database }): Db {
  return Object.assign(orm, { engine: "sqlite" as const, tables: schema });
}

export function openDatabase(file: string): Db {
  const sqlite = new Database(file, { create: true, strict: true });
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = FULL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  sqlite.exec("PRAGMA busy_timeout = 5000");
  return sqliteDb(drizzle({ client: sqlite, schema }));
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
export function embeddedMigrations(journal = JOURNAL, migrations = EMBEDDED_MIGRATIONS): MigrationMeta[] {
  return journal.entries.map((entry) => {
    const query = migrations[entry.tag];
    if (query === undefined) throw new Error(`migration ${entry.tag} is in the journal but not embedded`);
    return {
      sql: query.split("--> statement-breakpoint"),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: createHash("sha256").update(query).digest("hex"),
    };
  });
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
 * The transaction the current async context runs inside, and the one open on each connection: a `tx` nests as a
 * savepoint only in its own transaction, never in another request's that happens to be open (a timer or
 * callback scheduled from inside a transaction keeps its context after that transaction ends).
 */
const inside = new AsyncLocalStorage<object>();
const open = new WeakMap<Database, object>();
/** Per connection, the tail of the queue of transactions waiting for it (one writer at a time, first come first served). */
const queues = new WeakMap<Database, Promise<void>>();
let savepoints = 0;

/**
 * Runs `fn` in a write transaction (BEGIN IMMEDIATE, so another process's writer waits on the lock rather than
 * failing at commit) and resolves with its result; a throw rolls everything back. `fn` may await: transactions on one connection queue behind each other, and a
 * `tx` called from inside another (in the same async context) is a savepoint of it.
 *
 * What the queue does not cover: a statement run outside any `tx` while another context's transaction is open
 * on the connection joins that transaction (SQLite has one per connection). Writes therefore belong in a
 * `tx`; the per-context executor that PostgreSQL needs will route them to their own connection (issue 20).
 */
export async function tx<T>(db: Db, fn: () => T | Promise<T>): Promise<T> {
  if (db.$transaction) return db.$transaction(fn);
  const client = db.$client;
  const current = inside.getStore();
  if (current !== undefined && current === open.get(client)) return savepoint(client, fn);
  const release = await queued(client);
  try {
    await begin(client);
    const token = {};
    open.set(client, token);
    try {
      const result = await inside.run(token, fn);
      client.run("COMMIT");
      return result;
    } catch (err) {
      if (client.inTransaction) client.run("ROLLBACK");
      throw err;
    }
  } finally {
    open.delete(client);
    release();
  }
}

/** Waits for this connection's turn; resolves with the function that hands the turn on. */
async function queued(client: Database): Promise<() => void> {
  const before = queues.get(client) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => {
    done = r;
  });
  queues.set(client, mine);
  await before;
  return () => {
    if (queues.get(client) === mine) queues.delete(client);
    done();
  };
}

/**
 * Runs `fn`, synchronous and in charge of its own BEGIN/COMMIT, in this connection's turn: when no `tx` is open
 * on it, so raw statements (the readiness probe's lock-and-roll-back) never land inside another's transaction.
 */
export async function inTurn<T>(db: Db, fn: () => T): Promise<T> {
  const release = await queued(db.$client);
  try {
    return fn();
  } finally {
    release();
  }
}

/** How long a transaction waits for another process's writer (the connection's `busy_timeout` for statements). */
const BEGIN_TIMEOUT_MS = 5000;

/**
 * BEGIN IMMEDIATE without blocking the event loop: SQLite's busy handler would sleep in the calling thread for
 * as long as another connection (another process, or a second connection in this one) holds the write lock,
 * and that holder may be waiting for this very loop. So the lock is tried without waiting and, while busy,
 * tried again after a short timer, up to the same five seconds.
 */
async function begin(client: Database): Promise<void> {
  const started = performance.now();
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    client.run("PRAGMA busy_timeout = 0");
    try {
      client.run("BEGIN IMMEDIATE");
      return;
    } catch (err) {
      if (
        (err as { code?: string }).code !== "SQLITE_BUSY" ||
        performance.now() - started >= BEGIN_TIMEOUT_MS
      )
        throw err;
    } finally {
      client.run(`PRAGMA busy_timeout = ${BEGIN_TIMEOUT_MS}`);
    }
    await Bun.sleep(delay);
  }
}

async function savepoint<T>(client: Database, fn: () => T | Promise<T>): Promise<T> {
  const name = `hd_sp${++savepoints}`;
  client.run(`SAVEPOINT ${name}`);
  try {
    const result = await fn();
    client.run(`RELEASE ${name}`);
    return result;
  } catch (err) {
    client.run(`ROLLBACK TO ${name}`);
    client.run(`RELEASE ${name}`);
    throw err;
  }
}

/**
 * An INSERT of the listed columns, built and compiled once, on SQLite. Hot paths use it instead of building the
 * statement per call: drizzle's builder plus SQLite's prepare cost tens of microseconds per statement, more than
 * the insert itself, and even drizzle's prepared form spends a few more per row naming and filling its
 * placeholders, so the statement is bun:sqlite's own with positional parameters. Values still go through the
 * columns' encoders (JSON, booleans, timestamps) exactly as drizzle would apply them, NULL included; a listed
 * column the row leaves out is written as NULL.
 */
export function preparedInsert<T extends SQLiteTable>(
  db: Db,
  table: T,
  columns: readonly (keyof T["$inferInsert"] & string)[],
): (row: T["$inferInsert"]) => Promise<void> {
  const cols = columns.map((c) => (table as unknown as Record<string, SQLiteColumn>)[c]!);
  const statement = db.$client.prepare<never, SQLQueryBindings[]>(
    `INSERT INTO "${getTableName(table)}" (${cols.map((c) => `"${c.name}"`).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
  );
  return async (row) => {
    const values: SQLQueryBindings[] = new Array(cols.length);
    for (let i = 0; i < cols.length; i++) {
      values[i] = cols[i]!.mapToDriverValue(
        (row as Record<string, unknown>)[columns[i]!] ?? null,
      ) as SQLQueryBindings;
    }
    statement.run(...values);
  };
}

/** What a SQLite error opening or reading a database file says about the file, as the end of a sentence. */
export function unreadable(err: unknown): string {
  const e = err as Error & { code?: string };
  if (e.code === "SQLITE_NOTADB") return "is not a SQLite database";
  if (e.code?.startsWith("SQLITE_CORRUPT")) return "is corrupt (database disk image is malformed)";
  return `cannot be read (${e.message})`;
}
