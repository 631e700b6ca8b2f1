/**
 * @module Portable statements: what stores use instead of SQLite-only calls, so one store runs on SQLite and
 * PostgreSQL. Builders are awaited (`await db.select()…`, never `.all()`/`.get()`/`.run()`); raw SQL is a
 * drizzle `sql` template run through `rows`/`row`/`exec`, with quoted camelCase aliases (`AS "userId"`:
 * PostgreSQL folds unquoted names to lower case), booleans bound as `${true}`, and counts cast to integer.
 */
import type { SQL } from "drizzle-orm";
import type { Db } from "./client.ts";

type Executes = { execute(query: SQL): Promise<unknown> };

/** The rows of a raw query. PostgreSQL's 64-bit integers arrive as strings: cast in SQL (`::int`) or convert. */
export async function rows<T>(db: Db, query: SQL): Promise<T[]> {
  if (db.engine === "sqlite") return db.all<T>(query);
  return [...((await (db as unknown as Executes).execute(query)) as T[])];
}

/** The first row of a raw query, if any. */
export async function row<T>(db: Db, query: SQL): Promise<T | undefined> {
  return (await rows<T>(db, query))[0];
}

/** Runs a raw statement; resolves with the number of rows it changed. */
export async function exec(db: Db, query: SQL): Promise<number> {
  if (db.engine === "sqlite") return affected(db.run(query));
  return affected(await (db as unknown as Executes).execute(query));
}

/** Rows changed by an awaited INSERT/UPDATE/DELETE builder: SQLite reports `changes`, PostgreSQL `count`. */
export function affected(result: unknown): number {
  const r = result as { changes?: number; count?: number | null; rowCount?: number | null };
  return Number(r.changes ?? r.count ?? r.rowCount ?? 0);
}

/** The first row of an awaited select builder (add `.limit(1)` to the builder). */
export async function first<T>(query: PromiseLike<T[]>): Promise<T | undefined> {
  return (await query)[0];
}

/**
 * Whether `err` is a unique-constraint violation (of `constraint`, an index or `table.column` name, when given):
 * SQLite says `UNIQUE constraint failed: apps.slug`, PostgreSQL raises SQLSTATE 23505 naming the index.
 */
export function isUniqueViolation(err: unknown, constraint?: { sqlite: string; postgres: string }): boolean {
  // drizzle wraps the driver's error: the SQLSTATE and the constraint are on its cause.
  for (let e = err as UniqueErrorShape | null | undefined, depth = 0; e && depth < 3; e = e.cause, depth++) {
    const text = e.message ?? "";
    if (e.code === "SQLITE_CONSTRAINT_UNIQUE" || /UNIQUE constraint failed/.test(text))
      return !constraint || text.includes(constraint.sqlite);
    if (
      e.errno === "23505" ||
      e.code === "23505" ||
      /duplicate key value violates unique constraint/.test(text)
    )
      return !constraint || e.constraint === constraint.postgres || text.includes(constraint.postgres);
  }
  return false;
}

/**
 * Runs `write`, a transaction that reads a row and inserts it when there is none, once more when its insert
 * lost to a concurrent one on `constraint`: on PostgreSQL (READ COMMITTED) two such transactions can both read
 * "none yet" before either commits. The second run reads the winner's row and takes the update path, as it
 * would have a moment later. SQLite serialises its writers, so there it never repeats.
 */
export async function retryLostInsert<T>(
  constraint: { sqlite: string; postgres: string },
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isUniqueViolation(err, constraint)) throw err;
    return await write();
  }
}

type UniqueErrorShape = {
  code?: string;
  errno?: string;
  message?: string;
  constraint?: string;
  cause?: UniqueErrorShape;
};
