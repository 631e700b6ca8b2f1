/** @module `heimdall user create`: adds a platform user to a workspace, e.g. a second owner or a read-only viewer (docs/decisions.md, "Platform subset"). */
import {
  CliError,
  commandGroup,
  configFrom,
  EXIT_OK,
  EXIT_USAGE,
  type Io,
  optionalString,
  type Parsed,
  requireString,
} from "./args.ts";
import { withLockedDataDir } from "./data-dir.ts";

/** Writes the data dir: refused while a server holds it, with what to do instead. */
const WRITER = {
  command: "user create",
  instead:
    "stop it first, or invite the user through the running server: POST /v1/workspaces/{workspace_slug}/invites",
};

const ROLES = ["owner", "admin", "viewer"] as const;

const createSpec = {
  name: "user create",
  summary: "Create a platform user and make them a member of a workspace.",
  notes: ["Without --password one is generated and printed once."],
  options: {
    email: {
      type: "string" as const,
      arg: "<email>",
      help: "the user's email (also the sign-in identifier)",
    },
    password: {
      type: "string" as const,
      arg: "<password>",
      help: "at least 12 characters (default: generated)",
    },
    workspace: { type: "string" as const, arg: "<slug>", help: "workspace slug (default: default)" },
    role: { type: "string" as const, arg: "<role>", help: "owner | admin | viewer (default: owner)" },
    json: { type: "boolean" as const, help: "print the result as JSON" },
  },
  config: true,
};

async function create(args: Parsed, io: Io): Promise<number> {
  const email = requireString(args.values, "email", createSpec);
  const role = optionalString(args.values, "role") ?? "owner";
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new CliError(`--role must be one of ${ROLES.join(", ")}`, EXIT_USAGE);
  }
  return await withLockedDataDir(configFrom(args.values), io, WRITER, async (deps) => {
    const result = await deps.provisioning.createUser({
      email,
      password: optionalString(args.values, "password"),
      workspace: optionalString(args.values, "workspace"),
      role: role as (typeof ROLES)[number],
    });
    if (args.values.json) {
      const { password, ...rest } = result;
      io.out(
        JSON.stringify({ ...rest, password: result.generated.password ? password : undefined }, null, 2),
      );
      return EXIT_OK;
    }
    io.out(
      `created ${result.role} ${result.user.email} (${result.user.id}) in workspace ${result.workspace.slug}`,
    );
    if (result.generated.password) io.out(`password (generated, shown only now): ${result.password}`);
    return EXIT_OK;
  });
}

export const command = commandGroup("user", "Manage platform users.", {
  create: { spec: createSpec, run: create },
});
