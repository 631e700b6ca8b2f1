/** @module `heimdall init`: creates the data dir, master key, database, default workspace, owner and PAK — only on an empty data dir. */
import { createLogger } from "../core/logger.ts";
import { CliError, type CommandSpec, configFrom, EXIT_FAILURE, EXIT_OK, simpleCommand } from "./args.ts";
import {
  checkDataDir,
  initialiseDataDir,
  initialisePostgres,
  inspectDataDir,
  lockForWriting,
  onPostgres,
  printCredentials,
} from "./data-dir.ts";

const spec: CommandSpec = {
  name: "init",
  summary: "Initialise an empty data dir and print the first-run credentials once.",
  notes: [
    "Owner email/password and the PAK come from HEIMDALL_BOOTSTRAP_EMAIL/_PASSWORD/_PAK, else they are generated.",
    "A master key file outside the data dir (--master-key-file, e.g. a mounted secret) is used as it is.",
    "Refuses (exit 1, nothing changed) when the data dir already holds a database or a master key.",
    "With HEIMDALL_DATABASE_URL: migrates and bootstraps that PostgreSQL database (refused when it holds a",
    "workspace already); the master key file is made only for an empty database.",
  ],
  options: {},
  config: true,
};

export const command = simpleCommand(spec, async (args, io) => {
  const config = configFrom(args.values);
  if (onPostgres(config)) {
    const result = await initialisePostgres(
      config,
      createLogger(config.logLevel, (l) => io.err(l)),
    );
    if (!result)
      throw new CliError(
        "heimdall: the PostgreSQL database (HEIMDALL_DATABASE_URL) is already initialised; nothing was changed",
        EXIT_FAILURE,
      );
    printCredentials(io, result, config);
    return EXIT_OK;
  }
  const lock = lockForWriting(config, "init", "a data dir in use is initialised already");
  try {
    const state = inspectDataDir(config);
    if (state.dbExists && !state.dbEmpty) {
      throw new CliError(
        `heimdall: ${config.dataDir} is already initialised (${config.dbFile} exists); nothing was changed`,
        EXIT_FAILURE,
      );
    }
    // Names what is wrong with a data dir that is neither empty nor initialised; checks a provided key.
    checkDataDir(config, state);
    // Diagnostics to stderr: stdout is for the credentials box. A failed bootstrap leaves only the
    // staging dir behind (removed by the next attempt), so fixing the cause and re-running works.
    const result = await initialiseDataDir(
      config,
      createLogger(config.logLevel, (l) => io.err(l)),
    );
    printCredentials(io, result, config);
    return EXIT_OK;
  } finally {
    lock.release();
  }
});
