/**
 * @module Cache coherence among instances sharing one PostgreSQL database. A change that other instances'
 * in-memory caches must drop (an app renamed, keys rotated, a role's permissions edited) is announced with
 * `publish(scope)` inside its transaction: it bumps the scope's row in `cache_epochs` and sends a NOTIFY, which
 * PostgreSQL delivers at commit (never for a rolled-back change). Each instance LISTENs and drops what the
 * scope names; a periodic comparison of `cache_epochs` catches a notification lost while the listening
 * connection was down. On SQLite (one process) both are no-ops.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import type { Logger } from "../core/logger.ts";
import type { Db } from "./client.ts";
import { postgresOf } from "./postgres.ts";
import { exec, rows } from "./query.ts";

export const CHANGES_CHANNEL = "heimdall_cache";

/** What a scope names: `apps` (the slug directory), `app:<id>` (one app's keys, permissions, config). */
export type ChangeHandler = (scope: string) => void;

export interface ChangeFeed {
  /** Announces `scope` to the other instances; call inside the change's transaction (delivered at its commit). */
  publish(scope: string): Promise<void>;
  /** Adds what to do when another instance announces a scope. */
  onChange(handler: ChangeHandler): void;
  /** Starts listening (PostgreSQL); resolves once the listener is subscribed. */
  start(): Promise<void>;
  /** Compares `cache_epochs` with what was last seen; scopes that moved without a notification are handled. */
  check(): Promise<number>;
  stop(): Promise<void>;
}

export function createChangeFeed({ db, log }: { db: Db; log: Logger }): ChangeFeed {
  const handlers: ChangeHandler[] = [];
  const deliver = (scope: string) => {
    for (const h of handlers) {
      try {
        h(scope);
      } catch (err) {
        log.warn("cache invalidation failed", { scope, err });
      }
    }
  };
  if (db.engine === "sqlite") {
    return {
      publish: async () => {},
      onChange: (h) => void handlers.push(h),
      start: async () => {},
      check: async () => 0,
      stop: async () => {},
    };
  }
  const origin = randomUUID();
  /** scope → the version this instance has seen (its own publishes and every notification). */
  const seen = new Map<string, number>();
  let unlisten: (() => Promise<void>) | null = null;
  return {
    async publish(scope) {
      const [bumped] = await rows<{ version: number | string }>(
        db,
        sql`INSERT INTO cache_epochs (scope, version) VALUES (${scope}, 1)
            ON CONFLICT (scope) DO UPDATE SET version = cache_epochs.version + 1
            RETURNING version`,
      );
      const version = Number(bumped?.version ?? 0);
      seen.set(scope, version);
      await exec(
        db,
        sql`SELECT pg_notify(${CHANGES_CHANNEL}, ${JSON.stringify({ scope, origin, version })})`,
      );
    },
    onChange: (h) => void handlers.push(h),
    async start() {
      for (const r of await rows<{ scope: string; version: number | string }>(
        db,
        sql`SELECT scope, version FROM cache_epochs`,
      ))
        seen.set(r.scope, Number(r.version));
      const subscription = await postgresOf(db).$client.listen(CHANGES_CHANNEL, (payload: string) => {
        let message: { scope?: unknown; origin?: unknown; version?: unknown };
        try {
          message = JSON.parse(payload);
        } catch {
          return;
        }
        if (typeof message.scope !== "string" || message.origin === origin) return;
        const version = Number(message.version);
        if (Number.isFinite(version) && version > (seen.get(message.scope) ?? 0))
          seen.set(message.scope, version);
        deliver(message.scope);
      });
      unlisten = () => subscription.unlisten();
    },
    async check() {
      let moved = 0;
      for (const r of await rows<{ scope: string; version: number | string }>(
        db,
        sql`SELECT scope, version FROM cache_epochs`,
      )) {
        const version = Number(r.version);
        const before = seen.get(r.scope) ?? 0;
        if (before >= version) continue;
        // Moved without a notification reaching this instance (the listening connection was down).
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
