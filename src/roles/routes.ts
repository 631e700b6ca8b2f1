/**
 * @module Roles and permissions over HTTP: the Admin API (`/v1/apps/{app_id}/roles|permissions*`), the
 * Consumer admin lane (`/{app_slug}/v1/admin/roles|permissions*`) and `GET /{app_slug}/v1/me/permissions`.
 * Thin handlers over the one RoleService; the lane decides who the caller is and what it may grant.
 *
 * Folder `roles/` administers roles and permissions over HTTP (routes, rules, writes) for both surfaces. The
 * model it edits — catalogue, seeding, resolution, narrowing — is `rbac/`, which never imports from here.
 */

import { Elysia } from "elysia";
import type { AppRef } from "../core/app-ref.ts";
import { queryParam } from "../core/pagination.ts";
import type { ConsumerAdminCaller } from "../core/principal.ts";
import { validate } from "../http/body.ts";
import { type ConsumerGuardDeps, consumerGuards } from "../http/consumer.ts";
import { guards, type PlatformGuardDeps } from "../http/guards.ts";
import {
  assignRoleSchema,
  createPermissionSchema,
  createRoleSchema,
  setPermissionsSchema,
  updateRoleSchema,
} from "./model.ts";
import type { RbacScope, RoleService } from "./service.ts";

/** A Consumer admin-lane caller grants at most what it holds: its role's set, its scopes, or its key's permissions. */
const laneScope = (app: AppRef, caller: ConsumerAdminCaller): RbacScope => ({
  appId: app.id,
  workspaceId: app.workspaceId,
  actor: { type: caller.kind, id: caller.id },
  held: caller.held,
});

const pageQuery = (query: Record<string, unknown>) => ({
  limit: queryParam(query, "limit"),
  cursor: queryParam(query, "cursor"),
});

/** Admin API: any platform caller the app's workspace policy allows; such callers hold every permission. */
/** What the Admin RBAC routes read. */
export interface AdminRbacRoutesDeps extends PlatformGuardDeps {
  readonly roles: RoleService;
}

export const adminRbacRoutes = (deps: AdminRbacRoutesDeps) => {
  const roles = deps.roles;
  return new Elysia({ name: "heimdall.admin.rbac" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/roles",
      async ({ params, principal, query }) =>
        await roles.listRoles(
          await roles.forPlatform(principal, params.app_id, "heimdall.read"),
          pageQuery(query),
        ),
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/roles",
      async ({ params, principal, body, meta, set }) => {
        const input = validate(createRoleSchema, body);
        const role = await roles.createRole(
          await roles.forPlatform(principal, params.app_id, "heimdall.create"),
          input,
          meta,
        );
        set.status = 201;
        return role;
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/roles/permissions",
      async ({ params, principal }) =>
        await roles.catalogue(await roles.forPlatform(principal, params.app_id, "heimdall.read")),
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/roles/assign",
      async ({ params, principal, body, meta }) => {
        const input = validate(assignRoleSchema, body);
        // Giving an existing account another role changes it rather than creating anything.
        return await roles.assignRole(
          await roles.forPlatform(principal, params.app_id, "heimdall.update"),
          input,
          meta,
        );
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/roles/:role_name",
      async ({ params, principal }) =>
        await roles.getRole(
          await roles.forPlatform(principal, params.app_id, "heimdall.read"),
          params.role_name,
        ),
      { platform: "any" },
    )
    .patch(
      "/v1/apps/:app_id/roles/:role_name",
      async ({ params, principal, body, meta }) => {
        const input = validate(updateRoleSchema, body);
        return await roles.updateRole(
          await roles.forPlatform(principal, params.app_id, "heimdall.update"),
          params.role_name,
          input,
          meta,
        );
      },
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id/roles/:role_name",
      async ({ params, principal, meta, set }) => {
        await roles.deleteRole(
          await roles.forPlatform(principal, params.app_id, "heimdall.delete"),
          params.role_name,
          meta,
        );
        set.status = 204;
      },
      { platform: "any" },
    )
    .put(
      "/v1/apps/:app_id/roles/:role_name/permissions",
      async ({ params, principal, body, meta }) => {
        const input = validate(setPermissionsSchema, body);
        await roles.setRolePermissions(
          await roles.forPlatform(principal, params.app_id, "heimdall.update"),
          params.role_name,
          input,
          meta,
        );
        return empty200();
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/permissions",
      async ({ params, principal }) =>
        await roles.listPermissions(await roles.forPlatform(principal, params.app_id, "heimdall.read")),
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/permissions",
      async ({ params, principal, body, meta, set }) => {
        const input = validate(createPermissionSchema, body);
        const p = await roles.createPermission(
          await roles.forPlatform(principal, params.app_id, "heimdall.create"),
          input,
          meta,
        );
        set.status = 201;
        return p;
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/permissions/enforcement",
      async ({ params, principal }) => {
        // App-agnostic answer, but still only for callers who may read this app.
        await roles.forPlatform(principal, params.app_id, "heimdall.read");
        return roles.enforced();
      },
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id/permissions/:permission_key",
      async ({ params, principal, meta, set }) => {
        await roles.deletePermission(
          await roles.forPlatform(principal, params.app_id, "heimdall.delete"),
          params.permission_key,
          meta,
        );
        set.status = 204;
      },
      { platform: "any" },
    );
};

/** Consumer admin lane: each route names the permission it checks (listed by `/permissions/enforcement`). */
/** What the Consumer admin lane's RBAC routes and `/me/permissions` read. */
export interface ConsumerRbacRoutesDeps extends ConsumerGuardDeps {
  readonly roles: RoleService;
}

export const consumerAdminRbacRoutes = (deps: ConsumerRbacRoutesDeps) => {
  const roles = deps.roles;
  return new Elysia({ name: "heimdall.consumer-admin.rbac" })
    .use(consumerGuards(deps))
    .get(
      "/:app_slug/v1/admin/roles",
      async ({ app, caller, query }) => await roles.listRoles(laneScope(app, caller), pageQuery(query)),
      { consumerAdmin: "role.read" },
    )
    .post(
      "/:app_slug/v1/admin/roles",
      async ({ app, caller, body, meta, set }) => {
        const role = await roles.createRole(laneScope(app, caller), validate(createRoleSchema, body), meta);
        set.status = 201;
        return role;
      },
      { consumerAdmin: "role.create" },
    )
    .get(
      "/:app_slug/v1/admin/roles/:role_name",
      async ({ app, caller, params }) => await roles.getRole(laneScope(app, caller), params.role_name),
      { consumerAdmin: "role.read" },
    )
    .patch(
      "/:app_slug/v1/admin/roles/:role_name",
      async ({ app, caller, params, body, meta }) =>
        await roles.updateRole(
          laneScope(app, caller),
          params.role_name,
          validate(updateRoleSchema, body),
          meta,
        ),
      { consumerAdmin: "role.update" },
    )
    .delete(
      "/:app_slug/v1/admin/roles/:role_name",
      async ({ app, caller, params, meta, set }) => {
        await roles.deleteRole(laneScope(app, caller), params.role_name, meta);
        set.status = 204;
      },
      { consumerAdmin: "role.delete" },
    )
    .put(
      "/:app_slug/v1/admin/roles/:role_name/permissions",
      async ({ app, caller, params, body, meta }) => {
        await roles.setRolePermissions(
          laneScope(app, caller),
          params.role_name,
          validate(setPermissionsSchema, body),
          meta,
        );
        return empty200();
      },
      { consumerAdmin: "role.update" },
    )
    .get(
      "/:app_slug/v1/admin/permissions",
      async ({ app, caller }) => await roles.catalogue(laneScope(app, caller)),
      {
        consumerAdmin: "permission.read",
      },
    )
    .post(
      "/:app_slug/v1/admin/permissions",
      async ({ app, caller, body, meta, set }) => {
        const p = await roles.createPermission(
          laneScope(app, caller),
          validate(createPermissionSchema, body),
          meta,
        );
        set.status = 201;
        return p;
      },
      { consumerAdmin: "permission.create" },
    )
    .delete(
      "/:app_slug/v1/admin/permissions/:permission_key",
      async ({ app, caller, params, meta, set }) => {
        await roles.deletePermission(laneScope(app, caller), params.permission_key, meta);
        set.status = 204;
      },
      { consumerAdmin: "permission.delete" },
    );
};

/** `GET /me/permissions`: EndUser tokens only (an M2M token's scopes are read through introspection). */
export const mePermissionsRoutes = (deps: ConsumerRbacRoutesDeps) =>
  new Elysia({ name: "heimdall.me.permissions" }).use(consumerGuards(deps)).get(
    "/:app_slug/v1/me/permissions",
    async ({ app, endUser, set }) => {
      // Per-caller and changes with role edits: never served from a shared cache.
      set.headers["cache-control"] = "no-store";
      return await deps.roles.mePermissions(app.id, endUser.role, endUser.tenantRole);
    },
    { endUser: true },
  );

/** The spec's "Permissions updated (empty body)": a 200 with nothing in it. */
const empty200 = () => new Response(null, { status: 200 });

/** Every RBAC route, mounted with one `.use` in `createApp`. */
export type RbacRoutesDeps = AdminRbacRoutesDeps & ConsumerRbacRoutesDeps;

export const rbacRoutes = (deps: RbacRoutesDeps) =>
  new Elysia({ name: "heimdall.rbac" })
    .use(adminRbacRoutes(deps))
    .use(consumerAdminRbacRoutes(deps))
    .use(mePermissionsRoutes(deps));
