/** @module The migrations compiled into the binary are exactly drizzle-kit's files (both dialects), and applying SQLite's is idempotent. */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { embeddedMigrations, migrate, openDatabase } from "../../src/db/client.ts";
import {
  EMBEDDED_MIGRATIONS,
  JOURNAL,
  POSTGRES_JOURNAL,
  POSTGRES_MIGRATIONS,
} from "../../src/db/migrations.ts";
import * as schema from "../../src/db/schema.ts";

const MIGRATIONS = join(import.meta.dir, "../../migrations");
const FOLDER = join(MIGRATIONS, "sqlite");

const dialects = [
  {
    dialect: "sqlite",
    folder: FOLDER,
    embedded: EMBEDDED_MIGRATIONS,
    journal: JOURNAL,
    built: embeddedMigrations,
  },
  {
    dialect: "postgres",
    folder: join(MIGRATIONS, "postgres"),
    embedded: POSTGRES_MIGRATIONS,
    journal: POSTGRES_JOURNAL,
    built: () => embeddedMigrations(POSTGRES_JOURNAL, POSTGRES_MIGRATIONS),
  },
];

for (const { dialect, folder, embedded, journal, built } of dialects) {
  describe(`embedded ${dialect} migrations`, () => {
    const journalOnDisk = JSON.parse(readFileSync(join(folder, "meta/_journal.json"), "utf8")) as {
      dialect: string;
      entries: { tag: string; when: number; breakpoints: boolean }[];
    };

    test("embed exactly the journal's tags, in order, with the SQL text on disk", () => {
      const tags = journalOnDisk.entries.map((e) => e.tag);
      expect(tags.length).toBeGreaterThan(0);
      expect(journal.entries.map((e) => e.tag)).toEqual(tags);
      expect(Object.keys(embedded).sort()).toEqual([...tags].sort());
      for (const tag of tags) {
        expect(embedded[tag]).toBe(readFileSync(join(folder, `${tag}.sql`), "utf8"));
      }
    });

    test(`every .sql file in migrations/${dialect}/ is in the journal (none forgotten)`, () => {
      const files = readdirSync(folder)
        .filter((f) => f.endsWith(".sql"))
        .map((f) => f.slice(0, -4))
        .sort();
      expect(files).toEqual(journalOnDisk.entries.map((e) => e.tag).sort());
    });

    test("build the same migration list (statements, hashes, timestamps) as drizzle's own file reader", () => {
      expect(built()).toEqual(readMigrationFiles({ migrationsFolder: folder }));
    });
  });
}

test("each dialect's journal is drizzle-kit's for that dialect", () => {
  const dialectOf = (folder: string) =>
    (JSON.parse(readFileSync(join(MIGRATIONS, folder, "meta/_journal.json"), "utf8")) as { dialect: string })
      .dialect;
  expect([dialectOf("sqlite"), dialectOf("postgres")]).toEqual(["sqlite", "postgresql"]);
  expect(readdirSync(MIGRATIONS).sort()).toEqual(["postgres", "sqlite"]);
});

describe("migrate", () => {
  const schemaSql = (db: ReturnType<typeof openDatabase>) =>
    db.$client
      .query<{ type: string; name: string; sql: string | null }, []>(
        "SELECT type, name, sql FROM sqlite_master ORDER BY type, name",
      )
      .all();
  const applied = (db: ReturnType<typeof openDatabase>) =>
    db.$client.query<{ n: number }, []>("SELECT count(*) AS n FROM __drizzle_migrations").get()!.n;

  test("creates every table of the drizzle schema", () => {
    const db = openDatabase(":memory:");
    migrate(db);
    const tables = new Set(
      schemaSql(db)
        .filter((r) => r.type === "table")
        .map((r) => r.name),
    );
    const declared = (Object.values(schema) as unknown[])
      .filter((v): v is SQLiteTable => v instanceof SQLiteTable)
      .map((t) => getTableConfig(t).name);
    expect(declared.length).toBeGreaterThan(0);
    for (const name of declared) expect(tables).toContain(name);
    expect(applied(db)).toBe(JOURNAL.entries.length);
  });

  test("a second run is a no-op: same rows in __drizzle_migrations, same schema", () => {
    const db = openDatabase(":memory:");
    migrate(db);
    const before = { rows: applied(db), schema: schemaSql(db) };
    migrate(db);
    expect(applied(db)).toBe(before.rows);
    expect(schemaSql(db)).toEqual(before.schema);
  });
});
