/** @module Upgrade safety: a database from each earlier schema version (test/fixtures/upgrade/) migrates to the current one with every row intact; a database from a newer Heimdall is refused. */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildFixture, dump, FIXTURE_DIR } from "../../scripts/upgrade-fixtures.ts";
import {
  migrate,
  NewerDatabaseError,
  newerDatabaseMessage,
  openDatabase,
  unknownMigrations,
} from "../../src/db/client.ts";
import { JOURNAL } from "../../src/db/migrations.ts";

type Row = Record<string, unknown>;
interface Column {
  name: string;
  pk: number;
  dflt_value: string | null;
}

const fixtureOf = (tag: string) => join(FIXTURE_DIR, `${tag}.sql`);

const tablesOf = (db: Database) =>
  db
    .query<{ name: string }, []>(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '__drizzle_migrations' ORDER BY name",
    )
    .all()
    .map((r) => r.name);
const columnsOf = (db: Database, table: string) =>
  db.query<Column, []>(`PRAGMA table_info("${table}")`).all();
const rowsOf = (db: Database, table: string) =>
  db.query<Row, []>(`SELECT * FROM "${table}" ORDER BY rowid`).all();

/** What a column added after the fixture's version holds on an old row: its declared default, else NULL. */
function defaultOf(db: Database, column: Column): unknown {
  if (column.dflt_value === null) return null;
  return db.query<{ v: unknown }, []>(`SELECT ${column.dflt_value} AS v`).get()!.v;
}

/** The fixture loaded into a database file of its own, the way a server would find it on disk. */
function loadFixture(dir: string, tag: string): string {
  const file = join(dir, `${tag}.db`);
  const db = new Database(file, { create: true });
  db.exec(readFileSync(fixtureOf(tag), "utf8"));
  db.close();
  return file;
}

describe("upgrade fixtures", () => {
  test("every schema version but the newest has a fixture (run scripts/upgrade-fixtures.ts after a migration)", () => {
    // The newest migration needs none yet: its fixture stands for databases the next version will meet.
    for (const entry of JOURNAL.entries.slice(0, -1)) expect(existsSync(fixtureOf(entry.tag))).toBe(true);
  });

  test("each fixture is what the migrations up to its version build today (a landed migration was not edited)", () => {
    for (const entry of JOURNAL.entries) {
      if (!existsSync(fixtureOf(entry.tag))) continue;
      const built = buildFixture(entry.idx);
      expect(dump(built)).toBe(readFileSync(fixtureOf(entry.tag), "utf8"));
      built.close();
    }
  });
});

describe("a database from each earlier version migrates with its data intact", () => {
  const versions = JOURNAL.entries.filter((e) => existsSync(fixtureOf(e.tag)));

  test.each(versions.map((e) => [e.tag, e.idx] as const))("from %s", (tag, idx) => {
    const dir = mkdtempSync(join(tmpdir(), "heimdall-upgrade-"));
    try {
      const file = loadFixture(dir, tag);
      const before = new Database(file, { readonly: true });
      const old = new Map(
        tablesOf(before).map((t) => [t, { columns: columnsOf(before, t), rows: rowsOf(before, t) }]),
      );
      expect(before.query<{ n: number }, []>("SELECT count(*) AS n FROM __drizzle_migrations").get()!.n).toBe(
        idx + 1,
      );
      before.close();
      const seeded = [...old.values()].reduce((n, t) => n + t.rows.length, 0);
      expect(seeded).toBeGreaterThan(0);

      const db = openDatabase(file);
      try {
        migrate(db);
        const sqlite = db.$client;
        expect(
          sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM __drizzle_migrations").get()!.n,
        ).toBe(JOURNAL.entries.length);
        expect(
          sqlite.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()!.integrity_check,
        ).toBe("ok");
        expect(sqlite.query("PRAGMA foreign_key_check").all()).toEqual([]);

        // Every table of the old version is still there, with every row and every old column's value.
        const now = new Set(tablesOf(sqlite));
        for (const [table, { columns, rows }] of old) {
          expect(now.has(table)).toBe(true);
          const current = columnsOf(sqlite, table);
          const added = current.filter((c) => !columns.some((o) => o.name === c.name));
          for (const c of columns) expect(current.map((n) => n.name)).toContain(c.name);
          const key = columns.filter((c) => c.pk > 0).map((c) => c.name);
          const migrated = rowsOf(sqlite, table);
          expect(migrated.length).toBe(rows.length);
          for (const row of rows) {
            const match = migrated.filter((m) =>
              (key.length > 0 ? key : columns.map((c) => c.name)).every((k) => m[k] === row[k]),
            );
            expect(match.length).toBe(1);
            const [after] = match;
            for (const c of columns)
              expect([table, c.name, after![c.name]]).toEqual([table, c.name, row[c.name]]);
            // Columns the old version did not have hold their declared defaults.
            for (const c of added)
              expect([table, c.name, after![c.name]]).toEqual([table, c.name, defaultOf(sqlite, c)]);
          }
        }
      } finally {
        db.$client.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a database from a newer Heimdall", () => {
  /** The current schema plus one migration row no journal entry of this binary has. */
  function newerDatabase() {
    const db = openDatabase(":memory:");
    migrate(db);
    const future = JOURNAL.entries.at(-1)!.when + 86_400_000;
    db.$client.query("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('f00', ?)").run(future);
    return { db, future };
  }

  test("its unknown migrations are found, and a current one has none", () => {
    const current = openDatabase(":memory:");
    migrate(current);
    expect(unknownMigrations(current.$client)).toEqual([]);
    expect(newerDatabaseMessage("x.db", current.$client)).toBeNull();

    const { db, future } = newerDatabase();
    expect(unknownMigrations(db.$client)).toEqual([{ createdAt: future, hash: "f00" }]);
    const message = newerDatabaseMessage("/data/heimdall.db", db.$client)!;
    expect(message).toContain("/data/heimdall.db was written by a newer Heimdall");
    expect(message).toContain("1 migration(s) this binary does not know");
    expect(message).toContain(new Date(future).toISOString());
    expect(message).not.toContain("\n");
  });

  test("migrate refuses it and changes nothing", () => {
    const { db } = newerDatabase();
    const schema = () => db.$client.query("SELECT sql FROM sqlite_schema ORDER BY name").all();
    const before = schema();
    expect(() => migrate(db)).toThrow(NewerDatabaseError);
    expect(schema()).toEqual(before);
  });
});
