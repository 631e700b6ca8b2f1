/**
 * @module Rate limits shared by every instance on one PostgreSQL database (issue 20): each count is one
 * atomic statement on `rate_limits`, so a limit of N is N in total, not N per instance. `consume` over several
 * limits locks their rows (in key order, so two callers never deadlock) and counts all or none, as the
 * in-memory limiter does. The same answers, headers and errors as `limiter.ts`; every method is asynchronous.
 */
import { inArray, sql } from "drizzle-orm";
import type { Clock } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import { type Db, tx } from "../db/client.ts";
import { exec, row, rows } from "../db/query.ts";
import { headersOf, type Limit, type LimitState, type Strikes } from "./limiter.ts";

const DAY = 24 * 3600 * 1000;

type Row = { key: string; window_start: number | string; count: number | string };

export interface SharedRateLimiter {
  consume(limits: readonly Limit[]): Promise<LimitState>;
  peek(limit: Limit): Promise<LimitState>;
  hit(limit: Limit): Promise<LimitState>;
  strike(key: string, windowMs: number): Promise<Strikes>;
  strikes(key: string, windowMs: number): Promise<Strikes>;
  reset(key: string): Promise<void>;
  serialized<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Nothing is held back: every count is written when it is made. */
  flush(): Promise<number>;
  purge(): Promise<number>;
}

const state = (l: Limit, windowStart: number, count: number, now: number): LimitState => ({
  allowed: count <= l.max,
  limit: l.max,
  remaining: Math.max(0, l.max - count),
  resetSeconds: Math.max(1, Math.ceil((windowStart + l.windowMs - now) / 1000)),
});

export function createSharedRateLimiter({ db, clock }: { db: Db; clock: Clock }): SharedRateLimiter {
  const { rateLimits } = db.tables;
  const read = (key: string) =>
    row<Row>(db, sql`SELECT key, window_start, count FROM rate_limits WHERE key = ${key}`);

  return {
    async consume(limits) {
      if (limits.length === 0) return { allowed: true, limit: 0, remaining: 0, resetSeconds: 0 };
      const now = clock.now();
      const keys = [...new Set(limits.map((l) => l.key))].sort();
      return tx(db, async () => {
        await db
          .insert(rateLimits)
          .values(keys.map((key) => ({ key, windowStart: now, count: 0 })))
          .onConflictDoNothing();
        const locked = await rows<Row>(
          db,
          sql`SELECT key, window_start, count FROM rate_limits WHERE ${inArray(rateLimits.key, keys)} ORDER BY key FOR UPDATE`,
        );
        const current = new Map(
          locked.map((r) => [r.key, { windowStart: Number(r.window_start), count: Number(r.count) }]),
        );
        const next = new Map<string, { windowStart: number; count: number }>();
        let tightest: LimitState | undefined;
        for (const l of limits) {
          const c = next.get(l.key) ?? current.get(l.key) ?? { windowStart: now, count: 0 };
          const fresh = c.windowStart + l.windowMs <= now;
          const n = { windowStart: fresh ? now : c.windowStart, count: (fresh ? 0 : c.count) + 1 };
          const s = state(l, n.windowStart, n.count, now);
          // All or nothing: a refused call counts nowhere (the transaction rolls back).
          if (!s.allowed)
            throw fail("RATE_LIMITED", {
              headers: { ...headersOf(s), "retry-after": String(s.resetSeconds) },
            });
          next.set(l.key, n);
          if (!tightest || s.remaining < tightest.remaining) tightest = s;
        }
        for (const [key, n] of next)
          await exec(
            db,
            sql`UPDATE rate_limits SET window_start = ${n.windowStart}, count = ${n.count} WHERE key = ${key}`,
          );
        return tightest ?? { allowed: true, limit: 0, remaining: 0, resetSeconds: 0 };
      });
    },

    async peek(l) {
      const now = clock.now();
      const r = await read(l.key);
      if (!r || Number(r.window_start) + l.windowMs <= now)
        return { allowed: true, limit: l.max, remaining: l.max, resetSeconds: Math.ceil(l.windowMs / 1000) };
      return state(l, Number(r.window_start), Number(r.count), now);
    },

    async hit(l) {
      const now = clock.now();
      const r = await row<Row>(
        db,
        sql`INSERT INTO rate_limits (key, window_start, count) VALUES (${l.key}, ${now}, 1)
            ON CONFLICT (key) DO UPDATE SET
              count = CASE WHEN rate_limits.window_start + ${l.windowMs} <= ${now} THEN 1 ELSE rate_limits.count + 1 END,
              window_start = CASE WHEN rate_limits.window_start + ${l.windowMs} <= ${now} THEN ${now} ELSE rate_limits.window_start END
            RETURNING key, window_start, count`,
      );
      return state(l, Number(r!.window_start), Number(r!.count), now);
    },

    async strike(key, windowMs) {
      const now = clock.now();
      const r = await row<Row>(
        db,
        sql`INSERT INTO rate_limits (key, window_start, count) VALUES (${key}, ${now}, 1)
            ON CONFLICT (key) DO UPDATE SET
              count = CASE WHEN rate_limits.window_start + ${windowMs} <= ${now} THEN 1 ELSE rate_limits.count + 1 END,
              window_start = ${now}
            RETURNING key, window_start, count`,
      );
      return { count: Number(r!.count), last: now };
    },

    async strikes(key, windowMs) {
      const r = await read(key);
      if (!r || Number(r.count) === 0 || Number(r.window_start) + windowMs <= clock.now())
        return { count: 0, last: 0 };
      return { count: Number(r.count), last: Number(r.window_start) };
    },

    async reset(key) {
      await exec(db, sql`DELETE FROM rate_limits WHERE key = ${key}`);
    },

    serialized: (key, fn) =>
      tx(db, async () => {
        await exec(db, sql`SELECT pg_advisory_xact_lock(hashtext(${`ratelimit:${key}`}))`);
        return fn();
      }),

    flush: async () => 0,

    async purge() {
      return exec(db, sql`DELETE FROM rate_limits WHERE window_start < ${clock.now() - DAY}`);
    },
  };
}
