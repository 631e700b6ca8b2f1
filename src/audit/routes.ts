/** @module Admin API: an app's audit log, newest first, filtered by action and actor, cursor-paginated over `seq`. */
import { Elysia } from "elysia";
import { validationError } from "../core/errors.ts";
import { decodeCursor, type Page, pageOf, parseLimit, queryParam } from "../core/pagination.ts";
import type { PlatformPrincipal } from "../core/principal.ts";
import type { Deps } from "../deps.ts";
import { guards } from "../http/guards.ts";
import { type AuditLogEntryDto, createAuditStore, toAuditLogDto } from "./store.ts";

interface SeqCursor {
  s: number;
}

const isSeqCursor = (v: unknown): v is SeqCursor =>
  typeof v === "object" && v !== null && Number.isSafeInteger((v as SeqCursor).s) && (v as SeqCursor).s > 0;

/** An optional exact-match filter; empty means "no filter", overlong is a client bug worth a 400. */
function filterParam(query: Record<string, unknown>, name: string): string | undefined {
  const v = queryParam(query, name);
  if (v === undefined || v === "") return undefined;
  if (v.length > 128) throw validationError([{ field: name, reason: "must be at most 128 characters" }]);
  return v;
}

export function listAppAuditLogs(
  deps: Pick<Deps, "apps" | "db">,
  principal: PlatformPrincipal,
  ref: string,
  query: Record<string, unknown>,
): Page<AuditLogEntryDto> {
  const limit = parseLimit(queryParam(query, "limit"));
  const cursor = decodeCursor(queryParam(query, "cursor"), isSeqCursor);
  const filter = { action: filterParam(query, "action"), actorId: filterParam(query, "actor_id") };
  const app = deps.apps.authorizeApp(principal, ref, "heimdall.audit.read");
  const rows = createAuditStore(deps.db).listForApp(app.id, filter, cursor?.s, limit + 1);
  return pageOf(rows, limit, (r): SeqCursor => ({ s: r.seq }), toAuditLogDto);
}

export const auditRoutes = (deps: Deps) =>
  new Elysia({ name: "heimdall.audit" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/audit-logs",
      ({ params, query, principal }) => listAppAuditLogs(deps, principal, params.app_id, query),
      { platform: "any" },
    );
