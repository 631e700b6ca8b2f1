/** @module The migrations compiled into the binary are exactly drizzle-kit's files, and applying them is idempotent. */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { embeddedMigrations, migrate, openDatabase } from "../../src/db/client.ts";
import { EMBEDDED_MIGRATIONS, JOURNAL } from "../../src/db/migrations.ts";
import * as schema from "../../src/db/schema.ts";

const FOLDER = join(import.meta.dir, "../../migrations/sqlite");

describe("embedded migrations", () => {
  const journalOnDisk = JSON.parse(readFileSync(join(FOLDER, "meta/_journal.json"), "utf8")) as {
    entries: { tag: string; when: number; breakpoints: boolean }[];
  };

  test("embed exactly the journal's tags, in order, with the SQL text on disk", () => {
    const tags = journalOnDisk.entries.map((e) => e.tag);
    expect(JOURNAL.entries.map((e) => e.tag)).toEqual(tags);
    expect(Object.keys(EMBEDDED_MIGRATIONS).sort()).toEqual([...tags].sort());
    for (const tag of tags) {
      expect(EMBEDDED_MIGRATIONS[tag]).toBe(readFileSync(join(FOLDER, `${tag}.sql`), "utf8"));
    }
  });

  test("every .sql file in migrations/sqlite/ is in the journal (none forgotten)", () => {
    const files = readdirSync(FOLDER)
      .filter((f) => f.endsWith(".sql"))
      .map((f) => f.slice(0, -4))
      .sort();
    expect(files).toEqual(journalOnDisk.entries.map((e) => e.tag).sort());
  });

  test("build the same migration list (statements, hashes, timestamps) as drizzle's own file reader", () => {
    expect(embeddedMigrations()).toEqual(readMigrationFiles({ migrationsFolder: FOLDER }));
  });
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
