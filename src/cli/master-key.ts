/** @module `heimdall master-key rotate`: a new active master key, every DEK re-wrapped in one transaction, old keys retired on request. */
import type { Config } from "../config/index.ts";
import { systemClock } from "../core/clock.ts";
import { type Db, migrate, openDatabase } from "../db/client.ts";
import { migratePostgres, openPostgresDatabase } from "../db/postgres.ts";
import { appendMasterKey, loadMasterKeys, retireOldMasterKeys, VaultError } from "../vault/master-key.ts";
import { createVault } from "../vault/vault.ts";
import { CliError, commandGroup, configFrom, EXIT_FAILURE, EXIT_OK, type Io, type Parsed } from "./args.ts";
import { checkDataDir, closeDb, inspectDataDir, onPostgres } from "./data-dir.ts";
import { lockDataDir } from "./data-dir-lock.ts";

const rotateSpec = {
  name: "master-key rotate",
  summary: "Add a new active master key and re-wrap every data key under it.",
  notes: [
    "The old key lines stay in the file (they are harmless) until --retire-old, which removes them only",
    "after the re-wrap succeeded. The server must be stopped: a running one holds the key file it started",
    "with (and would seal new secrets under a retired key), so the command is refused beside it.",
    "Back up the new key file.",
  ],
  options: { "retire-old": { type: "boolean" as const, help: "remove the old key lines after re-wrapping" } },
  config: true,
};

async function rotate(args: Parsed, io: Io): Promise<number> {
  const config = configFrom(args.values);
  // PostgreSQL: no database file and no data-dir lock to hold, so stopping every instance is the operator's
  // part (docs/operations.md); the re-wrap is the same one transaction.
  if (onPostgres(config)) {
    const db = openPostgresDatabase(config.databaseUrl!);
    await migratePostgres(db).catch(async (err) => {
      await closeDb(db);
      throw err;
    });
    return await rotateLocked(args, io, config, db);
  }
  const state = inspectDataDir(config);
  if (!state.dbExists)
    throw new CliError(`heimdall: no database at ${config.dbFile}; nothing to re-wrap`, EXIT_FAILURE);
  // A running server keeps the keys it read at start and seals new secrets under its active one; after
  // a --retire-old beside it those secrets would be unreadable by every later start. So: never beside one.
  const lock = lockDataDir(
    config.dataDir,
    "master-key rotate",
    "stop it first (master-key rotation has no HTTP API: a running server keeps the key file it started with), then start it again after the rotation",
  );
  try {
    checkDataDir(config, state);
    const db = openDatabase(config.dbFile);
    migrate(db);
    return await rotateLocked(args, io, config, db);
  } finally {
    lock.release();
  }
}

async function rotateLocked(args: Parsed, io: Io, config: Config, db: Db): Promise<number> {
  const path = config.masterKeyFile;
  try {
    // Prove the current file opens everything before changing it: never rotate on top of a wrong key.
    try {
      await createVault({ db, keys: loadMasterKeys(path), clock: systemClock }).verifyAll();
    } catch (err) {
      if (err instanceof VaultError)
        throw new CliError(`heimdall: not rotating: ${err.message}`, EXIT_FAILURE);
      throw err;
    }
    const newId = appendMasterKey(path);
    io.out(`added master key ${newId} (now active)`);
    const vault = createVault({ db, keys: loadMasterKeys(path), clock: systemClock });
    let rewrapped: number;
    try {
      rewrapped = await vault.rewrapAll();
    } catch (err) {
      throw new CliError(
        `heimdall: re-wrap failed and was rolled back (${(err as Error).message}); ` +
          `the key file keeps every old key, so nothing is lost. Fix the cause and run the command again.`,
        EXIT_FAILURE,
      );
    }
    io.out(`re-wrapped ${rewrapped} secret(s) under ${newId}`);
    if (args.values["retire-old"]) {
      const removed = retireOldMasterKeys(path, await vault.kekIdsInUse());
      io.out(`retired ${removed} old master key(s)`);
    }
    io.out(`back up ${path} now`);
  } finally {
    await closeDb(db);
  }
  return EXIT_OK;
}

export const command = commandGroup(
  "master-key",
  "Rotate the master key that wraps every stored secret (see docs/operations.md).",
  {
    rotate: { spec: rotateSpec, run: rotate },
  },
);
