/**
 * @module Roles and permissions of an app, one service for both surfaces: the Admin API (platform callers,
 * who administer the whole app) and the Consumer admin lane (EndUser, M2M and API-key callers, narrowed to
 * what they hold).
 *
 * Rules: system roles and system permissions cannot be deleted; role names are immutable; a role held by
 * an account (or named as the sign-up default) cannot be deleted; `owner` always holds the whole
 * catalogue, so its set cannot be edited. Every write is audited in its transaction and then invalidates
 * the permission cache, so `/authorize`, `/me/permissions` and the admin lane see it at once.
 *
 * Folder `roles/` administers roles and permissions over HTTP (routes, rules, writes) for both surfaces. The
 * model it edits — catalogue, seeding, resolution, narrowing — is `rbac/`, which never imports from here.
 */

import { PERMISSION_PATTERN } from "../api-keys/model.ts";
import type { AppAction, AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import { type Clock, iso } from "../core/clock.ts";
import { fail, validationError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import {
  decodeCursor,
  isPosition,
  type Page,
  type Position,
  pageOf,
  parseLimit,
} from "../core/pagination.ts";
import { type AuditActor, actorOf, type CallMeta, type PlatformPrincipal } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { isUniqueViolation } from "../db/query.ts";
import type { EventEmitter } from "../events/emit.ts";
import { SYSTEM_PERMISSION_KEYS } from "../rbac/catalog.ts";
import type { EnforcementRegistry } from "../rbac/enforced.ts";
import { assertCanGrant } from "../rbac/narrowing.ts";
import type { PermissionResolver } from "../rbac/resolver.ts";
import { createUserEvents } from "../users/events.ts";
import { createUserStore } from "../users/store.ts";
import {
  type AppMembershipDto,
  type AssignRoleInput,
  type CreatePermissionInput,
  type CreateRoleInput,
  type MePermissionsDto,
  type PermissionCatalogEntryDto,
  type PermissionDto,
  type RoleDto,
  type RoleRow,
  type RoleWithPermissionsDto,
  type SetPermissionsInput,
  toCatalogEntry,
  toPermissionDto,
  toRoleDto,
  toRolePermissionEntry,
  type UpdateRoleInput,
} from "./model.ts";
import { createRolesStore } from "./store.ts";

/** Who acts on which app, and what they may hand out. */
export interface RbacScope {
  readonly appId: string;
  readonly workspaceId: string;
  readonly actor: AuditActor;
  /** What the caller may grant; `null` for platform callers, who administer the whole app. */
  readonly held: ReadonlySet<string> | null;
}

export interface RoleService {
  /** The Admin API's scope: the app the principal may act on with `action` (writes refuse archived apps). */
  forPlatform(p: PlatformPrincipal, appRef: string, action: AppAction): Promise<RbacScope>;
  listRoles(s: RbacScope, query: { limit?: string; cursor?: string }): Promise<Page<RoleDto>>;
  getRole(s: RbacScope, name: string): Promise<RoleWithPermissionsDto>;
  createRole(s: RbacScope, input: CreateRoleInput, meta: CallMeta): Promise<RoleDto>;
  updateRole(s: RbacScope, name: string, input: UpdateRoleInput, meta: CallMeta): Promise<RoleDto>;
  deleteRole(s: RbacScope, name: string, meta: CallMeta): Promise<void>;
  setRolePermissions(s: RbacScope, name: string, input: SetPermissionsInput, meta: CallMeta): Promise<void>;
  /** Admin API only: platform callers may give any role (the Consumer lane's role change lives in users/). */
  assignRole(s: RbacScope, input: AssignRoleInput, meta: CallMeta): Promise<AppMembershipDto>;
  /** The catalogue as `PermissionDto` (the Admin `/permissions` list). */
  listPermissions(s: RbacScope): Promise<PermissionDto[]>;
  /** The catalogue with `is_system` (role editors pick from it). */
  catalogue(s: RbacScope): Promise<PermissionCatalogEntryDto[]>;
  createPermission(s: RbacScope, input: CreatePermissionInput, meta: CallMeta): Promise<PermissionDto>;
  deletePermission(s: RbacScope, key: string, meta: CallMeta): Promise<void>;
  /** `GET /me/permissions`: what the account's current role grants, sorted. */
  /** The EndUser's effective permissions: its app role's, with its tenant role's when it acts in a tenant. */
  mePermissions(appId: string, role: string | null, tenantRole?: string | null): Promise<MePermissionsDto>;
  /** Permissions some Consumer route checks, as registered by the routes themselves. */
  enforced(): { data: string[] };
}

export interface RoleServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  apps: Pick<AppService, "authorizeApp" | "authConfigOf">;
  permissions: PermissionResolver;
  enforcement: EnforcementRegistry;
  /** `user.role_changed` when an assignment changes an account's role (docs/webhooks.md). */
  events: Pick<EventEmitter, "emit">;
}

const roleNotFound = (name: string) =>
  fail("ROLE_NOT_FOUND", { message: `No role named ${name} in this app` });
const permissionNotFound = (key: string) =>
  fail("PERMISSION_NOT_FOUND", { message: `No custom permission ${key} in this app` });
const archived = () => fail("APP_ARCHIVED");

/** Role names are lower-case by construction, so a lookup folds case rather than missing. */
const roleKey = (name: string) => name.toLowerCase();

export function createRoleService(deps: RoleServiceDeps): RoleService {
  const { db, clock, audit, apps, permissions: resolver } = deps;
  const store = createRolesStore(db);
  const users = createUserStore(db);
  const userEvents = createUserEvents(deps.events);

  const roleOf = async (s: RbacScope, name: string): Promise<RoleRow> => {
    const role = await store.roleByName(s.appId, roleKey(name));
    if (!role) throw roleNotFound(name);
    return role;
  };

  const record = async (
    s: RbacScope,
    action: string,
    resourceType: string,
    resourceId: string | null,
    details: Record<string, unknown>,
    meta: CallMeta,
  ) =>
    await audit.record({
      appId: s.appId,
      workspaceId: s.workspaceId,
      action,
      resourceType,
      resourceId,
      actor: s.actor,
      details,
      meta,
    });

  /** Runs a catalogue or role write, then drops the app's cached permission sets (after commit, never before). */
  const write = async <T>(s: RbacScope, fn: () => Promise<T>): Promise<T> => {
    const out = await tx(db, fn);
    resolver.invalidate(s.appId);
    return out;
  };

  return {
    async forPlatform(p, appRef, action) {
      const app = await apps.authorizeApp(p, appRef, action);
      if (action !== "heimdall.read" && app.status === "archived") throw archived();
      return { appId: app.id, workspaceId: app.workspaceId, actor: actorOf(p), held: null };
    },

    async listRoles(s, query) {
      const limit = parseLimit(query.limit);
      const after = decodeCursor<Position>(query.cursor, isPosition);
      const rows = await store.listRoles(s.appId, after, limit + 1);
      return pageOf(rows, limit, (r): Position => ({ c: r.createdAt, i: r.id }), toRoleDto);
    },

    async getRole(s, name) {
      const role = await roleOf(s, name);
      // The owner's set is implicit: the whole catalogue, custom permissions included.
      const bound =
        role.name === "owner" ? await store.catalogue(s.appId) : await store.permissionsOfRole(role.id);
      const sorted = [...bound].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return { ...toRoleDto(role), permissions: sorted.map(toRolePermissionEntry) };
    },

    async createRole(s, input, meta) {
      const row = await write(s, async () => {
        const roleExists = () =>
          fail("ROLE_EXISTS", { message: `A role named ${input.name} already exists` });
        if (await store.roleByName(s.appId, input.name)) throw roleExists();
        const now = clock.now();
        // The unique index settles a race the check cannot see (another instance creating the same name).
        const inserted = await store
          .insertRole({
            id: newId(clock),
            appId: s.appId,
            name: input.name,
            description: input.description ?? null,
            isSystem: false,
            createdAt: now,
            updatedAt: now,
          })
          .catch((err) => {
            throw isUniqueViolation(err, { sqlite: "roles.app_id, roles.name", postgres: "roles_app_name" })
              ? roleExists()
              : err;
          });
        await record(
          s,
          "role.created",
          "role",
          inserted.id,
          { name: inserted.name, description: inserted.description },
          meta,
        );
        return inserted;
      });
      return toRoleDto(row);
    },

    async updateRole(s, name, input, meta) {
      return toRoleDto(
        await write(s, async () => {
          const role = await roleOf(s, name);
          // Nothing to change: no write, no audit row, `updated_at` untouched.
          if (input.description === undefined || input.description === role.description) return role;
          const updated = await store.updateRole(role.id, {
            description: input.description,
            updatedAt: clock.now(),
          });
          await record(
            s,
            "role.updated",
            "role",
            role.id,
            {
              name: role.name,
              changes: ["description"],
              previous_description: role.description,
              description: input.description,
            },
            meta,
          );
          return updated;
        }),
      );
    },

    async deleteRole(s, name, meta) {
      await write(s, async () => {
        const role = await roleOf(s, name);
        if (role.isSystem)
          throw fail("SYSTEM_ROLE", { message: `The system role ${role.name} cannot be deleted` });
        if (await store.roleInUse(s.appId, role.name))
          throw fail("ROLE_IN_USE", {
            message: `The role ${role.name} is held by at least one user or tenant member; reassign them first`,
          });
        // An accepted invite would otherwise create an account holding a role that no longer exists.
        if (await store.roleInvited(s.appId, role.name, clock.now()))
          throw fail("ROLE_IN_USE", {
            message: `The role ${role.name} is granted by a live invite; revoke it first`,
          });
        // Sign-ups would otherwise be given a role that no longer exists.
        if ((await apps.authConfigOf(s.appId)).signup_default_role === role.name)
          throw fail("ROLE_IN_USE", {
            message: `The role ${role.name} is the app's sign-up default role; change that first`,
          });
        const bindings = (await store.permissionsOfRole(role.id)).map((p) => p.key);
        await store.deleteRole(role.id);
        await record(s, "role.deleted", "role", role.id, { name: role.name, permissions: bindings }, meta);
      });
    },

    async setRolePermissions(s, name, input, meta) {
      const requested = [...new Set(input.permissions)];
      await write(s, async () => {
        const role = await roleOf(s, name);
        if (role.name === "owner")
          throw fail("SYSTEM_ROLE", {
            message: "The owner role always holds every permission; its set cannot be changed",
          });
        const rows = await store.permissionsByKeys(s.appId, requested);
        const known = new Set(rows.map((r) => r.key));
        const unknown = input.permissions.map((key, i) => ({ key, i })).filter(({ key }) => !known.has(key));
        if (unknown.length)
          throw validationError(
            unknown.map(({ key, i }) => ({
              field: `permissions.${i}`,
              reason: PERMISSION_PATTERN.test(key)
                ? "unknown permission"
                : "must be resource.action (lowercase)",
            })),
            "Unknown permission(s) in the request",
          );
        assertCanGrant(s.held, requested, s);
        const before = (await store.permissionsOfRole(role.id)).map((p) => p.key);
        const after = [...known].sort();
        const added = after.filter((k) => !before.includes(k));
        const removed = before.filter((k) => !known.has(k));
        // The same set again changes nothing: no write and no audit row.
        if (!added.length && !removed.length) return;
        await store.setRolePermissions(
          role.id,
          rows.map((r) => r.id),
        );
        await store.updateRole(role.id, { updatedAt: clock.now() });
        await record(
          s,
          "role.permissions_set",
          "role",
          role.id,
          { name: role.name, permissions: after, added, removed },
          meta,
        );
      });
    },

    async assignRole(s, input, meta) {
      return await write(s, async () => {
        const user = await users.byId(s.appId, input.account_id);
        if (!user) throw fail("USER_NOT_FOUND", { message: "No such account in this app" });
        const role = await roleOf(s, input.role);
        if (user.role !== role.name) {
          await users.updateUser(user.id, { role: role.name, updatedAt: clock.now() });
          await record(
            s,
            "role.assigned",
            "user",
            user.id,
            { role: role.name, previous_role: user.role },
            meta,
          );
          await userEvents.roleChanged(s.appId, user.id, user.role, role.name, s.actor);
        }
        return {
          // An account belongs to exactly one app, so the account is its own membership.
          id: user.id,
          app_id: s.appId,
          account_id: user.id,
          role_id: role.id,
          joined_at: iso(user.createdAt),
        };
      });
    },

    async listPermissions(s) {
      return (await store.catalogue(s.appId)).map(toPermissionDto);
    },

    async catalogue(s) {
      return (await store.catalogue(s.appId)).map(toCatalogEntry);
    },

    async createPermission(s, input, meta) {
      const key = `${input.resource}.${input.action}`;
      const row = await write(s, async () => {
        const existing = await store.permissionByKey(s.appId, key);
        if (existing || SYSTEM_PERMISSION_KEYS.has(key))
          throw fail("PERMISSION_EXISTS", {
            message:
              existing?.isSystem || SYSTEM_PERMISSION_KEYS.has(key)
                ? `${key} is a system permission`
                : `The permission ${key} already exists in this app`,
          });
        const inserted = await store
          .insertPermission({
            id: newId(clock),
            appId: s.appId,
            key,
            resource: input.resource,
            action: input.action,
            description: input.description ?? null,
            isSystem: false,
            createdAt: clock.now(),
          })
          .catch((err) => {
            const taken = { sqlite: "permissions.app_id, permissions.key", postgres: "permissions_app_key" };
            throw isUniqueViolation(err, taken)
              ? fail("PERMISSION_EXISTS", { message: `The permission ${key} already exists in this app` })
              : err;
          });
        await record(
          s,
          "permission.created",
          "permission",
          inserted.id,
          { key, description: inserted.description },
          meta,
        );
        return inserted;
      });
      return toPermissionDto(row);
    },

    async deletePermission(s, key, meta) {
      if (!PERMISSION_PATTERN.test(key))
        throw validationError([{ field: "permission_key", reason: "must be resource.action (lowercase)" }]);
      if (SYSTEM_PERMISSION_KEYS.has(key))
        throw fail("SYSTEM_PERMISSION", { message: `${key} is a system permission and cannot be deleted` });
      await write(s, async () => {
        const row = await store.permissionByKey(s.appId, key);
        if (!row) throw permissionNotFound(key);
        if (row.isSystem)
          throw fail("SYSTEM_PERMISSION", { message: `${key} is a system permission and cannot be deleted` });
        const unbound = await store.deletePermission(row.id);
        await record(s, "permission.deleted", "permission", row.id, { key, unbound_roles: unbound }, meta);
      });
    },

    async mePermissions(appId, role, tenantRole = null) {
      return {
        role,
        org_role: tenantRole,
        permissions: [...(await resolver.forEndUser(appId, role, tenantRole))].sort(),
      };
    },

    enforced() {
      return { data: deps.enforcement.list() };
    },
  };
}
