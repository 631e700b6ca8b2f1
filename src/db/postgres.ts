/**
 * @module PostgreSQL as a {@link Db}: drizzle over Bun's SQL client with the `schema.pg.ts` tables, the
 * per-context executor (inside `tx` every statement runs on the transaction's connection, outside it on the
 * pool), and the embedded PostgreSQL migrations.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { sql } from "drizzle-orm";
import { type BunSQLDatabase, drizzle } from "drizzle-orm/bun-sql";
import { type Db, embeddedMigrations } from "./client.ts";
import { POSTGRES_JOURNAL, POSTGRES_MIGRATIONS } from "./migrations.ts";
import { openPostgresClient, type PgClient, type PgClientOptions } from "./pg-connect.ts";
import * as pgSchema from "./schema.pg.ts";

type PgOrm = BunSQLDatabase<typeof pgSchema> & { $client: PgClient };
/** drizzle's transaction object (also what a savepoint hands out). */
type PgTx = Parameters<Parameters<PgOrm["transaction"]>[0]>[0];

/** The PostgreSQL database behind a {@link Db}, for the modules that need PostgreSQL itself (migrator, probes). */
const bases = new WeakMap<object, PgOrm>();

export function openPostgresDatabase(url: string, opts: PgClientOptions = {}): Db {
  const client = openPostgresClient(url, opts);
  const base = drizzle({ client, schema: pgSchema }) as PgOrm;
  const current = new AsyncLocalStorage<PgTx>();
  let savepoints = 0;
  const $transaction = async <T>(fn: () => T | Promise<T>): Promise<T> => {
    const open = current.getStore();
    if (!open) return base.transaction((t) => current.run(t, async () => await fn()));
    // Nested: a savepoint of the transaction this async context is in (Bun's client refuses a nested BEGIN).
    const name = sql.raw(`hd_sp${++savepoints}`);
    await open.execute(sql`SAVEPOINT ${name}`);
    try {
      const result = await fn();
      await open.execute(sql`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await open.execute(sql`ROLLBACK TO SAVEPOINT ${name}`);
      throw err;
    }
  };
  const db = new Proxy(base, {
    get(target, prop) {
      if (prop === "engine") return "postgres";
      if (prop === "tables") return pgSchema;
      if (prop === "$transaction") return $transaction;
      if (prop === "$client") return client;
      const exec: object = current.getStore() ?? target;
      const value = Reflect.get(exec, prop, exec);
      return typeof value === "function" ? value.bind(exec) : value;
    },
  }) as unknown as Db;
  bases.set(db, base);
  return db;
}

/** The drizzle PostgreSQL database under `db` (throws for SQLite). */
export function postgresOf(db: Db): PgOrm {
  const base = bases.get(db);
  if (!base) throw new Error("not a PostgreSQL database");
  return base;
}

/**
 * Applies pending PostgreSQL migrations (drizzle's migrator: one transaction, recorded in
 * `drizzle.__drizzle_migrations`). Several instances may start at once: an advisory lock held on one reserved
 * connection makes the others wait and then find nothing to do, so migrations run exactly once.
 */
export async function migratePostgres(db: Db): Promise<void> {
  const reserved = await postgresOf(db).$client.reserve();
  try {
    await reserved`SELECT pg_advisory_lock(hashtext('heimdall:migrate'))`;
    try {
      // biome-ignore lint/suspicious/noExplicitAny: drizzle exposes the dialect migrator only untyped.
      const d = drizzle({ client: reserved as unknown as PgClient }) as any;
      await d.dialect.migrate(embeddedMigrations(POSTGRES_JOURNAL, POSTGRES_MIGRATIONS), d.session, {});
    } finally {
      await reserved`SELECT pg_advisory_unlock(hashtext('heimdall:migrate'))`;
    }
  } finally {
    reserved.release();
  }
}

/** Closes the pool (the CLI and tests; the server keeps it for its life). */
export async function closePostgres(db: Db): Promise<void> {
  await postgresOf(db).$client.close();
}
