/** @module `heimdall init`: creates the data dir, master key, database, default workspace, owner and PAK — only on an empty data dir. */
import { rmSync } from "node:fs";
import { buildDeps, type Deps } from "../deps.ts";
import { createLogger } from "../platform/logger.ts";
import { CliError, type CommandSpec, configFrom, EXIT_FAILURE, EXIT_OK, simpleCommand } from "./args.ts";
import {
  type BootstrapResult,
  checkMasterKey,
  inspectDataDir,
  prepareFreshDataDir,
  printCredentials,
} from "./data-dir.ts";

const spec: CommandSpec = {
  name: "init",
  summary: "Initialise an empty data dir and print the first-run credentials once.",
  notes: [
    "Owner email/password and the PAK come from HEIMDALL_BOOTSTRAP_EMAIL/_PASSWORD/_PAK, else they are generated.",
    "A master key file that is already in place (restored ahead of time) is kept.",
    "Refuses (exit 1) when the data dir already holds a database.",
  ],
  options: {},
  config: true,
};

export const command = simpleCommand(spec, async (args, io) => {
  const config = configFrom(args.values);
  const state = inspectDataDir(config);
  if (state.dbExists) {
    throw new CliError(
      `heimdall: ${config.dataDir} is already initialised (${config.dbFile} exists); nothing was changed`,
      EXIT_FAILURE,
    );
  }
  checkMasterKey(config, state);
  const { createdKey } = prepareFreshDataDir(config, state);
  let deps: Deps | undefined;
  let result: BootstrapResult;
  try {
    // Diagnostics to stderr: stdout is for the credentials box.
    deps = buildDeps(config, { log: createLogger(config.logLevel, (l) => io.err(l)) });
    result = await deps.workspaces.bootstrap(config.bootstrap);
  } catch (err) {
    // Leave the data dir as we found it, so that fixing the cause and re-running `init` works.
    deps?.db.$client.close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(config.dbFile + suffix, { force: true });
    if (createdKey) rmSync(config.masterKeyFile, { force: true });
    throw err;
  }
  deps.db.$client.close();
  printCredentials(io, result, config);
  return EXIT_OK;
});
