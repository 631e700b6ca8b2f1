/** @module Webhook wire shapes: the upsert body, the config and attempt DTOs, and the event types a destination may subscribe to. */
import { z } from "zod";
import { iso } from "../core/clock.ts";
import type { webhookAttempts, webhookConfigs } from "../db/schema.ts";
import { EVENT_TYPES } from "./event-types.ts";

export { CONTRACT_EVENT_TYPES, EVENT_TYPES, HEIMDALL_EVENT_TYPES } from "./event-types.ts";

export const upsertWebhookSchema = z
  .object({
    url: z.string().min(1).max(2048),
    event_types: z
      .array(
        z.string().refine((t) => EVENT_TYPES.includes(t), {
          message: "is not a known event type (docs/webhooks.md lists them)",
        }),
      )
      .max(EVENT_TYPES.length * 2),
  })
  .strict();

export type UpsertWebhookInput = z.infer<typeof upsertWebhookSchema>;

export type WebhookConfigRow = typeof webhookConfigs.$inferSelect;
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;

export interface WebhookConfigDto {
  id: string;
  app_id: string;
  url: string;
  event_types: string[];
  signing_secret_hint: string;
  disabled_at: string | null;
  disabled_reason: string | null;
  consecutive_failures: number;
  created_at: string;
  updated_at: string;
}

export interface WebhookConfigWithSecretDto extends WebhookConfigDto {
  signing_secret: string;
}

export interface WebhookAttemptDto {
  id: string;
  event_id: string;
  event_type: string;
  attempt_number: number;
  status_code: number | null;
  error_message: string | null;
  latency_ms: number | null;
  attempted_at: string;
  url: string;
  /** Heimdall addition: the receiver's response body, cut to 1 KiB. */
  response_body: string | null;
}

export const toConfigDto = (r: WebhookConfigRow): WebhookConfigDto => ({
  id: r.id,
  app_id: r.appId,
  url: r.url,
  event_types: r.eventTypes,
  signing_secret_hint: r.secretHint,
  disabled_at: iso(r.disabledAt),
  disabled_reason: r.disabledReason,
  consecutive_failures: r.consecutiveFailures,
  created_at: iso(r.createdAt),
  updated_at: iso(r.updatedAt),
});

export const toAttemptDto = (r: WebhookAttemptRow): WebhookAttemptDto => ({
  id: r.id,
  event_id: r.eventId,
  event_type: r.eventType,
  attempt_number: r.attemptNumber,
  status_code: r.statusCode,
  error_message: r.errorMessage,
  latency_ms: r.latencyMs,
  attempted_at: iso(r.attemptedAt),
  url: r.url,
  response_body: r.responseBody,
});

/** The JSON body every delivery POSTs (docs/webhooks.md). */
export interface EventPayload {
  id: string;
  type: string;
  created_at: string;
  app_id: string;
  data: Record<string, unknown>;
}
