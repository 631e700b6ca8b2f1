/** @module Signing-key rotation schedule (docs/operations.md, "Signing keys"; docs/decisions.md, "Keys"): the timings and the one rule that schedules a next key. */
import { DAY, HOUR } from "../core/clock.ts";

/** How long a key signs before the scheduler replaces it. */
export const ROTATION_INTERVAL = 90 * DAY;
/** How long a rotated-out key stays in the JWKS, so tokens it signed still verify; far above any token TTL. */
export const OVERLAP = 7 * DAY;
/** Minimum time a next key is published before it signs: above the JWKS `max-age` (1 h), so no verifier cache misses it. */
export const PREPUBLISH = 2 * HOUR;
/** The JWKS `Cache-Control: max-age` verifiers honour: how long a cached JWKS may lack a newly published key. */
export const JWKS_MAX_AGE = HOUR;

export const rotationPolicy = Object.freeze({ ROTATION_INTERVAL, OVERLAP, PREPUBLISH });

/**
 * When a next key created at `now` may start signing: one interval after the active key started, but
 * never sooner than PREPUBLISH from now. The floor is what keeps catch-up after downtime safe: an
 * overdue schedule is honoured quickly, not instantly.
 */
export function nextActivatesAt(now: number, activeActivatesAt: number): number {
  return Math.max(now + PREPUBLISH, activeActivatesAt + ROTATION_INTERVAL);
}

/**
 * The earliest moment a key published at `publishedAt` may start signing by hand (a non-emergency
 * rotation): PREPUBLISH after it entered the JWKS, so every verifier cache (max-age 1 h) has refetched
 * since. Before it, new tokens would carry a kid some verifiers cannot resolve until their cache expires.
 */
export function earliestPromotion(publishedAt: number): number {
  return publishedAt + PREPUBLISH;
}
