/** @module Queries on `end_user_invites`: lookups by id and code hash, the newest-first page, supersede, revoke and the counted use. */
import { and, desc, eq, gt, isNotNull, isNull, lt, lte, or, type SQL, sql } from "drizzle-orm";
import type { Position } from "../core/pagination.ts";
import type { Db } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { endUserInvites } from "../db/schema.ts";
import type { InviteRow, InviteStatus } from "./model.ts";

export interface InviteFilter {
  email?: string;
  status?: InviteStatus;
}

type InviteTable = Db["tables"]["endUserInvites"];

/** The SQL of `statusOf` in model.ts, for the list filter. */
function statusWhere(t: InviteTable, status: InviteStatus, now: number): SQL | undefined {
  const open = isNull(t.revokedAt);
  const usable = lt(t.useCount, t.maxUses);
  switch (status) {
    case "revoked":
      return isNotNull(t.revokedAt);
    case "exhausted":
      return and(open, sql`${t.useCount} >= ${t.maxUses}`);
    case "expired":
      return and(open, usable, lte(t.expiresAt, now));
    case "live":
      return and(open, usable, gt(t.expiresAt, now));
  }
}

export function createInviteStore(db: Db) {
  const { endUserInvites: t, roles } = db.tables;

  return {
    async byId(appId: string, id: string): Promise<InviteRow | undefined> {
      return first(
        db
          .select()
          .from(t)
          .where(and(eq(t.appId, appId), eq(t.id, id)))
          .limit(1),
      );
    },

    /** Any app's invite with this code hash (the index is global); the caller checks the app. */
    async byCodeHash(codeHash: string): Promise<InviteRow | undefined> {
      return first(db.select().from(t).where(eq(t.codeHash, codeHash)).limit(1));
    },

    async insert(row: typeof endUserInvites.$inferInsert): Promise<void> {
      await db.insert(t).values(row);
    },

    async page(appId: string, f: InviteFilter, now: number, after: Position | undefined, limit: number) {
      const before = after
        ? or(lt(t.createdAt, after.c), and(eq(t.createdAt, after.c), lt(t.id, after.i)))
        : undefined;
      return db
        .select()
        .from(t)
        .where(
          and(
            eq(t.appId, appId),
            f.email === undefined ? undefined : eq(t.email, f.email),
            f.status === undefined ? undefined : statusWhere(t, f.status, now),
            before,
          ),
        )
        .orderBy(desc(t.createdAt), desc(t.id))
        .limit(limit);
    },

    /** The app's live invites for an address (normally at most one). */
    async liveFor(appId: string, email: string, now: number): Promise<InviteRow[]> {
      return db
        .select()
        .from(t)
        .where(and(eq(t.appId, appId), eq(t.email, email), statusWhere(t, "live", now)));
    },

    /** Revokes an open invite; false when it already was revoked. */
    async revoke(id: string, now: number, supersededBy: string | null = null): Promise<boolean> {
      return (
        affected(
          await db
            .update(t)
            .set({ revokedAt: now, supersededBy })
            .where(and(eq(t.id, id), isNull(t.revokedAt))),
        ) === 1
      );
    },

    /**
     * Counts one use if the invite is still open at `now`; false otherwise. The accept's compare-and-set: the
     * conditions are re-checked by the UPDATE itself (PostgreSQL re-evaluates them on the row a concurrent
     * writer just committed), so two concurrent accepts of a single-use invite cannot both get through.
     */
    async useOnce(id: string, now: number): Promise<boolean> {
      return (
        affected(
          await db
            .update(t)
            .set({ useCount: sql`${t.useCount} + 1` })
            .where(and(eq(t.id, id), isNull(t.revokedAt), gt(t.expiresAt, now), lt(t.useCount, t.maxUses))),
        ) === 1
      );
    },

    /** The app's role called `name` in any case: its id and canonical name, or undefined. */
    async role(appId: string, name: string): Promise<{ id: string; name: string } | undefined> {
      return first(
        db
          .select({ id: roles.id, name: roles.name })
          .from(roles)
          .where(and(eq(roles.appId, appId), sql`lower(${roles.name}) = ${name.toLowerCase()}`))
          .limit(1),
      );
    },

    /** Role name → id for the app (a handful of rows), for a page of invites. */
    async roleIds(appId: string): Promise<Map<string, string>> {
      const rows = await db
        .select({ id: roles.id, name: roles.name })
        .from(roles)
        .where(eq(roles.appId, appId));
      return new Map(rows.map((r) => [r.name, r.id]));
    },
  };
}

export type InviteStore = ReturnType<typeof createInviteStore>;
