/** @module Admin API read of an app's audit log: who may read it, the filters and the `seq` cursor over AuditStore. */
import type { AppService } from "../apps/service.ts";
import { validationError } from "../core/errors.ts";
import { decodeCursor, type Page, pageOf, parseLimit, queryParam } from "../core/pagination.ts";
import type { PlatformPrincipal } from "../core/principal.ts";
import type { Db } from "../db/client.ts";
import { type AuditLogEntryDto, createAuditStore, toAuditLogDto } from "./store.ts";
import type { AuditVerifyResult } from "./writer.ts";

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

export interface AuditReader {
  /** Newest first; `query` carries `limit`, `cursor`, `action` and `actor_id` as the route received them. */
  listForApp(
    principal: PlatformPrincipal,
    ref: string,
    query: Record<string, unknown>,
  ): Promise<Page<AuditLogEntryDto>>;
  /** Walks the app's hash chain from its retention anchor (what `heimdall audit verify` does for every chain). */
  verifyForApp(principal: PlatformPrincipal, ref: string): Promise<AuditChainStatusDto>;
}

/** `GET /v1/apps/{app_id}/audit-logs/verify`: intact with the counts, or the first break. */
export interface AuditChainStatusDto {
  ok: boolean;
  /** Rows walked (intact chains only). */
  rows: number | null;
  /** Rows retention removed before the anchor (intact chains only). */
  pruned: number | null;
  first_break: { seq: number; reason: string } | null;
}

export function createAuditReader({
  db,
  apps,
  verify,
}: {
  db: Db;
  apps: Pick<AppService, "authorizeApp">;
  /** The writer's chain walk, for one chain. */
  verify: (chain: string) => Promise<AuditVerifyResult>;
}): AuditReader {
  const store = createAuditStore(db);
  return {
    async listForApp(principal, ref, query) {
      const limit = parseLimit(queryParam(query, "limit"));
      const cursor = decodeCursor(queryParam(query, "cursor"), isSeqCursor);
      const filter = { action: filterParam(query, "action"), actorId: filterParam(query, "actor_id") };
      const app = await apps.authorizeApp(principal, ref, "heimdall.audit.read");
      const rows = await store.listForApp(app.id, filter, cursor?.s, limit + 1);
      return pageOf(rows, limit, (r): SeqCursor => ({ s: r.seq }), toAuditLogDto);
    },
    async verifyForApp(principal, ref) {
      const app = await apps.authorizeApp(principal, ref, "heimdall.audit.read");
      // An app's rows form the chain named by its id (writer.ts).
      const r = await verify(app.id);
      return r.ok
        ? { ok: true, rows: r.rows, pruned: r.pruned, first_break: null }
        : { ok: false, rows: null, pruned: null, first_break: { seq: r.seq, reason: r.reason } };
    },
  };
}
