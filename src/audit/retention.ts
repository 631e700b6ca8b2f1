/** @module Audit retention: prunes rows past `audit_retention_days` in short batches, anchoring each chain where it was cut. */
import { sql } from "drizzle-orm";
import { type Clock, DAY } from "../core/clock.ts";
import { type Db, tx } from "../db/client.ts";
import { exec, row, rows } from "../db/query.ts";

/**
 * Rows deleted per write transaction. Each row also leaves six indexes; measured on a file database
 * (ext4, `synchronous=FULL`), a batch of 250 holds the write lock ~13 ms (500: ~18 ms, 1000: ~32 ms) and
 * prunes ~19 000 rows/s, so requests queue behind it no longer than behind a slow commit.
 */
export const AUDIT_PRUNE_BATCH = 250;

export interface PruneResult {
  /** Rows deleted by this run. */
  pruned: number;
  /** Chains whose anchor moved. */
  chains: number;
  /** Write transactions used. */
  batches: number;
}

export interface AuditRetention {
  /**
   * Deletes every row older than the cutoff, oldest first, batch by batch, yielding to the event loop
   * between batches. A no-op when retention is 0 (keep forever).
   */
  prune(): Promise<PruneResult>;
  /** Rows pruned since the process started (for /metrics). */
  prunedTotal(): number;
  /** Age of the oldest kept row in seconds, 0 when the log is empty (for /metrics). */
  oldestRowAgeSeconds(): Promise<number>;
}

interface Candidate {
  seq: number;
  chain: string;
  hash: string;
  created_at: number;
}

export function createAuditRetention(deps: {
  db: Db;
  clock: Clock;
  retentionDays: number;
  batchSize?: number;
}): AuditRetention {
  const { db, clock, retentionDays } = deps;
  const { auditAnchors } = db.tables;
  const batchSize = deps.batchSize ?? AUDIT_PRUNE_BATCH;
  // The oldest rows by `seq` (SQLite's rowid: a walk of the table's b-tree from its start, no index needed;
  // PostgreSQL's primary key). Raw bigints arrive as strings from PostgreSQL.
  const oldest = async (limit: number): Promise<Candidate[]> =>
    (
      await rows<Candidate>(
        db,
        sql`SELECT seq, chain, hash, created_at FROM audit_log ORDER BY seq LIMIT ${limit}`,
      )
    ).map((r) => ({ ...r, seq: Number(r.seq), created_at: Number(r.created_at) }));
  const oldestCreatedAt = async (): Promise<number | undefined> => {
    const r = await row<{ created_at: number }>(
      db,
      sql`SELECT created_at FROM audit_log ORDER BY seq LIMIT 1`,
    );
    return r ? Number(r.created_at) : undefined;
  };
  const deleteThrough = (seq: number) => exec(db, sql`DELETE FROM audit_log WHERE seq <= ${seq}`);
  let total = 0;

  /** One transaction: the next prefix of old rows goes, and every chain it touched moves its anchor. */
  async function pruneBatch(cutoff: number): Promise<{ pruned: number; chains: string[]; more: boolean }> {
    return await tx(db, async () => {
      const rows = await oldest(batchSize);
      // Pruning follows `seq`, and stops at the first row young enough to keep: what goes is always a
      // prefix of the log, hence a prefix of every chain, so each chain stays one unbroken run from its
      // anchor. A row written under a clock that stepped back simply waits for a later run.
      let n = 0;
      while (n < rows.length && rows[n]!.created_at < cutoff) n++;
      if (n === 0) return { pruned: 0, chains: [], more: false };
      const last = new Map<string, { seq: number; hash: string; count: number }>();
      for (const r of rows.slice(0, n)) {
        const prev = last.get(r.chain);
        last.set(r.chain, { seq: r.seq, hash: r.hash, count: (prev?.count ?? 0) + 1 });
      }
      await deleteThrough(rows[n - 1]!.seq);
      const now = clock.now();
      for (const [chain, cut] of last) {
        await db
          .insert(auditAnchors)
          .values({
            chain,
            prunedThroughSeq: cut.seq,
            hash: cut.hash,
            prunedCount: cut.count,
            updatedAt: now,
          })
          .onConflictDoUpdate({
            target: auditAnchors.chain,
            set: {
              prunedThroughSeq: cut.seq,
              hash: cut.hash,
              prunedCount: sql`${auditAnchors.prunedCount} + ${cut.count}`,
              updatedAt: now,
            },
          });
      }
      return { pruned: n, chains: [...last.keys()], more: n === rows.length };
    });
  }

  return {
    async prune() {
      const result: PruneResult = { pruned: 0, chains: 0, batches: 0 };
      if (retentionDays === 0) return result;
      // Fixed for the whole run, so a long catch-up cannot chase rows written while it runs.
      const cutoff = clock.now() - retentionDays * DAY;
      const touched = new Set<string>();
      for (;;) {
        const batch = await pruneBatch(cutoff);
        if (batch.pruned === 0) break;
        result.batches++;
        result.pruned += batch.pruned;
        total += batch.pruned;
        for (const chain of batch.chains) touched.add(chain);
        result.chains = touched.size;
        if (!batch.more) break;
        // Requests get the lock (and the event loop) between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return result;
    },
    prunedTotal: () => total,
    async oldestRowAgeSeconds() {
      const createdAt = await oldestCreatedAt();
      return createdAt !== undefined ? Math.max(0, (clock.now() - createdAt) / 1000) : 0;
    },
  };
}
