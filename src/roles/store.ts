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
    async roleByName(appId: string, name: string): Promise<RoleRow | undefined> {
      return db
        .select()
        .from(roles)
        .where(and(eq(roles.appId, appId), eq(roles.name, name)))
        .get();
    },

    /** Newest first over `(created_at, id)`, strictly after `after`. */
    async listRoles(appId: string, after: Position | undefined, limit: number): Promise<RoleRow[]> {
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

    async insertRole(row: typeof roles.$inferInsert): Promise<RoleRow> {
      return db.insert(roles).values(row).returning().get();
    },

    async updateRole(id: string, set: Partial<Pick<RoleRow, "description" | "updatedAt">>): Promise<RoleRow> {
      return db.update(roles).set(set).where(eq(roles.id, id)).returning().get()!;
    },

    /** Its `role_permissions` rows go with it (FK cascade). */
    async deleteRole(id: string): Promise<boolean> {
      return changes(db.delete(roles).where(eq(roles.id, id)).run()) > 0;
    },

    /** True when at least one account of the app holds the role: as its app role, or as a tenant role. */
    async roleInUse(appId: string, name: string): Promise<boolean> {
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
    async roleInvited(appId: string, name: string, now: number): Promise<boolean> {
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
    async permissionsOfRole(roleId: string): Promise<PermissionRow[]> {
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
    async catalogue(appId: string): Promise<PermissionRow[]> {
      return db
        .select()
        .from(permissions)
        .where(visibleTo(appId))
        .orderBy(desc(permissions.isSystem), asc(permissions.key))
        .all();
    },

    /** The system or app permission with `key`, as the app sees it. */
    async permissionByKey(appId: string, key: string): Promise<PermissionRow | undefined> {
      return db
        .select()
        .from(permissions)
        .where(and(eq(permissions.key, key), visibleTo(appId)))
        .get();
    },

    async insertPermission(row: typeof permissions.$inferInsert): Promise<PermissionRow> {
      return db.insert(permissions).values(row).returning().get();
    },

    /** Number of roles the permission was bound to; the bindings go with it (FK cascade). */
    async deletePermission(id: string): Promise<number> {
      const bound = db
        .select({ roleId: rolePermissions.roleId })
        .from(rolePermissions)
        .where(eq(rolePermissions.permissionId, id))
        .all().length;
      db.delete(permissions).where(eq(permissions.id, id)).run();
      return bound;
    },

    /** Replaces the role's bindings wholesale. */
    async setRolePermissions(roleId: string, permissionIds: readonly string[]): Promise<void> {
      db.delete(rolePermissions).where(eq(rolePermissions.roleId, roleId)).run();
      if (permissionIds.length)
        db.insert(rolePermissions)
          .values(permissionIds.map((permissionId) => ({ roleId, permissionId })))
          .run();
    },

    /** The rows of `keys` the app can see (unknown keys are simply absent). */
    async permissionsByKeys(appId: string, keys: readonly string[]): Promise<PermissionRow[]> {
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
