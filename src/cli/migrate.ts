/** @module `heimdall migrate`: applies the embedded migrations to an existing database and says how many ran. */
import { existsSync } from "node:fs";
import { sql } from "drizzle-orm";
import { type Db, migrate, openDatabase } from "../db/client.ts";
import { migratePostgres, openPostgresDatabase } from "../db/postgres.ts";
import { row } from "../db/query.ts";
import { CliError, type CommandSpec, configFrom, EXIT_FAILURE, EXIT_OK, simpleCommand } from "./args.ts";
import { checkDataDir, closeDb, inspectDataDir, onPostgres } from "./data-dir.ts";
import { lockDataDir } from "./data-dir-lock.ts";

const spec: CommandSpec = {
  name: "migrate",
  summary: "Apply pending database migrations and print how many ran.",
  notes: [
    "`serve` also migrates at start-up; this is for running it separately, e.g. before an upgrade window.",
  ],
  options: {},
  config: true,
};

export const command = simpleCommand(spec, async (args, io) => {
  const config = configFrom(args.values);
  // PostgreSQL: several instances may run this at once; the advisory lock makes it run once.
  if (onPostgres(config)) {
    const db = openPostgresDatabase(config.databaseUrl!);
    try {
      const before = await postgresAppliedCount(db);
      await migratePostgres(db);
      const after = await postgresAppliedCount(db);
      io.out(`applied ${after - before} migration(s); ${after} in total`);
    } finally {
      await closeDb(db);
    }
    return EXIT_OK;
  }
  // Creating a database here would leave one without a master key, which `serve` then refuses.
  if (!existsSync(config.dbFile)) {
    throw new CliError(
      `heimdall: no database at ${config.dbFile}; run \`heimdall init\` first`,
      EXIT_FAILURE,
    );
  }
  // Never under a running server: its statements and caches were built for the schema it started with.
  const lock = lockDataDir(
    config.dataDir,
    "migrate",
    "stop it first (the server applies pending migrations itself when it starts)",
  );
  try {
    checkDataDir(config, inspectDataDir(config));
    const db = openDatabase(config.dbFile);
    try {
      const before = appliedCount(db);
      migrate(db);
      const after = appliedCount(db);
      io.out(`applied ${after - before} migration(s); ${after} in total`);
    } finally {
      db.$client.close();
    }
  } finally {
    lock.release();
  }
  return EXIT_OK;
});

/** drizzle's PostgreSQL migrator records its migrations in `drizzle.__drizzle_migrations`. */
async function postgresAppliedCount(db: Db): Promise<number> {
  const table = await row<{ t: string | null }>(
    db,
    sql`SELECT to_regclass('drizzle.__drizzle_migrations') AS t`,
  );
  if (!table?.t) return 0;
  const n = await row<{ n: number }>(
    db,
    sql`SELECT CAST(count(*) AS INTEGER) AS n FROM drizzle.__drizzle_migrations`,
  );
  return Number(n?.n ?? 0);
}

function appliedCount(db: ReturnType<typeof openDatabase>): number {
  const table = db.$client
    .query<{ n: number }, []>(
      "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'",
    )
    .get()!.n;
  if (table === 0) return 0;
  return db.$client.query<{ n: number }, []>("SELECT count(*) AS n FROM __drizzle_migrations").get()!.n;
}
