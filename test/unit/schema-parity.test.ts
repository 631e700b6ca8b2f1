/**
 * @module The PostgreSQL schema module (`schema.pg.ts`) mirrors the SQLite one (`schema.ts`): the same tables,
 * columns, keys, indexes and row types, with only the documented column type changes.
 */
import { describe, expect, test } from "bun:test";
import { type Column, getTableColumns, getTableName, isSQLWrapper, type SQL } from "drizzle-orm";
import { PgDialect, PgTable, getTableConfig as pgConfig } from "drizzle-orm/pg-core";
import { SQLiteSyncDialect, SQLiteTable, getTableConfig as sqliteConfig } from "drizzle-orm/sqlite-core";
import * as pg from "../../src/db/schema.pg.ts";
import * as sqlite from "../../src/db/schema.ts";

// ─── Types: tsc fails here when a table's row types differ between the dialects ──────────────────────

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;
/** Names what it is given in the error: a differing table's export name. */
type ExpectNone<T extends never> = T;
type Sqlite = typeof sqlite;
type Pg = typeof pg;
/** The exports whose row type differs (`never` when none does); tsc names them in its error. */
type Differing<Row extends "$inferSelect" | "$inferInsert"> = {
  [K in keyof Sqlite & keyof Pg]: Equal<Sqlite[K][Row], Pg[K][Row]> extends true ? never : K;
}[keyof Sqlite & keyof Pg];

export type SchemaTypeParity = [
  Expect<Equal<keyof Sqlite, keyof Pg>>,
  ExpectNone<Differing<"$inferSelect">>,
  ExpectNone<Differing<"$inferInsert">>,
];

// ─── The allowed differences ──────────────────────────────────────────────────────────────────────────

/**
 * drizzle column class in SQLite → the one PostgreSQL uses for it. An `integer` is `bigint` when it can pass
 * 2^31 (epoch-ms timestamps, ever-growing sequence numbers and totals), else `integer`; see BIGINT below.
 */
const TYPE_MAP: Record<string, string[]> = {
  SQLiteText: ["PgText"],
  // jsonb through a custom type that hands values to the driver as they are (drizzle's own jsonb stringifies
  // them first, and Bun's client then stores a JSON string instead of the object).
  SQLiteTextJson: ["PgCustomColumn:jsonb", "PgCustomColumn:text"],
  SQLiteInteger: ["PgBigInt53", "PgInteger"],
  SQLiteBoolean: ["PgBoolean"],
  SQLiteBlobBuffer: ["PgCustomColumn:bytea"],
};

/** JSON columns PostgreSQL keeps as exact text rather than jsonb (their bytes are hashed). */
const JSON_AS_TEXT = new Set(["audit_log.details"]);

/** Integer columns that must be `bigint` besides the `*_at` timestamps. */
const BIGINT = new Set([
  "end_users.locked_until",
  "audit_log.seq",
  "audit_anchors.pruned_through_seq",
  "audit_anchors.pruned_count",
  "rate_limits.window_start",
]);

/** SQL written in the schema (defaults, partial-index conditions) as SQLite has it → PostgreSQL's spelling. */
const SQL_TRANSLATIONS: Record<string, string> = {
  "'{}'": "'{}'::jsonb",
};

const sqliteDialect = new SQLiteSyncDialect();
const pgDialect = new PgDialect();
const render = (dialect: SQLiteSyncDialect | PgDialect, value: SQL | undefined) =>
  value === undefined ? undefined : dialect.sqlToQuery(value.inlineParams()).sql;

// ─── Both modules, as plain descriptions ───────────────────────────────────────────────────────────────

function tables<T>(module: Record<string, unknown>, kind: abstract new (...args: never[]) => T) {
  return Object.fromEntries(
    Object.entries(module)
      .filter((entry): entry is [string, T] => entry[1] instanceof kind)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}
const sqliteTables = tables(sqlite, SQLiteTable);
const pgTables = tables(pg, PgTable);

const columnShape = (key: string, c: Column) => ({
  key,
  name: c.name,
  notNull: c.notNull,
  hasDefault: c.hasDefault,
  primary: c.primary,
  unique: c.isUnique ? c.uniqueName : null,
  enumValues: c.enumValues ?? null,
});

/** The default as the other dialect must have it: a literal as is, SQL through SQL_TRANSLATIONS. */
function defaultOf(c: Column, dialect: "sqlite" | "pg"): unknown {
  if (c.default === undefined) return undefined;
  if (!isSQLWrapper(c.default)) return c.default;
  const text = render(dialect === "sqlite" ? sqliteDialect : pgDialect, c.default as SQL)!;
  return dialect === "sqlite" ? (SQL_TRANSLATIONS[text] ?? text) : text;
}

const whereOf = (where: SQL | undefined, dialect: "sqlite" | "pg") => {
  const text = render(dialect === "sqlite" ? sqliteDialect : pgDialect, where);
  return dialect === "sqlite" && text !== undefined ? (SQL_TRANSLATIONS[text] ?? text) : text;
};

const columnNames = (columns: readonly unknown[]) =>
  columns.map((c) => (c as { name?: string }).name ?? `<expression>`);

function describeSqlite(table: SQLiteTable) {
  const config = sqliteConfig(table);
  return {
    name: config.name,
    columns: Object.entries(getTableColumns(table)).map(([key, c]) => columnShape(key, c)),
    defaults: config.columns.map((c) => [c.name, defaultOf(c, "sqlite")]),
    primaryKeys: config.primaryKeys.map((pk) => ({ name: pk.getName(), columns: columnNames(pk.columns) })),
    uniques: config.uniqueConstraints.map((u) => ({ name: u.name, columns: columnNames(u.columns) })),
    indexes: config.indexes.map((i) => ({
      name: i.config.name,
      columns: columnNames(i.config.columns),
      unique: i.config.unique,
      where: whereOf(i.config.where, "sqlite"),
    })),
    foreignKeys: config.foreignKeys.map((fk) => {
      const ref = fk.reference();
      return {
        name: fk.getName(),
        columns: columnNames(ref.columns),
        foreignTable: getTableName(ref.foreignTable),
        foreignColumns: columnNames(ref.foreignColumns),
        onDelete: fk.onDelete ?? "no action",
        onUpdate: fk.onUpdate ?? "no action",
      };
    }),
    checks: config.checks.map((c) => c.name),
  };
}

function describePg(table: PgTable) {
  const config = pgConfig(table);
  return {
    name: config.name,
    columns: Object.entries(getTableColumns(table)).map(([key, c]) => columnShape(key, c)),
    defaults: config.columns.map((c) => [c.name, defaultOf(c, "pg")]),
    primaryKeys: config.primaryKeys.map((pk) => ({ name: pk.getName(), columns: columnNames(pk.columns) })),
    uniques: config.uniqueConstraints.map((u) => ({ name: u.name, columns: columnNames(u.columns) })),
    indexes: config.indexes.map((i) => ({
      name: i.config.name,
      columns: columnNames(i.config.columns),
      unique: i.config.unique,
      where: whereOf(i.config.where, "pg"),
    })),
    foreignKeys: config.foreignKeys.map((fk) => {
      const ref = fk.reference();
      return {
        name: fk.getName(),
        columns: columnNames(ref.columns),
        foreignTable: getTableName(ref.foreignTable),
        foreignColumns: columnNames(ref.foreignColumns),
        onDelete: fk.onDelete ?? "no action",
        onUpdate: fk.onUpdate ?? "no action",
      };
    }),
    checks: config.checks.map((c) => c.name),
  };
}

// ─── The checks ────────────────────────────────────────────────────────────────────────────────────────

describe("schema.pg.ts mirrors schema.ts", () => {
  test("the same exports, every one a table, with the same SQL table names", () => {
    expect(Object.keys(sqliteTables).length).toBeGreaterThan(30);
    expect(Object.keys(sqliteTables)).toEqual(Object.keys(sqlite).sort());
    expect(Object.keys(pgTables)).toEqual(Object.keys(pg).sort());
    expect(Object.keys(pgTables)).toEqual(Object.keys(sqliteTables));
    for (const [key, table] of Object.entries(sqliteTables)) {
      expect(getTableName(pgTables[key]!)).toBe(getTableName(table));
    }
  });

  for (const [key, sqliteTable] of Object.entries(sqliteTables)) {
    const name = getTableName(sqliteTable);
    describe(name, () => {
      const a = describeSqlite(sqliteTable);
      const b = pgTables[key] ? describePg(pgTables[key]) : undefined;

      test("columns: JS key, SQL name, order, not null, default, primary key, unique, enum values", () => {
        expect(b?.columns).toEqual(a.columns);
        expect(b?.defaults).toEqual(a.defaults);
      });

      test("column types follow the dialect mapping", () => {
        const pgColumns = pgConfig(pgTables[key]!).columns;
        const pairs = sqliteConfig(sqliteTable).columns.map((c, i) => ({
          column: `${name}.${c.name}`,
          sqlite: c.columnType,
          pg:
            pgColumns[i]?.columnType === "PgCustomColumn"
              ? `PgCustomColumn:${pgColumns[i]!.getSQLType()}`
              : pgColumns[i]?.columnType,
        }));
        for (const pair of pairs) {
          expect({ ...pair, allowed: TYPE_MAP[pair.sqlite]?.includes(pair.pg ?? "") ?? false }).toEqual({
            ...pair,
            allowed: true,
          });
          if (pair.sqlite === "SQLiteTextJson")
            expect({ column: pair.column, pg: pair.pg }).toEqual({
              column: pair.column,
              pg: JSON_AS_TEXT.has(pair.column) ? "PgCustomColumn:text" : "PgCustomColumn:jsonb",
            });
          if (pair.sqlite === "SQLiteInteger") {
            const wide = pair.column.endsWith("_at") || BIGINT.has(pair.column);
            expect({ column: pair.column, pg: pair.pg }).toEqual({
              column: pair.column,
              pg: wide ? "PgBigInt53" : "PgInteger",
            });
          }
        }
      });

      test("an autoincrementing key is an identity column", () => {
        const pgColumns = pgConfig(pgTables[key]!).columns;
        const auto = (c: Column) => (c as Column & { autoIncrement?: boolean }).autoIncrement === true;
        expect(pgColumns.filter((c) => c.generatedIdentity?.type === "byDefault").map((c) => c.name)).toEqual(
          sqliteConfig(sqliteTable)
            .columns.filter(auto)
            .map((c) => c.name),
        );
        expect(pgColumns.filter((c) => c.generatedIdentity?.type === "always")).toEqual([]);
      });

      test("primary keys, unique constraints and checks", () => {
        expect(b?.primaryKeys).toEqual(a.primaryKeys);
        expect(b?.uniques).toEqual(a.uniques);
        expect(b?.checks).toEqual(a.checks);
      });

      test("indexes: name, columns, unique, where (plain b-tree, ascending)", () => {
        expect(b?.indexes).toEqual(a.indexes);
        for (const index of pgConfig(pgTables[key]!).indexes) {
          expect(index.config.method ?? "btree").toBe("btree");
          for (const column of index.config.columns) {
            const config = (column as { indexConfig?: { order?: string; nulls?: string; opClass?: string } })
              .indexConfig;
            expect([config?.order ?? "asc", config?.nulls ?? "last", config?.opClass]).toEqual([
              "asc",
              "last",
              undefined,
            ]);
          }
        }
      });

      test("foreign keys: columns, target, on delete, on update", () => {
        expect(b?.foreignKeys).toEqual(a.foreignKeys);
      });
    });
  }

  test("every SQL name fits PostgreSQL's 63-byte identifiers (longer ones are cut, and may collide)", () => {
    const long = Object.values(pgTables).flatMap((table) => {
      const d = describePg(table);
      return [
        d.name,
        ...d.columns.flatMap((c) => [c.name, c.unique ?? ""]),
        ...d.primaryKeys.map((p) => p.name),
        ...d.uniques.map((u) => u.name),
        ...d.indexes.map((i) => i.name),
        ...d.foreignKeys.map((f) => f.name),
      ].filter((n) => Buffer.byteLength(n ?? "") > 63);
    });
    expect(long).toEqual([]);
  });
});
