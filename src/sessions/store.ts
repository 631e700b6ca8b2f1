/** @module Drizzle queries and prepared statements for end-user sessions and their refresh-token history. */
import { and, asc, desc, eq, gt, isNull, lt, ne, or, type Placeholder, sql } from "drizzle-orm";
import { type Db, preparedInsert } from "../db/client.ts";
import { affected, first, rows } from "../db/query.ts";
import type { endUserSessions as SessionsTable } from "../db/schema.ts";

export type SessionRow = typeof SessionsTable.$inferSelect;

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

/** A bigint column read by raw SQL: PostgreSQL hands 64-bit integers over as strings. */
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toFacts(f: FactsRow): LiveSessionFacts {
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
}

export function createSessionStore(db: Db) {
  const { endUserRefreshTokens, endUserSessions } = db.tables;
  const live = (userId: string | Placeholder, now: number | Placeholder) =>
    and(
      eq(endUserSessions.userId, userId),
      isNull(endUserSessions.revokedAt),
      gt(endUserSessions.expiresAt, now),
    );
  // Ties on created_at (one clock millisecond) fall back to the time-ordered id, the same on both engines.
  const oldestFirst = [asc(endUserSessions.createdAt), asc(endUserSessions.id)] as const;
  const lite = db.engine === "sqlite" ? sqliteStatements(db, live, oldestFirst) : undefined;
  const bySessionId = (id: string, lock: boolean) => {
    const q = db.select().from(endUserSessions).where(eq(endUserSessions.id, id)).limit(1);
    // Inside a tx on PostgreSQL the row stays locked until it commits, so a second writer reads the row as the
    // first left it. SQLite's transactions already run one at a time.
    return lock && db.engine === "postgres"
      ? (q as unknown as { for(s: "update"): typeof q }).for("update")
      : q;
  };

  return {
    facts: async (sessionId: string): Promise<LiveSessionFacts | undefined> => {
      const f = lite ? lite.facts.get(sessionId) : await pgFacts(db, sessionId);
      // A session whose user is gone (deleted mid-request) has no facts.
      if (!f || f.status === null) return undefined;
      return toFacts(f);
    },

    async byId(id: string): Promise<SessionRow | undefined> {
      return await first(bySessionId(id, false));
    },

    /**
     * The session that was ever issued `tokenHash`, with the app it belongs to. With `lock`, inside a tx, the
     * session row is held until the tx ends (PostgreSQL), so concurrent rotations of one token queue.
     */
    async byTokenHash(tokenHash: string, lock = false): Promise<SessionRow | undefined> {
      const t = await first(
        db
          .select({ sessionId: endUserRefreshTokens.sessionId })
          .from(endUserRefreshTokens)
          .where(eq(endUserRefreshTokens.tokenHash, tokenHash))
          .limit(1),
      );
      return t ? await first(bySessionId(t.sessionId, lock)) : undefined;
    },

    async insert(row: typeof endUserSessions.$inferInsert): Promise<void> {
      const token = { tokenHash: row.refreshHash, sessionId: row.id, issuedAt: row.createdAt };
      if (lite) {
        await lite.insertSession(row);
        await lite.insertToken(token);
        return;
      }
      await db.insert(endUserSessions).values(row);
      await db.insert(endUserRefreshTokens).values(token);
    },

    /** Moves the session to its successor token, only if `fromHash` is still the live one (a racing rotation loses). */
    async rotate(id: string, fromHash: string, toHash: string, now: number): Promise<boolean> {
      const r = await db
        .update(endUserSessions)
        .set({ refreshHash: toHash, prevRefreshHash: fromHash, prevRotatedAt: now, lastUsedAt: now })
        .where(
          and(
            eq(endUserSessions.id, id),
            eq(endUserSessions.refreshHash, fromHash),
            isNull(endUserSessions.revokedAt),
          ),
        );
      if (affected(r) !== 1) return false;
      await db
        .insert(endUserRefreshTokens)
        .values({ tokenHash: toHash, sessionId: id, issuedAt: now })
        .onConflictDoNothing();
      return true;
    },

    /** Moves a live session into `tenantId` (null: back to app scope); false when it is not live. */
    async setTenant(id: string, tenantId: string | null): Promise<boolean> {
      if (lite) return lite.setTenant.run(tenantId, id).changes === 1;
      const r = await db
        .update(endUserSessions)
        .set({ tenantId })
        .where(and(eq(endUserSessions.id, id), isNull(endUserSessions.revokedAt)));
      return affected(r) === 1;
    },

    async revoke(id: string, reason: string, now: number): Promise<boolean> {
      if (lite) return lite.revokeOne.run(now, reason, id).changes === 1;
      const r = await db
        .update(endUserSessions)
        .set({ revokedAt: now, revokeReason: reason })
        .where(and(eq(endUserSessions.id, id), isNull(endUserSessions.revokedAt)));
      return affected(r) === 1;
    },

    async revokeAllOfUser(userId: string, reason: string, now: number, exceptId?: string): Promise<number> {
      return affected(
        await db
          .update(endUserSessions)
          .set({ revokedAt: now, revokeReason: reason })
          .where(and(live(userId, now), exceptId ? ne(endUserSessions.id, exceptId) : undefined)),
      );
    },

    /** Live sessions, newest first. */
    async liveOfUser(userId: string, now: number): Promise<SessionRow[]> {
      return await db
        .select()
        .from(endUserSessions)
        .where(live(userId, now))
        .orderBy(desc(endUserSessions.createdAt), desc(endUserSessions.id));
    },

    /** Live sessions oldest first: eviction order for `max_sessions`. */
    async oldestLiveOfUser(userId: string, now: number): Promise<SessionRow[]> {
      if (lite) return lite.oldestLive.all({ userId, now });
      return await db
        .select()
        .from(endUserSessions)
        .where(live(userId, now))
        .orderBy(...oldestFirst);
    },

    async touch(id: string, now: number, debounceMs: number): Promise<void> {
      if (lite) {
        lite.touch.run(now, id, now - debounceMs);
        return;
      }
      await db
        .update(endUserSessions)
        .set({ lastUsedAt: now })
        .where(
          and(
            eq(endUserSessions.id, id),
            or(isNull(endUserSessions.lastUsedAt), lt(endUserSessions.lastUsedAt, now - debounceMs)),
          ),
        );
    },

    /** Sessions ended (revoked or expired) more than `olderThan` ago, with their token history. */
    async purge(olderThan: number): Promise<number> {
      return affected(
        await db
          .delete(endUserSessions)
          .where(or(lt(endUserSessions.revokedAt, olderThan), lt(endUserSessions.expiresAt, olderThan))),
      );
    },
  };
}

/**
 * SQLite's per-request statements, compiled once: the session lookup and touch run on every authenticated
 * request, the inserts on every sign-in, sign-up and refresh.
 */
function sqliteStatements(
  db: Db,
  live: (userId: Placeholder, now: Placeholder) => ReturnType<typeof and>,
  oldestFirst: readonly [ReturnType<typeof asc>, ReturnType<typeof asc>],
) {
  const { endUserRefreshTokens, endUserSessions } = db.tables;
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
    .orderBy(...oldestFirst)
    .prepare();
  const revokeOne = db.$client.query<never, [number, string, string]>(
    "UPDATE end_user_sessions SET revoked_at = ?1, revoke_reason = ?2 WHERE id = ?3 AND revoked_at IS NULL",
  );
  const setTenant = db.$client.query<never, [string | null, string]>(
    "UPDATE end_user_sessions SET tenant_id = ?1 WHERE id = ?2 AND revoked_at IS NULL",
  );
  return { facts, touch, insertSession, insertToken, oldestLive, revokeOne, setTenant };
}

/**
 * PostgreSQL's session lookup: the same facts as SQLite's statement, with the account joined (PostgreSQL plans
 * the join as key lookups) and the primary email taken laterally, so a second primary row cannot double it.
 */
async function pgFacts(db: Db, sessionId: string): Promise<FactsRow | undefined> {
  const [f] = await rows<FactsRow>(
    db,
    sql`SELECT s.user_id AS "userId", s.app_id AS "appId", s.revoked_at AS "revokedAt", s.expires_at AS "expiresAt",
               u.status, u.role, u.username, u.display_name AS "displayName", u.created_at AS "createdAt",
               c.value AS email, c.verified_at AS "emailVerifiedAt", s.tenant_id AS "tenantId",
               (SELECT m.role FROM tenant_members m JOIN tenants t ON t.id = m.tenant_id
                 WHERE m.tenant_id = s.tenant_id AND m.user_id = s.user_id AND t.status = 'active') AS "tenantRole"
          FROM end_user_sessions s
          LEFT JOIN end_users u ON u.id = s.user_id
          LEFT JOIN LATERAL (SELECT value, verified_at FROM end_user_contacts
                              WHERE user_id = s.user_id AND type = 'email' AND is_primary = ${true}
                              LIMIT 1) c ON true
         WHERE s.id = ${sessionId}`,
  );
  if (!f) return undefined;
  return {
    ...f,
    revokedAt: num(f.revokedAt),
    expiresAt: Number(f.expiresAt),
    createdAt: Number(f.createdAt),
    emailVerifiedAt: num(f.emailVerifiedAt),
  };
}
