/**
 * @module Shared queries on end users and their contacts. Feature modules (auth, me, codes, admin) keep
 * their own specific queries in their own store; what more than one of them needs lives here.
 */
import { and, asc, count, eq, isNotNull, ne, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { endUserContacts, endUsers } from "../db/schema.ts";

export type EndUserRow = typeof endUsers.$inferSelect;
export type ContactRow = typeof endUserContacts.$inferSelect;

export function createUserStore(db: Db) {
  // The sign-in path's lookups, compiled once (see preparedInsert in db/client.ts for why).
  const byIdQuery = db
    .select()
    .from(endUsers)
    .where(and(eq(endUsers.appId, sql.placeholder("appId")), eq(endUsers.id, sql.placeholder("id"))))
    .prepare();
  const byUsernameQuery = db
    .select()
    .from(endUsers)
    .where(
      and(eq(endUsers.appId, sql.placeholder("appId")), eq(endUsers.username, sql.placeholder("username"))),
    )
    .prepare();
  const verifiedPrimaryEmailQuery = db
    .select({ userId: endUserContacts.userId })
    .from(endUserContacts)
    .where(
      and(
        eq(endUserContacts.appId, sql.placeholder("appId")),
        eq(endUserContacts.type, "email"),
        eq(endUserContacts.value, sql.placeholder("email")),
        eq(endUserContacts.isPrimary, true),
        isNotNull(endUserContacts.verifiedAt),
      ),
    )
    .prepare();

  /** The user's current primary of `type`, other than `exceptId` when given. */
  const primaryOf = (
    userId: string,
    type: ContactRow["type"],
    exceptId: string | null,
  ): ContactRow | undefined =>
    db
      .select()
      .from(endUserContacts)
      .where(
        and(
          eq(endUserContacts.userId, userId),
          eq(endUserContacts.type, type),
          eq(endUserContacts.isPrimary, true),
          exceptId === null ? undefined : ne(endUserContacts.id, exceptId),
        ),
      )
      .get();

  return {
    byId(appId: string, id: string): EndUserRow | undefined {
      return byIdQuery.get({ appId, id });
    },

    byUsername(appId: string, username: string): EndUserRow | undefined {
      return byUsernameQuery.get({ appId, username });
    },

    /** The contact holding `value` in the app, whoever owns it. */
    contactByValue(appId: string, type: ContactRow["type"], value: string): ContactRow | undefined {
      return db
        .select()
        .from(endUserContacts)
        .where(
          and(
            eq(endUserContacts.appId, appId),
            eq(endUserContacts.type, type),
            eq(endUserContacts.value, value),
          ),
        )
        .get();
    },

    /** Sign-in by email: only a verified primary email authenticates. */
    byVerifiedPrimaryEmail(appId: string, email: string): EndUserRow | undefined {
      const c = verifiedPrimaryEmailQuery.get({ appId, email });
      return c ? byIdQuery.get({ appId, id: c.userId }) : undefined;
    },

    contactsOf(userId: string): ContactRow[] {
      return db
        .select()
        .from(endUserContacts)
        .where(eq(endUserContacts.userId, userId))
        .orderBy(asc(endUserContacts.createdAt), asc(endUserContacts.id))
        .all();
    },

    contactCount(userId: string): number {
      return (
        db.select({ n: count() }).from(endUserContacts).where(eq(endUserContacts.userId, userId)).get()?.n ??
        0
      );
    },

    /** One of the user's contacts; another user's contact reads as absent. */
    contactOf(userId: string, contactId: string): ContactRow | undefined {
      return db
        .select()
        .from(endUserContacts)
        .where(and(eq(endUserContacts.id, contactId), eq(endUserContacts.userId, userId)))
        .get();
    },

    primaryOf,

    primaryEmail: (userId: string): ContactRow | undefined => primaryOf(userId, "email", null),

    insertUser(row: typeof endUsers.$inferInsert): void {
      db.insert(endUsers).values(row).run();
    },

    insertContact(row: typeof endUserContacts.$inferInsert): void {
      db.insert(endUserContacts).values(row).run();
    },

    setPrimary(contactId: string, isPrimary: boolean): void {
      db.update(endUserContacts).set({ isPrimary }).where(eq(endUserContacts.id, contactId)).run();
    },

    /** Codes minted for the contact go with it (FK cascade). */
    deleteContact(contactId: string): void {
      db.delete(endUserContacts).where(eq(endUserContacts.id, contactId)).run();
    },

    updateUser(id: string, set: Partial<typeof endUsers.$inferInsert>): void {
      db.update(endUsers).set(set).where(eq(endUsers.id, id)).run();
    },

    deleteUser(id: string): void {
      db.delete(endUsers).where(eq(endUsers.id, id)).run();
    },
  };
}

export type UserStore = ReturnType<typeof createUserStore>;
