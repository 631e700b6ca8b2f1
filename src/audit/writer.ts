/** @module The append-only audit log (DESIGN §8): one writer, a SHA-256 hash chain per app, and its verifier. */
import { asc } from "drizzle-orm";
import { type Db, preparedInsert } from "../db/client.ts";
import { auditLog } from "../db/schema.ts";
import type { AuditActor, CallMeta } from "../http/principal.ts";
import type { Clock } from "../platform/clock.ts";
import { sha256Hex } from "../platform/crypto.ts";
import { newId } from "../platform/ids.ts";

export interface AuditEntry {
  /** Set for app events; the chain is then the app id. */
  appId?: string | null;
  /** Set for platform events (workspace, PAK, policy); used as chain `workspace:<id>` when there is no app. */
  workspaceId?: string | null;
  action: string;
  resourceType?: string | null;
  resourceId?: string | null;
  actor: AuditActor;
  details?: Record<string, unknown> | null;
  meta?: Partial<CallMeta>;
}

export const GENESIS_HASH = "0".repeat(64);

type Row = typeof auditLog.$inferSelect;

/** The bytes that are hashed: every column but seq and hash, in a fixed order. */
function canonical(r: Omit<Row, "seq" | "hash">): string {
  return JSON.stringify([
    r.id,
    r.chain,
    r.appId,
    r.workspaceId,
    r.action,
    r.resourceType,
    r.resourceId,
    r.actorType,
    r.actorId,
    r.details,
    r.ip,
    r.requestId,
    r.createdAt,
    r.prevHash,
  ]);
}

export interface AuditWriter {
  /** Appends one row. Call it inside the transaction of the change it records. */
  record(entry: AuditEntry): string;
  /** Walks every chain; returns the first break found, or null when all chains are intact. */
  verify():
    | { ok: true; rows: number; chains: number }
    | { ok: false; chain: string; seq: number; reason: string };
}

export function createAuditWriter({ db, clock }: { db: Db; clock: Clock }): AuditWriter {
  const lastHash = db.$client.query<{ hash: string }, [string]>(
    "SELECT hash FROM audit_log WHERE chain = ? ORDER BY seq DESC LIMIT 1",
  );
  // Every audited action runs this; compiled once.
  const insert = preparedInsert(db, auditLog, [
    "id",
    "chain",
    "appId",
    "workspaceId",
    "action",
    "resourceType",
    "resourceId",
    "actorType",
    "actorId",
    "details",
    "ip",
    "requestId",
    "createdAt",
    "prevHash",
    "hash",
  ]);
  return {
    record(entry) {
      const chain = entry.appId ?? (entry.workspaceId ? `workspace:${entry.workspaceId}` : "platform");
      const prevHash = lastHash.get(chain)?.hash ?? GENESIS_HASH;
      const row = {
        id: newId(clock),
        chain,
        appId: entry.appId ?? null,
        workspaceId: entry.workspaceId ?? null,
        action: entry.action,
        resourceType: entry.resourceType ?? null,
        resourceId: entry.resourceId ?? null,
        actorType: entry.actor.type,
        actorId: entry.actor.id,
        details: entry.details ?? null,
        ip: entry.meta?.ip ?? null,
        requestId: entry.meta?.requestId ?? null,
        createdAt: clock.now(),
        prevHash,
      };
      insert({ ...row, hash: sha256Hex(canonical(row)) });
      return row.id;
    },
    verify() {
      const rows = db.select().from(auditLog).orderBy(asc(auditLog.seq)).all();
      const heads = new Map<string, string>();
      for (const r of rows) {
        const expectedPrev = heads.get(r.chain) ?? GENESIS_HASH;
        if (r.prevHash !== expectedPrev)
          return { ok: false, chain: r.chain, seq: r.seq, reason: "prev_hash mismatch" };
        const { seq: _s, hash, ...rest } = r;
        if (sha256Hex(canonical(rest)) !== hash)
          return { ok: false, chain: r.chain, seq: r.seq, reason: "hash mismatch" };
        heads.set(r.chain, hash);
      }
      return { ok: true, rows: rows.length, chains: heads.size };
    },
  };
}
