/** @module `heimdall restore FILE`: checks a backup against the master key, keeps the database it replaces aside, puts the backup in place and migrates it (docs/operations.md, "Backups"). */
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
} from "node:fs";
import { basename, resolve } from "node:path";
import { backupIsNewer, backupProblem, verifyBackupSecrets } from "../backup/backup.ts";
import { systemClock } from "../core/clock.ts";
import { migrate, openDatabase } from "../db/client.ts";
import { loadMasterKeys, VaultError } from "../vault/master-key.ts";
import {
  CliError,
  type CommandSpec,
  configFrom,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  helpText,
  simpleCommand,
} from "./args.ts";
import { lockForWriting, onPostgres } from "./data-dir.ts";

const spec: CommandSpec = {
  name: "restore",
  summary: "Replace the database with a backup, after checking it opens with the master key.",
  notes: [
    "Refused while a server holds the data dir: stop it first. Before anything is replaced the backup",
    "must pass PRAGMA integrity_check and the master key file must open every sealed secret in it (a",
    "backup from another key file is refused, naming the key id it needs). The replaced database is kept",
    "as heimdall.db.replaced-<timestamp> (with its -wal/-shm, if any); then pending migrations are applied.",
    "On a fresh machine: copy the master key file into place first (--master-key-file, or <data dir>/master.key).",
    "SQLite only: with HEIMDALL_DATABASE_URL it is refused (use pg_restore or the PostgreSQL service's backups).",
  ],
  options: {},
  config: true,
  positionals: { synopsis: "FILE", max: 1 },
};

const refuse = (why: string) => new CliError(`heimdall restore: not restoring: ${why}`, EXIT_FAILURE);

export const command = simpleCommand(spec, async (args, io) => {
  const config = configFrom(args.values);
  if (onPostgres(config))
    throw refuse(
      "the store is PostgreSQL (HEIMDALL_DATABASE_URL), and FILE would replace a database file it does not use; " +
        "restore with pg_restore or the PostgreSQL service's own backups",
    );
  const [given] = args.positionals;
  if (given === undefined) throw new CliError(`FILE is required\n\n${helpText(spec)}`, EXIT_USAGE);
  const file = resolve(given);
  // Checked before the lock so that a typo in the file name does not create a data dir.
  const problem = backupProblem(file);
  if (problem) throw refuse(`${file} ${problem}`);
  const lock = lockForWriting(
    config,
    "restore",
    "stop it first: a running server keeps the database it opened, and would go on writing to the replaced one",
  );
  try {
    if (!existsSync(config.masterKeyFile))
      throw refuse(
        `the master key file ${config.masterKeyFile} does not exist; copy the key file kept with the backup there (or point --master-key-file at it)`,
      );
    let keys: ReturnType<typeof loadMasterKeys>;
    try {
      keys = loadMasterKeys(config.masterKeyFile);
      await verifyBackupSecrets(file, keys, systemClock, config.masterKeyFile);
    } catch (err) {
      if (err instanceof VaultError) throw refuse(err.message);
      throw err;
    }
    if (await backupIsNewer(file))
      throw refuse(
        `${file} was written by a newer Heimdall (it has migrations this binary does not know); restore it with that version`,
      );
    return restoreLocked(file, config.dbFile, io);
  } finally {
    lock.release();
  }
});

function restoreLocked(file: string, dbFile: string, io: { out(line: string): void }): number {
  const stamp = new Date(systemClock.now())
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  // Staged inside the data dir (same file system), so putting it in place is one atomic rename.
  const staged = `${dbFile}.restoring-${stamp}`;
  rmSync(staged, { force: true });
  copyFileSync(file, staged);
  chmodSync(staged, 0o600);
  syncPath(staged);
  let keptAs: string | null = null;
  if (existsSync(dbFile)) {
    keptAs = `${dbFile}.replaced-${stamp}`;
    // The old -wal may hold committed pages the main file lacks: it moves with its database (SQLite pairs
    // them by name), so the kept copy stays whole and no stale WAL is left to be replayed into the new one.
    renameSync(dbFile, keptAs);
    for (const suffix of ["-wal", "-shm"]) {
      if (existsSync(`${dbFile}${suffix}`)) renameSync(`${dbFile}${suffix}`, `${keptAs}${suffix}`);
    }
  } else {
    for (const suffix of ["-wal", "-shm", "-journal"]) rmSync(`${dbFile}${suffix}`, { force: true });
  }
  renameSync(staged, dbFile);
  syncPath(resolve(dbFile, ".."));
  io.out(`restored ${file} to ${dbFile}`);
  if (keptAs) io.out(`the replaced database is kept as ${keptAs}; delete it once the restore is verified`);
  const db = openDatabase(dbFile);
  try {
    const before = applied(db);
    migrate(db);
    io.out(`applied ${applied(db) - before} migration(s)`);
  } finally {
    db.$client.close();
  }
  io.out(`next: \`heimdall audit verify\`, then start the server and sign in (${basename(dbFile)} is ready)`);
  return EXIT_OK;
}

function applied(db: ReturnType<typeof openDatabase>): number {
  return db.$client.query<{ n: number }, []>("SELECT count(*) AS n FROM __drizzle_migrations").get()!.n;
}

function syncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
