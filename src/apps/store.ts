/** @module Drizzle queries for apps, their auth config, and the counts behind the caller's stats. */
import { and, count, desc, eq, gt, inArray, isNull, lt, or, type Placeholder, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { affected, first, isUniqueViolation } from "../db/query.ts";
import type { apps as appsTable } from "../db/schema.ts";
import type { AppCursor, AppRow } from "./model.ts";

/**
 * PostgreSQL's row lock for a select built with the SQLite-typed builders (PostgreSQL's have `.for`). `NO KEY`:
 * the id never changes, so rows that reference the app (sign-ups, sessions) are not held up meanwhile.
 */
const forUpdate = <Q>(q: Q): Q => (q as unknown as { for(s: "no key update"): Q }).for("no key update");

export function createAppStore(db: Db) {
  const { appApiKeys, appSlugAliases, apps, authConfigs, endUsers, workspaces } = db.tables;
  // Read on every permission-gated Consumer request, every browser request's CORS check and once per
  // app in a list: compiled once on SQLite; PostgreSQL runs the builder with the value bound.
  const configOf = (() => {
    const where = (appId: string | Placeholder) =>
      db
        .select({ config: authConfigs.config })
        .from(authConfigs)
        .where(eq(authConfigs.appId, appId))
        .limit(1);
    if (db.engine === "sqlite") {
      const prepared = where(sql.placeholder("appId")).prepare();
      return async (appId: string) => prepared.get({ appId })?.config;
    }
    return async (appId: string) => (await first(where(appId)))?.config;
  })();
  return {
    async byId(id: string): Promise<AppRow | undefined> {
      return await first(db.select().from(apps).where(eq(apps.id, id)).limit(1));
    },

    /** `byId` inside a transaction that will write the row: on PostgreSQL the row stays locked until it ends. */
    async byIdForUpdate(id: string): Promise<AppRow | undefined> {
      const q = db.select().from(apps).where(eq(apps.id, id)).limit(1);
      return await first(db.engine === "postgres" ? forUpdate(q) : q);
    },

    async bySlug(slug: string): Promise<AppRow | undefined> {
      return await first(db.select().from(apps).where(eq(apps.slug, slug)).limit(1));
    },

    /** In use by an app, or held as a live alias of another app than `forAppId`. */
    async slugTaken(slug: string, now: number, forAppId?: string): Promise<boolean> {
      if (await first(db.select({ id: apps.id }).from(apps).where(eq(apps.slug, slug)).limit(1))) return true;
      const alias = await first(
        db.select().from(appSlugAliases).where(eq(appSlugAliases.slug, slug)).limit(1),
      );
      return alias !== undefined && alias.expiresAt > now && alias.appId !== forAppId;
    },

    /** Keeps `slug` resolving to the app until `expiresAt`; taking an alias back as the live slug drops it. */
    async renameSlug(appId: string, oldSlug: string, newSlug: string, expiresAt: number): Promise<void> {
      await db.delete(appSlugAliases).where(eq(appSlugAliases.slug, newSlug));
      await db
        .insert(appSlugAliases)
        .values({ slug: oldSlug, appId, expiresAt })
        .onConflictDoUpdate({ target: appSlugAliases.slug, set: { appId, expiresAt } });
    },

    async purgeAliases(now: number): Promise<number> {
      return affected(await db.delete(appSlugAliases).where(lt(appSlugAliases.expiresAt, now)));
    },

    async workspaceExists(id: string): Promise<boolean> {
      return (
        (await first(
          db.select({ id: workspaces.id }).from(workspaces).where(eq(workspaces.id, id)).limit(1),
        )) !== undefined
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
        .limit(limit);
    },

    /** Ids of every app in the given workspaces (for counting under a per-app policy). */
    async idsIn(workspaceIds: string[]): Promise<{ id: string; workspaceId: string }[]> {
      if (workspaceIds.length === 0) return [];
      return db
        .select({ id: apps.id, workspaceId: apps.workspaceId })
        .from(apps)
        .where(inArray(apps.workspaceId, workspaceIds));
    },

    async insert(row: typeof appsTable.$inferInsert): Promise<void> {
      await db.insert(apps).values(row);
    },

    async update(
      id: string,
      set: Partial<Pick<AppRow, "displayName" | "slug" | "metadata" | "status" | "updatedAt">>,
    ): Promise<AppRow> {
      return (await db.update(apps).set(set).where(eq(apps.id, id)).returning())[0]!;
    },

    /** Removes the app; its keys and auth config go with it by FK cascade, audit rows have no FK and stay. */
    async delete(id: string): Promise<boolean> {
      return (await db.delete(apps).where(eq(apps.id, id)).returning({ id: apps.id })).length === 1;
    },

    async authConfig(appId: string): Promise<Record<string, unknown> | undefined> {
      return await configOf(appId);
    },

    /** Every app with its stored config (start-up review of the admin-lane setting). */
    async withAuthConfigs(): Promise<{ app: AppRow; config: Record<string, unknown> | null }[]> {
      return db
        .select({ app: apps, config: authConfigs.config })
        .from(apps)
        .leftJoin(authConfigs, eq(authConfigs.appId, apps.id))
        .orderBy(apps.createdAt, apps.id);
    },

    async putAuthConfig(appId: string, config: Record<string, unknown>, now: number): Promise<void> {
      await db
        .insert(authConfigs)
        .values({ appId, config, updatedAt: now })
        .onConflictDoUpdate({ target: authConfigs.appId, set: { config, updatedAt: now } });
    },

    /**
     * The apps' API keys (`hdk_live_…`) that still authenticate at `now`. Revoking deletes the row (the
     * contract: "existence implies active"), so only the optional expiry is left to check. Workspace PAKs
     * and M2M clients are other credentials and are not counted here.
     */
    async activeApiKeyCount(appIds: string[], now: number): Promise<number> {
      if (appIds.length === 0) return 0;
      const [r] = await db
        .select({ n: count() })
        .from(appApiKeys)
        .where(
          and(
            inArray(appApiKeys.appId, appIds),
            or(isNull(appApiKeys.expiresAt), gt(appApiKeys.expiresAt, now)),
          ),
        );
      return r?.n ?? 0;
    },

    /** End users across the given apps, whatever their status: a suspended account is still one of the app's users. */
    async endUserCount(appIds: string[]): Promise<number> {
      if (appIds.length === 0) return 0;
      const [r] = await db.select({ n: count() }).from(endUsers).where(inArray(endUsers.appId, appIds));
      return r?.n ?? 0;
    },
  };
}

export type AppStore = ReturnType<typeof createAppStore>;

/** The unique-constraint failure on `apps.slug`: the race the pre-check cannot close. */
export function isSlugConflict(err: unknown): boolean {
  return isUniqueViolation(err, { sqlite: "apps.slug", postgres: "apps_slug_unique" });
}
