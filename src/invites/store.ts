/** @module Queries on `end_user_invites`: lookups by id and code hash, the newest-first page, supersede, revoke and the counted use. */
import { and, desc, eq, gt, isNotNull, isNull, lt, lte, or, type SQL, sql } from "drizzle-orm";
import type { Position } from "../core/pagination.ts";
import { changes, type Db } from "../db/client.ts";
import { endUserInvites, roles } from "../db/schema.ts";
import type { InviteRow, InviteStatus } from "./model.ts";

export interface InviteFilter {
  email?: string;
  status?: InviteStatus;
}

const t = endUserInvites;

/** The SQL of `statusOf` in model.ts, for the list filter. */
function statusWhere(status: InviteStatus, now: number): SQL | undefined {
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
  // The accept's compare-and-set: one use is counted only while the invite is still open, so two
  // concurrent accepts of a single-use invite cannot both get through.
  const useOnce = db.$client.query<never, [string, number]>(
    "UPDATE end_user_invites SET use_count = use_count + 1 WHERE id = ?1 AND revoked_at IS NULL AND expires_at > ?2 AND use_count < max_uses",
  );

  return {
    async byId(appId: string, id: string): Promise<InviteRow | undefined> {
      return db
        .select()
        .from(t)
        .where(and(eq(t.appId, appId), eq(t.id, id)))
        .get();
    },

    /** Any app's invite with this code hash (the index is global); the caller checks the app. */
    async byCodeHash(codeHash: string): Promise<InviteRow | undefined> {
      return db.select().from(t).where(eq(t.codeHash, codeHash)).get();
    },

    async insert(row: typeof endUserInvites.$inferInsert): Promise<void> {
      db.insert(t).values(row).run();
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
            f.status === undefined ? undefined : statusWhere(f.status, now),
            before,
          ),
        )
        .orderBy(desc(t.createdAt), desc(t.id))
        .limit(limit)
        .all();
    },

    /** The app's live invites for an address (normally at most one). */
    async liveFor(appId: string, email: string, now: number): Promise<InviteRow[]> {
      return db
        .select()
        .from(t)
        .where(and(eq(t.appId, appId), eq(t.email, email), statusWhere("live", now)))
        .all();
    },

    /** Revokes an open invite; false when it already was revoked. */
    async revoke(id: string, now: number, supersededBy: string | null = null): Promise<boolean> {
      return (
        changes(
          db
            .update(t)
            .set({ revokedAt: now, supersededBy })
            .where(and(eq(t.id, id), isNull(t.revokedAt)))
            .run(),
        ) === 1
      );
    },

    /** Counts one use if the invite is still open at `now`; false otherwise. */
    async useOnce(id: string, now: number): Promise<boolean> {
      return useOnce.run(id, now).changes === 1;
    },

    /** The app's role called `name` in any case: its id and canonical name, or undefined. */
    async role(appId: string, name: string): Promise<{ id: string; name: string } | undefined> {
      return db
        .select({ id: roles.id, name: roles.name })
        .from(roles)
        .where(and(eq(roles.appId, appId), sql`lower(${roles.name}) = ${name.toLowerCase()}`))
        .get();
    },

    /** Role name → id for the app (a handful of rows), for a page of invites. */
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

export type InviteStore = ReturnType<typeof createInviteStore>;
