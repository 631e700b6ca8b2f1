/**
 * @module Invite routes: the Admin API's `/v1/apps/{app_id}/end-users/invites*` (create, list, revoke; the
 * end-user admin routes' guard and app authorization) and the Consumer API's public
 * `POST /{app_slug}/v1/auth/accept-invite`; thin handlers over InviteService.
 */
import { Elysia } from "elysia";
import type { AppAction, AppService } from "../apps/service.ts";
import { queryParam } from "../core/pagination.ts";
import type { PlatformPrincipal } from "../core/principal.ts";
import { validate } from "../http/body.ts";
import { type ConsumerGuardDeps, consumerGuards } from "../http/consumer.ts";
import { guards, type PlatformGuardDeps } from "../http/guards.ts";
import { type Idempotency, idempotentCreate } from "../http/idempotency.ts";
import { adminScope } from "../users/scope.ts";
import { acceptInviteSchema, createInviteSchema, listInvitesQuerySchema } from "./model.ts";
import type { InviteService } from "./service.ts";

/** Responses that carry a live code (the create) or credentials (the accept): no cache may keep them. */
const noStore = (headers: Record<string, unknown>) => {
  headers["cache-control"] = "no-store";
};

export interface InviteAdminRoutesDeps extends PlatformGuardDeps {
  readonly invites: InviteService;
  readonly apps: Pick<AppService, "authorizeApp">;
  readonly idempotency: Idempotency;
}

/**
 * Mounted before the end-user routes: `…/end-users/invites` is static and must never be read as the
 * `…/end-users/{user_id}` of an account called "invites".
 */
export const inviteAdminRoutes = (deps: InviteAdminRoutesDeps) => {
  const scoped = async (p: PlatformPrincipal, ref: string, action: AppAction) =>
    adminScope(await deps.apps.authorizeApp(p, ref, action), p);
  return new Elysia({ name: "heimdall.admin.invites" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .post(
      "/v1/apps/:app_id/end-users/invites",
      async ({ params, body, request, principal, meta, set }) => {
        const input = validate(createInviteSchema, body);
        const scope = await scoped(principal, params.app_id, "heimdall.create");
        noStore(set.headers);
        // The response holds the code, shown once: a replay within 24 h shows it again, sealed meanwhile.
        return idempotentCreate(
          deps.idempotency,
          {
            principal,
            route: `POST /v1/apps/${scope.appId}/end-users/invites`,
            request,
            body,
            set,
            seal: true,
          },
          async () => await deps.invites.create(scope, input, meta),
        );
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/end-users/invites",
      async ({ params, query, principal, meta }) => {
        const q = validate(listInvitesQuerySchema, {
          limit: queryParam(query, "limit"),
          cursor: queryParam(query, "cursor"),
          email: queryParam(query, "email"),
          status: queryParam(query, "status"),
        });
        return await deps.invites.list(await scoped(principal, params.app_id, "heimdall.read"), q, meta);
      },
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id/end-users/invites/:invite_id",
      async ({ params, principal, meta, set }) => {
        await deps.invites.revoke(
          await scoped(principal, params.app_id, "heimdall.delete"),
          params.invite_id,
          meta,
        );
        set.status = 204;
      },
      { platform: "any" },
    );
};

export interface AcceptInviteRoutesDeps extends ConsumerGuardDeps {
  readonly invites: InviteService;
}

export const acceptInviteRoutes = (deps: AcceptInviteRoutesDeps) =>
  new Elysia({ name: "heimdall.consumer.accept-invite" }).use(consumerGuards(deps)).post(
    "/:app_slug/v1/auth/accept-invite",
    async ({ app, meta, body, set }) => {
      const input = validate(acceptInviteSchema, body);
      noStore(set.headers);
      return await deps.invites.accept(app, input, meta);
    },
    // Public: the invite code is the authority.
    { consumer: true, detail: { security: [] } },
  );
