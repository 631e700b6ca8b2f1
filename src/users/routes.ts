/**
 * @module End-user administration routes: the Admin API (`/v1/apps/{app_id}/end-users*`, `/members*`) and the
 * Consumer admin lane (`/{app_slug}/v1/admin/users*`), thin handlers over the account, contact and bulk
 * services that `deps.ts` builds.
 */
import { Elysia } from "elysia";
import { authorize } from "../access/authorize.ts";
import { appResource } from "../access/pak-policy.ts";
import type { AppAction, AppService } from "../apps/service.ts";
import { fail } from "../core/errors.ts";
import { queryParam } from "../core/pagination.ts";
import type { PlatformPrincipal } from "../core/principal.ts";
import { MAX_BULK_BODY_BYTES, validate } from "../http/body.ts";
import { type ConsumerGuardDeps, consumerGuards } from "../http/consumer.ts";
import { guards, type PlatformGuardDeps } from "../http/guards.ts";
import { routeRules } from "../http/route-rules.ts";
import type { MfaService } from "../mfa/service.ts";
import type { UserBulkService } from "./bulk.ts";
import type { UserContactService } from "./contact-admin.ts";
import {
  addContactSchema,
  bulkRoleSchema,
  bulkSchema,
  bulkStatusSchema,
  createUserSchema,
  listMembersQuerySchema,
  listUsersQuerySchema,
  updateRoleSchema,
  updateStatusSchema,
  updateUserSchema,
} from "./model.ts";
import { adminScope, consumerScope } from "./scope.ts";
import type { UserAdminService } from "./service.ts";

/** The bulk routes: up to 5,000 account ids each, so they take bodies up to `MAX_BULK_BODY_BYTES`. */
const BULK = {
  delete: "/v1/apps/:app_id/end-users/bulk-delete",
  revokeSessions: "/v1/apps/:app_id/end-users/bulk-revoke-sessions",
  updateRole: "/v1/apps/:app_id/end-users/bulk-update-role",
  updateStatus: "/v1/apps/:app_id/end-users/bulk-update-status",
} as const;

const listQuery = (query: Record<string, unknown>) =>
  validate(listUsersQuerySchema, {
    limit: queryParam(query, "limit"),
    cursor: queryParam(query, "cursor"),
    status: queryParam(query, "status"),
    search: queryParam(query, "search"),
  });

/** A response carrying a live code: no cache may keep it. */
const NO_STORE = { "cache-control": "no-store" };

/** What the Admin API's end-user routes read: the three user services and the app check. */
export interface EndUserAdminRoutesDeps extends PlatformGuardDeps {
  readonly users: UserAdminService;
  readonly userContacts: UserContactService;
  readonly userBulk: UserBulkService;
  readonly apps: Pick<AppService, "authorizeApp">;
  /** The account's factors, as the admin lane lists them (metadata only). */
  readonly mfa: Pick<MfaService, "adminList">;
}

export const endUserAdminRoutes = (deps: EndUserAdminRoutesDeps) => {
  const { users, userContacts, userBulk } = deps;
  const scoped = async (p: PlatformPrincipal, ref: string, action: AppAction) =>
    adminScope(await deps.apps.authorizeApp(p, ref, action), p);
  /** Handing out a verification code is what the code-minting action guards, on top of the route's create. */
  const codeMinter = async (p: PlatformPrincipal, ref: string) => {
    const app = await deps.apps.authorizeApp(p, ref, "heimdall.create");
    authorize(p, app.workspaceId, "heimdall.user.verify.create", appResource(app.id), () =>
      fail("APP_NOT_FOUND"),
    );
    return app;
  };
  // The per-user sessions, tenants, factors and password-reset routes are appliance additions
  // (http/openapi-known.ts): what the console's end-user page shows and does.
  /** Sending a reset email is what the PAK lane's send-email action guards, on top of the route's update. */
  const resetSender = async (p: PlatformPrincipal, ref: string) => {
    const app = await deps.apps.authorizeApp(p, ref, "heimdall.update");
    authorize(p, app.workspaceId, "heimdall.user.password-reset.send-email", appResource(app.id), () =>
      fail("APP_NOT_FOUND"),
    );
    return app;
  };

  return new Elysia({ name: "heimdall.admin.end-users" })
    .use(routeRules("end-users-bulk", Object.values(BULK), { bodyLimit: MAX_BULK_BODY_BYTES }))
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/end-users",
      async ({ params, query, principal, meta }) =>
        await users.list(await scoped(principal, params.app_id, "heimdall.read"), listQuery(query), meta),
      { platform: "any" },
    )
    .post(
      BULK.delete,
      async ({ params, body, principal, meta }) => {
        const input = validate(bulkSchema, body);
        return await userBulk.bulk(
          await scoped(principal, params.app_id, "heimdall.delete"),
          "delete",
          input,
          meta,
        );
      },
      { platform: "any" },
    )
    .post(
      BULK.revokeSessions,
      async ({ params, body, principal, meta }) => {
        const input = validate(bulkSchema, body);
        return await userBulk.bulk(
          await scoped(principal, params.app_id, "heimdall.update"),
          "revoke_sessions",
          input,
          meta,
        );
      },
      { platform: "any" },
    )
    .post(
      BULK.updateRole,
      async ({ params, body, principal, meta }) => {
        const input = validate(bulkRoleSchema, body);
        return await userBulk.bulk(
          await scoped(principal, params.app_id, "heimdall.update"),
          "update_role",
          input,
          meta,
        );
      },
      { platform: "any" },
    )
    .post(
      BULK.updateStatus,
      async ({ params, body, principal, meta }) => {
        const input = validate(bulkStatusSchema, body);
        return await userBulk.bulk(
          await scoped(principal, params.app_id, "heimdall.update"),
          "update_status",
          input,
          meta,
        );
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/end-users/:user_id",
      async ({ params, principal }) =>
        await users.get(await scoped(principal, params.app_id, "heimdall.read"), params.user_id),
      { platform: "any" },
    )
    .patch(
      "/v1/apps/:app_id/end-users/:user_id",
      async ({ params, body, principal, meta }) => {
        const input = validate(updateUserSchema, body);
        return await users.update(
          await scoped(principal, params.app_id, "heimdall.update"),
          params.user_id,
          input,
          meta,
        );
      },
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id/end-users/:user_id",
      async ({ params, principal, meta, set }) => {
        await users.remove(await scoped(principal, params.app_id, "heimdall.delete"), params.user_id, meta);
        set.status = 204;
      },
      { platform: "any" },
    )
    .patch(
      "/v1/apps/:app_id/end-users/:user_id/role",
      async ({ params, body, principal, meta, set }) => {
        const input = validate(updateRoleSchema, body);
        await users.setRole(
          await scoped(principal, params.app_id, "heimdall.update"),
          params.user_id,
          input.role_name,
          meta,
        );
        set.status = 200;
        return "";
      },
      { platform: "any" },
    )
    .patch(
      "/v1/apps/:app_id/end-users/:user_id/status",
      async ({ params, body, principal, meta }) => {
        const input = validate(updateStatusSchema, body);
        return await users.setStatus(
          await scoped(principal, params.app_id, "heimdall.update"),
          params.user_id,
          input.status,
          meta,
        );
      },
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/end-users/:user_id/sessions/revoke-all",
      async ({ params, principal, meta, set }) => {
        await users.revokeSessions(
          await scoped(principal, params.app_id, "heimdall.update"),
          params.user_id,
          meta,
        );
        set.status = 204;
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/end-users/:user_id/sessions",
      async ({ params, principal, set }) => {
        set.headers["cache-control"] = "no-store";
        return await users.sessions(await scoped(principal, params.app_id, "heimdall.read"), params.user_id);
      },
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id/end-users/:user_id/sessions/:session_id",
      async ({ params, principal, meta, set }) => {
        await users.revokeSession(
          await scoped(principal, params.app_id, "heimdall.update"),
          params.user_id,
          params.session_id,
          meta,
        );
        set.status = 204;
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/end-users/:user_id/tenants",
      async ({ params, principal }) =>
        await users.tenants(await scoped(principal, params.app_id, "heimdall.read"), params.user_id),
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/end-users/:user_id/factors",
      async ({ params, principal }) =>
        await deps.mfa.adminList(await scoped(principal, params.app_id, "heimdall.read"), params.user_id),
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/end-users/:user_id/password-reset",
      async ({ params, principal, meta, set }) => {
        const app = await resetSender(principal, params.app_id);
        await userContacts.sendPasswordReset(
          adminScope(app, principal),
          app,
          principal,
          params.user_id,
          meta,
        );
        set.status = 204;
      },
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/end-users/:user_id/resend-verification",
      async ({ params, principal, meta, set }) => {
        const app = await codeMinter(principal, params.app_id);
        const res = await userContacts.resendVerification(
          adminScope(app, principal),
          app,
          principal,
          params.user_id,
          null,
          meta,
        );
        set.status = 201;
        Object.assign(set.headers, NO_STORE);
        return res;
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/end-users/:user_id/contacts",
      async ({ params, principal }) =>
        await userContacts.contacts(await scoped(principal, params.app_id, "heimdall.read"), params.user_id),
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/end-users/:user_id/contacts",
      async ({ params, body, principal, meta, set }) => {
        const input = validate(addContactSchema, body);
        const res = await userContacts.addContact(
          await scoped(principal, params.app_id, "heimdall.create"),
          params.user_id,
          input,
          meta,
        );
        set.status = 201;
        return res;
      },
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id/end-users/:user_id/contacts/:contact_id",
      async ({ params, principal, meta, set }) => {
        await userContacts.deleteContact(
          await scoped(principal, params.app_id, "heimdall.delete"),
          params.user_id,
          params.contact_id,
          meta,
        );
        set.status = 204;
      },
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/end-users/:user_id/contacts/:contact_id/promote",
      async ({ params, principal, meta, set }) => {
        await userContacts.promoteContact(
          await scoped(principal, params.app_id, "heimdall.update"),
          params.user_id,
          params.contact_id,
          meta,
        );
        set.status = 204;
      },
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/end-users/:user_id/contacts/:contact_id/resend-verification",
      async ({ params, principal, meta, set }) => {
        const app = await codeMinter(principal, params.app_id);
        const res = await userContacts.resendVerification(
          adminScope(app, principal),
          app,
          principal,
          params.user_id,
          params.contact_id,
          meta,
        );
        set.status = 201;
        Object.assign(set.headers, NO_STORE);
        return res;
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/members",
      async ({ params, query, principal, meta }) => {
        const q = validate(listMembersQuerySchema, {
          limit: queryParam(query, "limit"),
          cursor: queryParam(query, "cursor"),
        });
        return await users.members(await scoped(principal, params.app_id, "heimdall.read"), q, meta);
      },
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id/members/:account_id",
      async ({ params, principal, meta, set }) => {
        // An account belongs to one app here: ending its membership is deleting it.
        await users.remove(
          await scoped(principal, params.app_id, "heimdall.delete"),
          params.account_id,
          meta,
          "members",
        );
        set.status = 204;
      },
      { platform: "any" },
    );
};

export interface ConsumerAdminUserRoutesDeps extends ConsumerGuardDeps {
  readonly users: UserAdminService;
}

export const consumerAdminUserRoutes = (deps: ConsumerAdminUserRoutesDeps) => {
  const { users } = deps;
  return new Elysia({ name: "heimdall.consumer-admin.users" })
    .use(consumerGuards(deps))
    .get(
      "/:app_slug/v1/admin/users",
      async ({ app, caller, query, meta }) =>
        await users.list(consumerScope(app, caller), listQuery(query), meta),
      { consumerAdmin: "user.list" },
    )
    .post(
      "/:app_slug/v1/admin/users",
      async ({ app, caller, body, meta, set }) => {
        const input = validate(createUserSchema, body);
        const res = await users.create(consumerScope(app, caller), input, meta);
        set.status = 201;
        return res;
      },
      { consumerAdmin: "user.create" },
    )
    .get(
      "/:app_slug/v1/admin/users/:user_id",
      async ({ app, caller, params }) => await users.get(consumerScope(app, caller), params.user_id),
      { consumerAdmin: "user.read" },
    )
    .patch(
      "/:app_slug/v1/admin/users/:user_id",
      async ({ app, caller, params, body, meta }) => {
        const input = validate(updateUserSchema, body);
        return await users.update(consumerScope(app, caller), params.user_id, input, meta);
      },
      { consumerAdmin: "user.update" },
    )
    .delete(
      "/:app_slug/v1/admin/users/:user_id",
      async ({ app, caller, params, meta, set }) => {
        await users.remove(consumerScope(app, caller), params.user_id, meta);
        set.status = 204;
      },
      { consumerAdmin: "user.delete" },
    )
    .patch(
      "/:app_slug/v1/admin/users/:user_id/role",
      async ({ app, caller, params, body, meta, set }) => {
        const input = validate(updateRoleSchema, body);
        await users.setRole(consumerScope(app, caller), params.user_id, input.role_name, meta);
        set.status = 200;
        return "";
      },
      { consumerAdmin: "role.assign" },
    )
    .patch(
      "/:app_slug/v1/admin/users/:user_id/status",
      async ({ app, caller, params, body, meta }) => {
        const input = validate(updateStatusSchema, body);
        return await users.setStatus(consumerScope(app, caller), params.user_id, input.status, meta);
      },
      { consumerAdmin: "user.status" },
    );
};
