/** @module Admin API for apps: CRUD, status, auth config and the caller's stats; thin handlers over AppService. */
import { Elysia } from "elysia";
import { queryParam } from "../core/pagination.ts";
import { validate } from "../http/body.ts";
import { guards, type PlatformGuardDeps } from "../http/guards.ts";
import { type Idempotency, idempotentCreate } from "../http/idempotency.ts";
import { authConfigPatchSchema } from "./auth-config.ts";
import { createAppSchema, updateAppSchema, updateStatusSchema } from "./model.ts";
import type { AppService } from "./service.ts";
import type { AppStatsService } from "./stats.ts";

/** What the Admin app routes read: the app service, its figures, and the idempotency store for creation. */
export interface AppsRoutesDeps extends PlatformGuardDeps {
  readonly apps: AppService;
  readonly appStats: AppStatsService;
  readonly idempotency: Idempotency;
}

export const appsRoutes = (deps: AppsRoutesDeps) =>
  new Elysia({ name: "heimdall.apps" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps",
      async ({ query, principal }) =>
        await deps.apps.list(principal, {
          limit: queryParam(query, "limit"),
          cursor: queryParam(query, "cursor"),
          workspace_id: queryParam(query, "workspace_id"),
        }),
      { platform: "any" },
    )
    .post(
      "/v1/apps",
      async ({ body, request, principal, meta, set }) => {
        const input = validate(createAppSchema, body);
        return idempotentCreate(
          deps.idempotency,
          { principal, route: "POST /v1/apps", request, body, set },
          async () => await deps.apps.create(principal, input, meta),
        );
      },
      { platform: "any" },
    )
    .get("/v1/apps/:app_id", async ({ params, principal }) => await deps.apps.get(principal, params.app_id), {
      platform: "any",
    })
    .patch(
      "/v1/apps/:app_id",
      async ({ params, body, principal, meta }) =>
        await deps.apps.update(principal, params.app_id, validate(updateAppSchema, body), meta),
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id",
      async ({ params, principal, meta, set }) => {
        await deps.apps.remove(principal, params.app_id, meta);
        set.status = 204;
      },
      { platform: "any" },
    )
    .patch(
      "/v1/apps/:app_id/status",
      async ({ params, body, principal, meta }) =>
        await deps.apps.setStatus(principal, params.app_id, validate(updateStatusSchema, body).status, meta),
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/auth-config",
      async ({ params, principal }) => await deps.apps.getAuthConfig(principal, params.app_id),
      {
        platform: "any",
      },
    )
    .patch(
      "/v1/apps/:app_id/auth-config",
      async ({ params, body, principal, meta }) =>
        await deps.apps.updateAuthConfig(
          principal,
          params.app_id,
          validate(authConfigPatchSchema, body),
          meta,
        ),
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/stats",
      async ({ params, principal }) => await deps.appStats.forApp(principal, params.app_id),
      {
        platform: "any",
      },
    )
    .get(
      "/v1/stats/me",
      async ({ query, principal }) =>
        await deps.apps.stats(principal, { workspace_id: queryParam(query, "workspace_id") }),
      {
        platform: "any",
      },
    );
