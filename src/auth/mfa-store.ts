/** @module Sign-in MFA challenges (`mfa_challenges`) and the session's MFA recency: queries only. */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { first } from "../db/query.ts";
import type { mfaChallenges as ChallengesTable } from "../db/schema.ts";

export type MfaChallengeRow = typeof ChallengesTable.$inferSelect;

export function createMfaChallengeStore(db: Db) {
  const { endUserSessions, mfaChallenges } = db.tables;
  return {
    async insert(row: typeof mfaChallenges.$inferInsert): Promise<void> {
      await db.insert(mfaChallenges).values(row);
    },

    async byTokenHash(tokenHash: string): Promise<MfaChallengeRow | undefined> {
      return await first(
        db.select().from(mfaChallenges).where(eq(mfaChallenges.tokenHash, tokenHash)).limit(1),
      );
    },

    /** Counts one wrong code; returns the new count. */
    async addAttempt(id: string): Promise<number> {
      const [row] = await db
        .update(mfaChallenges)
        .set({ attempts: sql`${mfaChallenges.attempts} + 1` })
        .where(eq(mfaChallenges.id, id))
        .returning({ attempts: mfaChallenges.attempts });
      return row?.attempts ?? 0;
    },

    /** Marks the challenge used; false when it already was (a racing request won). */
    async consume(id: string, now: number): Promise<boolean> {
      const r = await db
        .update(mfaChallenges)
        .set({ consumedAt: now })
        .where(and(eq(mfaChallenges.id, id), isNull(mfaChallenges.consumedAt)))
        .returning({ id: mfaChallenges.id });
      return r.length === 1;
    },

    async sessionAmr(sessionId: string): Promise<string[] | undefined> {
      const row = await first(
        db
          .select({ amr: endUserSessions.amr })
          .from(endUserSessions)
          .where(eq(endUserSessions.id, sessionId))
          .limit(1),
      );
      return row?.amr;
    },

    /** Records a proved second factor on a session: its new `amr` and `mfa_at`. */
    async stepUp(sessionId: string, amr: string[], mfaAt: number): Promise<void> {
      await db.update(endUserSessions).set({ amr, mfaAt }).where(eq(endUserSessions.id, sessionId));
    },
  };
}

export type MfaChallengeStore = ReturnType<typeof createMfaChallengeStore>;
