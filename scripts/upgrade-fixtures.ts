/** @module Writes test/fixtures/upgrade/<tag>.sql: for each migration, a database built by the migrations up to it, with rows written at every step, dumped as SQL. */
import { Database } from "bun:sqlite";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { embeddedMigrations } from "../src/db/client.ts";
import { JOURNAL } from "../src/db/migrations.ts";

/*
 * Run it once after adding a migration (`node_modules/.bin/bun scripts/upgrade-fixtures.ts`) and commit the
 * new file; the fixtures of earlier versions must never change, since they stand for databases that exist
 * in the field (the upgrade test fails when a landed migration is edited, because its fixture no longer
 * matches what the migrations after it expect). Each fixture is built the way a real database ages: the
 * migrations are applied one at a time, and after each one two rows are written to every table that
 * exists at that point (one with every nullable column filled, one with them NULL), referencing rows of the
 * same step, so a table holds rows written under each of its earlier shapes.
 */

export const FIXTURE_DIR = join(import.meta.dir, "../test/fixtures/upgrade");

interface Column {
  name: string;
  type: string;
  notnull: number;
  pk: number;
}
interface ForeignKey {
  table: string;
  from: string;
  to: string;
}

const INTERNAL = (name: string) => name.startsWith("sqlite_") || name === "__drizzle_migrations";

function tables(db: Database): string[] {
  return db
    .query<{ name: string }, []>("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    .all()
    .map((r) => r.name)
    .filter((n) => !INTERNAL(n));
}

const columnsOf = (db: Database, table: string) =>
  db.query<Column, []>(`PRAGMA table_info("${table}")`).all();
const foreignKeysOf = (db: Database, table: string) =>
  db.query<ForeignKey, []>(`PRAGMA foreign_key_list("${table}")`).all();

/** Parents before children, so a row can always point at a row of the same step. */
function inDependencyOrder(db: Database): string[] {
  const all = tables(db);
  const done: string[] = [];
  const visit = (t: string, path: Set<string>) => {
    if (done.includes(t) || path.has(t)) return;
    path.add(t);
    for (const fk of foreignKeysOf(db, t)) if (fk.table !== t) visit(fk.table, path);
    done.push(t);
  };
  for (const t of all) visit(t, new Set());
  return done;
}

/** Two rows per table, every value derived from the step, table, column and row number (deterministic). */
function seed(db: Database, step: number, tag: string): void {
  const written = new Map<string, Record<string, unknown>[]>();
  inDependencyOrder(db).forEach((table, t) => {
    const cols = columnsOf(db, table);
    const fks = foreignKeysOf(db, table);
    const rows: Record<string, unknown>[] = [];
    for (const row of [0, 1]) {
      const values: Record<string, unknown> = {};
      cols.forEach((c, i) => {
        const fk = fks.find((f) => f.from === c.name);
        const nullable = c.notnull === 0 && c.pk === 0;
        if (fk) {
          // The parent's row of the same number, written earlier in this step.
          values[c.name] =
            fk.table === table || (row === 1 && nullable) ? null : written.get(fk.table)![row]![fk.to];
          return;
        }
        if (row === 1 && nullable) values[c.name] = null;
        else if (/int|real|num/i.test(c.type)) values[c.name] = numberFor(step, t, i, row);
        else if (/blob/i.test(c.type)) values[c.name] = new Uint8Array([step, t, i, row]);
        else values[c.name] = `${table}.${c.name}@${tag}#${row}`;
      });
      const names = cols.map((c) => `"${c.name}"`).join(", ");
      const marks = cols.map(() => "?").join(", ");
      db.query(`INSERT INTO "${table}" (${names}) VALUES (${marks})`).run(
        ...(cols.map((c) => values[c.name]) as (string | number | null | Uint8Array)[]),
      );
      rows.push(values);
    }
    written.set(table, rows);
  });
}

/** A distinct integer per (step, table, column, row), in the range of millisecond timestamps of 2026. */
function numberFor(step: number, table: number, column: number, row: number): number {
  return 1_790_000_000_000 + step * 1_000_000 + table * 1_000 + column * 10 + row;
}

/** The whole database as SQL text: schema in creation order, then every table's rows in rowid order. */
export function dump(db: Database): string {
  const out: string[] = ["PRAGMA foreign_keys=OFF;", "BEGIN TRANSACTION;"];
  const schema = db
    .query<{ type: string; name: string; sql: string | null }, []>(
      "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid",
    )
    .all();
  const quoteRows = (table: string) => {
    const cols = columnsOf(db, table).map((c) => `quote("${c.name}")`);
    return db
      .query<{ line: string }, []>(
        `SELECT 'INSERT INTO "${table}" VALUES(' || ${cols.join(" || ',' || ")} || ');' AS line FROM "${table}" ORDER BY rowid`,
      )
      .all()
      .map((r) => r.line);
  };
  for (const s of schema.filter((s) => s.type === "table" && s.name !== "sqlite_sequence")) {
    out.push(`${s.sql};`);
    out.push(...quoteRows(s.name));
  }
  if (schema.some((s) => s.name === "sqlite_sequence")) {
    for (const r of db
      .query<{ name: string; seq: number }, []>("SELECT name, seq FROM sqlite_sequence")
      .all())
      out.push(`INSERT INTO sqlite_sequence VALUES('${r.name}',${r.seq});`);
  }
  for (const s of schema.filter((s) => s.type !== "table")) out.push(`${s.sql};`);
  out.push("COMMIT;", "");
  return out.join("\n");
}

/** The database a Heimdall at migration `upTo` (journal index) would have, rows written at every step. */
export function buildFixture(upTo: number): Database {
  const sqlite = new Database(":memory:", { strict: true });
  sqlite.exec("PRAGMA foreign_keys = ON");
  const db = drizzle({ client: sqlite });
  const all = embeddedMigrations();
  for (let step = 0; step <= upTo; step++) {
    // The migrator applies what is newer than the last applied: handing it a prefix is an older binary.
    // biome-ignore lint/suspicious/noExplicitAny: drizzle exposes the dialect migrator only untyped.
    const d = db as any;
    d.dialect.migrate(all.slice(0, step + 1), d.session, {});
    sqlite.transaction(() => seed(sqlite, step, JOURNAL.entries[step]!.tag)).immediate();
  }
  const problems = sqlite.query<Record<string, unknown>, []>("PRAGMA foreign_key_check").all();
  if (problems.length > 0)
    throw new Error(`fixture ${upTo}: foreign key problems ${JSON.stringify(problems)}`);
  return sqlite;
}

if (import.meta.main) {
  mkdirSync(FIXTURE_DIR, { recursive: true });
  for (const entry of JOURNAL.entries) {
    const db = buildFixture(entry.idx);
    const file = join(FIXTURE_DIR, `${entry.tag}.sql`);
    writeFileSync(file, dump(db));
    db.close();
    console.log(`wrote ${file}`);
  }
}
