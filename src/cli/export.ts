/** @module `heimdall export [FILE]`: a workspace's apps as a seed file (docs/seed.md, "Export"). */
import { chmodSync, renameSync, writeFileSync } from "node:fs";
import { ExportAppNotFound, exportSeed, formatSeed } from "../seed/export.ts";
import { formatOfPath, type SeedFormat } from "../seed/schema.ts";
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
import { withDataDir } from "./data-dir.ts";
import { workspaceOf } from "./seed-workspace.ts";

const spec: CommandSpec = {
  name: "export",
  summary: "Write a workspace's apps as a seed file (to FILE, or stdout).",
  notes: [
    "The format follows FILE's extension (.toml is TOML, anything else JSON); stdout is JSON unless",
    "--format says otherwise. No secrets are exported: `heimdall seed apply` of the file creates new M2M",
    "client secrets and API keys and prints them once. --with-users adds the accounts with their password",
    "hashes: FILE is then written with mode 0600. Only reads the data dir: runs beside a running server.",
  ],
  options: {
    app: {
      type: "string",
      arg: "<slug>",
      help: "export this app only (default: every app of the workspace)",
    },
    "with-users": { type: "boolean", help: "include end users, with their password hashes" },
    format: {
      type: "string",
      arg: "<json|toml>",
      help: "output format (default: from FILE's extension; JSON)",
    },
    workspace: { type: "string", arg: "<slug>", help: "workspace slug (default: default)" },
  },
  config: true,
  positionals: { synopsis: "[FILE]", max: 1 },
};

export const command = simpleCommand(spec, async (args, io) => {
  const [file] = args.positionals;
  const asked = optionalString(args.values, "format");
  if (asked !== undefined && asked !== "json" && asked !== "toml")
    throw new CliError(`--format must be json or toml, got "${asked}"\n\n${helpText(spec)}`, EXIT_USAGE);
  const format: SeedFormat = (asked as SeedFormat | undefined) ?? (file ? formatOfPath(file) : "json");
  const withUsers = args.values["with-users"] === true;
  return await withDataDir(configFrom(args.values), io, async (deps) => {
    const workspaceId = await workspaceOf(deps, optionalString(args.values, "workspace") ?? "default");
    let exported: Awaited<ReturnType<typeof exportSeed>>;
    try {
      exported = await exportSeed(deps, {
        workspaceId,
        app: optionalString(args.values, "app"),
        withUsers,
      });
    } catch (err) {
      if (err instanceof ExportAppNotFound)
        throw new CliError(`heimdall export: ${err.message}`, EXIT_FAILURE);
      throw err;
    }
    for (const w of exported.warnings) io.err(`heimdall export: warning: ${w}`);
    if (withUsers)
      io.err("heimdall export: warning: the export contains password hashes; keep it like a secret");
    const text = formatSeed(exported.document, format);
    if (file === undefined) {
      io.out(text.trimEnd());
      return EXIT_OK;
    }
    // Whole or not at all, and private from the first byte when it holds hashes.
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, text, { mode: withUsers ? 0o600 : 0o644 });
    if (withUsers) chmodSync(tmp, 0o600);
    renameSync(tmp, file);
    io.err(`heimdall export: wrote ${file}`);
    return EXIT_OK;
  });
});
