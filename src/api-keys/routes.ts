/** @module Admin API for app API keys: list, mint (shown once, idempotent), delete; thin handlers over ApiKeyService. */
import { Elysia } from "elysia";
import type { AppService } from "../apps/service.ts";
import { queryParam } from "../core/pagination.ts";
import { validate } from "../http/body.ts";
import { guards, type PlatformGuardDeps } from "../http/guards.ts";
import { type Idempotency, idempotentCreate } from "../http/idempotency.ts";
import { createApiKeySchema } from "./model.ts";
import type { ApiKeyService } from "./service.ts";

/** What the API-key routes read; `apps` only to authorise a create before an idempotent replay. */
export interface ApiKeysRoutesDeps extends PlatformGuardDeps {
  readonly apiKeys: ApiKeyService;
  readonly apps: Pick<AppService, "authorizeApp">;
  readonly idempotency: Idempotency;
}

export const apiKeysRoutes = (deps: ApiKeysRoutesDeps) =>
  new Elysia({ name: "heimdall.api-keys" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/api-keys",
      async ({ params, query, principal, meta }) =>
        await deps.apiKeys.list(
          principal,
          params.app_id,
          { limit: queryParam(query, "limit"), cursor: queryParam(query, "cursor") },
          meta,
        ),
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/api-keys",
      async ({ params, body, request, principal, meta, set }) => {
        const input = validate(createApiKeySchema, body);
        // Checked before a replay too: a caller who lost the right must not be shown the stored key again.
        await deps.apps.authorizeApp(principal, params.app_id, "heimdall.create");
        return idempotentCreate(
          deps.idempotency,
          { principal, route: `POST /v1/apps/${params.app_id}/api-keys`, request, body, set, seal: true },
          async () => await deps.apiKeys.create(principal, params.app_id, input, meta),
        );
      },
      {
        platform: "any",
        detail: {
          description:
            "Appliance addition: an optional `expires_at` (ISO 8601, in the future, at most 730 days ahead; null or absent never expires). After it the key is refused with 401 `INVALID_TOKEN`, as a deleted key is. Create and list responses carry `expires_at`.",
        },
      },
    )
    .delete(
      "/v1/apps/:app_id/api-keys/:key_id",
      async ({ params, principal, meta, set }) => {
        await deps.apiKeys.remove(principal, params.app_id, params.key_id, meta);
        set.status = 204;
      },
      { platform: "any" },
    );
