/** @module The data-dir lifecycle (DESIGN §4, §6, §11): what `serve` and `init` check before they touch anything, and first-run set-up. */
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import type { Config } from "../config/index.ts";
import { workspaces } from "../db/schema.ts";
import { buildDeps, type Deps } from "../deps.ts";
import { createLogger } from "../platform/logger.ts";
import { createMasterKeyFile, loadMasterKeys, VaultError } from "../vault/master-key.ts";
import { CliError, EXIT_FAILURE, type Io } from "./args.ts";

export interface DataDirState {
  readonly dbExists: boolean;
  readonly keyExists: boolean;
}

export function inspectDataDir(config: Config): DataDirState {
  return { dbExists: existsSync(config.dbFile), keyExists: existsSync(config.masterKeyFile) };
}

const refuse = (why: string) => new CliError(`heimdall: refusing to open the data dir: ${why}`, EXIT_FAILURE);

/**
 * Checks the master key before the database is opened, so a refusal changes nothing on disk.
 * With a database, the key file must exist, be private and parse: a missing key is never
 * replaced, because a new key cannot open the secrets the database holds. Without a database,
 * a key file that is already there (restored ahead of time) is kept, but it must still be valid.
 */
export function checkMasterKey(config: Config, state: DataDirState): void {
  if (state.dbExists && !state.keyExists) {
    throw refuse(
      `the database ${config.dbFile} exists but the master key file ${config.masterKeyFile} does not. ` +
        "Restore the master key from your backup (or point --master-key-file at it); a new key cannot decrypt the existing signing keys.",
    );
  }
  if (!state.keyExists) return;
  try {
    loadMasterKeys(config.masterKeyFile);
  } catch (err) {
    if (err instanceof VaultError) throw refuse(err.message);
    throw err;
  }
}

/**
 * First run: a private data dir; unless one was provided, a fresh master key; then an empty database
 * file that only the owner can read (SQLite gives the -wal and -shm files the same mode). The key
 * comes first: a crash in between must not leave a database without its key, which start-up refuses.
 */
export function prepareFreshDataDir(config: Config, state: DataDirState): { createdKey: boolean } {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  if (!state.keyExists) createMasterKeyFile(config.masterKeyFile);
  closeSync(openSync(config.dbFile, "a", 0o600));
  return { createdKey: !state.keyExists };
}

/** Proves the master key opens every sealed secret; a wrong key must stop start-up, never lead to new keys. */
export function verifyVault(deps: Pick<Deps, "vault">): void {
  try {
    deps.vault.verifyAll();
  } catch (err) {
    if (err instanceof VaultError) throw refuse(err.message);
    throw err;
  }
}

/**
 * A database without a workspace has not been initialised: either it was just created, or a
 * previous first run died before its (single-transaction) bootstrap committed.
 */
export function needsBootstrap(deps: Pick<Deps, "db">): boolean {
  return deps.db.select({ id: workspaces.id }).from(workspaces).limit(1).get() === undefined;
}

export type BootstrapResult = Awaited<ReturnType<Deps["workspaces"]["bootstrap"]>>;

/**
 * The one place first-run credentials are shown: stdout, boxed, once. They never go to the
 * JSON log, which is usually shipped somewhere else.
 */
export function printCredentials(io: Io, result: BootstrapResult, config: Config): void {
  const mark = (generated: boolean) => (generated ? "  (generated)" : "  (from environment)");
  const rows: [string, string][] = [
    ["URL", config.publicUrl],
    ["workspace", result.workspace.slug],
    ["email", result.email],
    ["password", result.password + mark(result.generated.password)],
    ["PAK", result.pakToken + mark(result.generated.pak)],
  ];
  const lines = [
    "Heimdall is initialised. First-run credentials:",
    "",
    ...rows.map(([k, v]) => `${k.padEnd(10)} ${v}`),
    "",
    "They are shown only this once and are not written to the log.",
    "Sign in with the email and password; use the PAK as `Authorization: Bearer <PAK>`.",
    `Back up ${config.masterKeyFile} separately from the database.`,
  ];
  const width = Math.max(...lines.map((l) => l.length));
  io.out(`┌${"─".repeat(width + 2)}┐`);
  for (const l of lines) io.out(`│ ${l.padEnd(width)} │`);
  io.out(`└${"─".repeat(width + 2)}┘`);
}

/**
 * For the maintenance commands (keys, pak, user, audit): the full graph on an initialised data dir,
 * after the same key checks as `serve`, logging to stderr so stdout stays the command's output.
 * The database is closed when `fn` settles.
 */
export async function withDataDir<T>(config: Config, io: Io, fn: (deps: Deps) => Promise<T>): Promise<T> {
  const state = inspectDataDir(config);
  if (!state.dbExists) {
    throw new CliError(
      `heimdall: no database at ${config.dbFile}; run \`heimdall init\` (or point --data-dir at it)`,
      EXIT_FAILURE,
    );
  }
  checkMasterKey(config, state);
  const deps = buildDeps(config, { log: createLogger(config.logLevel, (line) => io.err(line)) });
  try {
    verifyVault(deps);
    return await fn(deps);
  } finally {
    deps.db.$client.close();
  }
}
