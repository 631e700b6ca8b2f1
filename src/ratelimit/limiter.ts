/**
 * @module Fixed-window rate limits stored in SQLite (DESIGN §7): they hold across restarts and are shared
 * by every request of this process. One UPSERT per check; RateLimit-* headers per the IETF draft.
 */
import { lt } from "drizzle-orm";
import { changes, type Db, tx } from "../db/client.ts";
import { rateLimits } from "../db/schema.ts";
import type { Clock } from "../platform/clock.ts";
import { HeimdallError } from "../platform/errors.ts";

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

export interface RateLimiter {
  /** Counts one hit against every limit; refuses with 429 (and Retry-After) when any is exhausted. */
  consume(limits: readonly Limit[], code?: string): LimitState;
  /** Reads without counting (e.g. "is this address locked?"). */
  peek(limit: Limit): LimitState;
  /** Forgets a counter (e.g. failed sign-ins after a success). */
  reset(key: string): void;
  purge(): number;
}

export function headersOf(s: LimitState): Record<string, string> {
  return {
    "ratelimit-limit": String(s.limit),
    "ratelimit-remaining": String(s.remaining),
    "ratelimit-reset": String(s.resetSeconds),
  };
}

export function createRateLimiter({ db, clock }: { db: Db; clock: Clock }): RateLimiter {
  // A new window starts when the stored one has ended; otherwise the count goes up by one.
  const hit = db.$client.query<{ windowStart: number; count: number }, [string, number, number]>(
    `INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, 1)
     ON CONFLICT(key) DO UPDATE SET
       count = CASE WHEN window_start + ?3 <= ?2 THEN 1 ELSE count + 1 END,
       window_start = CASE WHEN window_start + ?3 <= ?2 THEN ?2 ELSE window_start END
     RETURNING window_start AS windowStart, count`,
  );
  const read = db.$client.query<{ windowStart: number; count: number }, [string]>(
    "SELECT window_start AS windowStart, count FROM rate_limits WHERE key = ?",
  );
  const del = db.$client.query<never, [string]>("DELETE FROM rate_limits WHERE key = ?");

  const state = (l: Limit, windowStart: number, count: number, now: number): LimitState => ({
    allowed: count <= l.max,
    limit: l.max,
    remaining: Math.max(0, l.max - count),
    resetSeconds: Math.max(1, Math.ceil((windowStart + l.windowMs - now) / 1000)),
  });

  return {
    consume(limits, code = "RATE_LIMITED") {
      const now = clock.now();
      // One transaction for all the counters of a request: one commit (one fsync) instead of one per limit.
      // A refusal rolls the increments back, which a fixed window can afford: its count is already spent.
      return tx(db, () => {
        let tightest: LimitState | undefined;
        for (const l of limits) {
          const row = hit.get(l.key, now, l.windowMs)!;
          const s = state(l, row.windowStart, row.count, now);
          if (!s.allowed) {
            throw new HeimdallError(429, code, "Too many requests; retry later", undefined, {
              ...headersOf(s),
              "retry-after": String(s.resetSeconds),
            });
          }
          if (!tightest || s.remaining < tightest.remaining) tightest = s;
        }
        return tightest ?? { allowed: true, limit: 0, remaining: 0, resetSeconds: 0 };
      });
    },
    peek(l) {
      const now = clock.now();
      const row = read.get(l.key);
      if (!row || row.windowStart + l.windowMs <= now) {
        return { allowed: true, limit: l.max, remaining: l.max, resetSeconds: Math.ceil(l.windowMs / 1000) };
      }
      return state(l, row.windowStart, row.count, now);
    },
    reset(key) {
      del.run(key);
    },
    purge() {
      // Windows are at most a day long; anything older is dead weight.
      return changes(
        db
          .delete(rateLimits)
          .where(lt(rateLimits.windowStart, clock.now() - 24 * 3600 * 1000))
          .run(),
      );
    },
  };
}
