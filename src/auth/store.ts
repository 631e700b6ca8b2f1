/** @module Sign-in bookkeeping on end_users: the last sign-in, and the re-hash of an imported password hash. */
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { affected } from "../db/query.ts";

export function createAuthStore(db: Db) {
  const { endUsers } = db.tables;
  // On SQLite compiled once (every sign-in runs the first); PostgreSQL runs the same statements as builders.
  const lite =
    db.engine === "sqlite"
      ? {
          // `failed_login_count` and `locked_until` are no longer read (the sign-in throttle counts per identifier
          // and address in the rate limiter); a success still clears whatever an older version left in them.
          succeed: db.$client.query<never, [number, string]>(
            "UPDATE end_users SET failed_login_count = 0, locked_until = NULL, last_used_at = ?1 WHERE id = ?2",
          ),
          // Compare-and-set: a password change or reset that landed while argon2 ran keeps its hash.
          rehash: db.$client.query<never, [string, string, string]>(
            "UPDATE end_users SET password_hash = ?1 WHERE id = ?2 AND password_hash = ?3",
          ),
        }
      : undefined;

  return {
    /** A successful sign-in stamps `last_used_at`. */
    async recordSuccess(userId: string, now: number): Promise<void> {
      if (lite) {
        lite.succeed.run(now, userId);
        return;
      }
      await db
        .update(endUsers)
        .set({ failedLoginCount: 0, lockedUntil: null, lastUsedAt: now })
        .where(eq(endUsers.id, userId));
    },
    /** Replaces the hash only if it is still `oldHash`; true when it did. */
    async replacePasswordHash(userId: string, oldHash: string, newHash: string): Promise<boolean> {
      if (lite) return lite.rehash.run(newHash, userId, oldHash).changes === 1;
      const r = await db
        .update(endUsers)
        .set({ passwordHash: newHash })
        .where(and(eq(endUsers.id, userId), eq(endUsers.passwordHash, oldHash)));
      return affected(r) === 1;
    },
  };
}

export type AuthStore = ReturnType<typeof createAuthStore>;
