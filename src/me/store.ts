/** @module Queries behind `/me*` of its own: sessions (and their authentication time), the password swap and the activity (contacts use the shared users store; the profile comes with the session lookup). */
import { and, desc, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import type { AuditRow } from "../audit/store.ts";
import type { Db } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { SessionRow } from "../sessions/store.ts";

export function createMeStore(db: Db) {
  const { auditLog, endUserSessions, endUsers } = db.tables;
  return {
    /** One of the user's sessions that is still live; another user's id reads as absent. */
    async liveSessionOf(userId: string, sessionId: string, now: number): Promise<SessionRow | undefined> {
      return await first(
        db
          .select()
          .from(endUserSessions)
          .where(
            and(
              eq(endUserSessions.id, sessionId),
              eq(endUserSessions.userId, userId),
              isNull(endUserSessions.revokedAt),
              gt(endUserSessions.expiresAt, now),
            ),
          )
          .limit(1),
      );
    },

    /** When the session last proved a credential: `authenticated_at`, or its creation for older rows. */
    async authenticatedAt(sessionId: string): Promise<number | undefined> {
      const r = await first(
        db
          .select({
            // A raw expression over bigint columns: PostgreSQL hands it back as a string.
            at: sql<number>`coalesce(${endUserSessions.authenticatedAt}, ${endUserSessions.createdAt})`.mapWith(
              Number,
            ),
          })
          .from(endUserSessions)
          .where(eq(endUserSessions.id, sessionId))
          .limit(1),
      );
      return r?.at;
    },

    /**
     * Stamps a live session as authenticated at `now`, only while the account's password hash is still
     * `passwordHash` (the one just proved): a change that landed meanwhile makes the proof stale.
     */
    async markAuthenticated(
      sessionId: string,
      userId: string,
      passwordHash: string,
      now: number,
    ): Promise<boolean> {
      const r = await db
        .update(endUserSessions)
        .set({ authenticatedAt: now })
        .where(
          and(
            eq(endUserSessions.id, sessionId),
            eq(endUserSessions.userId, userId),
            isNull(endUserSessions.revokedAt),
            gt(endUserSessions.expiresAt, now),
            sql`(SELECT password_hash FROM end_users WHERE id = ${userId}) = ${passwordHash}`,
          ),
        );
      return affected(r) === 1;
    },

    /** Swaps the hash only if it is still the one the caller verified (a concurrent change wins, not both). */
    async replacePasswordHash(
      userId: string,
      fromHash: string,
      toHash: string,
      now: number,
    ): Promise<boolean> {
      const r = await db
        .update(endUsers)
        .set({ passwordHash: toHash, passwordChangedAt: now, updatedAt: now })
        .where(and(eq(endUsers.id, userId), eq(endUsers.passwordHash, fromHash)));
      return affected(r) === 1;
    },

    /**
     * Audit rows of the app that the user did or that were done to the account, newest first, strictly
     * before `beforeSeq`. Other users' rows never match: both columns hold this user's own UUID.
     */
    async activity(
      appId: string,
      userId: string,
      beforeSeq: number | undefined,
      limit: number,
    ): Promise<AuditRow[]> {
      return await db
        .select()
        .from(auditLog)
        .where(
          and(
            eq(auditLog.appId, appId),
            or(eq(auditLog.actorId, userId), eq(auditLog.resourceId, userId)),
            beforeSeq !== undefined ? lt(auditLog.seq, beforeSeq) : undefined,
          ),
        )
        .orderBy(desc(auditLog.seq))
        .limit(limit);
    },
  };
}

export type MeStore = ReturnType<typeof createMeStore>;
