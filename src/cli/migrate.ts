/** @module `heimdall migrate`: applies the embedded migrations to an existing database and says how many ran. */
import { existsSync } from "node:fs";
import { migrate, openDatabase } from "../db/client.ts";
import { CliError, type CommandSpec, configFrom, EXIT_FAILURE, EXIT_OK, simpleCommand } from "./args.ts";
import { checkDataDir, inspectDataDir } from "./data-dir.ts";
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

function appliedCount(db: ReturnType<typeof openDatabase>): number {
  const table = db.$client
    .query<{ n: number }, []>(
      "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'",
    )
    .get()!.n;
  if (table === 0) return 0;
  return db.$client.query<{ n: number }, []>("SELECT count(*) AS n FROM __drizzle_migrations").get()!.n;
}
