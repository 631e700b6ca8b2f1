/**
 * @module Password sign-in throttling shared by end-user and operator sign-in: a back-off per
 * (identifier, address) pair and a failure ceiling per identifier (docs/decisions.md, "Sign-in throttling
 * and lockout").
 *
 * Counters are keyed by the normalised identifier the caller typed, never by an account row, so an
 * identifier nobody holds is throttled exactly like one somebody does: same counts, same refusals, same
 * headers. A guesser at one address therefore slows only itself; the holder signing in from elsewhere is
 * untouched until failures from many addresses reach the per-identifier ceiling (NIST SP 800-63B §5.2.2
 * allows at most 100 consecutive failures per account).
 */
import { type Clock, DAY, HOUR, MINUTE } from "../core/clock.ts";
import { sha256Hex } from "../core/crypto.ts";
import { fail, type HeimdallError } from "../core/errors.ts";
import { headersOf, type Limit, type RateLimiter, type Strikes } from "./limiter.ts";

export const SIGNIN_THROTTLE = {
  /** The first back-off of a pair; each further failure after one doubles it. */
  backoffBase: MINUTE,
  backoffCap: HOUR,
  /** A pair's failures are forgotten after a day with none (or at its next success). */
  pairMemory: DAY,
  /** Failures per identifier from all addresses together, per fixed hour, before it is refused everywhere. */
  identifierCeiling: 100,
  identifierWindow: HOUR,
} as const;

export interface ThrottleScope {
  /** Namespaces the counters: `app:<id>` or `platform`. */
  scope: string;
  /** Normalised as the lookup normalises it, so `ALICE` and `alice` share counters. */
  identifier: string;
  /** The client address (`unknown` when there is none). */
  ip: string;
  /** Failures a pair may make before its back-off starts (the app's `max_failed_login_attempts`). */
  maxFailures: number;
}

/** Which counter refused or tripped; recorded in audit rows only. */
export type ThrottleKind = "address" | "identifier";

export interface ThrottleRefusal {
  kind: ThrottleKind;
  retryAfter: number;
  /** 429 ACCOUNT_LOCKED, identical for every identifier at the same stage. */
  error: HeimdallError;
}

export interface ThrottleTrip {
  kind: ThrottleKind;
  /** Epoch ms when the refusal ends. */
  until: number;
  failures: number;
}

export interface SigninThrottle {
  /**
   * Before any password work: the refusal when the pair is backing off or the identifier is at its
   * ceiling; otherwise counts this attempt as a failure of the pair up front (so concurrent guesses
   * cannot all slip in before the first is counted) and returns null. Settle with `failed` or `succeeded`.
   */
  begin(s: ThrottleScope): Promise<ThrottleRefusal | null>;
  /** The attempt failed: counts it against the identifier's ceiling; returns what this failure started. */
  failed(s: ThrottleScope): Promise<ThrottleTrip[]>;
  /** The attempt succeeded: forgets this address's failures for the identifier (and only those). */
  succeeded(s: ThrottleScope): Promise<void>;
}

/** The back-off a pair with `failures` failures is refused for after its last one. */
export function backoffMs(failures: number, maxFailures: number): number {
  if (failures < maxFailures) return 0;
  const doublings = Math.min(failures - maxFailures, 30);
  return Math.min(SIGNIN_THROTTLE.backoffCap, SIGNIN_THROTTLE.backoffBase * 2 ** doublings);
}

const locked = (limit: number, retryAfter: number) =>
  fail("ACCOUNT_LOCKED", {
    headers: {
      ...headersOf({ allowed: false, limit, remaining: 0, resetSeconds: retryAfter }),
      "retry-after": String(retryAfter),
    },
  });

export function createSigninThrottle({
  rateLimiter,
  clock,
}: {
  rateLimiter: RateLimiter;
  clock: Clock;
}): SigninThrottle {
  // The identifier is hashed: what people type there is sometimes their password, and these rows persist.
  const pairKey = (s: ThrottleScope) => `signin-fail:${s.scope}:${sha256Hex(s.identifier)}:${s.ip}`;
  const ceiling = (s: ThrottleScope): Limit => ({
    key: `signin-fail:${s.scope}:${sha256Hex(s.identifier)}`,
    max: SIGNIN_THROTTLE.identifierCeiling,
    windowMs: SIGNIN_THROTTLE.identifierWindow,
  });
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

  /** When the pair's current back-off ends (0 when there is none). */
  const pairOf = ({ count, last }: Strikes, s: ThrottleScope) => {
    const backoff = backoffMs(count, s.maxFailures);
    return { count, until: backoff > 0 ? last + backoff : 0 };
  };

  // The check and the up-front count must not interleave with another attempt of the same pair. The in-memory
  // limiter answers synchronously and nothing here awaits a plain value, so `begin` runs to its end without
  // yielding; the shared limiter (several instances) serialises the pair across instances instead.
  const begin = async (s: ThrottleScope): Promise<ThrottleRefusal | null> => {
    const now = clock.now();
    const peeked = rateLimiter.peek(ceiling(s));
    const all = peeked instanceof Promise ? await peeked : peeked;
    if (all.remaining === 0) {
      return {
        kind: "identifier",
        retryAfter: all.resetSeconds,
        error: locked(all.limit, all.resetSeconds),
      };
    }
    const struck = rateLimiter.strikes(pairKey(s), SIGNIN_THROTTLE.pairMemory);
    const pair = pairOf(struck instanceof Promise ? await struck : struck, s);
    if (pair.until > now) {
      const retryAfter = seconds(pair.until - now);
      return { kind: "address", retryAfter, error: locked(s.maxFailures, retryAfter) };
    }
    await rateLimiter.strike(pairKey(s), SIGNIN_THROTTLE.pairMemory);
    return null;
  };

  return {
    begin: (s) => (rateLimiter.serialized ? rateLimiter.serialized(pairKey(s), () => begin(s)) : begin(s)),
    async failed(s) {
      const trips: ThrottleTrip[] = [];
      const pair = pairOf(await rateLimiter.strikes(pairKey(s), SIGNIN_THROTTLE.pairMemory), s);
      if (pair.until > 0) trips.push({ kind: "address", until: pair.until, failures: pair.count });
      const all = await rateLimiter.hit(ceiling(s));
      if (all.remaining === 0) {
        trips.push({
          kind: "identifier",
          until: clock.now() + all.resetSeconds * 1000,
          failures: all.limit - all.remaining,
        });
      }
      return trips;
    },

    async succeeded(s) {
      await rateLimiter.reset(pairKey(s));
    },
  };
}
