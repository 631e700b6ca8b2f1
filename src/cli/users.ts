/** @module `heimdall users import`: end users from a JSON-lines or CSV file into an app, with their existing password hashes (docs/operations.md, "Importing users"). */
import { closeSync, openSync, statSync } from "node:fs";
import type { LocalOperatorPrincipal } from "../core/principal.ts";
import type { Deps } from "../deps.ts";
import {
  csvRecords,
  formatOfPath,
  ImportFileError,
  type ImportFormat,
  type ImportLine,
  type ImportResult,
  jsonlRecords,
} from "../users/import-model.ts";
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
  requireString,
} from "./args.ts";
import { withLockedDataDir } from "./data-dir.ts";
import { cliMeta } from "./keys.ts";

/** Writes the data dir: refused while a server holds it, with what to do instead. */
const WRITER = {
  command: "users import",
  instead:
    "stop it first, or create the accounts through the running server: POST /v1/apps/{app_id}/end-users (one per account)",
};

const FORMATS: readonly ImportFormat[] = ["jsonl", "csv"];

const importSpec = {
  name: "users import",
  summary: "Import end users into an app from a JSON-lines or CSV file, with their existing password hashes.",
  notes: [
    "Fields (JSON keys or CSV header columns): email (required), username, display_name, email_verified",
    "(true/false/1/0), role (an app role, default the app's signup default role), and password_hash (argon2,",
    "bcrypt, scrypt, PBKDF2 or Django pbkdf2_sha256) or password (plain: hashed here with argon2id, about",
    "50 ms each). Neither: the account has no password and uses the reset flow.",
    "Idempotent by email: an existing account is updated with the fields given, or left unchanged.",
    "Exit 0 when every line imported, 1 when some lines failed (the rest are imported), 2 for a usage error",
    "or a file that cannot be read.",
    "Example: heimdall users import --app shop users.jsonl",
  ],
  options: {
    app: { type: "string" as const, arg: "<id|slug>", help: "the app to import into (UUID or slug)" },
    workspace: {
      type: "string" as const,
      arg: "<slug>",
      help: "the workspace the app must be in (default: the app's own)",
    },
    format: {
      type: "string" as const,
      arg: "<jsonl|csv>",
      help: "the file's format (default: from its extension)",
    },
    json: { type: "boolean" as const, help: "print the result as JSON" },
  },
  config: true,
  positionals: { synopsis: "FILE", max: 1 },
};

/** The file's lines, read as a stream: a 100,000-line file is never in memory at once. */
export async function* fileLines(path: string): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let rest = "";
  for await (const chunk of Bun.file(path).stream()) {
    rest += decoder.decode(chunk, { stream: true });
    let nl = rest.indexOf("\n");
    while (nl !== -1) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      nl = rest.indexOf("\n");
    }
  }
  rest += decoder.decode();
  if (rest !== "") yield rest;
}

/** The file is there and readable now, so a typo in its name is a usage error before the data dir is touched. */
function checkReadable(path: string): void {
  try {
    if (!statSync(path).isFile()) throw new Error("not a file");
    closeSync(openSync(path, "r"));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new CliError(`heimdall users import: cannot read ${path}: ${why}`, EXIT_USAGE);
  }
}

async function findApp(deps: Deps, ref: string, workspace: string | undefined) {
  const app = await deps.apps.find(ref);
  if (!app) throw new CliError(`heimdall users import: no app with id or slug "${ref}"`, EXIT_FAILURE);
  const local: LocalOperatorPrincipal = { kind: "local", workspaceId: app.workspaceId };
  if (workspace !== undefined) {
    let slug: string | undefined;
    try {
      slug = (await deps.workspaces.getWorkspace(local, workspace)).slug;
    } catch {
      slug = undefined;
    }
    if (slug === undefined)
      throw new CliError(`heimdall users import: no app "${ref}" in workspace "${workspace}"`, EXIT_FAILURE);
  }
  // The Admin API's own check: an archived app is read-only (APP_ARCHIVED), a suspended one still takes accounts.
  if (app.status === "archived")
    throw new CliError(`heimdall users import: the app ${app.slug} is archived (read-only)`, EXIT_FAILURE);
  return app;
}

function printResult(io: Io, result: ImportResult, slug: string, json: boolean): void {
  if (json) {
    io.out(JSON.stringify({ app: slug, ...result }, null, 2));
    return;
  }
  const { created, updated, unchanged, failed, passwords_hashed: hashed } = result;
  io.out(
    `users import ${slug}: ${created} created, ${updated} updated, ${unchanged} unchanged, ${failed} failed` +
      (hashed > 0 ? ` (${hashed} plain passwords hashed)` : ""),
  );
  for (const e of result.errors) io.out(`line ${e.line}: ${e.error}`);
}

async function importUsers(args: Parsed, io: Io): Promise<number> {
  const ref = requireString(args.values, "app", importSpec);
  const path = args.positionals[0];
  if (path === undefined)
    throw new CliError(`the FILE to import is required\n\n${helpText(importSpec)}`, EXIT_USAGE);
  const given = optionalString(args.values, "format");
  if (given !== undefined && !(FORMATS as readonly string[]).includes(given))
    throw new CliError(`--format must be one of ${FORMATS.join(", ")}`, EXIT_USAGE);
  const format = (given as ImportFormat | undefined) ?? formatOfPath(path);
  if (format === null)
    throw new CliError(
      `heimdall users import: cannot tell the format of ${path} from its extension; give --format jsonl or --format csv`,
      EXIT_USAGE,
    );
  checkReadable(path);
  return await withLockedDataDir(configFrom(args.values), io, WRITER, async (deps) => {
    const app = await findApp(deps, ref, optionalString(args.values, "workspace"));
    const lines: AsyncIterable<ImportLine> =
      format === "csv" ? csvRecords(fileLines(path)) : jsonlRecords(fileLines(path));
    let result: ImportResult;
    try {
      result = await deps.userImport.importUsers(app.id, lines, {
        source: "cli",
        meta: cliMeta("users-import"),
      });
    } catch (err) {
      if (err instanceof ImportFileError)
        throw new CliError(
          `heimdall users import: ${path}: ${err.message}; nothing was imported`,
          EXIT_USAGE,
        );
      if ((err as { code?: string }).code === "ERR_ENCODING_INVALID_ENCODED_DATA")
        throw new CliError(
          `heimdall users import: ${path} is not UTF-8 text; lines before the bad bytes may have been imported (run it again once fixed: it is idempotent)`,
          EXIT_USAGE,
        );
      throw err;
    }
    printResult(io, result, app.slug, args.values.json === true);
    return result.failed > 0 ? EXIT_FAILURE : EXIT_OK;
  });
}

export const command = commandGroup("users", "Manage an app's end users from the command line.", {
  import: { spec: importSpec, run: importUsers },
});
