/**
 * @module `heimdall dev`: a local stand-in in one command. `serve`'s life (runServer) with dev defaults
 * (loopback, `./.heimdall-dev`, fixed bootstrap credentials, email in log mode printed readably), an app and
 * a `dev` M2M client per `--app`, and a `.env` block to paste at the end of start-up.
 */
import { randomUUID } from "node:crypto";
import { isIP } from "node:net";
import { resolve } from "node:path";
import { createAppSchema } from "../apps/model.ts";
import type { ConfigDefaults } from "../config/index.ts";
import { HeimdallError } from "../core/errors.ts";
import type { CallMeta } from "../core/principal.ts";
import type { Deps } from "../deps.ts";
import { applySeed, SeedPlanError, SeedStepError } from "../seed/apply.ts";
import { loadSeedFile, type SeedFile, SeedFileError } from "../seed/schema.ts";
import {
  CliError,
  type CommandSpec,
  configFrom,
  EXIT_FAILURE,
  EXIT_USAGE,
  type Io,
  optionalString,
  simpleCommand,
} from "./args.ts";
import {
  type DevAppCredentials,
  type DevOperatorCredentials,
  formatEmail,
  readyBlock,
} from "./dev-output.ts";
import {
  devCredentialsPath,
  ensureApp,
  ensureDevClient,
  operatorCredentials,
  readDevCredentials,
  resetDevDataDir,
  writeDevCredentials,
} from "./dev-setup.ts";
import { runServer } from "./serve.ts";

/** The fixed dev credentials (README.md, "Local development"): the same on every machine, never for a real server. */
export const DEV_EMAIL = "dev@heimdall.localhost";
export const DEV_PASSWORD = "heimdall-dev-password";
export const DEV_PAK = "pcft_live_heimdall_dev_pak_not_a_secret_do_not_deploy";
export const DEV_DATA_DIR = "./.heimdall-dev";
const DEV_HOST = "127.0.0.1";

/** Under the flags, env and config file: everything a developer sets still wins. */
const DEV_DEFAULTS: ConfigDefaults = {
  name: "heimdall dev",
  publicHost: DEV_HOST,
  values: {
    host: DEV_HOST,
    data_dir: DEV_DATA_DIR,
    bootstrap_email: DEV_EMAIL,
    bootstrap_password: DEV_PASSWORD,
    bootstrap_pak: DEV_PAK,
    email_mode: "log",
  },
};

const spec: CommandSpec = {
  name: "dev",
  summary: "Run a local development server: fixed credentials, apps, a .env block to paste.",
  notes: [
    `Data dir ${DEV_DATA_DIR} (kept between runs), listening on ${DEV_HOST}:8080, email printed to the terminal.`,
    `Operator ${DEV_EMAIL} / ${DEV_PASSWORD}, PAK ${DEV_PAK}`,
    "(HEIMDALL_BOOTSTRAP_EMAIL, _PASSWORD and _PAK change them; they are set on a fresh data dir only).",
    "Each --app gets a `dev` M2M client; its secret is kept in <data dir>/dev-credentials.json (mode 0600).",
    "Not for production: the credentials are public. Examples:",
    "  heimdall dev --app demo",
    "  heimdall dev --app shop --app admin --port 9000",
    "  heimdall dev --seed heimdall.seed.json --reset",
  ],
  options: {
    app: { type: "string", multiple: true, arg: "<slug>", help: "an app to create if missing (repeatable)" },
    seed: { type: "string", arg: "<file>", help: "apply this seed file before listening" },
    reset: { type: "boolean", help: "wipe the dev data dir first (only one `heimdall dev` made)" },
    port: { type: "string", arg: "<port>", help: "listen port (HEIMDALL_PORT, default 8080)" },
    host: { type: "string", arg: "<addr>", help: `listen address (HEIMDALL_HOST, default ${DEV_HOST})` },
    "data-dir": { type: "string", arg: "<dir>", help: `data directory (default ${DEV_DATA_DIR})` },
    "public-url": {
      type: "string",
      arg: "<url>",
      help: `base of issuer URLs (HEIMDALL_PUBLIC_URL, default http://${DEV_HOST}:<port>)`,
    },
    "log-level": { type: "string", arg: "<level>", help: "debug | info | warn | error (default info)" },
  },
  config: false,
};

const isLoopback = (host: string) =>
  host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));

export const command = simpleCommand(spec, async (args, io) => {
  const config = configFrom(args.values, DEV_DEFAULTS);
  const slugs = [...new Set((args.values.app as string[] | undefined) ?? [])];
  for (const slug of slugs) {
    const ok = createAppSchema.shape.slug.safeParse(slug);
    if (!ok.success)
      throw new CliError(
        `heimdall dev: --app ${JSON.stringify(slug)}: ${ok.error.issues[0]?.message ?? "not a valid app slug"}`,
        EXIT_USAGE,
      );
  }
  const seedFile = optionalString(args.values, "seed");
  const operatorFixed = config.bootstrap.password === DEV_PASSWORD || config.bootstrap.pak === DEV_PAK;
  if (!isLoopback(config.host) && operatorFixed) {
    io.err(
      [
        "!!! WARNING ─────────────────────────────────────────────────────────────",
        `!!! heimdall dev listens on ${config.host}, reachable from other machines, and its`,
        "!!! operator password and PAK are the fixed, published dev defaults: anyone who",
        "!!! can reach this port can administer it. Use --host 127.0.0.1 unless you mean this.",
        "!!! ────────────────────────────────────────────────────────────────────",
      ].join("\n"),
    );
  }
  const meta: CallMeta = { requestId: `cli-dev-${randomUUID()}`, ip: null, userAgent: "heimdall dev" };
  // Read before the data dir is touched: a bad seed file stops start-up with nothing changed.
  const seed = seedFile ? loadSeed(seedFile) : null;
  let apps: DevAppCredentials[] = [];
  let operator: DevOperatorCredentials | undefined;
  return await runServer(config, io, {
    locked: () => {
      if (args.values.reset === true) resetDevDataDir(config);
    },
    initialised: (result) => {
      // Recorded at once: the file is also what marks this data dir as one `--reset` may wipe.
      writeDevCredentials(config, {
        operator: { email: result.email, password: result.password, pak: result.pakToken },
        apps: {},
      });
      io.out(`heimdall dev: initialised a new data dir at ${resolve(config.dataDir)}`);
    },
    buildOptions: { mailEcho: (m) => io.out(formatEmail(m)) },
    beforeListen: async (deps) => {
      const p = await deps.provisioning.localOperator();
      const file = readDevCredentials(config);
      const before = JSON.stringify(file);
      const targets = [...slugs];
      if (seed && seedFile)
        targets.unshift(...(await applySeedFile(io, deps, seedFile, seed, p.workspaceId)));
      apps = [];
      for (const slug of [...new Set(targets)]) {
        const app = await ensureApp(deps, p, slug, meta);
        apps.push(await ensureDevClient(deps, p, app, file, meta));
      }
      if (JSON.stringify(file) !== before || !file.operator) {
        file.operator ??= operatorCredentials(config, file);
        writeDevCredentials(config, file);
      }
      operator = file.operator;
    },
    listening: () => {
      for (const line of readyBlock({
        baseUrl: config.publicUrl,
        dataDir: resolve(config.dataDir),
        credentialsFile: resolve(devCredentialsPath(config)),
        operator: operator ?? operatorCredentials(config, { apps: {} }),
        apps,
      }))
        io.out(line);
    },
  });
});

/** The seed file, validated; its problems (each with its path in the file) are a usage error, exit 2. */
function loadSeed(path: string): SeedFile {
  try {
    return loadSeedFile(path);
  } catch (err) {
    if (err instanceof SeedFileError) throw seedProblems(path, err.problems);
    throw err;
  }
}

const seedProblems = (path: string, problems: readonly string[]) =>
  new CliError(
    `heimdall dev: ${path}: not started, nothing applied; ${problems.length} problem(s):\n${problems.map((p) => `  ${p}`).join("\n")}`,
    EXIT_USAGE,
  );

/**
 * Applies the seed as `heimdall seed apply` would (no pruning): a second start with the same file changes
 * nothing. Prints what changed and any secret the apply made; returns the seed's app slugs. A file that
 * does not fit the workspace is exit 2, a change the services refuse (rolled back) exit 1; nothing listens.
 */
async function applySeedFile(
  io: Io,
  deps: Deps,
  path: string,
  seed: SeedFile,
  workspaceId: string,
): Promise<string[]> {
  let result: Awaited<ReturnType<typeof applySeed>>;
  try {
    result = await applySeed(deps, seed, { workspaceId });
  } catch (err) {
    if (err instanceof SeedPlanError) throw seedProblems(path, err.problems);
    if (err instanceof SeedStepError) {
      const cause = err.cause;
      const why =
        cause instanceof HeimdallError
          ? `${cause.message} (${cause.code})`
          : cause instanceof Error
            ? cause.message
            : String(cause);
      throw new CliError(
        `heimdall dev: ${path}: not started, nothing applied (rolled back); refused at "${err.step}": ${why}`,
        EXIT_FAILURE,
      );
    }
    throw err;
  }
  if (result.changes.length > 0) {
    io.out(`heimdall dev: applied ${path}:`);
    for (const line of result.changes) io.out(`  ${line}`);
  }
  for (const s of result.secrets) {
    io.out(
      s.kind === "webhook"
        ? `  new webhook signing secret of ${s.app}: ${s.secret}  (shown once)`
        : `  new ${s.kind === "m2m" ? `M2M client ${s.client_id}` : "API key"} "${s.name}" of ${s.app}: ${s.secret}  (shown once)`,
    );
  }
  return seed.apps.map((a) => a.slug);
}
