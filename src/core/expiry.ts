/** @module Optional expiry of long-lived credentials (PAKs, app API keys): wire format, bounds, and the check against the clock. */
import { z } from "zod";
import { DAY } from "./clock.ts";
import { validationError } from "./errors.ts";

/**
 * The furthest ahead an expiry may be set. A key meant to live longer is better created without one;
 * a far-future date usually means a unit mistake (ms for seconds) that would silently mean "forever".
 */
export const MAX_KEY_LIFETIME_MS = 730 * DAY;

/** `expires_at` on the wire: an ISO 8601 date-time with an offset, or null/absent for "never". */
export const expiresAtSchema = z.iso
  .datetime({ offset: true, error: "must be an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z" })
  .nullable()
  .optional();

/**
 * The expiry in epoch milliseconds (null for none), or a 400 on `field` when it is not strictly in the
 * future or lies beyond `MAX_KEY_LIFETIME_MS`. Bounds are checked here, not in the schema, because
 * only the service holds the clock.
 */
export function resolveExpiry(
  raw: string | null | undefined,
  now: number,
  field = "expires_at",
): number | null {
  if (raw === undefined || raw === null) return null;
  const at = Date.parse(raw);
  if (Number.isNaN(at)) throw validationError([{ field, reason: "must be an ISO 8601 date-time" }]);
  if (at <= now) throw validationError([{ field, reason: "must be in the future" }]);
  if (at > now + MAX_KEY_LIFETIME_MS) {
    throw validationError([{ field, reason: "must be at most 730 days ahead" }]);
  }
  return at;
}

/** True once `expiresAt` has passed; a key with no expiry never expires. */
export const isExpired = (expiresAt: number | null, now: number): boolean =>
  expiresAt !== null && expiresAt <= now;
