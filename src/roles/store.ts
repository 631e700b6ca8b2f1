/**
 * @module Drizzle queries of role and permission administration: roles, the catalogue an app sees, bindings.
 *
 * Folder `roles/` administers roles and permissions over HTTP (routes, rules, writes) for both surfaces. The
 * model it edits — catalogue, seeding, resolution, narrowing — is `rbac/`, which never imports from here.
 */
import { and, asc, desc, eq, gt, inArray, isNull, lt, or } from "drizzle-orm";
import type { Position } from "../core/pagination.ts";
import type { Db } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { permissions as permissionsTable, roles as rolesTable } from "../db/schema.ts";
import type { PermissionRow, RoleRow } from "./model.ts";

export function createRolesStore(db: Db) {
  const { endUserInvites, endUsers, permissions, rolePermissions, roles, tenantMembers } = db.tables;
  /** The permissions an app can use: the shared system rows and its own. */
  const visibleTo = (appId: string) =>
    or(and(isNull(permissions.appId), eq(permissions.isSystem, true)), eq(permissions.appId, appId));
  return {
    async roleByName(appId: string, name: string): Promise<RoleRow | undefined> {
      return await first(
        db
          .select()
          .from(roles)
          .where(and(eq(roles.appId, appId), eq(roles.name, name)))
          .limit(1),
      );
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
        .limit(limit);
    },

    async insertRole(row: typeof rolesTable.$inferInsert): Promise<RoleRow> {
      return (await db.insert(roles).values(row).returning())[0]!;
    },

    async updateRole(id: string, set: Partial<Pick<RoleRow, "description" | "updatedAt">>): Promise<RoleRow> {
      return (await db.update(roles).set(set).where(eq(roles.id, id)).returning())[0]!;
    },

    /** Its `role_permissions` rows go with it (FK cascade). */
    async deleteRole(id: string): Promise<boolean> {
      return affected(await db.delete(roles).where(eq(roles.id, id))) > 0;
    },

    /** True when at least one account of the app holds the role: as its app role, or as a tenant role. */
    async roleInUse(appId: string, name: string): Promise<boolean> {
      return (
        (await first(
          db
            .select({ id: endUsers.id })
            .from(endUsers)
            .where(and(eq(endUsers.appId, appId), eq(endUsers.role, name)))
            .limit(1),
        )) !== undefined ||
        (await first(
          db
            .select({ id: tenantMembers.id })
            .from(tenantMembers)
            .where(and(eq(tenantMembers.appId, appId), eq(tenantMembers.role, name)))
            .limit(1),
        )) !== undefined
      );
    },

    /** True when an invite that can still be accepted (not revoked, not expired, uses left) grants the role. */
    async roleInvited(appId: string, name: string, now: number): Promise<boolean> {
      return (
        (await first(
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
            .limit(1),
        )) !== undefined
      );
    },

    /** The permission rows bound to a role, by key. */
    async permissionsOfRole(roleId: string): Promise<PermissionRow[]> {
      const bound = await db
        .select({ p: permissions })
        .from(rolePermissions)
        .innerJoin(permissions, eq(permissions.id, rolePermissions.permissionId))
        .where(eq(rolePermissions.roleId, roleId))
        .orderBy(asc(permissions.key), asc(permissions.id));
      return bound.map((r) => r.p);
    },

    /** System rows first, then the app's own, each by key. */
    async catalogue(appId: string): Promise<PermissionRow[]> {
      return db
        .select()
        .from(permissions)
        .where(visibleTo(appId))
        .orderBy(desc(permissions.isSystem), asc(permissions.key), asc(permissions.id));
    },

    /** The system or app permission with `key`, as the app sees it. */
    async permissionByKey(appId: string, key: string): Promise<PermissionRow | undefined> {
      return await first(
        db
          .select()
          .from(permissions)
          .where(and(eq(permissions.key, key), visibleTo(appId)))
          .orderBy(desc(permissions.isSystem), asc(permissions.id))
          .limit(1),
      );
    },

    async insertPermission(row: typeof permissionsTable.$inferInsert): Promise<PermissionRow> {
      return (await db.insert(permissions).values(row).returning())[0]!;
    },

    /** Number of roles the permission was bound to; the bindings go with it (FK cascade). */
    async deletePermission(id: string): Promise<number> {
      const bound = await db
        .select({ roleId: rolePermissions.roleId })
        .from(rolePermissions)
        .where(eq(rolePermissions.permissionId, id));
      await db.delete(permissions).where(eq(permissions.id, id));
      return bound.length;
    },

    /** Replaces the role's bindings wholesale. */
    async setRolePermissions(roleId: string, permissionIds: readonly string[]): Promise<void> {
      await db.delete(rolePermissions).where(eq(rolePermissions.roleId, roleId));
      if (permissionIds.length)
        await db
          .insert(rolePermissions)
          .values(permissionIds.map((permissionId) => ({ roleId, permissionId })));
    },

    /** The rows of `keys` the app can see (unknown keys are simply absent). */
    async permissionsByKeys(appId: string, keys: readonly string[]): Promise<PermissionRow[]> {
      if (!keys.length) return [];
      return db
        .select()
        .from(permissions)
        .where(and(inArray(permissions.key, [...keys]), visibleTo(appId)))
        .orderBy(asc(permissions.key), asc(permissions.id));
    },
  };
}

export type RolesStore = ReturnType<typeof createRolesStore>;
