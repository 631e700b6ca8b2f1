/**
 * @module Cache coherence among instances sharing one PostgreSQL database. The tables that instances cache in
 * memory (apps and their slug aliases, signing keys, roles and permissions) carry a statement trigger
 * (PostgreSQL migration `0002_cache_triggers`): a committed write bumps the table's epoch in `cache_epochs` and
 * NOTIFYs `heimdall_cache` with the table's name and that epoch, which PostgreSQL delivers at commit and never
 * for a rolled-back write, whichever instance or command made it. Each instance LISTENs and hands the table's
 * name to its handlers; a periodic comparison of `cache_epochs` catches a notification lost while the
 * listening connection was down. On SQLite (one process, which invalidates its own caches) it does nothing.
 */
import { sql } from "drizzle-orm";
import type { Logger } from "../core/logger.ts";
import type { Db } from "./client.ts";
import { postgresOf } from "./postgres.ts";
import { rows } from "./query.ts";

export const CHANGES_CHANNEL = "heimdall_cache";

/** Called with the name of a table another writer changed. */
export type ChangeHandler = (table: string) => void;

export interface ChangeFeed {
  /** Adds what to drop when a cached table changes. */
  onChange(handler: ChangeHandler): void;
  /** Starts listening; resolves once subscribed (PostgreSQL). */
  start(): Promise<void>;
  /** Compares `cache_epochs` with what was last seen: tables that moved without a notification are handled. */
  check(): Promise<number>;
  stop(): Promise<void>;
}

export function createChangeFeed({ db, log }: { db: Db; log: Logger }): ChangeFeed {
  const handlers: ChangeHandler[] = [];
  const deliver = (table: string) => {
    for (const h of handlers) {
      try {
        h(table);
      } catch (err) {
        log.warn("cache invalidation failed", { table, err });
      }
    }
  };
  if (db.engine === "sqlite") {
    return {
      onChange: (h) => void handlers.push(h),
      start: async () => {},
      check: async () => 0,
      stop: async () => {},
    };
  }
  /** table → the epoch this instance has acted on. */
  const seen = new Map<string, number>();
  const epochs = () =>
    rows<{ scope: string; version: number | string }>(db, sql`SELECT scope, version FROM cache_epochs`);
  let unlisten: (() => Promise<void>) | null = null;
  return {
    onChange: (h) => void handlers.push(h),
    async start() {
      for (const r of await epochs()) seen.set(r.scope, Number(r.version));
      // The payload is "<table> <epoch>": the epoch the notifying commit produced.
      const subscription = await postgresOf(db).$client.listen(CHANGES_CHANNEL, (payload: string) => {
        const [table = "", epoch] = payload.split(" ");
        const version = Number(epoch);
        if (Number.isFinite(version) && version > (seen.get(table) ?? 0)) seen.set(table, version);
        deliver(table);
      });
      unlisten = () => subscription.unlisten();
    },
    async check() {
      let moved = 0;
      for (const r of await epochs()) {
        const version = Number(r.version);
        if ((seen.get(r.scope) ?? 0) >= version) continue;
        // Moved past every notification received: one was lost (the listening connection was down).
        seen.set(r.scope, version);
        moved++;
        deliver(r.scope);
      }
      return moved;
    },
    async stop() {
      await unlisten?.();
      unlisten = null;
    },
  };
}
