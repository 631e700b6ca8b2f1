/**
 * @module Leadership among instances sharing one PostgreSQL database: a lease row per job group, taken and
 * renewed with one conditional upsert, timed by the database's clock (instances' clocks may disagree), and
 * carrying a fencing token that grows at every change of holder. On SQLite one process owns the data dir, so it
 * always leads.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { exec, row } from "./query.ts";

export interface Lease {
  /** Who this instance is, as the lease row names it. */
  readonly holder: string;
  /** True while this instance holds the lease (renewed in time). */
  isLeader(): boolean;
  /** The fencing token of the current tenure, or null when not leading. */
  fencing(): number | null;
  /** Takes the lease if free or expired, or renews it; resolves with whether this instance leads now. */
  tick(): Promise<boolean>;
  /** Gives the lease up (shutdown), so another instance takes over at its next tick instead of after the TTL. */
  release(): Promise<void>;
}

export interface LeaseOptions {
  readonly name: string;
  /** How long a tenure lasts without renewal; another instance takes over within this after a leader dies. */
  readonly ttlMs: number;
  readonly holder?: string;
}

/** The database clock in epoch milliseconds, as SQL. */
const DB_NOW = sql`CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`;

export function createLease(
  db: Db,
  { name, ttlMs, holder = `${process.pid}-${randomUUID()}` }: LeaseOptions,
): Lease {
  if (db.engine === "sqlite") {
    return {
      holder,
      isLeader: () => true,
      fencing: () => 1,
      tick: async () => true,
      release: async () => {},
    };
  }
  // Local deadline of the tenure (monotonic), a little short of the database's, so this instance stops acting
  // before another may start.
  let until = 0;
  let token: number | null = null;
  const margin = Math.min(1000, ttlMs / 5);
  return {
    holder,
    isLeader: () => token !== null && performance.now() < until,
    fencing: () => (token !== null && performance.now() < until ? token : null),
    async tick() {
      const started = performance.now();
      const won = await row<{ fencing: number | string }>(
        db,
        sql`INSERT INTO leases (name, holder, fencing, expires_at)
            VALUES (${name}, ${holder}, 1, ${DB_NOW} + ${ttlMs})
            ON CONFLICT (name) DO UPDATE SET
              fencing = CASE WHEN leases.holder = excluded.holder THEN leases.fencing ELSE leases.fencing + 1 END,
              holder = excluded.holder,
              expires_at = excluded.expires_at
            WHERE leases.holder = excluded.holder OR leases.expires_at <= ${DB_NOW}
            RETURNING fencing`,
      );
      if (won) {
        token = Number(won.fencing);
        until = started + ttlMs - margin;
        return true;
      }
      token = null;
      until = 0;
      return false;
    },
    async release() {
      if (token === null) return;
      token = null;
      until = 0;
      await exec(db, sql`UPDATE leases SET expires_at = 0 WHERE name = ${name} AND holder = ${holder}`);
    },
  };
}
