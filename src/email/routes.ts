/**
 * @module Admin API of the email module: `GET|PATCH /v1/apps/{app_id}/notification-settings`, and the
 * appliance's `GET /v1/apps/{app_id}/outbox` (docs/decisions.md, "Outbox route") — the operator's view of queued and sent mail,
 * with codes masked (bodies are sealed until delivery; in `EMAIL_MODE=log` the log line carries the code).
 * It is served in both modes (it is operator-only, and in SMTP mode it shows delivery errors) and needs
 * the code-minting actions.
 */
import { Elysia } from "elysia";
import { validate } from "../http/body.ts";
import { guards, type PlatformGuardDeps } from "../http/guards.ts";
import { notificationSettingsPatchSchema } from "./model.ts";
import type { EmailService } from "./service.ts";

/** What the email module's Admin routes read besides the platform guard's deps. */
export interface EmailRoutesDeps extends PlatformGuardDeps {
  readonly email: EmailService;
}

export const emailRoutes = (deps: EmailRoutesDeps) =>
  new Elysia({ name: "heimdall.email" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/notification-settings",
      async ({ params, principal }) => await deps.email.getSettings(principal, params.app_id),
      { platform: "any" },
    )
    .patch(
      "/v1/apps/:app_id/notification-settings",
      async ({ params, body, principal, meta }) =>
        await deps.email.updateSettings(
          principal,
          params.app_id,
          validate(notificationSettingsPatchSchema, body),
          meta,
        ),
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/outbox",
      async ({ params, query, principal, meta }) =>
        await deps.email.listOutbox(principal, params.app_id, query, meta),
      {
        platform: "any",
        detail: {
          summary: "List the app's email outbox, newest first (appliance addition)",
          description:
            "Queued, sent and failed messages with their delivery attempts and last error; `?limit=&cursor=` pagination. Codes are masked (`******`) in the texts: a pending message's real body is sealed in the vault until it is delivered, then destroyed; with `HEIMDALL_EMAIL_MODE=log` a developer reads codes from the server log, where delivery writes the whole message, and from `delivered_text`: the text as delivered, kept in memory for an hour (at most 200 messages) for the console's dev inbox — null in SMTP mode. Addresses are personal data and the listing was the code reader, so the caller needs `heimdall.read` plus `heimdall.user.verify.create` and `heimdall.user.password-reset.create`; each read is audited as `outbox.read`.",
        },
      },
    );
