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
  const primaryOf = async (
    userId: string,
    type: ContactRow["type"],
    exceptId: string | null,
  ): Promise<ContactRow | undefined> =>
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
    async byId(appId: string, id: string): Promise<EndUserRow | undefined> {
      return byIdQuery.get({ appId, id });
    },

    async byUsername(appId: string, username: string): Promise<EndUserRow | undefined> {
      return byUsernameQuery.get({ appId, username });
    },

    /** The contact holding `value` in the app, whoever owns it. */
    async contactByValue(
      appId: string,
      type: ContactRow["type"],
      value: string,
    ): Promise<ContactRow | undefined> {
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
    async byVerifiedPrimaryEmail(appId: string, email: string): Promise<EndUserRow | undefined> {
      const c = verifiedPrimaryEmailQuery.get({ appId, email });
      return c ? byIdQuery.get({ appId, id: c.userId }) : undefined;
    },

    async contactsOf(userId: string): Promise<ContactRow[]> {
      return db
        .select()
        .from(endUserContacts)
        .where(eq(endUserContacts.userId, userId))
        .orderBy(asc(endUserContacts.createdAt), asc(endUserContacts.id))
        .all();
    },

    async contactCount(userId: string): Promise<number> {
      return (
        db.select({ n: count() }).from(endUserContacts).where(eq(endUserContacts.userId, userId)).get()?.n ??
        0
      );
    },

    /** One of the user's contacts; another user's contact reads as absent. */
    async contactOf(userId: string, contactId: string): Promise<ContactRow | undefined> {
      return db
        .select()
        .from(endUserContacts)
        .where(and(eq(endUserContacts.id, contactId), eq(endUserContacts.userId, userId)))
        .get();
    },

    primaryOf,

    primaryEmail: async (userId: string): Promise<ContactRow | undefined> =>
      await primaryOf(userId, "email", null),

    async insertUser(row: typeof endUsers.$inferInsert): Promise<void> {
      db.insert(endUsers).values(row).run();
    },

    async insertContact(row: typeof endUserContacts.$inferInsert): Promise<void> {
      db.insert(endUserContacts).values(row).run();
    },

    async setPrimary(contactId: string, isPrimary: boolean): Promise<void> {
      db.update(endUserContacts).set({ isPrimary }).where(eq(endUserContacts.id, contactId)).run();
    },

    /** Codes minted for the contact go with it (FK cascade). */
    async deleteContact(contactId: string): Promise<void> {
      db.delete(endUserContacts).where(eq(endUserContacts.id, contactId)).run();
    },

    async updateUser(id: string, set: Partial<typeof endUsers.$inferInsert>): Promise<void> {
      db.update(endUsers).set(set).where(eq(endUsers.id, id)).run();
    },

    async deleteUser(id: string): Promise<void> {
      db.delete(endUsers).where(eq(endUsers.id, id)).run();
    },
  };
}

export type UserStore = ReturnType<typeof createUserStore>;
