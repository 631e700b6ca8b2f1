/** @module Drizzle queries and prepared statements for end-user sessions and their refresh-token history. */
import { and, asc, desc, eq, gt, isNull, lt, ne, or, type Placeholder, sql } from "drizzle-orm";
import { changes, type Db, preparedInsert } from "../db/client.ts";
import { endUserRefreshTokens, endUserSessions } from "../db/schema.ts";

export type SessionRow = typeof endUserSessions.$inferSelect;

/** The caller's account as `GET /me` shows it: the user row with its primary email, if any. */
export interface AccountSnapshot {
  id: string;
  username: string;
  displayName: string | null;
  role: string;
  createdAt: number;
  email: string | null;
  emailVerifiedAt: number | null;
}

/**
 * What an authenticated request needs to know about its session, in one indexed lookup: liveness, and the
 * account (so the hottest route, `GET /me`, needs no second statement).
 */
export interface LiveSessionFacts {
  userId: string;
  appId: string;
  revokedAt: number | null;
  expiresAt: number;
  status: "active" | "suspended" | "deactivated";
  role: string;
  /** The tenant the session acts in (`end_user_sessions.tenant_id`); null for app scope. */
  tenantId: string | null;
  /**
   * The account's role in that tenant, read now: null when the session has no tenant, the membership is
   * gone or the tenant is not `active`. Read here rather than cached, so no membership change needs an
   * invalidation.
   */
  tenantRole: string | null;
  account: AccountSnapshot;
}

type FactsRow = Omit<LiveSessionFacts, "account"> & Omit<AccountSnapshot, "id" | "role">;

export function createSessionStore(db: Db) {
  // Runs on every authenticated request. Written with scalar subqueries rather than a JOIN: SQLite
  // plans both as primary-key lookups, but the JOIN form measured several times slower in bun:sqlite.
  // The tenant role is one more: the membership by its (tenant, user) unique index, the tenant by its key.
  const facts = db.$client.query<FactsRow, [string]>(
    `SELECT s.user_id AS userId, s.app_id AS appId, s.revoked_at AS revokedAt, s.expires_at AS expiresAt,
            (SELECT status FROM end_users WHERE id = s.user_id) AS status,
            (SELECT role FROM end_users WHERE id = s.user_id) AS role,
            (SELECT username FROM end_users WHERE id = s.user_id) AS username,
            (SELECT display_name FROM end_users WHERE id = s.user_id) AS displayName,
            (SELECT created_at FROM end_users WHERE id = s.user_id) AS createdAt,
            (SELECT value FROM end_user_contacts
              WHERE user_id = s.user_id AND type = 'email' AND is_primary = 1) AS email,
            (SELECT verified_at FROM end_user_contacts
              WHERE user_id = s.user_id AND type = 'email' AND is_primary = 1) AS emailVerifiedAt,
            s.tenant_id AS tenantId,
            (SELECT m.role FROM tenant_members m
              WHERE m.tenant_id = s.tenant_id AND m.user_id = s.user_id
                AND (SELECT status FROM tenants WHERE id = s.tenant_id) = 'active') AS tenantRole
       FROM end_user_sessions s
      WHERE s.id = ?`,
  );
  // Also per request; conditional, so at most one write per session per debounce window.
  const touch = db.$client.query<never, [number, string, number]>(
    "UPDATE end_user_sessions SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?3)",
  );
  const live = (userId: string | Placeholder, now: number | Placeholder) =>
    and(
      eq(endUserSessions.userId, userId),
      isNull(endUserSessions.revokedAt),
      gt(endUserSessions.expiresAt, now),
    );
  // Every sign-in, sign-up and refresh runs these; compiled once.
  const insertSession = preparedInsert(db, endUserSessions, [
    "id",
    "appId",
    "userId",
    "refreshHash",
    "prevRefreshHash",
    "prevRotatedAt",
    "amr",
    "ip",
    "userAgent",
    "createdAt",
    "authenticatedAt",
    "expiresAt",
    "lastUsedAt",
    "revokedAt",
    "revokeReason",
    "mfaAt",
    "tenantId",
  ]);
  const insertToken = preparedInsert(db, endUserRefreshTokens, ["tokenHash", "sessionId", "issuedAt"]);
  const oldestLive = db
    .select()
    .from(endUserSessions)
    .where(live(sql.placeholder("userId"), sql.placeholder("now")))
    .orderBy(asc(endUserSessions.createdAt))
    .prepare();
  const revokeOne = db.$client.query<never, [number, string, string]>(
    "UPDATE end_user_sessions SET revoked_at = ?1, revoke_reason = ?2 WHERE id = ?3 AND revoked_at IS NULL",
  );

  const setTenant = db.$client.query<never, [string | null, string]>(
    "UPDATE end_user_sessions SET tenant_id = ?1 WHERE id = ?2 AND revoked_at IS NULL",
  );

  return {
    facts: async (sessionId: string): Promise<LiveSessionFacts | undefined> => {
      const f = facts.get(sessionId);
      // A session whose user is gone (deleted mid-request) has no facts.
      if (!f || f.status === null) return undefined;
      return {
        userId: f.userId,
        appId: f.appId,
        revokedAt: f.revokedAt,
        expiresAt: f.expiresAt,
        status: f.status,
        role: f.role,
        tenantId: f.tenantId,
        tenantRole: f.tenantId === null ? null : f.tenantRole,
        account: {
          id: f.userId,
          username: f.username,
          displayName: f.displayName,
          role: f.role,
          createdAt: f.createdAt,
          email: f.email,
          emailVerifiedAt: f.emailVerifiedAt,
        },
      };
    },

    async byId(id: string): Promise<SessionRow | undefined> {
      return db.select().from(endUserSessions).where(eq(endUserSessions.id, id)).get();
    },

    /** The session that was ever issued `tokenHash`, with the app it belongs to. */
    async byTokenHash(tokenHash: string): Promise<SessionRow | undefined> {
      const t = db
        .select()
        .from(endUserRefreshTokens)
        .where(eq(endUserRefreshTokens.tokenHash, tokenHash))
        .get();
      return t
        ? db.select().from(endUserSessions).where(eq(endUserSessions.id, t.sessionId)).get()
        : undefined;
    },

    async insert(row: typeof endUserSessions.$inferInsert): Promise<void> {
      await insertSession(row);
      await insertToken({ tokenHash: row.refreshHash, sessionId: row.id, issuedAt: row.createdAt });
    },

    /** Moves the session to its successor token, only if `fromHash` is still the live one (a racing rotation loses). */
    async rotate(id: string, fromHash: string, toHash: string, now: number): Promise<boolean> {
      const r = db
        .update(endUserSessions)
        .set({ refreshHash: toHash, prevRefreshHash: fromHash, prevRotatedAt: now, lastUsedAt: now })
        .where(
          and(
            eq(endUserSessions.id, id),
            eq(endUserSessions.refreshHash, fromHash),
            isNull(endUserSessions.revokedAt),
          ),
        )
        .run();
      if (changes(r) !== 1) return false;
      db.insert(endUserRefreshTokens)
        .values({ tokenHash: toHash, sessionId: id, issuedAt: now })
        .onConflictDoNothing()
        .run();
      return true;
    },

    /** Moves a live session into `tenantId` (null: back to app scope); false when it is not live. */
    async setTenant(id: string, tenantId: string | null): Promise<boolean> {
      return setTenant.run(tenantId, id).changes === 1;
    },

    async revoke(id: string, reason: string, now: number): Promise<boolean> {
      return revokeOne.run(now, reason, id).changes === 1;
    },

    async revokeAllOfUser(userId: string, reason: string, now: number, exceptId?: string): Promise<number> {
      return changes(
        db
          .update(endUserSessions)
          .set({ revokedAt: now, revokeReason: reason })
          .where(and(live(userId, now), exceptId ? ne(endUserSessions.id, exceptId) : undefined))
          .run(),
      );
    },

    /** Live sessions, newest first. */
    async liveOfUser(userId: string, now: number): Promise<SessionRow[]> {
      return db
        .select()
        .from(endUserSessions)
        .where(live(userId, now))
        .orderBy(desc(endUserSessions.createdAt))
        .all();
    },

    /** Live sessions oldest first: eviction order for `max_sessions`. */
    async oldestLiveOfUser(userId: string, now: number): Promise<SessionRow[]> {
      return oldestLive.all({ userId, now });
    },

    async touch(id: string, now: number, debounceMs: number): Promise<void> {
      touch.run(now, id, now - debounceMs);
    },

    /** Sessions ended (revoked or expired) more than `olderThan` ago, with their token history. */
    async purge(olderThan: number): Promise<number> {
      return changes(
        db
          .delete(endUserSessions)
          .where(or(lt(endUserSessions.revokedAt, olderThan), lt(endUserSessions.expiresAt, olderThan)))
          .run(),
      );
    },
  };
}
