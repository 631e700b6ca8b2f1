/** @module Sign-in MFA challenges (`mfa_challenges`) and the session's MFA recency: queries only. */
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { endUserSessions, mfaChallenges } from "../db/schema.ts";

export type MfaChallengeRow = typeof mfaChallenges.$inferSelect;

export function createMfaChallengeStore(db: Db) {
  return {
    async insert(row: typeof mfaChallenges.$inferInsert): Promise<void> {
      db.insert(mfaChallenges).values(row).run();
    },

    async byTokenHash(tokenHash: string): Promise<MfaChallengeRow | undefined> {
      return db.select().from(mfaChallenges).where(eq(mfaChallenges.tokenHash, tokenHash)).get();
    },

    /** Counts one wrong code; returns the new count. */
    async addAttempt(id: string): Promise<number> {
      const row = db.$client
        .query<{ attempts: number }, [string]>(
          "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE id = ?1 RETURNING attempts",
        )
        .get(id);
      return row?.attempts ?? 0;
    },

    /** Marks the challenge used; false when it already was (a racing request won). */
    async consume(id: string, now: number): Promise<boolean> {
      const r = db
        .update(mfaChallenges)
        .set({ consumedAt: now })
        .where(and(eq(mfaChallenges.id, id), isNull(mfaChallenges.consumedAt)))
        .returning({ id: mfaChallenges.id })
        .all();
      return r.length === 1;
    },

    async sessionAmr(sessionId: string): Promise<string[] | undefined> {
      return db
        .select({ amr: endUserSessions.amr })
        .from(endUserSessions)
        .where(eq(endUserSessions.id, sessionId))
        .get()?.amr;
    },

    /** Records a proved second factor on a session: its new `amr` and `mfa_at`. */
    async stepUp(sessionId: string, amr: string[], mfaAt: number): Promise<void> {
      db.update(endUserSessions).set({ amr, mfaAt }).where(eq(endUserSessions.id, sessionId)).run();
    },
  };
}

export type MfaChallengeStore = ReturnType<typeof createMfaChallengeStore>;
