/** @module Sign-in bookkeeping on end_users: the failed-attempt counter, the lockout and the last sign-in. */
import type { Db } from "../db/client.ts";

export function createAuthStore(db: Db) {
  // One statement, so concurrent wrong passwords each count and exactly one of them crosses the threshold.
  // Crossing it sets the lock and restarts the count: after the lock ends the user gets a full set of tries.
  const fail = db.$client.query<
    { failedLoginCount: number; lockedUntil: number | null },
    [number, number, number, string]
  >(
    `UPDATE end_users SET
       locked_until = CASE WHEN failed_login_count + 1 >= ?1 THEN ?2 ELSE locked_until END,
       failed_login_count = CASE WHEN failed_login_count + 1 >= ?1 THEN 0 ELSE failed_login_count + 1 END,
       updated_at = ?3
     WHERE id = ?4
     RETURNING failed_login_count AS failedLoginCount, locked_until AS lockedUntil`,
  );
  const succeed = db.$client.query<never, [number, string]>(
    "UPDATE end_users SET failed_login_count = 0, locked_until = NULL, last_used_at = ?1 WHERE id = ?2",
  );

  return {
    /** Counts one wrong password; returns the lock end when this attempt locked the account, else null. */
    recordFailure(userId: string, maxAttempts: number, lockUntil: number, now: number): number | null {
      const row = fail.get(maxAttempts, lockUntil, now, userId);
      return row && row.lockedUntil === lockUntil ? lockUntil : null;
    },
    /** A successful sign-in forgets earlier failures and stamps `last_used_at`. */
    recordSuccess(userId: string, now: number): void {
      succeed.run(now, userId);
    },
  };
}

export type AuthStore = ReturnType<typeof createAuthStore>;
