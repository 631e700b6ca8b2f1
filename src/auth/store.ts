/** @module Sign-in bookkeeping on end_users: the last sign-in. */
import type { Db } from "../db/client.ts";

export function createAuthStore(db: Db) {
  // `failed_login_count` and `locked_until` are no longer read (the sign-in throttle counts per identifier
  // and address in the rate limiter); a success still clears whatever an older version left in them.
  const succeed = db.$client.query<never, [number, string]>(
    "UPDATE end_users SET failed_login_count = 0, locked_until = NULL, last_used_at = ?1 WHERE id = ?2",
  );

  return {
    /** A successful sign-in stamps `last_used_at`. */
    recordSuccess(userId: string, now: number): void {
      succeed.run(now, userId);
    },
  };
}

export type AuthStore = ReturnType<typeof createAuthStore>;
