/**
 * @module Wire shapes of roles and permissions: request schemas, and row → DTO for both surfaces.
 *
 * Folder `roles/` administers roles and permissions over HTTP (routes, rules, writes) for both surfaces. The
 * model it edits — catalogue, seeding, resolution, narrowing — is `rbac/`, which never imports from here.
 */
import { z } from "zod";
import { iso } from "../core/clock.ts";
import type { permissions, roles } from "../db/schema.ts";

export type RoleRow = typeof roles.$inferSelect;
export type PermissionRow = typeof permissions.$inferSelect;

/** A role name, and each segment of a permission key (`resource.action`, see `PERMISSION_PATTERN`). */
export const NAME_PATTERN = /^[a-z][a-z0-9_-]{1,47}$/;
/**
 * Names that would be shadowed by the static routes beside `/roles/{role_name}` (`GET /roles/permissions`,
 * `POST /roles/assign`): such a role could not be read back, so it cannot be created.
 */
export const RESERVED_ROLE_NAMES: ReadonlySet<string> = new Set(["permissions", "assign"]);
const MAX_DESCRIPTION = 500;
/** The whole catalogue of a real app fits easily; a bigger set is a mistake or an attack. */
export const MAX_SET_PERMISSIONS = 1000;

const description = z.string().max(MAX_DESCRIPTION, `must be at most ${MAX_DESCRIPTION} characters`);
const segment = z.string().regex(NAME_PATTERN, "must match ^[a-z][a-z0-9_-]{1,47}$");

export const createRoleSchema = z.object({
  name: segment.refine((n) => !RESERVED_ROLE_NAMES.has(n), "is reserved"),
  description: description.optional(),
});
export type CreateRoleInput = z.output<typeof createRoleSchema>;

/** Role names are immutable (accounts and issued tokens name them): a `name` is refused, not ignored. */
export const updateRoleSchema = z
  .object({ description: description.nullable().optional(), name: z.unknown().optional() })
  .superRefine((v, ctx) => {
    if (v.name !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["name"],
        message: "role names are immutable; create a new role instead",
      });
  })
  .transform(({ description }) => ({ description }));
export type UpdateRoleInput = z.output<typeof updateRoleSchema>;

export const setPermissionsSchema = z.object({
  permissions: z
    .array(z.string().max(97, "is not a permission"))
    .max(MAX_SET_PERMISSIONS, `must have at most ${MAX_SET_PERMISSIONS} entries`),
});
export type SetPermissionsInput = z.output<typeof setPermissionsSchema>;

export const createPermissionSchema = z.object({
  resource: segment,
  action: segment,
  description: description.optional(),
});
export type CreatePermissionInput = z.output<typeof createPermissionSchema>;

export const assignRoleSchema = z.object({
  account_id: z.string().min(1, "required").max(64, "is not an account id"),
  role: z.string().min(1, "required").max(48, "is not a role name"),
});
export type AssignRoleInput = z.output<typeof assignRoleSchema>;

export interface RoleDto {
  id: string;
  app_id: string;
  name: string;
  description: string | null;
  is_system: boolean;
  created_at: string;
  updated_at: string;
}

export interface RolePermissionEntryDto {
  id: string;
  resource: string;
  action: string;
  description: string | null;
}

export interface RoleWithPermissionsDto extends RoleDto {
  permissions: RolePermissionEntryDto[];
}

export interface PermissionDto {
  id: string;
  app_id: string | null;
  resource: string;
  action: string;
  description: string | null;
  created_at: string;
}

export interface PermissionCatalogEntryDto extends PermissionDto {
  is_system: boolean;
}

export interface AppMembershipDto {
  id: string;
  app_id: string;
  account_id: string;
  role_id: string;
  joined_at: string;
}

export interface MePermissionsDto {
  role: string | null;
  org_role: string | null;
  permissions: string[];
}

export const toRoleDto = (r: RoleRow): RoleDto => ({
  id: r.id,
  app_id: r.appId,
  name: r.name,
  description: r.description,
  is_system: r.isSystem,
  created_at: iso(r.createdAt),
  updated_at: iso(r.updatedAt),
});

export const toRolePermissionEntry = (p: PermissionRow): RolePermissionEntryDto => ({
  id: p.id,
  resource: p.resource,
  action: p.action,
  description: p.description,
});

export const toPermissionDto = (p: PermissionRow): PermissionDto => ({
  id: p.id,
  app_id: p.appId,
  resource: p.resource,
  action: p.action,
  description: p.description,
  created_at: iso(p.createdAt),
});

export const toCatalogEntry = (p: PermissionRow): PermissionCatalogEntryDto => ({
  ...toPermissionDto(p),
  is_system: p.isSystem,
});
