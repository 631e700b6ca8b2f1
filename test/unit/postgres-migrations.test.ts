/**
 * @module The embedded PostgreSQL migrations, applied to a fresh database on a real server, build exactly the
 * tables, columns, keys, indexes and foreign keys of `schema.pg.ts`, and no rows, as SQLite's build none.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Column, getTableName } from "drizzle-orm";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import { migrate, openDatabase } from "../../src/db/client.ts";
import { POSTGRES_JOURNAL, POSTGRES_MIGRATIONS } from "../../src/db/migrations.ts";
import { openPostgresClient, type PgClient } from "../../src/db/pg-connect.ts";
import * as schema from "../../src/db/schema.pg.ts";
import { freshPostgresDatabase } from "../support/postgres.ts";

const tables = (Object.values(schema) as unknown[])
  .filter((t): t is PgTable => t instanceof PgTable)
  .map((t) => getTableConfig(t));
const sorted = <T>(rows: T[], key: (row: T) => string) =>
  [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

/** `pg_constraint`'s one-letter referential actions, as drizzle spells them. */
const ACTIONS: Record<string, string> = {
  a: "no action",
  r: "restrict",
  c: "cascade",
  n: "set null",
  d: "set default",
};

let client: PgClient;

beforeAll(async () => {
  client = openPostgresClient(await freshPostgresDatabase(), { max: 1 });
  // As a migrator applies them: every migration's statements in order, all in one transaction.
  await client.begin(async (tx) => {
    for (const entry of POSTGRES_JOURNAL.entries) {
      for (const statement of POSTGRES_MIGRATIONS[entry.tag]!.split("--> statement-breakpoint")) {
        if (statement.trim()) await tx.unsafe(statement);
      }
    }
  });
});

afterAll(async () => {
  await client?.close();
});

describe("the PostgreSQL migrations on a fresh database", () => {
  test("create exactly the schema's tables", async () => {
    const rows = await client<{ table_name: string }[]>`
      SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`;
    expect(tables.length).toBeGreaterThan(30);
    expect(rows.map((r) => r.table_name).sort()).toEqual(tables.map((t) => t.name).sort());
  });

  test("with the schema's columns: order, type, null, default, identity", async () => {
    const rows = await client<
      {
        table_name: string;
        column_name: string;
        data_type: string;
        is_nullable: string;
        has_default: boolean;
        is_identity: string;
      }[]
    >`
      SELECT table_name, column_name, data_type, is_nullable, column_default IS NOT NULL AS has_default, is_identity
      FROM information_schema.columns WHERE table_schema = 'public'
      ORDER BY table_name, ordinal_position`;
    const expected = sorted(tables, (t) => t.name).flatMap((t) =>
      t.columns.map((c) => ({
        table_name: t.name,
        column_name: c.name,
        data_type: c.getSQLType(),
        is_nullable: c.notNull ? "NO" : "YES",
        has_default: c.default !== undefined,
        is_identity: c.generatedIdentity ? "YES" : "NO",
      })),
    );
    expect(sorted(rows, (r) => r.table_name).map((r) => ({ ...r }))).toEqual(expected);
  });

  test("with the schema's indexes: name, columns, unique, primary, condition", async () => {
    const rows = await client<
      {
        table: string;
        name: string;
        columns: string[];
        unique: boolean;
        primary: boolean;
        where: string | null;
      }[]
    >`
      SELECT t.relname AS table, i.relname AS name, ix.indisunique AS unique, ix.indisprimary AS primary,
        array(
          SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord
        ) AS columns,
        pg_get_expr(ix.indpred, ix.indrelid) AS where
      FROM pg_index ix
      JOIN pg_class i ON i.oid = ix.indexrelid
      JOIN pg_class t ON t.oid = ix.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public'`;
    // pg_indexes must list the same ones (it is the view over the same catalogue).
    const viewNames = await client<{ indexname: string }[]>`
      SELECT indexname FROM pg_indexes WHERE schemaname = 'public'`;
    expect(viewNames.map((r) => r.indexname).sort()).toEqual(rows.map((r) => r.name).sort());

    const expected = tables.flatMap((t) => {
      const singlePk = t.columns.filter((c) => c.primary);
      const primary = [
        ...singlePk.map((c) => ({ name: `${t.name}_pkey`, columns: [c.name] })),
        ...t.primaryKeys.map((pk) => ({
          name: pk.getName(),
          columns: pk.columns.map((c: Column) => c.name),
        })),
      ].map((p) => ({ table: t.name, ...p, unique: true, primary: true, where: null }));
      const uniqueColumns = t.columns
        .filter((c) => c.isUnique)
        .map((c) => ({
          table: t.name,
          name: c.uniqueName!,
          columns: [c.name],
          unique: true,
          primary: false,
          where: null,
        }));
      const uniques = t.uniqueConstraints.map((u) => ({
        table: t.name,
        name: u.getName() ?? "",
        columns: u.columns.map((c) => c.name),
        unique: true,
        primary: false,
        where: null,
      }));
      const indexes = t.indexes.map((i) => ({
        table: t.name,
        name: i.config.name!,
        columns: i.config.columns.map((c) => (c as { name: string }).name),
        unique: i.config.unique,
        primary: false,
        // A partial index's condition, as PostgreSQL prints it back, would be compared here; none has one yet.
        where: i.config.where ? "<partial>" : null,
      }));
      return [...primary, ...uniqueColumns, ...uniques, ...indexes];
    });
    // PostgreSQL-only, from the custom migration 0004_search_indexes: the search's bytewise ranges.
    expected.push(
      {
        table: "end_users",
        name: "end_users_app_username_bytes",
        columns: ["app_id", "username"],
        unique: false,
        primary: false,
        where: null,
      },
      {
        table: "end_user_contacts",
        name: "end_user_contacts_app_value_bytes",
        columns: ["app_id", "type", "value"],
        unique: false,
        primary: false,
        where: null,
      },
    );
    const actual = rows.map((r) => ({ ...r, columns: [...r.columns], where: r.where ? "<partial>" : null }));
    expect(sorted(actual, (r) => r.name)).toEqual(sorted(expected, (r) => r.name));
    // ... and those two compare their last column bytewise, as the search does.
    const defs = await client<{ def: string }[]>`
      SELECT indexdef AS def FROM pg_indexes
       WHERE indexname IN ('end_users_app_username_bytes', 'end_user_contacts_app_value_bytes') ORDER BY indexname`;
    expect(defs.map((d) => d.def.replace(/^.* USING btree /, ""))).toEqual([
      '(app_id, type, value COLLATE "C")',
      '(app_id, username COLLATE "C")',
    ]);
  });

  test("with the schema's foreign keys: name, columns, target, on delete, on update", async () => {
    const rows = await client<
      {
        table: string;
        name: string;
        columns: string[];
        foreign_table: string;
        foreign_columns: string[];
        on_delete: string;
        on_update: string;
      }[]
    >`
      SELECT t.relname AS table, c.conname AS name, f.relname AS foreign_table,
        c.confdeltype AS on_delete, c.confupdtype AS on_update,
        array(
          SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord
        ) AS columns,
        array(
          SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord
        ) AS foreign_columns
      FROM pg_constraint c
      JOIN pg_class t ON t.oid = c.conrelid
      JOIN pg_class f ON f.oid = c.confrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public' AND c.contype = 'f'`;
    const actual = rows.map((r) => ({
      ...r,
      columns: [...r.columns],
      foreign_columns: [...r.foreign_columns],
      on_delete: ACTIONS[r.on_delete],
      on_update: ACTIONS[r.on_update],
    }));
    const expected = tables.flatMap((t) =>
      t.foreignKeys.map((fk) => {
        const ref = fk.reference();
        return {
          table: t.name,
          name: fk.getName(),
          columns: ref.columns.map((c) => c.name),
          foreign_table: getTableName(ref.foreignTable),
          foreign_columns: ref.foreignColumns.map((c) => c.name),
          on_delete: fk.onDelete ?? "no action",
          on_update: fk.onUpdate ?? "no action",
        };
      }),
    );
    expect(expected.length).toBeGreaterThan(30);
    expect(sorted(actual, (r) => r.name)).toEqual(sorted(expected, (r) => r.name));
  });

  test("hold no rows, as a fresh SQLite database holds none (so the baseline needs no data statements)", async () => {
    const counts: Record<string, number> = {};
    for (const t of tables) {
      const [row] = await client.unsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "${t.name}"`);
      counts[t.name] = row!.n;
    }
    const sqlite = await openDatabase(":memory:");
    await migrate(sqlite);
    const sqliteCounts: Record<string, number> = {};
    for (const t of tables) {
      sqliteCounts[t.name] = sqlite.$client
        .query<{ n: number }, []>(`SELECT count(*) AS n FROM "${t.name}"`)
        .get()!.n;
    }
    sqlite.$client.close();
    expect(counts).toEqual(sqliteCounts);
    expect(Object.values(counts).every((n) => n === 0)).toBe(true);
  });
});
