/**
 * @module The SQLite → PostgreSQL copy behind `heimdall migrate-store`: every table of `schema.ts` read from a
 * read-only SQLite connection and written through its `schema.pg.ts` twin into an empty PostgreSQL database,
 * in foreign-key order, in one transaction, with the row counts checked before it commits.
 */
import type { Database } from "bun:sqlite";
import { getTableColumns, getTableName, is, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import { SQLiteTable } from "drizzle-orm/sqlite-core";
import { type Db, newerDatabaseMessage, pendingMigrations, sqliteDb } from "./client.ts";
import { migratePostgres, postgresOf } from "./postgres.ts";
import * as pgSchema from "./schema.pg.ts";
import * as schema from "./schema.ts";

/** Rows per INSERT; fewer for wide tables, so a statement stays far below PostgreSQL's 65 535 parameters. */
export const COPY_BATCH_ROWS = 500;
const MAX_PARAMETERS = 30_000;

/**
 * Tables that coordinate the instances sharing a PostgreSQL database rather than hold data: not copied. A single
 * SQLite process has nothing in them worth keeping, and on PostgreSQL triggers write `cache_epochs` during the
 * copy itself (every insert into a cached table bumps its epoch).
 */
export const COORDINATION_TABLES: readonly string[] = ["cache_epochs", "leases"];

/** A refusal in words: nothing was written to the target. */
export class CopyRefused extends Error {
  override readonly name = "CopyRefused";
}

export interface CopiedTable {
  readonly table: string;
  readonly rows: number;
}

interface TablePair {
  /** The export name, the same in both schema modules. */
  readonly key: string;
  readonly name: string;
  readonly source: SQLiteTable;
  readonly target: PgTable;
}

/**
 * Both schemas' tables that are copied, paired by export name, parents before the tables whose foreign keys
 * point at them.
 */
export function tablesInCopyOrder(): TablePair[] {
  const pairs = new Map<string, TablePair>();
  for (const [key, value] of Object.entries(schema)) {
    if (!is(value, SQLiteTable) || COORDINATION_TABLES.includes(getTableName(value))) continue;
    const target = (pgSchema as Record<string, unknown>)[key];
    if (!is(target, PgTable)) throw new Error(`schema.pg.ts has no twin of table ${key}`);
    pairs.set(getTableName(target), { key, name: getTableName(target), source: value, target });
  }
  const ordered: TablePair[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (pair: TablePair) => {
    const seen = state.get(pair.name);
    if (seen === "done") return;
    if (seen === "visiting") throw new Error(`foreign keys form a cycle through ${pair.name}`);
    state.set(pair.name, "visiting");
    for (const fk of getTableConfig(pair.target).foreignKeys) {
      const parent = getTableName(fk.reference().foreignTable);
      const parentPair = pairs.get(parent);
      if (parentPair && parent !== pair.name) visit(parentPair);
    }
    state.set(pair.name, "done");
    ordered.push(pair);
  };
  for (const pair of [...pairs.values()].sort((a, b) => a.name.localeCompare(b.name))) visit(pair);
  return ordered;
}

/**
 * Why `source` (a read-only connection) cannot be copied by this binary, or null: it must be Heimdall's, hold
 * exactly this binary's migrations (an older file is migrated first with `heimdall migrate`, which this copy
 * cannot do on a read-only connection), and no table the schema does not know.
 */
export function sourceProblem(source: Database): string | null {
  const newer = newerDatabaseMessage("the SQLite database", source);
  if (newer) return newer;
  const db = sqliteDb(drizzle({ client: source, schema }));
  const pending = pendingMigrations(db);
  if (pending > 0)
    return `the SQLite database lacks ${pending} migration(s) of this binary: run \`heimdall migrate\` on it first`;
  const known = new Set([...tablesInCopyOrder().map((t) => t.name), ...COORDINATION_TABLES]);
  const unknown = source
    .query<{ name: string }, []>(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__drizzle_migrations'",
    )
    .all()
    .map((r) => r.name)
    .filter((name) => !known.has(name));
  if (unknown.length > 0)
    return `the SQLite database has table(s) this binary does not know (${unknown.join(", ")})`;
  return null;
}

/** The tables of `target` that hold rows (only those that exist: a database never migrated has none). */
async function tablesWithRows(
  run: (query: ReturnType<typeof sql>) => Promise<unknown>,
  names: readonly string[],
): Promise<string[]> {
  const found: string[] = [];
  for (const name of names) {
    const [r] = (await run(sql`SELECT to_regclass(${name}) IS NOT NULL AS present`)) as {
      present: boolean;
    }[];
    if (!r?.present) continue;
    const [n] = (await run(sql`SELECT EXISTS (SELECT 1 FROM ${sql.identifier(name)}) AS any`)) as {
      any: boolean;
    }[];
    if (n?.any) found.push(name);
  }
  return found;
}

const refuseNonEmpty = (tables: readonly string[]) =>
  new CopyRefused(
    `the target database already holds Heimdall rows (in ${tables.join(", ")}): migrate-store copies only into an empty database`,
  );

/**
 * Copies every table of `source` into `target` (a PostgreSQL {@link Db}) and resolves with the rows per table,
 * in the order they were written. Applies the PostgreSQL migrations first; refuses (CopyRefused, nothing
 * written) a source it cannot copy or a target that holds rows. The copy is one transaction: a failure,
 * including a count that does not match, leaves the target as it was after the migrations.
 */
export async function copySqliteToPostgres(
  source: Database,
  target: Db,
  opts: { onTable?: (t: CopiedTable) => void } = {},
): Promise<CopiedTable[]> {
  if (target.engine !== "postgres") throw new Error("the copy's target must be a PostgreSQL database");
  const problem = sourceProblem(source);
  if (problem) throw new CopyRefused(problem);
  const pairs = tablesInCopyOrder();
  const pg = postgresOf(target);
  const names = pairs.map((p) => p.name);
  // Before the migrations too, so a database in use is refused without a migration applied to it.
  const before = await tablesWithRows((q) => pg.execute(q), names);
  if (before.length > 0) throw refuseNonEmpty(before);
  await migratePostgres(target);

  const reader = sqliteDb(drizzle({ client: source, schema }));
  const copied: CopiedTable[] = [];
  // One read transaction on the source: every table is read from the same snapshot.
  source.exec("BEGIN");
  try {
    await pg.transaction(async (t) => {
      // Inside the transaction again: another process may have written between the check and here.
      const now = await tablesWithRows((q) => t.execute(q), names);
      if (now.length > 0) throw refuseNonEmpty(now);
      for (const pair of pairs) {
        const rows = await copyTable(reader, source, pair, (batch) => t.insert(pair.target).values(batch));
        const [written] = (await t.execute(
          sql`SELECT count(*)::int AS n FROM ${sql.identifier(pair.name)}`,
        )) as { n: number }[];
        if (written?.n !== rows)
          throw new Error(`${pair.name}: read ${rows} row(s) but the target holds ${written?.n}`);
        const done = { table: pair.name, rows };
        copied.push(done);
        opts.onTable?.(done);
      }
      await continueIdentities(t);
    });
  } finally {
    source.exec("ROLLBACK");
  }
  return copied;
}

/** Reads `pair`'s rows in rowid order, a batch at a time, and hands each batch to `write`; resolves with the count. */
async function copyTable(
  reader: Db,
  source: Database,
  pair: TablePair,
  write: (batch: Record<string, unknown>[]) => PromiseLike<unknown>,
): Promise<number> {
  const columns = getTableColumns(pair.source);
  const width = Object.keys(columns).length;
  const size = Math.max(1, Math.min(COPY_BATCH_ROWS, Math.floor(MAX_PARAMETERS / width)));
  const expected = source
    .query<{ n: number }, []>(`SELECT count(*) AS n FROM "${pair.name.replaceAll('"', '""')}"`)
    .get()!.n;
  let copied = 0;
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    // Keyset paging on the rowid: each batch starts where the last ended, whatever the table's size.
    const batch = (await reader
      .select({ ...columns, _rowid: sql<number>`rowid` })
      .from(pair.source)
      .where(sql`rowid > ${after}`)
      .orderBy(sql`rowid`)
      .limit(size)) as (Record<string, unknown> & { _rowid: number })[];
    if (batch.length === 0) break;
    after = batch.at(-1)!._rowid;
    await write(batch.map(({ _rowid, ...rest }) => rest));
    copied += batch.length;
  }
  if (copied !== expected) throw new Error(`${pair.name}: counted ${expected} row(s) but read ${copied}`);
  return copied;
}

/**
 * Identity columns were written with explicit values, which leaves their sequences at the start: each is set
 * to continue after the largest copied value (`audit_log.seq`, so new audit rows follow the copied chain).
 */
async function continueIdentities(t: { execute(q: ReturnType<typeof sql>): PromiseLike<unknown> }) {
  const identities = (await t.execute(
    sql`SELECT table_name AS "table", column_name AS "column" FROM information_schema.columns
        WHERE is_identity = 'YES' AND table_schema = current_schema()`,
  )) as { table: string; column: string }[];
  for (const { table, column } of identities) {
    const qualified = `"${table.replaceAll('"', '""')}"`;
    await t.execute(
      sql`SELECT setval(pg_get_serial_sequence(${qualified}, ${column}), coalesce(max(${sql.identifier(column)}), 0) + 1, false) FROM ${sql.identifier(table)}`,
    );
  }
}
