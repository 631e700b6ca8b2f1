/**
 * @module The queries of a user import, each compiled once on SQLite: an import runs them 100,000 times, where
 * drizzle's builder would cost more than the statements (see `preparedInsert` in db/client.ts). PostgreSQL runs
 * the same statements through the builder (a round trip costs more than building them).
 */
import { and, eq, type SQLWrapper, sql } from "drizzle-orm";
import { type Db, preparedInsert } from "../db/client.ts";
import { first } from "../db/query.ts";
import type { endUserContacts, endUsers } from "../db/schema.ts";
import type { ContactRow, EndUserRow } from "./store.ts";

type Param = string | SQLWrapper;

const USER_COLUMNS = [
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
] as const;
const CONTACT_COLUMNS = [
  "id",
  "appId",
  "userId",
  "type",
  "value",
  "isPrimary",
  "verifiedAt",
  "createdAt",
] as const;

export function createUserImportStore(db: Db) {
  const { endUserContacts: contacts, endUsers: users, roles } = db.tables;
  const contactByEmailWhere = (appId: Param, email: Param) =>
    and(eq(contacts.appId, appId), eq(contacts.type, "email"), eq(contacts.value, email));
  const userByIdWhere = (appId: Param, id: Param) => and(eq(users.appId, appId), eq(users.id, id));
  const usernameWhere = (appId: Param, username: Param) =>
    and(eq(users.appId, appId), eq(users.username, username));

  const prepared =
    db.engine === "sqlite"
      ? {
          contactByEmail: db
            .select()
            .from(contacts)
            .where(contactByEmailWhere(sql.placeholder("appId"), sql.placeholder("email")))
            .prepare(),
          userById: db
            .select()
            .from(users)
            .where(userByIdWhere(sql.placeholder("appId"), sql.placeholder("id")))
            .prepare(),
          usernameHolder: db
            .select({ id: users.id })
            .from(users)
            .where(usernameWhere(sql.placeholder("appId"), sql.placeholder("username")))
            .prepare(),
          insertUser: preparedInsert(db, users, USER_COLUMNS),
          insertContact: preparedInsert(db, contacts, CONTACT_COLUMNS),
        }
      : undefined;

  return {
    async contactByEmail(appId: string, email: string): Promise<ContactRow | undefined> {
      if (prepared) return prepared.contactByEmail.get({ appId, email });
      return await first(db.select().from(contacts).where(contactByEmailWhere(appId, email)).limit(1));
    },
    async userById(appId: string, id: string): Promise<EndUserRow | undefined> {
      if (prepared) return prepared.userById.get({ appId, id });
      return await first(db.select().from(users).where(userByIdWhere(appId, id)).limit(1));
    },
    async usernameHolder(appId: string, username: string): Promise<string | undefined> {
      if (prepared) return prepared.usernameHolder.get({ appId, username })?.id;
      return (
        await first(db.select({ id: users.id }).from(users).where(usernameWhere(appId, username)).limit(1))
      )?.id;
    },
    /** The app's role names (a handful of rows). */
    async roleNames(appId: string): Promise<string[]> {
      return (await db.select({ name: roles.name }).from(roles).where(eq(roles.appId, appId))).map(
        (r) => r.name,
      );
    },
    async insertUser(row: typeof endUsers.$inferInsert): Promise<void> {
      if (prepared) return await prepared.insertUser(row);
      await db.insert(users).values(row);
    },
    async insertContact(row: typeof endUserContacts.$inferInsert): Promise<void> {
      if (prepared) return await prepared.insertContact(row);
      await db.insert(contacts).values(row);
    },
    async updateUser(id: string, set: Partial<typeof endUsers.$inferInsert>): Promise<void> {
      await db.update(users).set(set).where(eq(users.id, id));
    },
    async setVerified(contactId: string, verifiedAt: number | null): Promise<void> {
      await db.update(contacts).set({ verifiedAt }).where(eq(contacts.id, contactId));
    },
  };
}
