/** @module Drizzle queries for apps, their auth config, and the counts behind the caller's stats. */
import { and, count, desc, eq, gt, inArray, isNull, lt, or, sql } from "drizzle-orm";
import { changes, type Db } from "../db/client.ts";
import { appApiKeys, appSlugAliases, apps, authConfigs, endUsers, workspaces } from "../db/schema.ts";
import type { AppCursor, AppRow } from "./model.ts";

export function createAppStore(db: Db) {
  // Read on every permission-gated Consumer request, every browser request's CORS check and once per
  // app in a list: compiled once.
  const configOf = db
    .select({ config: authConfigs.config })
    .from(authConfigs)
    .where(eq(authConfigs.appId, sql.placeholder("appId")))
    .prepare();
  return {
    async byId(id: string): Promise<AppRow | undefined> {
      return db.select().from(apps).where(eq(apps.id, id)).get();
    },

    async bySlug(slug: string): Promise<AppRow | undefined> {
      return db.select().from(apps).where(eq(apps.slug, slug)).get();
    },

    /** In use by an app, or held as a live alias of another app than `forAppId`. */
    async slugTaken(slug: string, now: number, forAppId?: string): Promise<boolean> {
      if (db.select({ id: apps.id }).from(apps).where(eq(apps.slug, slug)).get()) return true;
      const alias = db.select().from(appSlugAliases).where(eq(appSlugAliases.slug, slug)).get();
      return alias !== undefined && alias.expiresAt > now && alias.appId !== forAppId;
    },

    /** Keeps `slug` resolving to the app until `expiresAt`; taking an alias back as the live slug drops it. */
    async renameSlug(appId: string, oldSlug: string, newSlug: string, expiresAt: number): Promise<void> {
      db.delete(appSlugAliases).where(eq(appSlugAliases.slug, newSlug)).run();
      db.insert(appSlugAliases)
        .values({ slug: oldSlug, appId, expiresAt })
        .onConflictDoUpdate({ target: appSlugAliases.slug, set: { appId, expiresAt } })
        .run();
    },

    async purgeAliases(now: number): Promise<number> {
      return changes(db.delete(appSlugAliases).where(lt(appSlugAliases.expiresAt, now)).run());
    },

    async workspaceExists(id: string): Promise<boolean> {
      return (
        db.select({ id: workspaces.id }).from(workspaces).where(eq(workspaces.id, id)).get() !== undefined
      );
    },

    /** Newest first, strictly after `after`, in the given workspaces. */
    async list(workspaceIds: string[], after: AppCursor | undefined, limit: number): Promise<AppRow[]> {
      if (workspaceIds.length === 0) return [];
      const inWs = inArray(apps.workspaceId, workspaceIds);
      const older = after
        ? or(lt(apps.createdAt, after.c), and(eq(apps.createdAt, after.c), lt(apps.id, after.i)))
        : undefined;
      return db
        .select()
        .from(apps)
        .where(and(inWs, older))
        .orderBy(desc(apps.createdAt), desc(apps.id))
        .limit(limit)
        .all();
    },

    /** Ids of every app in the given workspaces (for counting under a per-app policy). */
    async idsIn(workspaceIds: string[]): Promise<{ id: string; workspaceId: string }[]> {
      if (workspaceIds.length === 0) return [];
      return db
        .select({ id: apps.id, workspaceId: apps.workspaceId })
        .from(apps)
        .where(inArray(apps.workspaceId, workspaceIds))
        .all();
    },

    async insert(row: typeof apps.$inferInsert): Promise<void> {
      db.insert(apps).values(row).run();
    },

    async update(
      id: string,
      set: Partial<Pick<AppRow, "displayName" | "slug" | "metadata" | "status" | "updatedAt">>,
    ): Promise<AppRow> {
      return db.update(apps).set(set).where(eq(apps.id, id)).returning().get()!;
    },

    /** Removes the app; its keys and auth config go with it by FK cascade, audit rows have no FK and stay. */
    async delete(id: string): Promise<boolean> {
      return db.delete(apps).where(eq(apps.id, id)).returning({ id: apps.id }).all().length === 1;
    },

    async authConfig(appId: string): Promise<Record<string, unknown> | undefined> {
      return configOf.get({ appId })?.config;
    },

    /** Every app with its stored config (start-up review of the admin-lane setting). */
    async withAuthConfigs(): Promise<{ app: AppRow; config: Record<string, unknown> | null }[]> {
      return db
        .select({ app: apps, config: authConfigs.config })
        .from(apps)
        .leftJoin(authConfigs, eq(authConfigs.appId, apps.id))
        .orderBy(apps.createdAt, apps.id)
        .all();
    },

    async putAuthConfig(appId: string, config: Record<string, unknown>, now: number): Promise<void> {
      db.insert(authConfigs)
        .values({ appId, config, updatedAt: now })
        .onConflictDoUpdate({ target: authConfigs.appId, set: { config, updatedAt: now } })
        .run();
    },

    /**
     * The apps' API keys (`hdk_live_…`) that still authenticate at `now`. Revoking deletes the row (the
     * contract: "existence implies active"), so only the optional expiry is left to check. Workspace PAKs
     * and M2M clients are other credentials and are not counted here.
     */
    async activeApiKeyCount(appIds: string[], now: number): Promise<number> {
      if (appIds.length === 0) return 0;
      return (
        db
          .select({ n: count() })
          .from(appApiKeys)
          .where(
            and(
              inArray(appApiKeys.appId, appIds),
              or(isNull(appApiKeys.expiresAt), gt(appApiKeys.expiresAt, now)),
            ),
          )
          .get()?.n ?? 0
      );
    },

    /** End users across the given apps, whatever their status: a suspended account is still one of the app's users. */
    async endUserCount(appIds: string[]): Promise<number> {
      if (appIds.length === 0) return 0;
      return db.select({ n: count() }).from(endUsers).where(inArray(endUsers.appId, appIds)).get()?.n ?? 0;
    },
  };
}

export type AppStore = ReturnType<typeof createAppStore>;

/** SQLite's unique-constraint failure on `apps.slug`: the race the pre-check cannot close. */
export function isSlugConflict(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  return (
    !!e &&
    (e.code === "SQLITE_CONSTRAINT_UNIQUE" || /UNIQUE constraint failed/.test(e.message ?? "")) &&
    /apps\.slug/.test(e.message ?? "")
  );
}
