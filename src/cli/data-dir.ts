/** @module The data-dir lifecycle (docs/operations.md, "First start" and "Data-dir lock and start-up checks"): what `serve` and `init` check before they touch anything, and first-run set-up. */
import { Database } from "bun:sqlite";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import type { Config } from "../config/index.ts";
import { HeimdallError } from "../core/errors.ts";
import { createLogger, type Logger } from "../core/logger.ts";
import {
  type Db,
  databaseFileProblem,
  newerDatabaseMessage,
  openDatabase,
  pendingMigrations,
} from "../db/client.ts";
import { closePostgres, migratePostgres, openPostgresDatabase } from "../db/postgres.ts";
import { first } from "../db/query.ts";
import { buildDeps, type Deps } from "../deps.ts";
import { createMasterKeyFile, loadMasterKeys, VaultError } from "../vault/master-key.ts";
import { CliError, EXIT_FAILURE, type Io } from "./args.ts";
import { dataDirHolder, type Instead, lockDataDir } from "./data-dir-lock.ts";

export interface DataDirState {
  readonly dbExists: boolean;
  /** The database file exists with 0 bytes: never a database Heimdall wrote (see `initialiseDataDir`). */
  readonly dbEmpty: boolean;
  readonly keyExists: boolean;
  /** The key file lives outside the data dir (e.g. a mounted secret): present before the first start by design. */
  readonly keyOutside: boolean;
}

export function inspectDataDir(config: Config): DataDirState {
  const dbExists = existsSync(config.dbFile);
  const inside = resolve(config.masterKeyFile).startsWith(resolve(config.dataDir) + sep);
  return {
    dbExists,
    dbEmpty: dbExists && statSync(config.dbFile).isFile() && statSync(config.dbFile).size === 0,
    keyExists: existsSync(config.masterKeyFile),
    keyOutside: !inside,
  };
}

/** A first start: nothing to lose. A key from outside the data dir does not count (it is meant to be there). */
export const isFirstStart = (state: DataDirState) =>
  !state.dbExists && (!state.keyExists || state.keyOutside);

const refuse = (why: string) => new CliError(`heimdall: refusing to open the data dir: ${why}`, EXIT_FAILURE);

/**
 * Everything that must hold before the database is opened for writing, so that a refusal changes
 * nothing on disk. A first start happens only on a data dir with neither database nor master key;
 * every other state that is not a sound pair is refused with the file, the problem and the fix,
 * because guessing (a fresh database beside an old key, a new key beside an old database) silently
 * replaces an identity server with an empty one.
 */
export function checkDataDir(config: Config, state: DataDirState): void {
  const db = config.dbFile;
  const key = config.masterKeyFile;
  if (state.dbEmpty) {
    throw refuse(
      state.keyExists
        ? `${db} is empty (0 bytes) but ${key} exists: restore the database from a backup, or move both away to start fresh`
        : `${db} is empty (0 bytes): restore the database and ${key} from a backup, or remove the empty file to start fresh`,
    );
  }
  if (state.dbExists && !state.keyExists) {
    throw refuse(
      `the database ${db} exists but the master key file ${key} does not. ` +
        "Restore the master key from your backup (or point --master-key-file at it); a new key cannot decrypt the existing signing keys.",
    );
  }
  if (!state.dbExists && state.keyExists && !state.keyOutside) {
    throw refuse(
      `${key} exists but ${db} does not: restore the database from a backup, or move ${key} away to start fresh`,
    );
  }
  if (state.keyExists) {
    try {
      loadMasterKeys(key);
    } catch (err) {
      if (err instanceof VaultError) throw refuse(err.message);
      throw err;
    }
  }
  if (state.dbExists) {
    const problem = databaseFileProblem(db);
    if (problem)
      throw refuse(`${db} ${problem}: restore it (with ${key}, if that changed too) from a backup`);
    const newer = newerDatabaseProblem(db);
    if (newer) throw refuse(newer);
  }
}

/** A database from a newer Heimdall, read read-only (a sound file, as `databaseFileProblem` just proved). */
function newerDatabaseProblem(file: string): string | null {
  const sqlite = new Database(file, { readonly: true });
  try {
    return newerDatabaseMessage(file, sqlite);
  } finally {
    sqlite.close();
  }
}

/** Where a first run builds the database (and key) before moving them into place; gone when it is done. */
const stagingDir = (config: Config) => join(config.dataDir, ".first-start");

/**
 * First run, made all-or-nothing: the key and database are created and bootstrapped in a staging
 * dir inside the data dir, then renamed into place (the key first). A first run that dies leaves
 * only the staging dir, which the next one removes — never the "empty database beside a key" that
 * `checkDataDir` refuses. Between the two renames a crash leaves a key without a database, which is
 * refused with a message that says to move it away: nothing was ever served from it.
 * The caller holds the data-dir lock.
 */
export async function initialiseDataDir(config: Config, log: Logger): Promise<BootstrapResult> {
  const staging = stagingDir(config);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  const state = inspectDataDir(config);
  const staged: Config = {
    ...config,
    dbFile: join(staging, "heimdall.db"),
    masterKeyFile: state.keyOutside ? config.masterKeyFile : join(staging, "master.key"),
  };
  // A key outside the data dir is the operator's (a mounted secret, or its own path): made in place when
  // missing, since a crash then leaves a key and no database, which is still a first start.
  if (!state.keyExists) createMasterKeyFile(staged.masterKeyFile);
  // A private database file from the start (SQLite gives the -wal and -shm files the same mode).
  closeSync(openSync(staged.dbFile, "a", 0o600));
  const deps = await buildDeps(staged, { log });
  let result: BootstrapResult;
  try {
    result = await deps.provisioning.bootstrap(config.bootstrap);
    // Everything into the database file itself: only that file is moved into place.
    const [row] = deps.db.$client.query<{ busy: number }, []>("PRAGMA wal_checkpoint(TRUNCATE)").all();
    if (row?.busy !== 0) throw new Error("could not checkpoint the new database");
  } finally {
    await closeDb(deps.db);
  }
  if (!state.keyOutside) {
    mkdirSync(dirname(config.masterKeyFile), { recursive: true, mode: 0o700 });
    renameSync(staged.masterKeyFile, config.masterKeyFile);
  }
  renameSync(staged.dbFile, config.dbFile);
  syncDir(config.dataDir);
  rmSync(staging, { recursive: true, force: true });
  return result;
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The data dir exists (mode 0700 when created here) and this process holds its lock. */
export function lockForWriting(config: Config, command: string, instead: Instead) {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  return lockDataDir(config.dataDir, command, instead);
}

/** Proves the master key opens every sealed secret; a wrong key must stop start-up, never lead to new keys. */
export async function verifyVault(deps: Pick<Deps, "vault">): Promise<void> {
  try {
    await deps.vault.verifyAll();
  } catch (err) {
    if (err instanceof VaultError) throw refuse(err.message);
    throw err;
  }
}

/**
 * A database without a workspace has not been initialised: either it was just created, or a
 * previous first run died before its (single-transaction) bootstrap committed.
 */
export async function needsBootstrap(deps: Pick<Deps, "db">): Promise<boolean> {
  const { workspaces } = deps.db.tables;
  return (await first(deps.db.select({ id: workspaces.id }).from(workspaces).limit(1))) === undefined;
}

/** Closes the database: SQLite's file handle, or PostgreSQL's pool. */
export async function closeDb(db: Db): Promise<void> {
  if (db.engine === "postgres") await closePostgres(db);
  else db.$client.close();
}

/** The store is PostgreSQL (`HEIMDALL_DATABASE_URL`): no database file in the data dir, no data-dir lock. */
export const onPostgres = (config: Config) => config.databaseUrl !== undefined;

/**
 * The master key on PostgreSQL: it stays a file (each instance mounts the same one). It must exist and open,
 * unless `create` (a first start on an empty database) may make it.
 */
function checkMasterKeyFile(config: Config, create: boolean): void {
  const key = config.masterKeyFile;
  if (!existsSync(key)) {
    if (!create)
      throw refuse(
        `the master key file ${key} does not exist; every instance on a PostgreSQL store needs the same key (--master-key-file)`,
      );
    mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
    createMasterKeyFile(key);
    return;
  }
  try {
    loadMasterKeys(key);
  } catch (err) {
    if (err instanceof VaultError) throw refuse(err.message);
    throw err;
  }
}

/**
 * First start on PostgreSQL (`init`, `serve`): the migrations (run once, under an advisory lock) and, when the
 * database holds no workspace yet, the bootstrap, with a new master key file if there is none. Returns the
 * bootstrap result, or null when the database was initialised already. A key is made only for an empty
 * database, never beside one whose sealed secrets another key opens.
 */
export async function initialisePostgres(config: Config, log: Logger): Promise<BootstrapResult | null> {
  const keyMissing = !existsSync(config.masterKeyFile);
  const sharedKeyNeeded = () =>
    refuse(
      `the master key file ${config.masterKeyFile} does not exist but the PostgreSQL database is initialised; ` +
        "point --master-key-file at the key its other instances use",
    );
  if (keyMissing) {
    const db = openPostgresDatabase(config.databaseUrl!);
    try {
      await migratePostgres(db);
      if (!(await needsBootstrap({ db }))) throw sharedKeyNeeded();
    } finally {
      await closeDb(db);
    }
  }
  checkMasterKeyFile(config, true);
  const deps = await buildDeps(config, { log });
  try {
    // Initialised already, by this instance's past or by another instance started at the same moment: this one
    // starts as an ordinary instance of it, with the key the others use. A key it has just made is not that key:
    // gone again, so the next start meets the refusal above instead of serving beside a key nothing else opens.
    const initialisedElsewhere = async (lostTheRace: boolean): Promise<null> => {
      if (keyMissing) {
        rmSync(config.masterKeyFile, { force: true });
        throw sharedKeyNeeded();
      }
      await verifyVault(deps);
      if (lostTheRace) log.info("another instance initialised the database first; starting on it");
      return null;
    };
    if (!(await needsBootstrap(deps))) return await initialisedElsewhere(false);
    try {
      return await deps.provisioning.bootstrap(config.bootstrap);
    } catch (err) {
      if (!(err instanceof HeimdallError && err.code === "ALREADY_BOOTSTRAPPED")) throw err;
      return await initialisedElsewhere(true);
    }
  } finally {
    await closeDb(deps.db);
  }
}

export type BootstrapResult = Awaited<ReturnType<Deps["provisioning"]["bootstrap"]>>;

/**
 * The one place first-run credentials are shown: stdout, boxed, once. They never go to the
 * JSON log, which is usually shipped somewhere else.
 */
export function printCredentials(io: Io, result: BootstrapResult, config: Config): void {
  const mark = (generated: boolean) => (generated ? "  (generated)" : "  (from environment)");
  const rows: [string, string][] = [
    // The issuer base, not the listen address: an SDK pointed at 0.0.0.0 or 127.0.0.1 fails the `iss` check.
    ["SDK baseUrl", `${config.publicUrl}  (issuer base, HEIMDALL_PUBLIC_URL)`],
    ["workspace", result.workspace.slug],
    ["email", result.email],
    ["password", result.password + mark(result.generated.password)],
    ["PAK", result.pakToken + mark(result.generated.pak)],
  ];
  const lines = [
    "Heimdall is initialised. First-run credentials:",
    "",
    ...rows.map(([k, v]) => `${k.padEnd(11)} ${v}`),
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

/** A maintenance command that writes the data dir: its name and what to do instead while a server holds it. */
export interface Writer {
  readonly command: string;
  readonly instead: Instead;
  /**
   * Writes beside a running server instead of being refused: without the lock and without migrating or
   * seeding (refused when the schema is not current). Only for a write the server picks up by itself
   * (`keys rotate`: the server reloads its keys when another connection commits).
   */
  readonly besideServer?: boolean;
}

/** `withDataDir` for a command that writes: it holds the data-dir lock, so it is refused beside a running server. */
export async function withLockedDataDir<T>(
  config: Config,
  io: Io,
  writer: Writer,
  fn: (deps: Deps) => Promise<T>,
): Promise<T> {
  return await withDataDir(config, io, fn, writer);
}

/**
 * For the maintenance commands (keys, pak, user, audit): the full graph on an initialised data dir,
 * after the same checks as `serve`, logging to stderr so stdout stays the command's output.
 * A writer holds the data-dir lock until `fn` settles, so it refuses beside a running server (unless it
 * is marked `besideServer`: then it works like a reader that writes). A reader (no `writer`) works beside one, but then applies no migrations (the schema belongs to the server) and
 * refuses when this binary expects a newer schema than the database has. The database is closed when
 * `fn` settles.
 */
export async function withDataDir<T>(
  config: Config,
  io: Io,
  fn: (deps: Deps) => Promise<T>,
  writer?: Writer,
): Promise<T> {
  if (onPostgres(config)) return await withPostgres(config, io, fn);
  const state = inspectDataDir(config);
  if (!state.dbExists) {
    throw new CliError(
      `heimdall: no database at ${config.dbFile}; run \`heimdall init\` (or point --data-dir at it)`,
      EXIT_FAILURE,
    );
  }
  // A server holding the data dir is no refusal for a writer that may work beside it; anything else is.
  const beside = writer?.besideServer === true && dataDirHolder(config.dataDir)?.command === "serve";
  const lock = writer && !beside ? lockDataDir(config.dataDir, writer.command, writer.instead) : undefined;
  try {
    checkDataDir(config, state);
    // A writer beside the server stays in that mode even if the server stopped since: it holds no lock.
    const holder = lock ? null : (dataDirHolder(config.dataDir) ?? (beside ? { pid: 0 } : null));
    if (holder) {
      const db = openDatabase(config.dbFile);
      let pending: number;
      try {
        pending = pendingMigrations(db);
      } finally {
        db.$client.close();
      }
      if (pending > 0)
        throw new CliError(
          `heimdall: ${config.dbFile} lacks ${pending} migration(s) this binary needs, and a running server${holder.pid ? ` (pid ${holder.pid})` : ""} holds it; ` +
            "run this command with the same version as the server, or after the server was upgraded",
          EXIT_FAILURE,
        );
    }
    const deps = await buildDeps(config, {
      log: createLogger(config.logLevel, (line) => io.err(line)),
      readOnly: holder !== null,
    });
    try {
      await verifyVault(deps);
      return await fn(deps);
    } finally {
      await closeDb(deps.db);
    }
  } finally {
    lock?.release();
  }
}

/**
 * `withDataDir` on PostgreSQL: no database file to check and no data-dir lock (instances share the database by
 * design; what must not interleave runs in a transaction). The master key file must open; the migrations are
 * applied as every instance's start applies them (once, under an advisory lock); an uninitialised database is
 * refused.
 */
async function withPostgres<T>(config: Config, io: Io, fn: (deps: Deps) => Promise<T>): Promise<T> {
  checkMasterKeyFile(config, false);
  const deps = await buildDeps(config, { log: createLogger(config.logLevel, (line) => io.err(line)) });
  try {
    await verifyVault(deps);
    if (await needsBootstrap(deps))
      throw new CliError(
        "heimdall: the PostgreSQL database (HEIMDALL_DATABASE_URL) holds no workspace; run `heimdall init` first",
        EXIT_FAILURE,
      );
    return await fn(deps);
  } finally {
    await closeDb(deps.db);
  }
}
