/**
 * @module Tenants over HTTP: the Admin API (`/v1/apps/{app_id}/tenants…`, platform session or PAK, the
 * Admin routes' `heimdall.read|create|update|delete` on the app) and the Consumer API's PAK lane
 * (`/{app_slug}/v1/tenants…`, one `heimdall.tenant.*` action per route). Thin handlers over TenantService.
 */

import { Elysia } from "elysia";
import { queryParam } from "../core/pagination.ts";
import { validate } from "../http/body.ts";
import { type ConsumerGuardDeps, consumerGuards } from "../http/consumer.ts";
import { guards, type PlatformGuardDeps } from "../http/guards.ts";
import { type Idempotency, idempotentCreate } from "../http/idempotency.ts";
import {
  addMemberSchema,
  createTenantSchema,
  listMembersQuerySchema,
  listTenantsQuerySchema,
  updateMemberRoleSchema,
  updateTenantSchema,
} from "./model.ts";
import type { TenantService } from "./service.ts";

const tenantsQuery = (query: Record<string, unknown>) =>
  validate(listTenantsQuerySchema, {
    limit: queryParam(query, "limit"),
    cursor: queryParam(query, "cursor"),
    status: queryParam(query, "status"),
  });

const membersQuery = (query: Record<string, unknown>) =>
  validate(listMembersQuerySchema, {
    limit: queryParam(query, "limit"),
    cursor: queryParam(query, "cursor"),
  });

/** What the Admin tenant routes read: the service, and the idempotency store for creation. */
export interface AdminTenantRoutesDeps extends PlatformGuardDeps {
  readonly tenants: TenantService;
  readonly idempotency: Idempotency;
}

export const adminTenantRoutes = (deps: AdminTenantRoutesDeps) => {
  const { tenants } = deps;
  return new Elysia({ name: "heimdall.admin.tenants" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/tenants",
      async ({ params, principal, query }) =>
        await tenants.list(
          await tenants.forPlatform(principal, params.app_id, "heimdall.read"),
          tenantsQuery(query),
        ),
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/tenants",
      async ({ params, body, request, principal, meta, set }) => {
        const input = validate(createTenantSchema, body);
        // Checked before a replay too: a caller who lost the right is not shown the stored answer.
        const scope = await tenants.forPlatform(principal, params.app_id, "heimdall.create");
        return idempotentCreate(
          deps.idempotency,
          { principal, route: `POST /v1/apps/${scope.appId}/tenants`, request, body, set },
          async () => await tenants.create(scope, input, meta),
        );
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/tenants/:tenant_id",
      async ({ params, principal }) =>
        await tenants.get(
          await tenants.forPlatform(principal, params.app_id, "heimdall.read"),
          params.tenant_id,
        ),
      { platform: "any" },
    )
    .patch(
      "/v1/apps/:app_id/tenants/:tenant_id",
      async ({ params, body, principal, meta }) => {
        const input = validate(updateTenantSchema, body);
        return await tenants.update(
          await tenants.forPlatform(principal, params.app_id, "heimdall.update"),
          params.tenant_id,
          input,
          meta,
        );
      },
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id/tenants/:tenant_id",
      async ({ params, principal, meta, set }) => {
        await tenants.remove(
          await tenants.forPlatform(principal, params.app_id, "heimdall.delete"),
          params.tenant_id,
          meta,
        );
        set.status = 204;
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/tenants/:tenant_id/members",
      async ({ params, principal, query }) =>
        await tenants.listMembers(
          await tenants.forPlatform(principal, params.app_id, "heimdall.read"),
          params.tenant_id,
          membersQuery(query),
        ),
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/tenants/:tenant_id/members",
      async ({ params, body, principal, meta, set }) => {
        const input = validate(addMemberSchema, body);
        const added = await tenants.addMember(
          await tenants.forPlatform(principal, params.app_id, "heimdall.create"),
          params.tenant_id,
          input,
          meta,
        );
        set.status = 201;
        return added;
      },
      { platform: "any" },
    )
    .patch(
      "/v1/apps/:app_id/tenants/:tenant_id/members/:account_id",
      async ({ params, body, principal, meta }) => {
        const input = validate(updateMemberRoleSchema, body);
        return await tenants.updateMemberRole(
          await tenants.forPlatform(principal, params.app_id, "heimdall.update"),
          params.tenant_id,
          params.account_id,
          input,
          meta,
        );
      },
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id/tenants/:tenant_id/members/:account_id",
      async ({ params, principal, meta, set }) => {
        await tenants.removeMember(
          await tenants.forPlatform(principal, params.app_id, "heimdall.delete"),
          params.tenant_id,
          params.account_id,
          meta,
        );
        set.status = 204;
      },
      { platform: "any" },
    );
};

/** What the Consumer tenant routes read besides the Consumer guards' deps. */
export interface ConsumerTenantRoutesDeps extends ConsumerGuardDeps {
  readonly tenants: TenantService;
}

/**
 * The Consumer API's tenant routes, for a customer's backend holding a PAK. The route's action is checked
 * by the guard (a PAK of another workspace gets the app's 404, one without the action 403 POLICY_DENIED).
 */
export const consumerTenantRoutes = (deps: ConsumerTenantRoutesDeps) => {
  const { tenants } = deps;
  return new Elysia({ name: "heimdall.consumer.tenants" })
    .use(consumerGuards(deps))
    .get(
      "/:app_slug/v1/tenants",
      async ({ app, principal, query }) =>
        await tenants.list(tenants.forConsumer(app, principal), tenantsQuery(query)),
      { consumerPak: "heimdall.tenant.read" },
    )
    .post(
      "/:app_slug/v1/tenants",
      async ({ app, principal, body, meta, set }) => {
        const created = await tenants.create(
          tenants.forConsumer(app, principal),
          validate(createTenantSchema, body),
          meta,
        );
        set.status = 201;
        return created;
      },
      { consumerPak: "heimdall.tenant.create" },
    )
    .get(
      "/:app_slug/v1/tenants/:tenant_id",
      async ({ app, principal, params }) =>
        await tenants.get(tenants.forConsumer(app, principal), params.tenant_id),
      { consumerPak: "heimdall.tenant.read" },
    )
    .patch(
      "/:app_slug/v1/tenants/:tenant_id",
      async ({ app, principal, params, body, meta }) =>
        await tenants.update(
          tenants.forConsumer(app, principal),
          params.tenant_id,
          validate(updateTenantSchema, body),
          meta,
        ),
      { consumerPak: "heimdall.tenant.update" },
    )
    .delete(
      "/:app_slug/v1/tenants/:tenant_id",
      async ({ app, principal, params, meta, set }) => {
        await tenants.remove(tenants.forConsumer(app, principal), params.tenant_id, meta);
        set.status = 204;
      },
      { consumerPak: "heimdall.tenant.delete" },
    )
    .get(
      "/:app_slug/v1/tenants/:tenant_id/members",
      async ({ app, principal, params, query }) =>
        await tenants.listMembers(tenants.forConsumer(app, principal), params.tenant_id, membersQuery(query)),
      { consumerPak: "heimdall.tenant.read" },
    )
    .post(
      "/:app_slug/v1/tenants/:tenant_id/members",
      async ({ app, principal, params, body, meta, set }) => {
        const added = await tenants.addMember(
          tenants.forConsumer(app, principal),
          params.tenant_id,
          validate(addMemberSchema, body),
          meta,
        );
        set.status = 201;
        return added;
      },
      { consumerPak: "heimdall.tenant.members.add" },
    )
    .patch(
      "/:app_slug/v1/tenants/:tenant_id/members/:account_id",
      async ({ app, principal, params, body, meta }) =>
        await tenants.updateMemberRole(
          tenants.forConsumer(app, principal),
          params.tenant_id,
          params.account_id,
          validate(updateMemberRoleSchema, body),
          meta,
        ),
      { consumerPak: "heimdall.tenant.members.update-role" },
    )
    .delete(
      "/:app_slug/v1/tenants/:tenant_id/members/:account_id",
      async ({ app, principal, params, meta, set }) => {
        await tenants.removeMember(
          tenants.forConsumer(app, principal),
          params.tenant_id,
          params.account_id,
          meta,
        );
        set.status = 204;
      },
      { consumerPak: "heimdall.tenant.members.remove" },
    );
};

/** Both tenant route sets, mounted with one `.use` in `createApp`. */
export type TenantRoutesDeps = AdminTenantRoutesDeps & ConsumerTenantRoutesDeps;

export const tenantRoutes = (deps: TenantRoutesDeps) =>
  new Elysia({ name: "heimdall.tenants" }).use(adminTenantRoutes(deps)).use(consumerTenantRoutes(deps));
