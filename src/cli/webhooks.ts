/** @module `heimdall webhooks replay`: an app's past events queued again for its webhook (docs/webhooks.md, "Replay"). */
import { HeimdallError } from "../core/errors.ts";
import type { LocalOperatorPrincipal } from "../core/principal.ts";
import type { Deps } from "../deps.ts";
import {
  CliError,
  commandGroup,
  configFrom,
  EXIT_FAILURE,
  EXIT_OK,
  type Io,
  optionalString,
  type Parsed,
  requireString,
} from "./args.ts";
import { withLockedDataDir } from "./data-dir.ts";
import { cliMeta } from "./keys.ts";

/**
 * Writes the data dir, also beside a running server: a replay only marks deliveries pending in the
 * database, and the server's delivery worker reads them from there within a second.
 */
const WRITER = {
  command: "webhooks replay",
  instead: "retry when it has finished",
  besideServer: true,
};

const replaySpec = {
  name: "webhooks replay",
  summary: "Send an app's events since a point in time to its webhook again, with their original ids.",
  notes: [
    "Only types the webhook subscribes to are sent; --event-type narrows further (repeatable).",
    "Events are kept 30 days. A disabled webhook must be enabled first (PUT its configuration).",
    "Works beside a running server on the same data dir: its worker sends them within a second;",
    "without a server they go when it next starts.",
    "Example: heimdall webhooks replay --app shop --since 2026-11-01T00:00:00Z --event-type user.signup",
  ],
  options: {
    app: { type: "string" as const, arg: "<id|slug>", help: "the app (UUID or slug)" },
    since: { type: "string" as const, arg: "<ISO 8601>", help: "events from this instant on" },
    "event-type": {
      type: "string" as const,
      multiple: true,
      arg: "<type>",
      help: "only this event type (repeatable)",
    },
    workspace: {
      type: "string" as const,
      arg: "<slug>",
      help: "the workspace the app must be in (default: the app's own)",
    },
    json: { type: "boolean" as const, help: "print the result as JSON" },
  },
  config: true,
};

/** The app and the local operator of its workspace; `--workspace` must name the app's own. */
async function operatorFor(deps: Deps, ref: string, workspace: string | undefined) {
  const app = await deps.apps.find(ref);
  if (!app) throw new CliError(`heimdall webhooks replay: no app with id or slug "${ref}"`, EXIT_FAILURE);
  let principal: LocalOperatorPrincipal = { kind: "local", workspaceId: app.workspaceId };
  if (workspace !== undefined) {
    try {
      principal = await deps.provisioning.localOperator(workspace);
    } catch (err) {
      if (!(err instanceof HeimdallError)) throw err;
      throw new CliError(`heimdall webhooks replay: no workspace "${workspace}"`, EXIT_FAILURE);
    }
    if (principal.workspaceId !== app.workspaceId)
      throw new CliError(
        `heimdall webhooks replay: no app "${ref}" in workspace "${workspace}"`,
        EXIT_FAILURE,
      );
  }
  return { app, principal };
}

async function replay(args: Parsed, io: Io): Promise<number> {
  const ref = requireString(args.values, "app", replaySpec);
  const since = requireString(args.values, "since", replaySpec);
  const given = args.values["event-type"];
  const eventTypes = Array.isArray(given) ? given : typeof given === "string" ? [given] : [];
  return await withLockedDataDir(configFrom(args.values), io, WRITER, async (deps) => {
    const { app, principal } = await operatorFor(deps, ref, optionalString(args.values, "workspace"));
    const meta = { requestId: cliMeta("webhooks-replay").requestId!, ip: null, userAgent: null };
    const { queued } = await deps.webhooks.replay(
      principal,
      app.id,
      { since, ...(eventTypes.length > 0 ? { event_types: eventTypes } : {}) },
      meta,
    );
    if (args.values.json === true) io.out(JSON.stringify({ app: app.slug, since, queued }, null, 2));
    else
      io.out(
        `webhooks replay ${app.slug}: ${queued} event${queued === 1 ? "" : "s"} since ${since} queued; a server running on this data dir sends them within a second`,
      );
    return EXIT_OK;
  });
}

export const command = commandGroup("webhooks", "Operate an app's outbound webhook from the command line.", {
  replay: { spec: replaySpec, run: replay },
});
