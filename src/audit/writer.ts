/** @module The append-only audit log (docs/architecture.md, "Audit"): one writer, a SHA-256 hash chain per app, and its verifier. */
import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Clock } from "../core/clock.ts";
import { sha256Hex } from "../core/crypto.ts";
import { newId } from "../core/ids.ts";
import type { AuditActor, CallMeta } from "../core/principal.ts";
import { type Db, preparedInsert, tx } from "../db/client.ts";
import { exec, row as rowOf } from "../db/query.ts";
import type { auditLog } from "../db/schema.ts";

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

const VERIFY_PAGE = 5000;

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

/** A row for {@link AuditWriter.recordDurably}, with an optional write that commits with it. */
export interface DurableEntry {
  entry: AuditEntry;
  /**
   * A small write that rides in the row's transaction, run once per `key` per batch: under load a batch
   * holds many rows of one party (a client's tokens), and one UPDATE of its `last_used_at` serves them all.
   */
  alongside?: { key: string; write: (now: number) => Promise<void> };
}

export interface AuditWriter {
  /** Appends one row. Call it inside the transaction of the change it records. */
  record(entry: AuditEntry): Promise<string>;
  /**
   * Appends a row that records an event with no transaction of its own (a token issued), and resolves
   * once it is committed. Group commit: each commit is an fsync (`synchronous=FULL`) that would otherwise
   * block the event loop once per event, so rows recorded in the same two turns of the loop share one
   * transaction. Rejects, for every row of the batch, if that transaction fails.
   */
  recordDurably(item: DurableEntry): Promise<void>;
  /**
   * Walks every chain from its retention anchor (or from the genesis hash when nothing was pruned);
   * returns the first break found, or the counts when all chains are intact. With `chain` (an app's id,
   * `workspace:<id>`, `platform`) only that chain is walked.
   */
  verify(chain?: string): Promise<AuditVerifyResult>;
}

export type AuditVerifyResult =
  | { ok: true; rows: number; chains: number; pruned: number }
  | { ok: false; chain: string; seq: number; reason: string };

export function createAuditWriter({ db, clock }: { db: Db; clock: Clock }): AuditWriter {
  const { auditAnchors, auditLog } = db.tables;
  const postgres = db.engine === "postgres";
  // The chain's head: its newest row, or, when retention pruned every row of it, the anchor that
  // holds the last pruned row's hash (coalesce evaluates lazily: the anchor is read only then).
  const headQuery = (chain: string) =>
    sql`SELECT coalesce(
       (SELECT hash FROM audit_log WHERE chain = ${chain} ORDER BY seq DESC LIMIT 1),
       (SELECT hash FROM audit_anchors WHERE chain = ${chain})
     ) AS "hash"`;
  const sqliteHead = postgres
    ? null
    : db.$client.query<{ hash: string | null }, [string]>(
        `SELECT coalesce(
       (SELECT hash FROM audit_log WHERE chain = ?1 ORDER BY seq DESC LIMIT 1),
       (SELECT hash FROM audit_anchors WHERE chain = ?1)
     ) AS hash`,
      );
  /**
   * The chain's head, read under the chain's lock on PostgreSQL: several writers (instances, pooled
   * connections) append at once there, and the lock, held to the end of the writing transaction, makes the
   * read and the insert one step per chain. SQLite has one writer (BEGIN IMMEDIATE) and needs none.
   */
  const lastHash = async (chain: string): Promise<string | null> => {
    if (sqliteHead) return sqliteHead.get(chain)?.hash ?? null;
    await exec(db, sql`SELECT pg_advisory_xact_lock(hashtext(${chain}))`);
    return (await rowOf<{ hash: string | null }>(db, headQuery(chain)))?.hash ?? null;
  };
  // Every audited action runs this; compiled once on SQLite. PostgreSQL assigns `seq` (an identity column).
  const insert = postgres
    ? async (r: typeof auditLog.$inferInsert) => {
        await db.insert(auditLog).values(r);
      }
    : preparedInsert(db, auditLog, [
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
  async function* pages(chain?: string): AsyncGenerator<Row> {
    let after = 0;
    for (;;) {
      const page = await db
        .select()
        .from(auditLog)
        .where(
          chain === undefined
            ? gt(auditLog.seq, after)
            : and(eq(auditLog.chain, chain), gt(auditLog.seq, after)),
        )
        .orderBy(asc(auditLog.seq))
        .limit(VERIFY_PAGE);
      yield* page;
      if (page.length < VERIFY_PAGE) return;
      after = page[page.length - 1]!.seq;
    }
  }

  /** Appends one row; `heads` carries the chain heads a batch already wrote (see `flush`). */
  async function append(entry: AuditEntry, heads: Map<string, string> | null): Promise<string> {
    const chain = entry.appId ?? (entry.workspaceId ? `workspace:${entry.workspaceId}` : "platform");
    const prevHash = heads?.get(chain) ?? (await lastHash(chain)) ?? GENESIS_HASH;
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
    const hash = sha256Hex(canonical(row));
    await insert({ ...row, hash });
    heads?.set(chain, hash);
    return row.id;
  }

  let pending: (DurableEntry & { done: (err?: unknown) => void })[] = [];
  const flush = async () => {
    const batch = pending;
    pending = [];
    try {
      await tx(db, async () => {
        // Chain heads written by this batch. A batch holds the write lock from its first statement (BEGIN
        // IMMEDIATE; on PostgreSQL each chain's lock from its first row), so no other connection or process
        // can extend a chain under it: after a chain's first row the head is known without reading it back
        // (under load a batch holds a dozen rows of one app's chain, and the read costs as much as the insert).
        const heads = new Map<string, string>();
        const now = clock.now();
        const ran = new Set<string>();
        for (const { entry, alongside } of batch) {
          if (alongside && !ran.has(alongside.key)) {
            await alongside.write(now);
            ran.add(alongside.key);
          }
          await append(entry, heads);
        }
      });
    } catch (err) {
      for (const p of batch) p.done(err);
      return;
    }
    for (const p of batch) p.done();
  };

  const writer: AuditWriter = {
    recordDurably: (item) =>
      new Promise<void>((resolve, reject) => {
        // Two turns, not one: the grants whose signatures finish in the next turn join this batch, so under
        // load a commit (one fsync, which blocks the loop) serves about 25 tokens instead of about 18.
        if (pending.length === 0) setImmediate(() => setImmediate(flush));
        pending.push({ ...item, done: (err) => (err === undefined ? resolve() : reject(err)) });
      }),
    // On PostgreSQL the chain lock lasts as long as the transaction, so a row recorded outside one gets its own.
    record: postgres ? (entry) => tx(db, () => append(entry, null)) : (entry) => append(entry, null),
    async verify(only) {
      const anchors = new Map(
        (only === undefined
          ? await db.select().from(auditAnchors)
          : await db.select().from(auditAnchors).where(eq(auditAnchors.chain, only))
        ).map((a) => [a.chain, a]),
      );
      const heads = new Map<string, string>();
      let rows = 0;
      // Read in pages, not loaded whole: the log can be large, and verify runs beside a serving process.
      for await (const r of pages(only)) {
        rows++;
        const anchor = anchors.get(r.chain);
        let expectedPrev = heads.get(r.chain);
        if (expectedPrev === undefined) {
          // The first kept row of a chain: it continues from the anchor, and must come after the cut.
          if (anchor && r.seq <= anchor.prunedThroughSeq)
            return { ok: false, chain: r.chain, seq: r.seq, reason: "row at or before the retention anchor" };
          expectedPrev = anchor?.hash ?? GENESIS_HASH;
        }
        if (r.prevHash !== expectedPrev)
          return {
            ok: false,
            chain: r.chain,
            seq: r.seq,
            reason: heads.has(r.chain)
              ? "prev_hash mismatch"
              : "prev_hash does not continue from the chain's start",
          };
        const { seq: _s, hash, ...rest } = r;
        if (sha256Hex(canonical(rest)) !== hash)
          return { ok: false, chain: r.chain, seq: r.seq, reason: "hash mismatch" };
        heads.set(r.chain, hash);
      }
      for (const chain of anchors.keys()) if (!heads.has(chain)) heads.set(chain, anchors.get(chain)!.hash);
      let pruned = 0;
      for (const a of anchors.values()) pruned += a.prunedCount;
      return { ok: true, rows, chains: heads.size, pruned };
    },
  };
  return writer;
}
