/** @module `heimdall serve`: checks the data dir, initialises it on first run, serves HTTP, and shuts down cleanly on SIGTERM/SIGINT; `runServer` is that life, shared with `heimdall dev`. */

import { createApp } from "../app.ts";
import { reviewAdminLaneEnforcement } from "../apps/enforcement.ts";
import type { Config } from "../config/index.ts";
import { createLogger } from "../core/logger.ts";
import { type BuildOptions, buildDeps, type Deps } from "../deps.ts";
import { MAX_BULK_BODY_BYTES } from "../http/body.ts";
import { commonPasswords } from "../passwords/common-passwords.ts";
import {
  CliError,
  type CommandSpec,
  configFrom,
  EXIT_FAILURE,
  EXIT_OK,
  type Io,
  simpleCommand,
} from "./args.ts";
import {
  type BootstrapResult,
  checkDataDir,
  closeDb,
  initialiseDataDir,
  initialisePostgres,
  inspectDataDir,
  isFirstStart,
  lockForWriting,
  needsBootstrap,
  onPostgres,
  printCredentials,
  verifyVault,
} from "./data-dir.ts";

const spec: CommandSpec = {
  name: "serve",
  summary: "Run the server (initialises an empty data dir first).",
  notes: [
    "On an empty data dir it first does what `heimdall init` does and prints the credentials once.",
    "It holds <data dir>/heimdall.lock while it runs: a second server and the CLI commands that write",
    "the data dir are refused. It refuses to start when the database is missing, empty, truncated or",
    "corrupt but the master key is there (or the reverse), when the key file is readable by group or",
    "others, or when the key cannot decrypt the stored secrets. SIGTERM/SIGINT drain and exit 0.",
  ],
  options: {},
  config: true,
};

/** The start-up line naming the public URL; the binary tests look for it. */
export const ISSUER_LINE = "Issuer base / SDK baseUrl: ";

/** In-flight requests get this long to finish after a stop signal; then connections are closed. */
const DRAIN_TIMEOUT_MS = 10_000;

export const command = simpleCommand(spec, async (args, io) => await runServer(configFrom(args.values), io));

/** What a command built on `runServer` adds to `serve`'s start-up (`heimdall dev`). */
export interface ServerHooks {
  /** Right after the data-dir lock is taken, before anything in the data dir is read. */
  readonly locked?: () => void;
  /** On a first start, instead of printing the boxed first-run credentials. */
  readonly initialised?: (result: BootstrapResult) => void;
  readonly buildOptions?: BuildOptions;
  /**
   * After the start-up checks, with the signing keys loaded, before listening. A throw stops start-up:
   * the database is closed and the lock released, nothing listens.
   */
  readonly beforeListen?: (deps: Deps) => Promise<void>;
  /** After the listening lines. */
  readonly listening?: (deps: Deps) => void;
}

/**
 * The server's life, shared by `serve` and `dev`: lock and check the data dir, initialise it on a first
 * start, build the graph, listen, run the jobs, then wait for SIGTERM/SIGINT and shut down cleanly.
 */
export async function runServer(config: Config, io: Io, hooks: ServerHooks = {}): Promise<number> {
  // Held for the life of the process; the kernel releases it when the process dies, however it dies. On
  // PostgreSQL there is no store in the data dir, and several instances share the database by design.
  const lock = onPostgres(config)
    ? { release: () => {} }
    : lockForWriting(
        config,
        "serve",
        "stop that server first: two servers on one data dir would each cache what the other changes",
      );
  let deps: Deps;
  try {
    hooks.locked?.();
    if (onPostgres(config)) {
      const log = createLogger(config.logLevel);
      const result = await initialisePostgres(config, log);
      if (result) {
        if (hooks.initialised) hooks.initialised(result);
        else printCredentials(io, result, config);
        log.info("database initialised", { database: "postgres" });
      }
    } else {
      const state = inspectDataDir(config);
      checkDataDir(config, state);
      if (isFirstStart(state)) {
        const log = createLogger(config.logLevel);
        const result = await initialiseDataDir(config, log);
        if (hooks.initialised) hooks.initialised(result);
        else printCredentials(io, result, config);
        log.info("data dir initialised", { data_dir: config.dataDir });
      }
    }
    deps = await buildDeps(config, hooks.buildOptions);
  } catch (err) {
    lock.release();
    throw err;
  }
  const { log } = deps;
  let app: ReturnType<typeof createApp>;
  try {
    await verifyVault(deps);
    if (await needsBootstrap(deps)) {
      throw new CliError(
        `heimdall: refusing to open the data dir: ${config.dbFile} holds no workspace (it was never initialised, or its data is gone): ` +
          `restore it from a backup, or move it and ${config.masterKeyFile} away to start fresh`,
        EXIT_FAILURE,
      );
    }
    await deps.keys.load();
    await reviewAdminLaneEnforcement(deps);
    await hooks.beforeListen?.(deps);
    app = createApp(deps).listen({
      hostname: config.host,
      port: config.port,
      // The body parser answers 413 in the API's error shape at 64 KiB; this is Bun's hard stop
      // for anything that would not even fit in the parser's read.
      maxRequestBodySize: MAX_BULK_BODY_BYTES * 2,
      // Elysia defaults to SO_REUSEPORT, which would let a second instance silently share the port.
      reusePort: false,
      development: false,
    });
  } catch (err) {
    await closeDb(deps.db);
    lock.release();
    throw err;
  }
  // The first beat of the leader-only jobs needs to know whether this instance leads, and the caches must hear
  // of other instances' changes from the first request on.
  await deps.lease.tick();
  await deps.changes.start();
  deps.scheduler.start();
  // The breached-password list is indexed on first use (a few ms); do it now that /readyz answers, after
  // the first readiness probes, so the first sign-up does not pay for it.
  setTimeout(commonPasswords, 200).unref();
  const server = app.server!;
  log.info("listening", { url: server.url.href.replace(/\/$/, ""), public_url: config.publicUrl });
  // Plain http and private-range webhook targets are the operator's explicit choices: said on every start.
  if (config.webhookAllowHttp || config.webhookAllowPrivate) {
    log.warn("webhook targets widened by configuration (docs/webhooks.md)", {
      webhook_allow_http: config.webhookAllowHttp,
      webhook_allow_private: config.webhookAllowPrivate,
    });
  }
  // The listen address (0.0.0.0, 127.0.0.1) is not what clients must use: tokens name the public URL as
  // their issuer, so an SDK given the listen address fails its `iss` check. Said plainly on every start.
  io.out(
    `${ISSUER_LINE}${config.publicUrl}  (tokens carry iss = ${config.publicUrl}/<app slug>; set HEIMDALL_PUBLIC_URL to change it)`,
  );
  hooks.listening?.(deps);

  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  await shutdown(deps, server, signal);
  lock.release();
  return EXIT_OK;
}

/** Stop accepting, let in-flight requests finish (bounded), stop the jobs, then close the database last. */
async function shutdown(deps: Deps, server: Bun.Server<unknown>, signal: string): Promise<void> {
  const { log } = deps;
  log.info("shutting down", { signal, in_flight: server.pendingRequests });
  const drained = await Promise.race([
    server.stop(false).then(() => true),
    Bun.sleep(DRAIN_TIMEOUT_MS).then(() => false),
  ]);
  if (!drained) {
    log.warn("drain timed out; closing remaining connections", { in_flight: server.pendingRequests });
    await server.stop(true);
  }
  await deps.scheduler.stop();
  await deps.changes.stop();
  // Another instance takes the leader-only jobs over at its next beat instead of after the lease's TTL.
  await deps.lease.release();
  // Rate-limit counters are written behind; the last second of them goes to disk before the database closes.
  await deps.rateLimiter.flush();
  await closeDb(deps.db);
  log.info("stopped");
}
