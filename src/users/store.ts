/**
 * @module Shared queries on end users and their contacts. Feature modules (auth, me, codes, admin) keep
 * their own specific queries in their own store; what more than one of them needs lives here.
 */
import { and, asc, count, eq, isNotNull, ne, type SQLWrapper, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { first } from "../db/query.ts";
import type { endUserContacts, endUsers } from "../db/schema.ts";

export type EndUserRow = typeof endUsers.$inferSelect;
export type ContactRow = typeof endUserContacts.$inferSelect;

export function createUserStore(db: Db) {
  const { endUserContacts, endUsers } = db.tables;
  // The sign-in path's lookups, compiled once on SQLite (see preparedInsert in db/client.ts for why);
  // PostgreSQL runs the same statements through drizzle's builder.
  const byIdWhere = (appId: string | SQLWrapper, id: string | SQLWrapper) =>
    and(eq(endUsers.appId, appId), eq(endUsers.id, id));
  const byUsernameWhere = (appId: string | SQLWrapper, username: string | SQLWrapper) =>
    and(eq(endUsers.appId, appId), eq(endUsers.username, username));
  const verifiedPrimaryEmailWhere = (appId: string | SQLWrapper, email: string | SQLWrapper) =>
    and(
      eq(endUserContacts.appId, appId),
      eq(endUserContacts.type, "email"),
      eq(endUserContacts.value, email),
      eq(endUserContacts.isPrimary, true),
      isNotNull(endUserContacts.verifiedAt),
    );
  const prepared =
    db.engine === "sqlite"
      ? {
          byId: db
            .select()
            .from(endUsers)
            .where(byIdWhere(sql.placeholder("appId"), sql.placeholder("id")))
            .prepare(),
          byUsername: db
            .select()
            .from(endUsers)
            .where(byUsernameWhere(sql.placeholder("appId"), sql.placeholder("username")))
            .prepare(),
          verifiedPrimaryEmail: db
            .select({ userId: endUserContacts.userId })
            .from(endUserContacts)
            .where(verifiedPrimaryEmailWhere(sql.placeholder("appId"), sql.placeholder("email")))
            .prepare(),
        }
      : undefined;

  const byId = async (appId: string, id: string): Promise<EndUserRow | undefined> =>
    prepared
      ? prepared.byId.get({ appId, id })
      : await first(db.select().from(endUsers).where(byIdWhere(appId, id)).limit(1));

  /** The user's current primary of `type`, other than `exceptId` when given. */
  const primaryOf = async (
    userId: string,
    type: ContactRow["type"],
    exceptId: string | null,
  ): Promise<ContactRow | undefined> =>
    first(
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
        .limit(1),
    );

  return {
    byId,

    /**
     * The account, locked until the transaction ends: a check on it and the write it guards (one primary per
     * type, the contact limit, a status change) hold with several writers. Call inside `tx`. SQLite's
     * transaction already holds the one write lock; PostgreSQL takes the row's (`FOR UPDATE`).
     */
    async lockUser(appId: string, id: string): Promise<EndUserRow | undefined> {
      if (prepared) return prepared.byId.get({ appId, id });
      const q = db.select().from(endUsers).where(byIdWhere(appId, id)).limit(1);
      return await first((q as unknown as { for(strength: "update"): typeof q }).for("update"));
    },

    async byUsername(appId: string, username: string): Promise<EndUserRow | undefined> {
      if (prepared) return prepared.byUsername.get({ appId, username });
      return await first(db.select().from(endUsers).where(byUsernameWhere(appId, username)).limit(1));
    },

    /** The contact holding `value` in the app, whoever owns it. */
    async contactByValue(
      appId: string,
      type: ContactRow["type"],
      value: string,
    ): Promise<ContactRow | undefined> {
      return first(
        db
          .select()
          .from(endUserContacts)
          .where(
            and(
              eq(endUserContacts.appId, appId),
              eq(endUserContacts.type, type),
              eq(endUserContacts.value, value),
            ),
          )
          .limit(1),
      );
    },

    /** Sign-in by email: only a verified primary email authenticates. */
    async byVerifiedPrimaryEmail(appId: string, email: string): Promise<EndUserRow | undefined> {
      const c = prepared
        ? prepared.verifiedPrimaryEmail.get({ appId, email })
        : await first(
            db
              .select({ userId: endUserContacts.userId })
              .from(endUserContacts)
              .where(verifiedPrimaryEmailWhere(appId, email))
              .limit(1),
          );
      return c ? await byId(appId, c.userId) : undefined;
    },

    async contactsOf(userId: string): Promise<ContactRow[]> {
      return db
        .select()
        .from(endUserContacts)
        .where(eq(endUserContacts.userId, userId))
        .orderBy(asc(endUserContacts.createdAt), asc(endUserContacts.id));
    },

    async contactCount(userId: string): Promise<number> {
      const r = await first(
        db.select({ n: count() }).from(endUserContacts).where(eq(endUserContacts.userId, userId)),
      );
      return Number(r?.n ?? 0);
    },

    /** One of the user's contacts; another user's contact reads as absent. */
    async contactOf(userId: string, contactId: string): Promise<ContactRow | undefined> {
      return first(
        db
          .select()
          .from(endUserContacts)
          .where(and(eq(endUserContacts.id, contactId), eq(endUserContacts.userId, userId)))
          .limit(1),
      );
    },

    primaryOf,

    primaryEmail: async (userId: string): Promise<ContactRow | undefined> =>
      await primaryOf(userId, "email", null),

    async insertUser(row: typeof endUsers.$inferInsert): Promise<void> {
      await db.insert(endUsers).values(row);
    },

    async insertContact(row: typeof endUserContacts.$inferInsert): Promise<void> {
      await db.insert(endUserContacts).values(row);
    },

    async setPrimary(contactId: string, isPrimary: boolean): Promise<void> {
      await db.update(endUserContacts).set({ isPrimary }).where(eq(endUserContacts.id, contactId));
    },

    /** Codes minted for the contact go with it (FK cascade). */
    async deleteContact(contactId: string): Promise<void> {
      await db.delete(endUserContacts).where(eq(endUserContacts.id, contactId));
    },

    async updateUser(id: string, set: Partial<typeof endUsers.$inferInsert>): Promise<void> {
      await db.update(endUsers).set(set).where(eq(endUsers.id, id));
    },

    async deleteUser(id: string): Promise<void> {
      await db.delete(endUsers).where(eq(endUsers.id, id));
    },
  };
}

export type UserStore = ReturnType<typeof createUserStore>;
