/** @module `heimdall seed apply FILE`: converge a workspace's apps to a declarative seed file (docs/seed.md). */
import { HeimdallError } from "../core/errors.ts";
import { applySeed, SeedPlanError, type SeedResult, SeedStepError } from "../seed/apply.ts";
import { loadSeedFile, type SeedFile, SeedFileError } from "../seed/schema.ts";
import {
  CliError,
  commandGroup,
  configFrom,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  helpText,
  type Io,
  optionalString,
  type Parsed,
} from "./args.ts";
import { withLockedDataDir } from "./data-dir.ts";
import { workspaceOf } from "./seed-workspace.ts";

/** Writes the data dir in one transaction across many awaits: refused beside a running server. */
const WRITER = {
  command: "seed apply",
  instead: "stop it first (the seed is applied in one transaction that the server must not interleave with)",
};

const applySpec = {
  name: "seed apply",
  summary:
    "Create or update apps, roles, permissions, credentials, users, tenants and webhooks from a seed file.",
  notes: [
    "FILE is JSON, or TOML when it ends in .toml (docs/seed.md). Everything is applied in one transaction:",
    "a failure leaves the database as it was. Equal things are left alone, so applying twice changes nothing.",
    "Secrets made by the apply (M2M client secrets, API keys, webhook signing secrets) are printed once, on stdout.",
    "Exit 2: the file is malformed or does not fit the workspace (every problem listed, nothing applied).",
  ],
  options: {
    "dry-run": { type: "boolean" as const, help: "print the plan, change nothing" },
    prune: {
      type: "boolean" as const,
      help: "also delete custom permissions, custom roles, M2M clients and API keys of the listed apps that the file does not list, tenants and members not listed where the app lists tenants, and a webhook the file sets to null",
    },
    workspace: { type: "string" as const, arg: "<slug>", help: "workspace slug (default: default)" },
    json: { type: "boolean" as const, help: "print the result as JSON" },
  },
  config: true,
  positionals: { synopsis: "FILE", max: 1 },
};

/** The file's problems as a usage failure: exit 2, each problem on its own line. */
function problemsError(err: SeedFileError | SeedPlanError, file: string): CliError {
  return new CliError(
    `heimdall seed apply: ${file}: nothing applied; ${err.problems.length} problem(s):\n${err.problems.map((p) => `  ${p}`).join("\n")}`,
    EXIT_USAGE,
  );
}

/** A change the services refused: nothing was applied (rolled back); the change and the service's reason. */
function stepError(err: SeedStepError, file: string): CliError {
  const cause = err.cause;
  const why =
    cause instanceof HeimdallError
      ? `${cause.message} (${cause.code})${(cause.details ?? []).map((d) => `\n  ${d.field}: ${d.reason}`).join("")}`
      : cause instanceof Error
        ? cause.message
        : String(cause);
  return new CliError(
    `heimdall seed apply: ${file}: nothing applied (rolled back); refused at "${err.step}": ${why}`,
    EXIT_FAILURE,
  );
}

export function printSeedResult(io: Io, r: SeedResult): void {
  const total = r.created + r.updated + r.deleted;
  if (r.dry_run) io.out(`seed apply (dry run): ${total === 0 ? "0 changes" : "plan:"}`);
  for (const line of r.changes) io.out(line);
  const summary = `${r.created} created, ${r.updated} updated, ${r.deleted} deleted`;
  io.out(
    r.dry_run
      ? `seed apply (dry run): would make ${summary}; nothing changed`
      : `seed apply: ${total === 0 ? "0 changes" : summary}`,
  );
  if (r.secrets.length) {
    io.out("");
    io.out("New secrets (shown only now; store them as secrets):");
    for (const s of r.secrets)
      io.out(
        s.kind === "m2m"
          ? `m2m ${s.app}/${s.name} client_id=${s.client_id} client_secret=${s.secret}`
          : s.kind === "webhook"
            ? `webhook ${s.app} signing_secret=${s.secret}`
            : `api_key ${s.app}/${s.name} key=${s.secret}`,
      );
  }
}

async function apply(args: Parsed, io: Io): Promise<number> {
  const file = args.positionals[0];
  if (file === undefined) throw new CliError(`FILE is required\n\n${helpText(applySpec)}`, EXIT_USAGE);
  let seed: SeedFile;
  try {
    seed = loadSeedFile(file);
  } catch (err) {
    if (err instanceof SeedFileError) throw problemsError(err, file);
    throw err;
  }
  const workspace = optionalString(args.values, "workspace") ?? "default";
  return await withLockedDataDir(configFrom(args.values), io, WRITER, async (deps) => {
    const workspaceId = await workspaceOf(deps, workspace);
    let result: SeedResult;
    try {
      result = await applySeed(deps, seed, {
        dryRun: args.values["dry-run"] === true,
        prune: args.values.prune === true,
        workspaceId,
      });
    } catch (err) {
      if (err instanceof SeedPlanError) throw problemsError(err, file);
      if (err instanceof SeedStepError) throw stepError(err, file);
      throw err;
    }
    if (args.values.json) io.out(JSON.stringify(result, null, 2));
    else printSeedResult(io, result);
    return EXIT_OK;
  });
}

export const command = commandGroup(
  "seed",
  "Apply declarative seed files (apps, roles, credentials, users).",
  {
    apply: { spec: applySpec, run: apply },
  },
);
