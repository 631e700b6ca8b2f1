/**
 * @module Shared queries on end users and their contacts. Feature modules (auth, me, codes, admin) keep
 * their own specific queries in their own store; what more than one of them needs lives here.
 */
import { and, asc, desc, eq, isNotNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { endUserContacts, endUsers } from "../db/schema.ts";

export type EndUserRow = typeof endUsers.$inferSelect;
export type ContactRow = typeof endUserContacts.$inferSelect;

export function createUserStore(db: Db) {
  return {
    byId(appId: string, id: string): EndUserRow | undefined {
      return db
        .select()
        .from(endUsers)
        .where(and(eq(endUsers.appId, appId), eq(endUsers.id, id)))
        .get();
    },

    byUsername(appId: string, username: string): EndUserRow | undefined {
      return db
        .select()
        .from(endUsers)
        .where(and(eq(endUsers.appId, appId), eq(endUsers.username, username)))
        .get();
    },

    /** The contact holding `value` in the app, whoever owns it. */
    contactByValue(appId: string, type: ContactRow["type"], value: string): ContactRow | undefined {
      return db
        .select()
        .from(endUserContacts)
        .where(and(eq(endUserContacts.appId, appId), eq(endUserContacts.type, type), eq(endUserContacts.value, value)))
        .get();
    },

    /** Sign-in by email: only a verified primary email authenticates. */
    byVerifiedPrimaryEmail(appId: string, email: string): EndUserRow | undefined {
      const c = db
        .select({ userId: endUserContacts.userId })
        .from(endUserContacts)
        .where(
          and(
            eq(endUserContacts.appId, appId),
            eq(endUserContacts.type, "email"),
            eq(endUserContacts.value, email),
            eq(endUserContacts.isPrimary, true),
            isNotNull(endUserContacts.verifiedAt),
          ),
        )
        .get();
      return c ? this.byId(appId, c.userId) : undefined;
    },

    contactsOf(userId: string): ContactRow[] {
      return db
        .select()
        .from(endUserContacts)
        .where(eq(endUserContacts.userId, userId))
        .orderBy(asc(endUserContacts.createdAt), asc(endUserContacts.id))
        .all();
    },

    primaryEmail(userId: string): ContactRow | undefined {
      return db
        .select()
        .from(endUserContacts)
        .where(
          and(eq(endUserContacts.userId, userId), eq(endUserContacts.type, "email"), eq(endUserContacts.isPrimary, true)),
        )
        .get();
    },

    insertUser(row: typeof endUsers.$inferInsert): void {
      db.insert(endUsers).values(row).run();
    },

    insertContact(row: typeof endUserContacts.$inferInsert): void {
      db.insert(endUserContacts).values(row).run();
    },

    updateUser(id: string, set: Partial<typeof endUsers.$inferInsert>): void {
      db.update(endUsers).set(set).where(eq(endUsers.id, id)).run();
    },

    deleteUser(id: string): void {
      db.delete(endUsers).where(eq(endUsers.id, id)).run();
    },

    /**
     * One page of an app's accounts, newest first over `(created_at, id)`, with the primary email and
     * the live-session count each admin list shows. `search` is an already normalised prefix of the
     * username or the primary email.
     */
    page(appId: string, q: UserPageQuery): UserPageRow[] {
      const primaryEmail = and(
        eq(endUserContacts.userId, endUsers.id),
        eq(endUserContacts.type, "email"),
        eq(endUserContacts.isPrimary, true),
      );
      const prefix = q.search === undefined ? undefined : `${q.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      return db
        .select({
          user: endUsers,
          email: endUserContacts.value,
          emailVerifiedAt: endUserContacts.verifiedAt,
          activeSessions: sql<number>`(SELECT count(*) FROM end_user_sessions s
            WHERE s.user_id = ${endUsers.id} AND s.revoked_at IS NULL AND s.expires_at > ${q.now})`,
        })
        .from(endUsers)
        .leftJoin(endUserContacts, primaryEmail)
        .where(
          and(
            eq(endUsers.appId, appId),
            q.status === undefined ? undefined : eq(endUsers.status, q.status),
            prefix === undefined
              ? undefined
              : or(
                  sql`${endUsers.username} LIKE ${prefix} ESCAPE '\\'`,
                  sql`${endUserContacts.value} LIKE ${prefix} ESCAPE '\\'`,
                ),
            q.after === undefined
              ? undefined
              : or(
                  lt(endUsers.createdAt, q.after.c),
                  and(eq(endUsers.createdAt, q.after.c), lt(endUsers.id, q.after.i)),
                ),
          ),
        )
        .orderBy(desc(endUsers.createdAt), desc(endUsers.id))
        .limit(q.limit)
        .all();
    },
  };
}

export interface UserPageQuery {
  status?: EndUserRow["status"];
  search?: string;
  /** Position of the last row of the previous page. */
  after?: { c: number; i: string };
  limit: number;
  /** Sessions expiring after this instant count as live. */
  now: number;
}

export interface UserPageRow {
  user: EndUserRow;
  email: string | null;
  emailVerifiedAt: number | null;
  activeSessions: number;
}

export type UserStore = ReturnType<typeof createUserStore>;
