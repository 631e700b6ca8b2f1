/** @module Admin API: an app's outbound webhook (contract tag `app-outbound-webhooks`) and Heimdall's replay route; thin handlers. */
import { Elysia } from "elysia";
import { parseLimit, queryParam } from "../core/pagination.ts";
import { validate } from "../http/body.ts";
import { guards, type PlatformGuardDeps } from "../http/guards.ts";
import { webhookReplayRequestSchema } from "../http/openapi-schemas.ts";
import { upsertWebhookSchema } from "./model.ts";
import { MAX_ATTEMPTS_LISTED, type WebhookService } from "./service.ts";

export interface WebhookRoutesDeps extends PlatformGuardDeps {
  readonly webhooks: WebhookService;
}

export const webhookRoutes = (deps: WebhookRoutesDeps) =>
  new Elysia({ name: "heimdall.webhooks" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/webhook",
      // No destination is the JSON `null` the contract describes, not an empty body (Elysia's rendering of null).
      async ({ params, principal }) =>
        (await deps.webhooks.get(principal, params.app_id)) ?? Response.json(null, { status: 200 }),
      { platform: "any" },
    )
    .put(
      "/v1/apps/:app_id/webhook",
      async ({ params, body, principal, meta }) =>
        await deps.webhooks.put(principal, params.app_id, validate(upsertWebhookSchema, body), meta),
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id/webhook",
      async ({ params, principal, meta, set }) => {
        await deps.webhooks.remove(principal, params.app_id, meta);
        set.status = 204;
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/webhook/attempts",
      async ({ params, query, principal }) =>
        await deps.webhooks.attempts(
          principal,
          params.app_id,
          Math.min(parseLimit(queryParam(query, "limit")), MAX_ATTEMPTS_LISTED),
        ),
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/webhook/rotate-secret",
      async ({ params, principal, meta }) => await deps.webhooks.rotateSecret(principal, params.app_id, meta),
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/webhook/replay",
      async ({ params, body, principal, meta }) =>
        await deps.webhooks.replay(
          principal,
          params.app_id,
          validate(webhookReplayRequestSchema, body),
          meta,
        ),
      { platform: "any" },
    );
