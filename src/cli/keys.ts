/** @module `heimdall keys list|rotate`: an app's signing keys from the command line (docs/operations.md, "Signing keys"). */

import type { AuditActor, CallMeta } from "../core/principal.ts";
import type { Deps } from "../deps.ts";
import {
  CliError,
  commandGroup,
  configFrom,
  EXIT_FAILURE,
  EXIT_OK,
  type Io,
  type Parsed,
  requireString,
} from "./args.ts";
import { withDataDir, withLockedDataDir } from "./data-dir.ts";

/** Writes the data dir: refused while a server holds it, with what to do instead. */
const WRITER = {
  command: "keys rotate",
  instead: "stop it first, or rotate through the running server: POST /v1/apps/{app_id}/keys/rotate",
};

/** Audit rows written by CLI commands: a system actor, and a request id that says where it came from. */
export const CLI_ACTOR: AuditActor = { type: "system", id: "cli" };
export const cliMeta = (command: string): Partial<CallMeta> => ({
  requestId: `cli-${command}-${crypto.randomUUID()}`,
  ip: null,
});

const APP_OPTION = { app: { type: "string" as const, arg: "<id|slug>", help: "the app (UUID or slug)" } };

function findApp(deps: Deps, ref: string) {
  const app = deps.apps.find(ref);
  if (!app) throw new CliError(`heimdall: no app with id or slug "${ref}"`, EXIT_FAILURE);
  return app;
}

const listSpec = {
  name: "keys list",
  summary: "List an app's signing keys and their states (next, active, retiring, retired).",
  options: { ...APP_OPTION, json: { type: "boolean" as const, help: "print JSON instead of a table" } },
  config: true,
};

async function list(args: Parsed, io: Io): Promise<number> {
  const ref = requireString(args.values, "app", listSpec);
  return withDataDir(configFrom(args.values), io, async (deps) => {
    const keys = deps.keys.list(findApp(deps, ref).id);
    if (args.values.json) {
      io.out(JSON.stringify(keys, null, 2));
      return EXIT_OK;
    }
    const rows = [
      ["KID", "STATE", "CREATED", "ACTIVATES", "RETIRES"],
      ...keys.map((k) => [k.kid, k.state, k.created_at, k.activates_at, k.retired_at ?? k.retire_at ?? "-"]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows)
      io.out(
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join("  ")
          .trimEnd(),
      );
    return EXIT_OK;
  });
}

const rotateSpec = {
  name: "keys rotate",
  summary: "Rotate an app's signing key now: the pre-published next key starts signing.",
  notes: [
    "--emergency also drops the old key from the JWKS at once (tokens it signed stop verifying).",
    "It writes the data dir, so it is refused while a server runs on it (<data dir>/heimdall.lock);",
    "then `POST /v1/apps/{app_id}/keys/rotate` on the running server does the same, immediately.",
  ],
  options: { ...APP_OPTION, emergency: { type: "boolean" as const, help: "retire the old key immediately" } },
  config: true,
};

async function rotate(args: Parsed, io: Io): Promise<number> {
  const ref = requireString(args.values, "app", rotateSpec);
  const emergency = args.values.emergency === true;
  return withLockedDataDir(configFrom(args.values), io, WRITER, async (deps) => {
    const app = findApp(deps, ref);
    const r = await deps.keys.rotate(app.id, { emergency, actor: CLI_ACTOR, meta: cliMeta("keys-rotate") });
    io.out(
      `rotated ${app.slug}: ${r.oldKid ?? "(none)"} -> ${r.newKid}${emergency ? " (emergency: old key withdrawn)" : ""}`,
    );
    io.out(`next key: ${r.nextKid ?? "(scheduled by the next tick)"}`);
    return EXIT_OK;
  });
}

export const command = commandGroup("keys", "Inspect and rotate per-app signing keys.", {
  list: { spec: listSpec, run: list },
  rotate: { spec: rotateSpec, run: rotate },
});
