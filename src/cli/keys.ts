/** @module `heimdall keys list|rotate|alg`: an app's signing keys from the command line (docs/operations.md, "Signing keys"). */

import { HeimdallError } from "../core/errors.ts";
import type { AuditActor, CallMeta, LocalOperatorPrincipal } from "../core/principal.ts";
import type { Deps } from "../deps.ts";
import { isSigningAlg, SIGNING_ALGS } from "../keys/material.ts";
import type { RotationResult } from "../keys/rotation.ts";
import {
  CliError,
  commandGroup,
  configFrom,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  helpText,
  type Io,
  type Parsed,
  requireString,
} from "./args.ts";
import { withDataDir, withLockedDataDir } from "./data-dir.ts";

/**
 * Writes the data dir, also beside a running server: the rotation commits on its own connection and the
 * server reloads its keys within a second (it polls `PRAGMA data_version`). Refused only while another
 * writing command holds the lock.
 */
const WRITER = {
  command: "keys rotate",
  instead: "retry when it has finished",
  besideServer: true,
};

/** Audit rows written by CLI commands: a system actor, and a request id that says where it came from. */
export const CLI_ACTOR: AuditActor = { type: "system", id: "cli" };
export const cliMeta = (command: string): Partial<CallMeta> => ({
  requestId: `cli-${command}-${crypto.randomUUID()}`,
  ip: null,
});

const APP_OPTION = { app: { type: "string" as const, arg: "<id|slug>", help: "the app (UUID or slug)" } };

async function findApp(deps: Deps, ref: string) {
  const app = await deps.apps.find(ref);
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
  return await withDataDir(configFrom(args.values), io, async (deps) => {
    const keys = await deps.keys.list((await findApp(deps, ref)).id);
    if (args.values.json) {
      io.out(JSON.stringify(keys, null, 2));
      return EXIT_OK;
    }
    const rows = [
      ["KID", "ALG", "STATE", "CREATED", "ACTIVATES", "RETIRES"],
      ...keys.map((k) => [
        k.kid,
        k.alg,
        k.state,
        k.created_at,
        k.activates_at,
        k.retired_at ?? k.retire_at ?? "-",
      ]),
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
    "Refused (exit 1, nothing changed) while the next key has been published for less than 2 h:",
    "verifiers cache the JWKS for 1 h and would reject tokens signed by a key they have not seen.",
    "The refusal says from when a rotation is possible.",
    "--emergency rotates at once whatever the next key's age and drops the old key from the JWKS",
    "(tokens it signed stop verifying); verifier caches may miss until they refetch.",
    "Works beside a running server on the same data dir (no migrations then): the server serves",
    "and signs with the new keys within a second.",
  ],
  options: { ...APP_OPTION, emergency: { type: "boolean" as const, help: "retire the old key immediately" } },
  config: true,
};

async function rotate(args: Parsed, io: Io): Promise<number> {
  const ref = requireString(args.values, "app", rotateSpec);
  const emergency = args.values.emergency === true;
  return await withLockedDataDir(configFrom(args.values), io, WRITER, async (deps) => {
    const app = await findApp(deps, ref);
    let r: RotationResult;
    try {
      r = await deps.keys.rotate(app.id, { emergency, actor: CLI_ACTOR, meta: cliMeta("keys-rotate") });
    } catch (err) {
      // The refusal is the answer, not a crash: one line saying when, exit 1.
      if (err instanceof HeimdallError && err.code === "ROTATION_TOO_SOON")
        throw new CliError(
          `heimdall keys rotate: refused: ${err.message.replace("rotate with emergency: true", "run it with --emergency")} (ROTATION_TOO_SOON)`,
          EXIT_FAILURE,
        );
      throw err;
    }
    io.out(
      `rotated ${app.slug}: ${r.oldKid ?? "(none)"} -> ${r.newKid}${emergency ? " (emergency: old key withdrawn)" : ""}`,
    );
    io.out(`next key: ${r.nextKid ?? "(scheduled by the next tick)"}`);
    io.out(`new key published since ${new Date(r.newKeyPublishedAt).toISOString()}`);
    if (r.warning) io.out(`warning: ${r.warning}`);
    io.out("a server running on this data dir signs with the new key within a second");
    return EXIT_OK;
  });
}

const algSpec = {
  name: "keys alg",
  summary:
    "Set an app's signing algorithm (RS256, ES256 or EdDSA): a key of it is published now and signs in 2 h.",
  notes: [
    "The same as PATCH /v1/apps/{app_id}/auth-config {signing_alg}: the app's next key is replaced by",
    "one of the new algorithm, published in the JWKS at once; it starts signing once every verifier",
    "cache (JWKS max-age 1 h) can hold it, 2 h from now. Until then tokens keep the old algorithm,",
    "and tokens of the old key keep verifying for 7 days after. Verifiers must accept the new",
    "algorithm (the official SDK accepts all three). Without ALG it prints the current one.",
    "Works beside a running server on the same data dir.",
  ],
  options: APP_OPTION,
  positionals: { synopsis: "[RS256|ES256|EdDSA]", max: 1 },
  config: true,
};

async function alg(args: Parsed, io: Io): Promise<number> {
  const ref = requireString(args.values, "app", algSpec);
  const [wanted] = args.positionals;
  if (wanted !== undefined && !isSigningAlg(wanted))
    throw new CliError(
      `heimdall keys alg: unknown algorithm "${wanted}" (one of ${SIGNING_ALGS.join(", ")})\n\n${helpText(algSpec)}`,
      EXIT_USAGE,
    );
  const run = async (deps: Deps) => {
    const app = await findApp(deps, ref);
    const current = (await deps.apps.authConfigOf(app.id)).signing_alg;
    if (wanted === undefined || wanted === current) {
      io.out(`${app.slug}: ${current}${wanted === undefined ? "" : " (unchanged)"}`);
      return EXIT_OK;
    }
    const local: LocalOperatorPrincipal = { kind: "local", workspaceId: app.workspaceId };
    const meta = { requestId: `cli-keys-alg-${crypto.randomUUID()}`, ip: null, userAgent: null };
    await deps.apps.updateAuthConfig(local, app.id, { signing_alg: wanted }, meta);
    const next = (await deps.keys.list(app.id)).find((k) => k.state === "next" && k.alg === wanted);
    io.out(`${app.slug}: signing_alg ${current} -> ${wanted}`);
    if (next) io.out(`next key: ${next.kid} (${next.alg}), published now, signs from ${next.activates_at}`);
    io.out(`tokens stay ${current} until then; verifiers must accept ${wanted}`);
    return EXIT_OK;
  };
  // Reading needs no lock; a change writes, as `keys rotate` does, beside a running server too.
  return wanted === undefined
    ? await withDataDir(configFrom(args.values), io, run)
    : await withLockedDataDir(configFrom(args.values), io, { ...WRITER, command: "keys alg" }, run);
}

export const command = commandGroup("keys", "Inspect and rotate per-app signing keys.", {
  list: { spec: listSpec, run: list },
  rotate: { spec: rotateSpec, run: rotate },
  alg: { spec: algSpec, run: alg },
});
