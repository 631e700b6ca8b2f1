/**
 * @module Seeding of the RBAC model: the shared system permission rows (once per database) and each app's
 * three system roles. Synchronous and idempotent: app creation calls `seedAppRoles` inside its transaction,
 * start-up calls `seedSystemPermissions` and `backfillAppRoles` so databases from before roles existed catch up.
 *
 * Folder `rbac/` is the permission model every guard and service reads: catalogue, seeding, resolution,
 * narrowing, the enforced list. Administering it over HTTP is `roles/`, which imports from here; never the reverse.
 */
import { and, eq, isNull, notExists, sql } from "drizzle-orm";
import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { Db } from "../db/client.ts";
import { rows } from "../db/query.ts";
import { SYSTEM_PERMISSIONS, SYSTEM_ROLE_PERMISSIONS, SYSTEM_ROLES } from "./catalog.ts";

export const ROLE_DESCRIPTIONS: Record<(typeof SYSTEM_ROLES)[number], string> = {
  owner: "Every permission of the app, custom ones included",
  admin: "Reads and edits end users; assigns and revokes their roles",
  member: "Default role for new sign-ups; reads end users and roles",
};

/** Inserts the system permissions that are missing (app_id null, is_system). */
export async function seedSystemPermissions(db: Db, clock: Clock): Promise<number> {
  const { permissions } = db.tables;
  // Instances starting together on PostgreSQL take turns until the caller's transaction ends (no unique index
  // holds rows whose app_id is null); SQLite's single writer already does.
  if (db.engine === "postgres")
    await rows(db, sql`SELECT pg_advisory_xact_lock(hashtext('heimdall:seed-rbac')) IS NULL AS locked`);
  const present = new Set(
    (
      await db
        .select({ key: permissions.key })
        .from(permissions)
        .where(and(isNull(permissions.appId), eq(permissions.isSystem, true)))
    ).map((r) => r.key),
  );
  let added = 0;
  for (const p of SYSTEM_PERMISSIONS) {
    if (present.has(p.key)) continue;
    const [resource, action] = p.key.split(".") as [string, string];
    await db.insert(permissions).values({
      id: newId(clock),
      appId: null,
      key: p.key,
      resource,
      action,
      description: p.description,
      isSystem: true,
      createdAt: clock.now(),
    });
    added++;
  }
  return added;
}

/**
 * The app's `owner`, `admin` and `member` roles with their system permission bindings. `owner` is bound
 * to every system permission; custom permissions reach it through the resolver, not through rows.
 */
export async function seedAppRoles(db: Db, clock: Clock, appId: string): Promise<void> {
  const { permissions, rolePermissions, roles } = db.tables;
  const systemIds = new Map(
    (
      await db
        .select({ id: permissions.id, key: permissions.key })
        .from(permissions)
        .where(and(isNull(permissions.appId), eq(permissions.isSystem, true)))
    ).map((r) => [r.key, r.id] as const),
  );
  for (const name of SYSTEM_ROLES) {
    const [exists] = await db
      .select({ id: roles.id })
      .from(roles)
      .where(and(eq(roles.appId, appId), eq(roles.name, name)))
      .limit(1);
    if (exists) continue;
    const id = newId(clock);
    const now = clock.now();
    await db.insert(roles).values({
      id,
      appId,
      name,
      description: ROLE_DESCRIPTIONS[name],
      isSystem: true,
      createdAt: now,
      updatedAt: now,
    });
    for (const key of SYSTEM_ROLE_PERMISSIONS[name]) {
      const permissionId = systemIds.get(key);
      if (permissionId) await db.insert(rolePermissions).values({ roleId: id, permissionId });
    }
  }
}

/** Seeds the system roles of every app that has none yet. */
export async function backfillAppRoles(db: Db, clock: Clock): Promise<number> {
  const { apps, roles } = db.tables;
  const missing = await db
    .select({ id: apps.id })
    .from(apps)
    .where(notExists(db.select({ one: roles.id }).from(roles).where(eq(roles.appId, apps.id))))
    .orderBy(apps.id);
  for (const a of missing) await seedAppRoles(db, clock, a.id);
  return missing.length;
}
