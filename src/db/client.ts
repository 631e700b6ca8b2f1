/** @module SQLite connection with the pragmas of DESIGN §11, drizzle on top, the embedded migrator, and a tx helper. */
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
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

/** Applies pending migrations in one transaction; a no-op when the database is current. */
export function migrate(db: Db): void {
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
