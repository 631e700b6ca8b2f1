/** @module Read side of the audit log: the per-app, newest-first listing behind the Admin audit-logs route. */
import { and, desc, eq, lt } from "drizzle-orm";
import { iso } from "../core/clock.ts";
import type { Db } from "../db/client.ts";
import type { auditLog } from "../db/schema.ts";

export type AuditRow = typeof auditLog.$inferSelect;

export interface AuditFilter {
  action?: string;
  actorId?: string;
}

/** AuditLogEntryDto plus the appliance's actor_type, ip and request_id (docs/architecture.md, "Audit"). */
export interface AuditLogEntryDto {
  id: string;
  app_id: string;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  actor_type: AuditRow["actorType"];
  actor_id: string | null;
  details: Record<string, unknown> | null;
  ip: string | null;
  request_id: string | null;
  created_at: string;
}

export function toAuditLogDto(r: AuditRow): AuditLogEntryDto {
  return {
    id: r.id,
    app_id: r.appId ?? "",
    action: r.action,
    resource_type: r.resourceType,
    resource_id: r.resourceId,
    actor_type: r.actorType,
    actor_id: r.actorId,
    details: r.details,
    ip: r.ip,
    request_id: r.requestId,
    created_at: iso(r.createdAt),
  };
}

export function createAuditStore(db: Db) {
  const { auditLog } = db.tables;
  return {
    /** Rows of one app, newest first (by `seq`, the chain order), strictly before `beforeSeq`. */
    async listForApp(
      appId: string,
      filter: AuditFilter,
      beforeSeq: number | undefined,
      limit: number,
    ): Promise<AuditRow[]> {
      return await db
        .select()
        .from(auditLog)
        .where(
          and(
            eq(auditLog.appId, appId),
            filter.action !== undefined ? eq(auditLog.action, filter.action) : undefined,
            filter.actorId !== undefined ? eq(auditLog.actorId, filter.actorId) : undefined,
            beforeSeq !== undefined ? lt(auditLog.seq, beforeSeq) : undefined,
          ),
        )
        .orderBy(desc(auditLog.seq))
        .limit(limit);
    },
  };
}

export type AuditStore = ReturnType<typeof createAuditStore>;
