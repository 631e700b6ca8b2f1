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
import type { SQLQueryBindings } from "bun:sqlite";
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Position } from "../core/pagination.ts";
import { changes, type Db } from "../db/client.ts";
import { endUserSessions, endUsers, roles, tenantMembers, tenants } from "../db/schema.ts";
import type { EndUserStatus, RoleRow, SearchCursor, UserTenantRow, UserViewRow } from "./model.ts";

/** Bound parameters per `IN (…)` list: far below SQLite's limit, and each statement stays small. */
const CHUNK = 1000;

/**
 * The exclusive upper end of the prefix range of `p`. SQLite compares TEXT bytewise (UTF-8), and no
 * valid UTF-8 character sorts above U+10FFFF, so every string starting with `p` lies in [p, p + U+10FFFF).
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
  const q = async <R>(text: string, params: SQLQueryBindings[]) =>
    db.$client.query<R, SQLQueryBindings[]>(text).all(...params);

  /**
   * Account rows with their primary email and live-session count; correlated subqueries, one page at a
   * time. The outer table is named in full: drizzle renders a lone column unqualified, which inside the
   * subquery would bind to the inner table.
   */
  const view = async (appId: string, ids: readonly string[], now: number): Promise<UserViewRow[]> =>
    ids.length === 0
      ? []
      : db
          .select({
            user: endUsers,
            email: sql<string | null>`(SELECT c.value FROM end_user_contacts c
              WHERE c.user_id = "end_users"."id" AND c.type = 'email' AND c.is_primary = 1)`,
            emailVerifiedAt: sql<number | null>`(SELECT c.verified_at FROM end_user_contacts c
              WHERE c.user_id = "end_users"."id" AND c.type = 'email' AND c.is_primary = 1)`,
            activeSessions: sql<number>`(SELECT count(*) FROM end_user_sessions s
              WHERE s.user_id = "end_users"."id" AND s.revoked_at IS NULL AND s.expires_at > ${now})`,
          })
          .from(endUsers)
          // `+app_id`: a residual check, so SQLite looks the ids up by primary key instead of walking an
          // app_id index over the whole app (which it would pick without ANALYZE statistics).
          .where(and(inArray(endUsers.id, [...ids]), sql`+${endUsers.appId} = ${appId}`))
          .all();

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
      const params: SQLQueryBindings[] = [appId];
      let where = "app_id = ?";
      if (f.status !== undefined) {
        where += " AND status = ?";
        params.push(f.status);
      }
      if (after !== undefined) {
        where += " AND (created_at, id) < (?, ?)";
        params.push(after.c, after.i);
      }
      params.push(limit);
      return (
        await q<{ id: string }>(
          `SELECT id FROM end_users WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT ?`,
          params,
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
      const params: SQLQueryBindings[] = [appId];
      let where = "app_id = ?";
      if (after !== undefined && atOrAfter(after.k, prefix)) {
        where += " AND username > ?";
        params.push(after.k);
      } else {
        where += " AND username >= ?";
        params.push(prefix);
      }
      where += " AND username < ?";
      params.push(prefixEnd(prefix));
      if (f.status !== undefined) {
        where += " AND +status = ?";
        params.push(f.status);
      }
      params.push(limit);
      return await q<KeyedId>(
        `SELECT username AS k, id FROM end_users WHERE ${where} ORDER BY username LIMIT ?`,
        params,
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
      const params: SQLQueryBindings[] = [appId];
      let where = "c.app_id = ? AND c.type = 'email'";
      if (after !== undefined && atOrAfter(after.k, prefix)) {
        where += " AND c.value > ?";
        params.push(after.k);
      } else {
        where += " AND c.value >= ?";
        params.push(prefix);
      }
      where += " AND c.value < ?";
      params.push(prefixEnd(prefix));
      if (upTo !== undefined) {
        where += " AND c.value <= ?";
        params.push(upTo);
      }
      where += " AND c.is_primary = 1 AND NOT (u.username >= ? AND u.username < ?)";
      params.push(prefix, prefixEnd(prefix));
      if (f.status !== undefined) {
        where += " AND u.status = ?";
        params.push(f.status);
      }
      params.push(limit);
      return await q<KeyedId>(
        `SELECT c.value AS k, c.user_id AS id
           FROM end_user_contacts c CROSS JOIN end_users u ON u.id = c.user_id
          WHERE ${where}
          ORDER BY c.value LIMIT ?`,
        params,
      );
    },

    /** Ids of the app's accounts among `ids` (others' and unknown ones dropped), deduplicated. */
    async existingIds(appId: string, ids: readonly string[]): Promise<string[]> {
      return chunks([...new Set(ids)]).flatMap((part) =>
        db
          .select({ id: endUsers.id })
          .from(endUsers)
          .where(and(inArray(endUsers.id, part), sql`+${endUsers.appId} = ${appId}`))
          .all()
          .map((r) => r.id),
      );
    },

    /** Every account matching the list filters, unordered: the target of a bulk write by filter. */
    async matchingIds(appId: string, f: ListFilter & { search?: string }): Promise<string[]> {
      if (f.search === undefined) {
        const params: SQLQueryBindings[] = [appId];
        let where = "app_id = ?";
        if (f.status !== undefined) {
          where += " AND status = ?";
          params.push(f.status);
        }
        return (await q<{ id: string }>(`SELECT id FROM end_users WHERE ${where}`, params)).map((r) => r.id);
      }
      // Two index ranges joined by UNION: an OR of them would make SQLite walk the whole app.
      const end = prefixEnd(f.search);
      const status = f.status === undefined ? "" : " AND +u.status = ?";
      const statusParam = f.status === undefined ? [] : [f.status];
      return (
        await q<{ id: string }>(
          `SELECT u.id FROM end_users u
          WHERE u.app_id = ? AND u.username >= ? AND u.username < ?${status}
         UNION
         SELECT u.id FROM end_user_contacts c CROSS JOIN end_users u ON u.id = c.user_id
          WHERE c.app_id = ? AND c.type = 'email' AND c.value >= ? AND c.value < ? AND c.is_primary = 1${status}`,
          [appId, f.search, end, ...statusParam, appId, f.search, end, ...statusParam],
        )
      ).map((r) => r.id);
    },

    /** `(id, value)` of `column` for the accounts `ids`: what a bulk write is about to change. */
    async currentOf(
      ids: readonly string[],
      column: "role" | "status",
    ): Promise<{ id: string; value: string }[]> {
      return chunks(ids).flatMap((part) =>
        db
          .select({ id: endUsers.id, value: endUsers[column] })
          .from(endUsers)
          .where(inArray(endUsers.id, part))
          .all(),
      );
    },

    async setColumn(
      ids: readonly string[],
      set: { role?: string; status?: EndUserStatus },
      now: number,
    ): Promise<void> {
      for (const part of chunks(ids))
        db.update(endUsers)
          .set({ ...set, updatedAt: now })
          .where(inArray(endUsers.id, part))
          .run();
    },

    /** Contacts, sessions, refresh tokens and codes go with the accounts (FK cascades). */
    async deleteUsers(ids: readonly string[]): Promise<number> {
      let n = 0;
      for (const part of chunks(ids))
        n += changes(db.delete(endUsers).where(inArray(endUsers.id, part)).run());
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
        const ended = db
          .update(endUserSessions)
          .set({ revokedAt: now, revokeReason: reason })
          .where(
            and(
              inArray(endUserSessions.userId, part),
              sql`${endUserSessions.revokedAt} IS NULL`,
              sql`${endUserSessions.expiresAt} > ${now}`,
            ),
          )
          .returning({ userId: endUserSessions.userId })
          .all();
        for (const r of ended) out.set(r.userId, (out.get(r.userId) ?? 0) + 1);
      }
      return out;
    },

    async roleByName(appId: string, name: string): Promise<RoleRow | undefined> {
      return db
        .select()
        .from(roles)
        .where(and(eq(roles.appId, appId), eq(roles.name, name)))
        .get();
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
        .orderBy(tenantMembers.joinedAt, tenants.id)
        .all();
    },

    /** Role name → id for the app (a handful of rows). */
    async roleIds(appId: string): Promise<Map<string, string>> {
      return new Map(
        db
          .select({ id: roles.id, name: roles.name })
          .from(roles)
          .where(eq(roles.appId, appId))
          .all()
          .map((r) => [r.name, r.id]),
      );
    },
  };
}

export type UserAdminStore = ReturnType<typeof createUserAdminStore>;
