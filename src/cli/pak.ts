/** @module `heimdall pak create`: mints a platform API key from the command line and prints its token once (docs/decisions.md, "Platform subset"). */
import { readFileSync } from "node:fs";
import { DAY, HOUR, MINUTE } from "../core/clock.ts";
import { validationError } from "../core/errors.ts";
import {
  CliError,
  commandGroup,
  configFrom,
  EXIT_OK,
  EXIT_USAGE,
  helpText,
  type Io,
  optionalString,
  type Parsed,
  requireString,
} from "./args.ts";
import { withLockedDataDir } from "./data-dir.ts";

/** Writes the data dir: refused while a server holds it, with what to do instead. */
const WRITER = {
  command: "pak create",
  instead:
    "stop it first, or create the key through the running server: POST /v1/workspaces/{workspace_slug}/api-keys",
};

const createSpec = {
  name: "pak create",
  summary: "Create a platform API key and print its token once.",
  notes: [
    "Without --policy the key is bound to the workspace's full-access `heimdall-admin` policy.",
    'A policy file is JSON: [{"effect":"allow","actions":["heimdall.read"],"resources":["*"]}]',
    '(or {"statements": [...]}); it becomes a managed policy bound to the new key.',
    "Example: TOKEN=$(heimdall pak create --name ci --quiet)",
    "--expires-in takes <n>d, <n>h or <n>m (days, hours, minutes), e.g. 30d; --expires-at an ISO 8601",
    "date-time. Either must be in the future and at most 730 days ahead; without them the key never",
    "expires. After its expiry the key is refused (401 INVALID_TOKEN) like a revoked one.",
  ],
  options: {
    workspace: { type: "string" as const, arg: "<slug>", help: "workspace slug (default: default)" },
    name: { type: "string" as const, arg: "<name>", help: "a name for the key, e.g. ci" },
    description: { type: "string" as const, arg: "<text>", help: "optional description" },
    policy: { type: "string" as const, arg: "<file>", help: "JSON file of policy statements" },
    "expires-in": { type: "string" as const, arg: "<duration>", help: "lifetime, e.g. 30d, 12h, 90m" },
    "expires-at": { type: "string" as const, arg: "<date-time>", help: "expiry, e.g. 2027-06-30T00:00:00Z" },
    quiet: { type: "boolean" as const, short: "q", help: "print only the token" },
    json: { type: "boolean" as const, help: "print {token, record} as JSON" },
  },
  config: true,
};

const DURATION_UNITS: Record<string, number> = { d: DAY, h: HOUR, m: MINUTE };

/** `30d` → milliseconds; anything else is a usage error naming the flag. */
export function parseDuration(raw: string): number {
  const m = /^(\d{1,6})([dhm])$/.exec(raw.trim());
  if (!m || Number(m[1]) === 0) {
    throw new CliError(
      `--expires-in must be a positive <n>d, <n>h or <n>m (e.g. 30d), got "${raw}"\n\n${helpText(createSpec)}`,
      EXIT_USAGE,
    );
  }
  return Number(m[1]) * DURATION_UNITS[m[2]!]!;
}

/**
 * The `--policy` file as parsed JSON; what the statements may say is the service's check. An unreadable
 * file or broken JSON is a validation error on `policy`, as the statements' own errors are.
 */
export function readPolicyFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw validationError([{ field: "policy", reason: `cannot read ${path}: ${(e as Error).message}` }]);
  }
}

async function create(args: Parsed, io: Io): Promise<number> {
  const name = requireString(args.values, "name", createSpec);
  const expiresIn = optionalString(args.values, "expires-in");
  const expiresAt = optionalString(args.values, "expires-at");
  if (expiresIn !== undefined && expiresAt !== undefined) {
    throw new CliError(`give --expires-in or --expires-at, not both\n\n${helpText(createSpec)}`, EXIT_USAGE);
  }
  const expiresInMs = expiresIn === undefined ? undefined : parseDuration(expiresIn);
  return await withLockedDataDir(configFrom(args.values), io, WRITER, async (deps) => {
    const policyFile = optionalString(args.values, "policy");
    const { token, record, workspace } = await deps.provisioning.createPak({
      workspaceSlug: optionalString(args.values, "workspace") ?? "default",
      name,
      description: optionalString(args.values, "description"),
      policy: policyFile === undefined ? undefined : readPolicyFile(policyFile),
      expiresAt,
      expiresInMs,
    });
    if (args.values.json) io.out(JSON.stringify({ token, record }, null, 2));
    else if (args.values.quiet) io.out(token);
    else {
      io.out(`created PAK "${record.name}" (${record.id}) in workspace ${workspace.slug}`);
      io.out(`policies: ${record.policies.map((p) => p.name).join(", ")}`);
      io.out(`expires: ${record.expires_at ?? "never"}`);
      io.out("token (shown only now; store it as a secret):");
      io.out(token);
    }
    return EXIT_OK;
  });
}

export const command = commandGroup("pak", "Manage platform API keys (PAKs).", {
  create: { spec: createSpec, run: create },
});
