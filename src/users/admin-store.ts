/**
 * @module Queries of end-user administration: the listing and its search, the admin view of accounts,
 * bulk selections and writes, and the app's roles.
 *
 * Listing is built to stay fast with millions of accounts in an app (bench/end-users-1m.ts):
 * - without a search, a page is a walk of `end_users_app_created` (or `…_status_created`) from the cursor,
 *   newest first, seeking with a row-value comparison so a deep page costs what the first does;
 * - a search is a prefix of the username or of the primary email. Ordering its matches newest first
 *   would mean either sorting every match (a common prefix matches a tenth of the app) or walking the
 *   newest-first index until enough match (a prefix whose accounts are old walks the whole app). Search
 *   results are therefore ordered by the identifier that matched, which two index ranges give in order:
 *   usernames from `end_users_app_username`, primary emails from `end_user_contacts_app_value`, merged.
 *   An account whose username matches is listed under its username only, so every account has one key,
 *   and since no username contains `@` and every email does, keys are unique and the cursor is the key.
 * Page rows are read by id afterwards, so the per-row columns (email, live sessions) cost one page.
 */
import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { Position } from "../core/pagination.ts";
import type { Db } from "../db/client.ts";
import { affected, first, rows } from "../db/query.ts";
import type { EndUserStatus, RoleRow, SearchCursor, UserTenantRow, UserViewRow } from "./model.ts";

/** Bound parameters per `IN (…)` list: far below SQLite's limit, and each statement stays small. */
const CHUNK = 1000;

/**
 * The exclusive upper end of the prefix range of `p`. SQLite compares TEXT bytewise (UTF-8), as PostgreSQL
 * does under the "C" collation, and no valid UTF-8 character sorts above U+10FFFF, so every string starting
 * with `p` lies in [p, p + U+10FFFF).
 */
export const prefixEnd = (p: string) => `${p}\u{10FFFF}`;

/** One entry of a search stream: the key it sorts by and the account. */
export interface KeyedId {
  k: string;
  id: string;
}

export interface ListFilter {
  status?: EndUserStatus;
}

/** Bytewise UTF-8 order, as SQLite's BINARY collation sorts (JS `<` compares UTF-16 code units). */
const compareKeys = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
export const byKey = (a: KeyedId, b: KeyedId) => compareKeys(a.k, b.k);

/** A cursor continues a search only from inside its range; one from elsewhere starts at the prefix. */
const atOrAfter = (key: string, prefix: string) => compareKeys(key, prefix) >= 0;

function chunks<T>(all: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < all.length; i += CHUNK) out.push(all.slice(i, i + CHUNK));
  return out;
}

export function createUserAdminStore(db: Db) {
  const { endUserSessions, endUsers, roles, tenantMembers, tenants } = db.tables;
  const sqlite = db.engine === "sqlite";
  /**
   * A column as a residual filter: SQLite's `+column` keeps it from choosing that column's index (measured,
   * docs/benchmarks.md); PostgreSQL plans from its statistics and has no such hint.
   */
  const residual = (column: SQL | string) => {
    const c = typeof column === "string" ? sql.raw(column) : column;
    return sqlite ? sql`+${c}` : c;
  };
  /**
   * A search key compared and ordered bytewise, as `byKey` merges the streams: SQLite's BINARY collation
   * already is; PostgreSQL's database collation may be a locale's, so the key takes "C".
   */
  const key = (column: string) => sql.raw(sqlite ? column : `${column} COLLATE "C"`);
  /** SQLite's CROSS JOIN fixes the join order (the contacts range stays the outer loop); PostgreSQL plans its own. */
  const joinUsers = sql.raw(
    sqlite ? "CROSS JOIN end_users u ON u.id = c.user_id" : "JOIN end_users u ON u.id = c.user_id",
  );

  /**
   * Account rows with their primary email and live-session count; correlated subqueries, one page at a
   * time. The outer table is named in full: drizzle renders a lone column unqualified, which inside the
   * subquery would bind to the inner table.
   */
  const view = async (appId: string, ids: readonly string[], now: number): Promise<UserViewRow[]> =>
    ids.length === 0
      ? []
      : await db
          .select({
            user: endUsers,
            email: sql<string | null>`(SELECT c.value FROM end_user_contacts c
              WHERE c.user_id = "end_users"."id" AND c.type = 'email' AND c.is_primary = ${true})`,
            emailVerifiedAt: sql<number | null>`(SELECT c.verified_at FROM end_user_contacts c
              WHERE c.user_id = "end_users"."id" AND c.type = 'email' AND c.is_primary = ${true})`.mapWith(
              Number,
            ),
            activeSessions: sql<number>`(SELECT CAST(count(*) AS INTEGER) FROM end_user_sessions s
              WHERE s.user_id = "end_users"."id" AND s.revoked_at IS NULL AND s.expires_at > ${now})`.mapWith(
              Number,
            ),
          })
          .from(endUsers)
          // `+app_id`: a residual check, so SQLite looks the ids up by primary key instead of walking an
          // app_id index over the whole app (which it would pick without ANALYZE statistics).
          .where(and(inArray(endUsers.id, [...ids]), sql`${residual(sql`${endUsers.appId}`)} = ${appId}`));

  return {
    /** The accounts `ids` in the given order (missing ones dropped). */
    async viewOf(appId: string, ids: readonly string[], now: number): Promise<UserViewRow[]> {
      const rows = new Map((await view(appId, ids, now)).map((r) => [r.user.id, r]));
      return ids.flatMap((id) => rows.get(id) ?? []);
    },

    /** Newest first over `(created_at, id)`, strictly after `after`. */
    async newestIds(
      appId: string,
      f: ListFilter,
      after: Position | undefined,
      limit: number,
    ): Promise<string[]> {
      const where: SQL[] = [sql`app_id = ${appId}`];
      if (f.status !== undefined) where.push(sql`status = ${f.status}`);
      if (after !== undefined) where.push(sql`(created_at, id) < (${after.c}, ${after.i})`);
      return (
        await rows<{ id: string }>(
          db,
          sql`SELECT id FROM end_users WHERE ${sql.join(where, sql` AND `)}
               ORDER BY created_at DESC, id DESC LIMIT ${limit}`,
        )
      ).map((r) => r.id);
    },

    /**
     * Accounts whose username starts with `prefix`, in username order, after the key `after`. The status
     * is a residual filter (`+status`), so SQLite keeps walking the username index rather than the status one.
     */
    async usernameMatches(
      appId: string,
      prefix: string,
      f: ListFilter,
      after: SearchCursor | undefined,
      limit: number,
    ): Promise<KeyedId[]> {
      const username = key("username");
      const where: SQL[] = [sql`app_id = ${appId}`];
      if (after !== undefined && atOrAfter(after.k, prefix)) where.push(sql`${username} > ${after.k}`);
      else where.push(sql`${username} >= ${prefix}`);
      where.push(sql`${username} < ${prefixEnd(prefix)}`);
      if (f.status !== undefined) where.push(sql`${residual("status")} = ${f.status}`);
      return await rows<KeyedId>(
        db,
        sql`SELECT username AS k, id FROM end_users WHERE ${sql.join(where, sql` AND `)}
             ORDER BY ${username} LIMIT ${limit}`,
      );
    },

    /**
     * Accounts whose primary email starts with `prefix` and whose username does not (those are listed
     * under their username), in email order, after `after` and up to `upTo` inclusive. CROSS JOIN keeps
     * the contacts range as the outer loop.
     */
    async emailMatches(
      appId: string,
      prefix: string,
      f: ListFilter,
      after: SearchCursor | undefined,
      upTo: string | undefined,
      limit: number,
    ): Promise<KeyedId[]> {
      const value = key("c.value");
      const username = key("u.username");
      const where: SQL[] = [sql`c.app_id = ${appId} AND c.type = 'email'`];
      if (after !== undefined && atOrAfter(after.k, prefix)) where.push(sql`${value} > ${after.k}`);
      else where.push(sql`${value} >= ${prefix}`);
      where.push(sql`${value} < ${prefixEnd(prefix)}`);
      if (upTo !== undefined) where.push(sql`${value} <= ${upTo}`);
      where.push(
        sql`c.is_primary = ${true} AND NOT (${username} >= ${prefix} AND ${username} < ${prefixEnd(prefix)})`,
      );
      if (f.status !== undefined) where.push(sql`u.status = ${f.status}`);
      return await rows<KeyedId>(
        db,
        sql`SELECT c.value AS k, c.user_id AS id
              FROM end_user_contacts c ${joinUsers}
             WHERE ${sql.join(where, sql` AND `)}
             ORDER BY ${value} LIMIT ${limit}`,
      );
    },

    /** Ids of the app's accounts among `ids` (others' and unknown ones dropped), deduplicated. */
    async existingIds(appId: string, ids: readonly string[]): Promise<string[]> {
      const out: string[] = [];
      for (const part of chunks([...new Set(ids)])) {
        const found = await db
          .select({ id: endUsers.id })
          .from(endUsers)
          .where(and(inArray(endUsers.id, part), sql`${residual(sql`${endUsers.appId}`)} = ${appId}`));
        for (const r of found) out.push(r.id);
      }
      return out;
    },

    /** Every account matching the list filters, unordered: the target of a bulk write by filter. */
    async matchingIds(appId: string, f: ListFilter & { search?: string }): Promise<string[]> {
      if (f.search === undefined) {
        const status = f.status === undefined ? sql`` : sql` AND status = ${f.status}`;
        return (
          await rows<{ id: string }>(db, sql`SELECT id FROM end_users WHERE app_id = ${appId}${status}`)
        ).map((r) => r.id);
      }
      // Two index ranges joined by UNION: an OR of them would make SQLite walk the whole app.
      const start = f.search;
      const end = prefixEnd(f.search);
      const status = f.status === undefined ? sql`` : sql` AND ${residual("u.status")} = ${f.status}`;
      const username = key("u.username");
      const value = key("c.value");
      return (
        await rows<{ id: string }>(
          db,
          sql`SELECT u.id FROM end_users u
               WHERE u.app_id = ${appId} AND ${username} >= ${start} AND ${username} < ${end}${status}
              UNION
              SELECT u.id FROM end_user_contacts c ${joinUsers}
               WHERE c.app_id = ${appId} AND c.type = 'email' AND ${value} >= ${start} AND ${value} < ${end}
                 AND c.is_primary = ${true}${status}`,
        )
      ).map((r) => r.id);
    },

    /** `(id, value)` of `column` for the accounts `ids`: what a bulk write is about to change. */
    /**
     * Locks the selected accounts for the rest of the transaction and returns those that still exist, in id
     * order. On PostgreSQL a concurrent bulk write on the same accounts waits here until the first commits,
     * then sees its changes (its deletions too: a deleted account is not returned); taking the locks in id
     * order keeps two such writes from deadlocking. SQLite's transaction already holds the one write lock.
     */
    async lockIds(ids: readonly string[]): Promise<string[]> {
      const sorted = [...ids].sort();
      if (sqlite) return sorted;
      const out: string[] = [];
      for (const part of chunks(sorted))
        for (const r of await rows<{ id: string }>(
          db,
          sql`SELECT id FROM end_users WHERE ${inArray(endUsers.id, part)} ORDER BY id FOR UPDATE`,
        ))
          out.push(r.id);
      return out;
    },

    async currentOf(
      ids: readonly string[],
      column: "role" | "status",
    ): Promise<{ id: string; value: string }[]> {
      const out: { id: string; value: string }[] = [];
      for (const part of chunks(ids))
        out.push(
          ...(await db
            .select({ id: endUsers.id, value: endUsers[column] })
            .from(endUsers)
            .where(inArray(endUsers.id, part))),
        );
      return out;
    },

    async setColumn(
      ids: readonly string[],
      set: { role?: string; status?: EndUserStatus },
      now: number,
    ): Promise<void> {
      for (const part of chunks(ids))
        await db
          .update(endUsers)
          .set({ ...set, updatedAt: now })
          .where(inArray(endUsers.id, part));
    },

    /** Contacts, sessions, refresh tokens and codes go with the accounts (FK cascades). */
    async deleteUsers(ids: readonly string[]): Promise<number> {
      let n = 0;
      for (const part of chunks(ids))
        n += affected(await db.delete(endUsers).where(inArray(endUsers.id, part)));
      return n;
    },

    /** Ends every live session of the accounts; the number of sessions ended per account. */
    async revokeSessionsOf(
      ids: readonly string[],
      reason: string,
      now: number,
    ): Promise<Map<string, number>> {
      const out = new Map<string, number>();
      for (const part of chunks(ids)) {
        const ended = await db
          .update(endUserSessions)
          .set({ revokedAt: now, revokeReason: reason })
          .where(
            and(
              inArray(endUserSessions.userId, part),
              sql`${endUserSessions.revokedAt} IS NULL`,
              sql`${endUserSessions.expiresAt} > ${now}`,
            ),
          )
          .returning({ userId: endUserSessions.userId });
        for (const r of ended) out.set(r.userId, (out.get(r.userId) ?? 0) + 1);
      }
      return out;
    },

    async roleByName(appId: string, name: string): Promise<RoleRow | undefined> {
      return await first(
        db
          .select()
          .from(roles)
          .where(and(eq(roles.appId, appId), eq(roles.name, name)))
          .limit(1),
      );
    },

    /** The account's tenant memberships, oldest first, whatever each tenant's status. */
    async tenantsOf(appId: string, userId: string): Promise<UserTenantRow[]> {
      return db
        .select({
          tenantId: tenants.id,
          displayId: tenants.displayId,
          slug: tenants.slug,
          displayName: tenants.displayName,
          status: tenants.status,
          role: tenantMembers.role,
          joinedAt: tenantMembers.joinedAt,
        })
        .from(tenantMembers)
        .innerJoin(tenants, eq(tenants.id, tenantMembers.tenantId))
        .where(and(eq(tenantMembers.appId, appId), eq(tenantMembers.userId, userId)))
        .orderBy(tenantMembers.joinedAt, tenants.id);
    },

    /** Role name → id for the app (a handful of rows). */
    async roleIds(appId: string): Promise<Map<string, string>> {
      const found = await db
        .select({ id: roles.id, name: roles.name })
        .from(roles)
        .where(eq(roles.appId, appId));
      return new Map(found.map((r) => [r.name, r.id]));
    },
  };
}

export type UserAdminStore = ReturnType<typeof createUserAdminStore>;
