/**
 * @module The queries of a user import, each compiled once: an import runs them 100,000 times, where drizzle's
 * builder would cost more than the statements (see `preparedInsert` in db/client.ts).
 */
import { and, eq, sql } from "drizzle-orm";
import { type Db, preparedInsert } from "../db/client.ts";
import { endUserContacts, endUsers, roles } from "../db/schema.ts";
import type { ContactRow, EndUserRow } from "./store.ts";

export function createUserImportStore(db: Db) {
  const contactByEmail = db
    .select()
    .from(endUserContacts)
    .where(
      and(
        eq(endUserContacts.appId, sql.placeholder("appId")),
        eq(endUserContacts.type, "email"),
        eq(endUserContacts.value, sql.placeholder("email")),
      ),
    )
    .prepare();
  const userById = db
    .select()
    .from(endUsers)
    .where(and(eq(endUsers.appId, sql.placeholder("appId")), eq(endUsers.id, sql.placeholder("id"))))
    .prepare();
  const usernameHolder = db
    .select({ id: endUsers.id })
    .from(endUsers)
    .where(
      and(eq(endUsers.appId, sql.placeholder("appId")), eq(endUsers.username, sql.placeholder("username"))),
    )
    .prepare();
  const insertUser = preparedInsert(db, endUsers, [
    "id",
    "appId",
    "username",
    "displayName",
    "passwordHash",
    "status",
    "role",
    "failedLoginCount",
    "passwordChangedAt",
    "createdAt",
    "updatedAt",
  ]);
  const insertContact = preparedInsert(db, endUserContacts, [
    "id",
    "appId",
    "userId",
    "type",
    "value",
    "isPrimary",
    "verifiedAt",
    "createdAt",
  ]);

  return {
    contactByEmail: async (appId: string, email: string): Promise<ContactRow | undefined> =>
      contactByEmail.get({ appId, email }),
    userById: async (appId: string, id: string): Promise<EndUserRow | undefined> =>
      userById.get({ appId, id }),
    usernameHolder: async (appId: string, username: string): Promise<string | undefined> =>
      usernameHolder.get({ appId, username })?.id,
    /** The app's role names (a handful of rows). */
    async roleNames(appId: string): Promise<string[]> {
      return db
        .select({ name: roles.name })
        .from(roles)
        .where(eq(roles.appId, appId))
        .all()
        .map((r) => r.name);
    },
    insertUser,
    insertContact,
    async updateUser(id: string, set: Partial<typeof endUsers.$inferInsert>): Promise<void> {
      db.update(endUsers).set(set).where(eq(endUsers.id, id)).run();
    },
    async setVerified(contactId: string, verifiedAt: number | null): Promise<void> {
      db.update(endUserContacts).set({ verifiedAt }).where(eq(endUserContacts.id, contactId)).run();
    },
  };
}
