/** @module `heimdall migrate-store`: copies a stopped SQLite data dir into an empty PostgreSQL database (docs/operations.md, "Several instances on PostgreSQL"). */
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { databaseFileProblem } from "../db/client.ts";
import { COORDINATION_TABLES, CopyRefused, copySqliteToPostgres } from "../db/copy.ts";
import { pgReachable, redactDatabaseUrl } from "../db/pg-connect.ts";
import { closePostgres, openPostgresDatabase, postgresOf } from "../db/postgres.ts";
import {
  CliError,
  type CommandSpec,
  configFrom,
  EXIT_FAILURE,
  EXIT_OK,
  optionalString,
  simpleCommand,
} from "./args.ts";
import { lockDataDir } from "./data-dir-lock.ts";

const spec: CommandSpec = {
  name: "migrate-store",
  summary: "Copy the data dir's SQLite database into an empty PostgreSQL database.",
  notes: [
    "The server must be stopped (the command takes the data-dir lock). The SQLite file is opened read-only",
    "and left as it is. The target must be empty: its PostgreSQL migrations are applied, every table is copied",
    "in one transaction and its row count checked before the commit; a target that holds Heimdall rows is",
    "refused with nothing written. Secrets are copied sealed: serve with the same master key file, e.g.",
    "`heimdall serve --database-url <url> --master-key-file <data dir>/master.key`.",
  ],
  options: {
    to: {
      type: "string",
      arg: "<url>",
      help: "the PostgreSQL database to fill (postgres://…; default: the configured --database-url)",
    },
  },
  config: true,
};

export const command = simpleCommand(spec, async (args, io) => {
  const config = configFrom(args.values);
  const url = optionalString(args.values, "to") ?? config.databaseUrl;
  if (!url) throw new CliError("heimdall migrate-store: --to <postgres://…> is required", EXIT_FAILURE);
  if (!/^postgres(ql)?:\/\//.test(url))
    throw new CliError(
      `heimdall migrate-store: --to must be a postgres:// or postgresql:// URL, not ${redactDatabaseUrl(url)}`,
      EXIT_FAILURE,
    );
  const where = redactDatabaseUrl(url);
  if (!existsSync(config.dbFile))
    throw new CliError(
      `heimdall migrate-store: no database at ${config.dbFile}; point --data-dir at the data dir to copy`,
      EXIT_FAILURE,
    );
  // A server writing the file while it is read would make the copy a mix of two moments.
  const lock = lockDataDir(
    config.dataDir,
    "migrate-store",
    "stop it first: the copy must see the database as it stands, with nothing writing to it",
  );
  try {
    const problem = databaseFileProblem(config.dbFile);
    if (problem) throw new CliError(`heimdall migrate-store: ${config.dbFile} ${problem}`, EXIT_FAILURE);
    const source = new Database(config.dbFile, { readonly: true });
    try {
      const target = openPostgresDatabase(url, { max: 2, applicationName: "heimdall migrate-store" });
      try {
        const unreachable = await pgReachable(postgresOf(target).$client);
        if (unreachable)
          throw new CliError(`heimdall migrate-store: cannot reach ${where}: ${unreachable}`, EXIT_FAILURE);
        io.out(`copying ${config.dbFile} into ${where}`);
        let total = 0;
        const copied = await copySqliteToPostgres(source, target, {
          onTable: ({ table, rows }) => {
            total += rows;
            io.out(`  ${table.padEnd(28)} ${String(rows).padStart(9)}`);
          },
        });
        for (const table of COORDINATION_TABLES)
          io.out(`  ${table.padEnd(28)} not copied (instance coordination, rebuilt by the servers)`);
        io.out(
          `copied ${total} row(s) in ${copied.length} tables; ${config.dbFile} is unchanged. ` +
            `Serve with --database-url and the same master key file (${config.masterKeyFile}).`,
        );
      } catch (err) {
        if (err instanceof CopyRefused)
          throw new CliError(`heimdall migrate-store: refused: ${err.message}`, EXIT_FAILURE);
        if (err instanceof CliError) throw err;
        // The server's words (a constraint, a timeout), never the URL's password.
        const message = (err as Error).message ?? String(err);
        throw new CliError(
          `heimdall migrate-store: the copy failed and was rolled back; the target holds at most the schema (${message.replaceAll(passwordOf(url) || "\u0000", "***")})`,
          EXIT_FAILURE,
        );
      } finally {
        await closePostgres(target);
      }
    } finally {
      source.close();
    }
  } finally {
    lock.release();
  }
  return EXIT_OK;
});

function passwordOf(url: string): string {
  try {
    const u = new URL(url);
    return u.searchParams.get("password") ?? decodeURIComponent(u.password);
  } catch {
    return "";
  }
}
