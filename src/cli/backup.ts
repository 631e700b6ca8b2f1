/** @module `heimdall backup [FILE]`: an online, consistent, integrity-checked copy of the database, taken beside a running server (docs/operations.md, "Backups"). */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { backupFileName, writeBackup } from "../backup/backup.ts";
import { systemClock } from "../core/clock.ts";
import {
  CliError,
  type CommandSpec,
  configFrom,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  helpText,
  optionalString,
  simpleCommand,
} from "./args.ts";
import { checkDataDir, inspectDataDir, onPostgres } from "./data-dir.ts";

const spec: CommandSpec = {
  name: "backup",
  summary: "Write a consistent copy of the database (safe while the server runs).",
  notes: [
    "FILE defaults to heimdall-<UTC timestamp>.db in the current directory (or in --dir). The copy is",
    "taken with SQLite's VACUUM INTO (a snapshot of committed data), checked with PRAGMA integrity_check,",
    "and only then renamed into place. The command only reads the data dir: it takes no lock and runs",
    "beside a running server. The master key is never inside a backup: keep the key file with it.",
    "SQLite only: with HEIMDALL_DATABASE_URL it is refused (use pg_dump or the PostgreSQL service's backups).",
  ],
  options: { dir: { type: "string", arg: "<dir>", help: "directory for the default file name" } },
  config: true,
  positionals: { synopsis: "[FILE]", max: 1 },
};

export const command = simpleCommand(spec, async (args, io) => {
  const config = configFrom(args.values);
  if (onPostgres(config))
    throw new CliError(
      "heimdall backup: the store is PostgreSQL (HEIMDALL_DATABASE_URL), not a file this command can copy; " +
        "back it up with pg_dump or the PostgreSQL service's own backups, and keep the master key file beside them",
      EXIT_FAILURE,
    );
  const dir = optionalString(args.values, "dir");
  const [file] = args.positionals;
  if (file !== undefined && dir !== undefined)
    throw new CliError(`give either FILE or --dir, not both\n\n${helpText(spec)}`, EXIT_USAGE);
  const state = inspectDataDir(config);
  if (!state.dbExists)
    throw new CliError(`heimdall: no database at ${config.dbFile}; nothing to back up`, EXIT_FAILURE);
  // The same checks as every command that opens the data dir, all of them read-only: a damaged
  // database or a key file that does not load is reported now rather than found in a restore.
  checkDataDir(config, state);
  const target = resolve(file ?? join(dir ?? ".", backupFileName(systemClock.now())));
  // A backup directory that does not exist yet is created private, as `HEIMDALL_BACKUP_DIR` is.
  if (dir !== undefined) mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  // Read-only, and no data-dir lock: a backup must not stop (or be stopped by) the running server.
  const client = new Database(config.dbFile, { readonly: true });
  let result: Awaited<ReturnType<typeof writeBackup>>;
  try {
    client.exec("PRAGMA busy_timeout = 5000");
    result = await writeBackup(client, target);
  } finally {
    client.close();
  }
  io.out(`backup written: ${result.file} (${result.bytes} bytes, integrity check ok)`);
  io.out(
    `keep beside it: the master key file ${resolve(config.masterKeyFile)}` +
      (result.keyIds.length ? ` (it must hold key id ${result.keyIds.join(", ")})` : ""),
  );
  io.out(
    "the master key is never inside a backup: without it the sealed secrets (signing keys, client secrets) cannot be opened, " +
      "and `heimdall restore` refuses the backup",
  );
  return EXIT_OK;
});
