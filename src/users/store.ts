/**
 * @module Shared queries on end users and their contacts. Feature modules (auth, me, codes, admin) keep
 * their own specific queries in their own store; what more than one of them needs lives here.
 */
import { and, asc, eq, isNotNull } from "drizzle-orm";
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
          and(
            eq(endUserContacts.userId, userId),
            eq(endUserContacts.type, "email"),
            eq(endUserContacts.isPrimary, true),
          ),
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
  };
}

export type UserStore = ReturnType<typeof createUserStore>;
