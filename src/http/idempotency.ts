/** @module Idempotency-Key (DESIGN §2): same key + same body replays for 24 h; a different body is a 409. */
import { and, eq, lt } from "drizzle-orm";
import { changes, type Db } from "../db/client.ts";
import { idempotencyKeys } from "../db/schema.ts";
import { type Clock, DAY } from "../platform/clock.ts";
import { sha256Hex } from "../platform/crypto.ts";
import { HeimdallError, validationError } from "../platform/errors.ts";

export interface StoredResponse {
  status: number;
  body: unknown;
}

export interface Idempotency {
  /**
   * Runs `fn` once per (scope, key). `scope` must identify the caller and the route so that two
   * callers never share keys. A request still in flight with the same key gets 409 too.
   */
  run(scope: string, key: string | null, body: unknown, fn: () => Promise<StoredResponse>): Promise<StoredResponse & { replayed: boolean }>;
  purge(): number;
}

const IN_FLIGHT = 0;

export function createIdempotency({ db, clock }: { db: Db; clock: Clock }): Idempotency {
  return {
    async run(scope, key, body, fn) {
      if (key === null) return { ...(await fn()), replayed: false };
      if (key.length < 1 || key.length > 255) {
        throw validationError([{ field: "Idempotency-Key", reason: "must be 1-255 characters" }]);
      }
      const requestHash = sha256Hex(JSON.stringify(body ?? null));
      const where = and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key));
      const existing = db.select().from(idempotencyKeys).where(where).get();
      if (existing && existing.createdAt > clock.now() - DAY) {
        if (existing.requestHash !== requestHash) {
          throw new HeimdallError(409, "IDEMPOTENCY_KEY_REUSE", "Idempotency-Key was already used with a different request body");
        }
        if (existing.status === IN_FLIGHT) {
          throw new HeimdallError(409, "IDEMPOTENCY_KEY_IN_USE", "A request with this Idempotency-Key is still in progress");
        }
        return { status: existing.status, body: JSON.parse(existing.body), replayed: true };
      }
      // Reserve the key before doing the work, so a concurrent duplicate cannot run it twice.
      db.insert(idempotencyKeys)
        .values({ scope, key, requestHash, status: IN_FLIGHT, body: "null", createdAt: clock.now() })
        .onConflictDoUpdate({
          target: [idempotencyKeys.scope, idempotencyKeys.key],
          set: { requestHash, status: IN_FLIGHT, body: "null", createdAt: clock.now() },
        })
        .run();
      try {
        const res = await fn();
        if (res.status >= 200 && res.status < 300) {
          db.update(idempotencyKeys).set({ status: res.status, body: JSON.stringify(res.body) }).where(where).run();
        } else {
          db.delete(idempotencyKeys).where(where).run();
        }
        return { ...res, replayed: false };
      } catch (err) {
        // A failed attempt does not consume the key: the client may retry it.
        db.delete(idempotencyKeys).where(where).run();
        throw err;
      }
    },
    purge() {
      return changes(db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, clock.now() - DAY)).run());
    },
  };
}
