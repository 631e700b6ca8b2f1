/**
 * @module Fixed-window rate limits (docs/decisions.md, "Rate limits" under "End users"), counted in memory and written behind to SQLite.
 *
 * Counting in a write transaction per request would put an fsync (`synchronous=FULL`, ~0.3 ms here) on
 * every limited request — and a flood of refused requests would then spend the event loop on fsyncs.
 * Counters therefore live in memory (loaded from SQLite on first use) and dirty ones are flushed to
 * SQLite in one transaction every second and at shutdown: limits hold across restarts, losing at most
 * the last second of counts on a crash. One process owns the database, so memory is the truth.
 *
 * Several instances on PostgreSQL share their counts instead (`shared.ts`): this limiter is for one process.
 */
import { lt } from "drizzle-orm";
import type { Clock } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import { type Db, tx } from "../db/client.ts";
import { affected } from "../db/query.ts";

export interface Limit {
  /** Counter key, e.g. `signin:ip:<app_id>:<ip>`. */
  key: string;
  max: number;
  windowMs: number;
}

export interface LimitState {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

/**
 * The limiter's contract. The in-memory one answers synchronously (its check and count are atomic because
 * nothing can interleave); the one shared by several instances on PostgreSQL (`shared.ts`) answers with
 * promises. Callers await either.
 */
export interface RateLimiter {
  /** Counts one hit against every limit; refuses with 429 `RATE_LIMITED` (and Retry-After) when any is exhausted. */
  consume(limits: readonly Limit[]): LimitState | Promise<LimitState>;
  /** Reads without counting (e.g. "is this address locked?"). */
  peek(limit: Limit): LimitState | Promise<LimitState>;
  /** Counts one hit and never refuses (e.g. a failure that only a later call is refused for). */
  hit(limit: Limit): LimitState | Promise<LimitState>;
  /**
   * A back-off counter: counts one strike and restarts its window, so the count lasts until `windowMs`
   * (at most a day: older counters are purged) passes with no strike. The caller turns count and time
   * into a delay; the limiter only remembers them.
   */
  strike(key: string, windowMs: number): Strikes | Promise<Strikes>;
  /** Reads a back-off counter without counting; `count` is 0 once it has lapsed. */
  strikes(key: string, windowMs: number): Strikes | Promise<Strikes>;
  /** Forgets a counter (e.g. failed sign-ins after a success). */
  reset(key: string): void | Promise<void>;
  /**
   * Runs `fn` so that no other `serialized` call for `key` runs at the same time on any instance (the shared
   * limiter: a transaction-scoped advisory lock). Absent on the in-memory limiter, whose calls never interleave.
   */
  serialized?<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Writes the counters changed since the last flush, in one transaction. */
  flush(): Promise<number>;
  purge(): Promise<number>;
}

/** The in-memory limiter: every answer synchronous (see `RateLimiter`). */
export interface MemoryRateLimiter extends RateLimiter {
  consume(limits: readonly Limit[]): LimitState;
  peek(limit: Limit): LimitState;
  hit(limit: Limit): LimitState;
  strike(key: string, windowMs: number): Strikes;
  strikes(key: string, windowMs: number): Strikes;
  reset(key: string): void;
}

export interface Strikes {
  count: number;
  /** When the last strike was counted (epoch ms; 0 when there is none). */
  last: number;
}

export function headersOf(s: LimitState): Record<string, string> {
  return {
    "ratelimit-limit": String(s.limit),
    "ratelimit-remaining": String(s.remaining),
    "ratelimit-reset": String(s.resetSeconds),
  };
}

interface Counter {
  windowStart: number;
  count: number;
}

const MAX_COUNTERS = 200_000;

export function createRateLimiter({ db, clock }: { db: Db; clock: Clock }): MemoryRateLimiter {
  if (db.engine !== "sqlite")
    throw new Error("the in-memory rate limiter is for SQLite; PostgreSQL shares its counts (shared.ts)");
  const { rateLimits } = db.tables;
  const read = db.$client.query<Counter, [string]>(
    "SELECT window_start AS windowStart, count FROM rate_limits WHERE key = ?",
  );
  const write = db.$client.query<never, [string, number, number]>(
    "INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET window_start = ?2, count = ?3",
  );
  const del = db.$client.query<never, [string]>("DELETE FROM rate_limits WHERE key = ?");
  const counters = new Map<string, Counter>();
  const dirty = new Set<string>();

  const counter = (key: string): Counter => {
    let c = counters.get(key);
    if (!c) {
      if (counters.size >= MAX_COUNTERS) evictStale();
      c = read.get(key) ?? { windowStart: 0, count: 0 };
      counters.set(key, c);
    }
    return c;
  };
  // Windows are at most a day long: older counters can be dropped from memory once written. Synchronous, so a
  // count and its check stay atomic: the unwritten ones stay until the next flush.
  const evictStale = () => {
    const horizon = clock.now() - 24 * 3600 * 1000;
    for (const [k, c] of counters) if (c.windowStart < horizon && !dirty.has(k)) counters.delete(k);
  };
  const state = (l: Limit, c: Counter, now: number): LimitState => ({
    allowed: c.count <= l.max,
    limit: l.max,
    remaining: Math.max(0, l.max - c.count),
    resetSeconds: Math.max(1, Math.ceil((c.windowStart + l.windowMs - now) / 1000)),
  });
  const flushNow = async (): Promise<number> => {
    if (dirty.size === 0) return 0;
    const keys = [...dirty];
    dirty.clear();
    await tx(db, () => {
      for (const k of keys) {
        const c = counters.get(k);
        if (c) write.run(k, c.windowStart, c.count);
      }
    });
    return keys.length;
  };

  return {
    consume(limits) {
      const now = clock.now();
      const cs = limits.map((l) => {
        const c = counter(l.key);
        return c.windowStart + l.windowMs <= now ? { windowStart: now, count: 0 } : { ...c };
      });
      // All or nothing: a refused call counts nowhere (its window's count is already spent).
      let tightest: LimitState | undefined;
      for (let i = 0; i < limits.length; i++) {
        const l = limits[i]!;
        const next = { windowStart: cs[i]!.windowStart, count: cs[i]!.count + 1 };
        const s = state(l, next, now);
        if (!s.allowed) {
          throw fail("RATE_LIMITED", {
            headers: { ...headersOf(s), "retry-after": String(s.resetSeconds) },
          });
        }
        cs[i] = next;
        if (!tightest || s.remaining < tightest.remaining) tightest = s;
      }
      limits.forEach((l, i) => {
        counters.set(l.key, cs[i]!);
        dirty.add(l.key);
      });
      return tightest ?? { allowed: true, limit: 0, remaining: 0, resetSeconds: 0 };
    },
    peek(l) {
      const now = clock.now();
      const c = counter(l.key);
      if (c.windowStart + l.windowMs <= now) {
        return { allowed: true, limit: l.max, remaining: l.max, resetSeconds: Math.ceil(l.windowMs / 1000) };
      }
      return state(l, c, now);
    },
    hit(l) {
      const now = clock.now();
      const c = counter(l.key);
      const next =
        c.windowStart + l.windowMs <= now ? { windowStart: now, count: 1 } : { ...c, count: c.count + 1 };
      counters.set(l.key, next);
      dirty.add(l.key);
      return state(l, next, now);
    },
    // A strike counter keeps the time of the last strike in `window_start`: the same row and the same
    // purge (rows idle for a day go) as the fixed windows.
    strike(key, windowMs) {
      const now = clock.now();
      const c = counter(key);
      const next = { windowStart: now, count: c.windowStart + windowMs <= now ? 1 : c.count + 1 };
      counters.set(key, next);
      dirty.add(key);
      return { count: next.count, last: now };
    },
    strikes(key, windowMs) {
      const c = counter(key);
      if (c.count === 0 || c.windowStart + windowMs <= clock.now()) return { count: 0, last: 0 };
      return { count: c.count, last: c.windowStart };
    },
    reset(key) {
      counters.delete(key);
      dirty.delete(key);
      del.run(key);
    },
    flush: flushNow,
    async purge() {
      await flushNow();
      const horizon = clock.now() - 24 * 3600 * 1000;
      for (const [k, c] of counters) if (c.windowStart < horizon) counters.delete(k);
      return affected(
        await tx(db, async () => await db.delete(rateLimits).where(lt(rateLimits.windowStart, horizon))),
      );
    },
  };
}
