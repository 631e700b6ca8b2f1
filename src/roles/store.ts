/**
 * @module Drizzle queries of role and permission administration: roles, the catalogue an app sees, bindings.
 *
 * Folder `roles/` administers roles and permissions over HTTP (routes, rules, writes) for both surfaces. The
 * model it edits — catalogue, seeding, resolution, narrowing — is `rbac/`, which never imports from here.
 */
import { and, asc, desc, eq, gt, inArray, isNull, lt, or } from "drizzle-orm";
import type { Position } from "../core/pagination.ts";
import { changes, type Db } from "../db/client.ts";
import {
  endUserInvites,
  endUsers,
  permissions,
  rolePermissions,
  roles,
  tenantMembers,
} from "../db/schema.ts";
import type { PermissionRow, RoleRow } from "./model.ts";

/** The permissions an app can use: the shared system rows and its own. */
const visibleTo = (appId: string) =>
  or(and(isNull(permissions.appId), eq(permissions.isSystem, true)), eq(permissions.appId, appId));

export function createRolesStore(db: Db) {
  return {
    roleByName(appId: string, name: string): RoleRow | undefined {
      return db
        .select()
        .from(roles)
        .where(and(eq(roles.appId, appId), eq(roles.name, name)))
        .get();
    },

    /** Newest first over `(created_at, id)`, strictly after `after`. */
    listRoles(appId: string, after: Position | undefined, limit: number): RoleRow[] {
      const older = after
        ? or(lt(roles.createdAt, after.c), and(eq(roles.createdAt, after.c), lt(roles.id, after.i)))
        : undefined;
      return db
        .select()
        .from(roles)
        .where(and(eq(roles.appId, appId), older))
        .orderBy(desc(roles.createdAt), desc(roles.id))
        .limit(limit)
        .all();
    },

    insertRole(row: typeof roles.$inferInsert): RoleRow {
      return db.insert(roles).values(row).returning().get();
    },

    updateRole(id: string, set: Partial<Pick<RoleRow, "description" | "updatedAt">>): RoleRow {
      return db.update(roles).set(set).where(eq(roles.id, id)).returning().get()!;
    },

    /** Its `role_permissions` rows go with it (FK cascade). */
    deleteRole(id: string): boolean {
      return changes(db.delete(roles).where(eq(roles.id, id)).run()) > 0;
    },

    /** True when at least one account of the app holds the role: as its app role, or as a tenant role. */
    roleInUse(appId: string, name: string): boolean {
      return (
        db
          .select({ id: endUsers.id })
          .from(endUsers)
          .where(and(eq(endUsers.appId, appId), eq(endUsers.role, name)))
          .limit(1)
          .get() !== undefined ||
        db
          .select({ id: tenantMembers.id })
          .from(tenantMembers)
          .where(and(eq(tenantMembers.appId, appId), eq(tenantMembers.role, name)))
          .limit(1)
          .get() !== undefined
      );
    },

    /** True when an invite that can still be accepted (not revoked, not expired, uses left) grants the role. */
    roleInvited(appId: string, name: string, now: number): boolean {
      return (
        db
          .select({ id: endUserInvites.id })
          .from(endUserInvites)
          .where(
            and(
              eq(endUserInvites.appId, appId),
              eq(endUserInvites.role, name),
              isNull(endUserInvites.revokedAt),
              gt(endUserInvites.expiresAt, now),
              lt(endUserInvites.useCount, endUserInvites.maxUses),
            ),
          )
          .limit(1)
          .get() !== undefined
      );
    },

    /** The permission rows bound to a role, by key. */
    permissionsOfRole(roleId: string): PermissionRow[] {
      return db
        .select({ p: permissions })
        .from(rolePermissions)
        .innerJoin(permissions, eq(permissions.id, rolePermissions.permissionId))
        .where(eq(rolePermissions.roleId, roleId))
        .orderBy(asc(permissions.key))
        .all()
        .map((r) => r.p);
    },

    /** System rows first, then the app's own, each by key. */
    catalogue(appId: string): PermissionRow[] {
      return db
        .select()
        .from(permissions)
        .where(visibleTo(appId))
        .orderBy(desc(permissions.isSystem), asc(permissions.key))
        .all();
    },

    /** The system or app permission with `key`, as the app sees it. */
    permissionByKey(appId: string, key: string): PermissionRow | undefined {
      return db
        .select()
        .from(permissions)
        .where(and(eq(permissions.key, key), visibleTo(appId)))
        .get();
    },

    insertPermission(row: typeof permissions.$inferInsert): PermissionRow {
      return db.insert(permissions).values(row).returning().get();
    },

    /** Number of roles the permission was bound to; the bindings go with it (FK cascade). */
    deletePermission(id: string): number {
      const bound = db
        .select({ roleId: rolePermissions.roleId })
        .from(rolePermissions)
        .where(eq(rolePermissions.permissionId, id))
        .all().length;
      db.delete(permissions).where(eq(permissions.id, id)).run();
      return bound;
    },

    /** Replaces the role's bindings wholesale. */
    setRolePermissions(roleId: string, permissionIds: readonly string[]): void {
      db.delete(rolePermissions).where(eq(rolePermissions.roleId, roleId)).run();
      if (permissionIds.length)
        db.insert(rolePermissions)
          .values(permissionIds.map((permissionId) => ({ roleId, permissionId })))
          .run();
    },

    /** The rows of `keys` the app can see (unknown keys are simply absent). */
    permissionsByKeys(appId: string, keys: readonly string[]): PermissionRow[] {
      if (!keys.length) return [];
      return db
        .select()
        .from(permissions)
        .where(and(inArray(permissions.key, [...keys]), visibleTo(appId)))
        .all();
    },
  };
}

export type RolesStore = ReturnType<typeof createRolesStore>;
