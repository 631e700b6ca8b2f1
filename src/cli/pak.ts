/** @module `heimdall pak create`: mints a platform API key from the command line and prints its token once (DESIGN §4). */
import {
  commandGroup,
  configFrom,
  EXIT_OK,
  type Io,
  optionalString,
  type Parsed,
  requireString,
} from "./args.ts";
import { withDataDir } from "./data-dir.ts";

const createSpec = {
  name: "pak create",
  summary: "Create a platform API key and print its token once.",
  notes: [
    "Without --policy the key is bound to the workspace's full-access `heimdall-admin` policy.",
    'A policy file is JSON: [{"effect":"allow","actions":["heimdall.read"],"resources":["*"]}]',
    '(or {"statements": [...]}); it becomes a managed policy bound to the new key.',
    "Example: TOKEN=$(heimdall pak create --name ci --quiet)",
  ],
  options: {
    workspace: { type: "string" as const, arg: "<slug>", help: "workspace slug (default: default)" },
    name: { type: "string" as const, arg: "<name>", help: "a name for the key, e.g. ci" },
    description: { type: "string" as const, arg: "<text>", help: "optional description" },
    policy: { type: "string" as const, arg: "<file>", help: "JSON file of policy statements" },
    quiet: { type: "boolean" as const, short: "q", help: "print only the token" },
    json: { type: "boolean" as const, help: "print {token, record} as JSON" },
  },
  config: true,
};

async function create(args: Parsed, io: Io): Promise<number> {
  const name = requireString(args.values, "name", createSpec);
  return withDataDir(configFrom(args.values), io, async (deps) => {
    const { token, record, workspace } = deps.workspaces.createPak({
      workspaceSlug: optionalString(args.values, "workspace") ?? "default",
      name,
      description: optionalString(args.values, "description"),
      policyFile: optionalString(args.values, "policy"),
    });
    if (args.values.json) io.out(JSON.stringify({ token, record }, null, 2));
    else if (args.values.quiet) io.out(token);
    else {
      io.out(`created PAK "${record.name}" (${record.id}) in workspace ${workspace.slug}`);
      io.out(`policies: ${record.policies.map((p) => p.name).join(", ")}`);
      io.out("token (shown only now; store it as a secret):");
      io.out(token);
    }
    return EXIT_OK;
  });
}

export const command = commandGroup("pak", "Manage platform API keys (PAKs).", {
  create: { spec: createSpec, run: create },
});
