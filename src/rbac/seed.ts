/**
 * @module Seeding of the RBAC model: the shared system permission rows (once per database) and each app's
 * three system roles. Synchronous and idempotent: app creation calls `seedAppRoles` inside its transaction,
 * start-up calls `seedSystemPermissions` and `backfillAppRoles` so databases from before roles existed catch up.
 *
 * Folder `rbac/` is the permission model every guard and service reads: catalogue, seeding, resolution,
 * narrowing, the enforced list. Administering it over HTTP is `roles/`, which imports from here; never the reverse.
 */
import { and, eq, isNull, notExists } from "drizzle-orm";
import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { Db } from "../db/client.ts";
import { apps, permissions, rolePermissions, roles } from "../db/schema.ts";
import { SYSTEM_PERMISSIONS, SYSTEM_ROLE_PERMISSIONS, SYSTEM_ROLES } from "./catalog.ts";

export const ROLE_DESCRIPTIONS: Record<(typeof SYSTEM_ROLES)[number], string> = {
  owner: "Every permission of the app, custom ones included",
  admin: "Reads and edits end users; assigns and revokes their roles",
  member: "Default role for new sign-ups; reads end users and roles",
};

/** Inserts the system permissions that are missing (app_id null, is_system). */
export async function seedSystemPermissions(db: Db, clock: Clock): Promise<number> {
  const present = new Set(
    db
      .select({ key: permissions.key })
      .from(permissions)
      .where(and(isNull(permissions.appId), eq(permissions.isSystem, true)))
      .all()
      .map((r) => r.key),
  );
  let added = 0;
  for (const p of SYSTEM_PERMISSIONS) {
    if (present.has(p.key)) continue;
    const [resource, action] = p.key.split(".") as [string, string];
    db.insert(permissions)
      .values({
        id: newId(clock),
        appId: null,
        key: p.key,
        resource,
        action,
        description: p.description,
        isSystem: true,
        createdAt: clock.now(),
      })
      .run();
    added++;
  }
  return added;
}

/**
 * The app's `owner`, `admin` and `member` roles with their system permission bindings. `owner` is bound
 * to every system permission; custom permissions reach it through the resolver, not through rows.
 */
export async function seedAppRoles(db: Db, clock: Clock, appId: string): Promise<void> {
  const systemIds = new Map(
    db
      .select({ id: permissions.id, key: permissions.key })
      .from(permissions)
      .where(and(isNull(permissions.appId), eq(permissions.isSystem, true)))
      .all()
      .map((r) => [r.key, r.id] as const),
  );
  for (const name of SYSTEM_ROLES) {
    const exists = db
      .select({ id: roles.id })
      .from(roles)
      .where(and(eq(roles.appId, appId), eq(roles.name, name)))
      .get();
    if (exists) continue;
    const id = newId(clock);
    const now = clock.now();
    db.insert(roles)
      .values({
        id,
        appId,
        name,
        description: ROLE_DESCRIPTIONS[name],
        isSystem: true,
        createdAt: now,
        updatedAt: now,
      })
      .run();
    for (const key of SYSTEM_ROLE_PERMISSIONS[name]) {
      const permissionId = systemIds.get(key);
      if (permissionId) db.insert(rolePermissions).values({ roleId: id, permissionId }).run();
    }
  }
}

/** Seeds the system roles of every app that has none yet. */
export async function backfillAppRoles(db: Db, clock: Clock): Promise<number> {
  const missing = db
    .select({ id: apps.id })
    .from(apps)
    .where(notExists(db.select({ one: roles.id }).from(roles).where(eq(roles.appId, apps.id))))
    .all();
  for (const a of missing) await seedAppRoles(db, clock, a.id);
  return missing.length;
}
