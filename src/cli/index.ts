/** @module The CLI dispatcher: `heimdall <command> …` → the command's module; errors become a message and an exit code. */
import { ConfigError } from "../config/index.ts";
import { HeimdallError } from "../core/errors.ts";
import { CliError, type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Io } from "./args.ts";
import { command as audit } from "./audit.ts";
import { command as backup } from "./backup.ts";
import { command as dev } from "./dev.ts";
import { command as doctor } from "./doctor.ts";
import { command as exportCommand } from "./export.ts";
import { command as healthcheck } from "./healthcheck.ts";
import { command as init } from "./init.ts";
import { command as keys } from "./keys.ts";
import { command as masterKey } from "./master-key.ts";
import { command as migrate } from "./migrate.ts";
import { command as migrateStore } from "./migrate-store.ts";
import { command as pak } from "./pak.ts";
import { command as restore } from "./restore.ts";
import { command as seed } from "./seed.ts";
import { command as serve } from "./serve.ts";
import { command as user } from "./user.ts";
import { command as users } from "./users.ts";
import { command as version } from "./version.ts";
import { command as webhooks } from "./webhooks.ts";

export const COMMANDS: readonly Command[] = [
  serve,
  dev,
  init,
  migrate,
  migrateStore,
  healthcheck,
  keys,
  masterKey,
  pak,
  user,
  users,
  webhooks,
  seed,
  exportCommand,
  audit,
  backup,
  restore,
  doctor,
  version,
];

export function usage(): string {
  return [
    "Usage: heimdall <command> [options]",
    "",
    "Heimdall: a self-hosted identity appliance (one binary, one SQLite file).",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(13)} ${c.summary}`),
    "",
    "Run `heimdall <command> --help` for a command's options. Configuration: flags > HEIMDALL_* env > --config file > defaults.",
  ].join("\n");
}

/** Runs one command and returns the process exit code; never throws. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? io.err : io.out)(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === "--version" || name === "-v") return await version.run([], io);
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`heimdall: unknown command "${name}"\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.err(err.message);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      io.err(`heimdall: ${err.message}`);
      return EXIT_USAGE;
    }
    // Service refusals (unknown workspace, duplicate email, vault problems) carry a clear message.
    if (err instanceof HeimdallError) {
      const details = (err.details ?? []).map((d) => `\n  ${d.field}: ${d.reason}`).join("");
      io.err(`heimdall ${name}: ${err.message} (${err.code})${details}`);
      return EXIT_FAILURE;
    }
    // A database failure after the start-up checks (disk full, I/O error, a file damaged while open):
    // one line with SQLite's code, not a stack trace through the driver.
    if (err instanceof Error && err.name === "SQLiteError") {
      const code = (err as Error & { code?: string }).code ?? "SQLITE_ERROR";
      io.err(`heimdall ${name}: database error: ${err.message} (${code}); see docs/operations.md`);
      return EXIT_FAILURE;
    }
    io.err(`heimdall ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return EXIT_FAILURE;
  }
}
