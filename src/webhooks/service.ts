/**
 * @module An app's webhook destination on the Admin API: set (secret shown once), read (hint only), rotate the
 * secret, delete, list attempts, replay past events. Delivery itself is `delivery.ts`, run by the scheduler.
 */
import { randomBytes } from "node:crypto";
import type { AppRow } from "../apps/model.ts";
import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import { type Clock, DAY } from "../core/clock.ts";
import { constantTimeEqual } from "../core/crypto.ts";
import { fail, validationError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { actorOf, type CallMeta, type PlatformPrincipal } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { retryLostInsert } from "../db/query.ts";
import type { Vault } from "../vault/vault.ts";
import {
  EVENT_TYPES,
  toAttemptDto,
  toConfigDto,
  type UpsertWebhookInput,
  type WebhookAttemptDto,
  type WebhookConfigDto,
  type WebhookConfigRow,
  type WebhookConfigWithSecretDto,
} from "./model.ts";
import { createWebhookStore } from "./store.ts";
import { checkWebhookUrl, type TargetPolicy } from "./targets.ts";

/** The unique index a concurrent first write can lose on (`retryLostInsert`). */
const CONFIG_PER_APP = { sqlite: "webhook_configs.app_id", postgres: "webhook_configs_app" };

export const SECRET_PREFIX = "whsec_";
/** How far back a replay may reach: events are kept this long (docs/webhooks.md, "Retention"). */
export const EVENT_RETENTION_MS = 30 * DAY;
export const MAX_ATTEMPTS_LISTED = 200;

export const secretAad = (appId: string, configId: string) => `webhook_secret:${appId}:${configId}`;

export interface ReplayInput {
  /** ISO 8601; events from this instant on are queued again. */
  since: string;
  event_types?: string[];
}

/** A signing secret chosen by the operator on the machine (seed files), never over HTTP: the routes generate one. */
export interface GivenSecret {
  /** Standard Webhooks form, `whsec_` + base64; the caller has checked it. */
  readonly secret: string;
}

export interface WebhookService {
  get(p: PlatformPrincipal, appRef: string): Promise<WebhookConfigDto | null>;
  /** `given` is the secret of a new destination (a replace keeps the current one; `rotateSecret` changes it). */
  put(
    p: PlatformPrincipal,
    appRef: string,
    input: UpsertWebhookInput,
    meta: CallMeta,
    given?: GivenSecret,
  ): Promise<WebhookConfigWithSecretDto>;
  remove(p: PlatformPrincipal, appRef: string, meta: CallMeta): Promise<void>;
  rotateSecret(
    p: PlatformPrincipal,
    appRef: string,
    meta: CallMeta,
    given?: GivenSecret,
  ): Promise<WebhookConfigWithSecretDto>;
  /** Whether `secret` is the app's current signing secret (a seed file converging); discloses nothing, no audit row. */
  secretMatches(p: PlatformPrincipal, appRef: string, secret: string): Promise<boolean>;
  attempts(p: PlatformPrincipal, appRef: string, limit: number): Promise<WebhookAttemptDto[]>;
  /** Queues the app's events since `since` for delivery again (to the current destination); returns how many. */
  replay(
    p: PlatformPrincipal,
    appRef: string,
    input: ReplayInput,
    meta: CallMeta,
  ): Promise<{ queued: number }>;
}

export interface WebhookServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  vault: Vault;
  apps: Pick<AppService, "authorizeApp">;
  policy: TargetPolicy;
}

export const webhookNotFound = () => fail("WEBHOOK_NOT_FOUND");

export function createWebhookService(deps: WebhookServiceDeps): WebhookService {
  const { db, clock, audit, vault, apps, policy } = deps;
  const store = createWebhookStore(db);

  const newSecret = async (appId: string, configId: string, given?: GivenSecret) => {
    const secret = given?.secret ?? SECRET_PREFIX + randomBytes(32).toString("base64");
    const secretId = await vault.seal(secretAad(appId, configId), new TextEncoder().encode(secret));
    return { secret, secretId, hint: secret.slice(-4) };
  };

  /** A change to an archived app's destination is refused like every other write to it (read-only). */
  const writableApp = async (
    p: PlatformPrincipal,
    appRef: string,
    action: "heimdall.update" | "heimdall.delete" | "heimdall.rotate-secret",
  ): Promise<AppRow> => {
    const app = await apps.authorizeApp(p, appRef, action);
    if (app.status === "archived") throw fail("APP_ARCHIVED");
    return app;
  };

  const openSecret = async (row: WebhookConfigRow) =>
    new TextDecoder().decode(await vault.open(row.secretId, secretAad(row.appId, row.id)));

  const record = async (
    p: PlatformPrincipal,
    appId: string,
    action: string,
    configId: string,
    details: Record<string, unknown>,
    meta: CallMeta,
  ) =>
    await audit.record({
      appId,
      action,
      resourceType: "webhook",
      resourceId: configId,
      actor: actorOf(p),
      details,
      meta,
    });

  return {
    async get(p, appRef) {
      const app = await apps.authorizeApp(p, appRef, "heimdall.read");
      const row = await store.configOf(app.id);
      return row ? toConfigDto(row) : null;
    },

    async secretMatches(p, appRef, secret) {
      const app = await apps.authorizeApp(p, appRef, "heimdall.read");
      const row = await store.configOf(app.id);
      return row !== undefined && constantTimeEqual(await openSecret(row), secret);
    },

    async put(p, appRef, input, meta, given) {
      const app = await writableApp(p, appRef, "heimdall.update");
      const url = checkWebhookUrl(input.url, policy);
      const eventTypes = [...new Set(input.event_types)].sort(
        (a, b) => EVENT_TYPES.indexOf(a) - EVENT_TYPES.indexOf(b),
      );
      return await retryLostInsert(CONFIG_PER_APP, () =>
        tx(db, async () => {
          const now = clock.now();
          const existing = await store.configOf(app.id);
          if (!existing) {
            const id = newId(clock);
            const { secret, secretId, hint } = await newSecret(app.id, id, given);
            const row: WebhookConfigRow = {
              id,
              appId: app.id,
              url,
              eventTypes,
              secretId,
              secretHint: hint,
              consecutiveFailures: 0,
              disabledAt: null,
              disabledReason: null,
              createdAt: now,
              updatedAt: now,
            };
            await store.insertConfig(row);
            await record(p, app.id, "webhook.created", id, { url, event_types: eventTypes }, meta);
            return { ...toConfigDto(row), signing_secret: secret };
          }
          // A replace keeps the secret, so receivers keep verifying; `rotate-secret` is how it changes.
          const patch = {
            url,
            eventTypes,
            consecutiveFailures: 0,
            disabledAt: null,
            disabledReason: null,
            updatedAt: now,
          };
          await store.updateConfig(existing.id, patch);
          await record(
            p,
            app.id,
            "webhook.updated",
            existing.id,
            {
              url,
              event_types: eventTypes,
              re_enabled: existing.disabledAt !== null,
            },
            meta,
          );
          return { ...toConfigDto({ ...existing, ...patch }), signing_secret: await openSecret(existing) };
        }),
      );
    },

    async remove(p, appRef, meta) {
      const app = await writableApp(p, appRef, "heimdall.delete");
      await tx(db, async () => {
        const existing = await store.configOf(app.id);
        // Idempotent: a destination that is already gone is what the caller asked for (docs/webhooks.md).
        if (!existing) return;
        await store.deleteConfig(existing.id);
        await vault.destroy([existing.secretId]);
        await record(p, app.id, "webhook.deleted", existing.id, { url: existing.url }, meta);
      });
    },

    async rotateSecret(p, appRef, meta, given) {
      // A secret rotation for policy purposes, like M2M secrets and signing keys (architecture.md, "Lanes").
      const app = await writableApp(p, appRef, "heimdall.rotate-secret");
      return await tx(db, async () => {
        const existing = await store.configOf(app.id);
        if (!existing) throw webhookNotFound();
        const { secret, secretId, hint } = await newSecret(app.id, existing.id, given);
        const now = clock.now();
        await store.updateConfig(existing.id, { secretId, secretHint: hint, updatedAt: now });
        // The old secret stops at once (the contract): it is destroyed, not kept for an overlap.
        await vault.destroy([existing.secretId]);
        await record(p, app.id, "webhook.secret_rotated", existing.id, { secret_hint: hint }, meta);
        return {
          ...toConfigDto({ ...existing, secretId, secretHint: hint, updatedAt: now }),
          signing_secret: secret,
        };
      });
    },

    async attempts(p, appRef, limit) {
      const app = await apps.authorizeApp(p, appRef, "heimdall.read");
      return (await store.attempts(app.id, limit)).map(toAttemptDto);
    },

    async replay(p, appRef, input, meta) {
      const app = await writableApp(p, appRef, "heimdall.update");
      const since = Date.parse(input.since);
      if (!Number.isFinite(since) || !/^\d{4}-\d{2}-\d{2}/.test(input.since)) {
        throw validationError([{ field: "since", reason: "must be an ISO 8601 date-time" }]);
      }
      const types = input.event_types ?? [];
      const unknown = types.find((t) => !EVENT_TYPES.includes(t));
      if (unknown) throw validationError([{ field: "event_types", reason: `unknown event type ${unknown}` }]);
      return await tx(db, async () => {
        const config = await store.configOf(app.id);
        if (!config) throw webhookNotFound();
        if (config.disabledAt !== null) {
          throw fail("WEBHOOK_DISABLED", {
            message: "The webhook is disabled; PUT its configuration to enable it, then replay",
          });
        }
        // A replay re-sends what the destination subscribes to, never more: the filter narrows it further.
        const subscribed = config.eventTypes;
        const wanted =
          types.length === 0
            ? subscribed
            : subscribed.length === 0
              ? types
              : types.filter((t) => subscribed.includes(t));
        const now = clock.now();
        let queued = 0;
        const due =
          types.length > 0 && wanted.length === 0 ? [] : await store.eventsSince(app.id, since, wanted);
        for (const event of due) {
          if (!(await store.requeue(config.id, event.id, now))) {
            await store.insertDelivery({
              id: newId(clock),
              appId: app.id,
              configId: config.id,
              eventId: event.id,
              status: "pending",
              attempts: 0,
              nextAttemptAt: now,
              lastAttemptAt: null,
              createdAt: now,
            });
          }
          queued++;
        }
        await record(
          p,
          app.id,
          "webhook.replayed",
          config.id,
          { since: input.since, event_types: types, queued },
          meta,
        );
        return { queued };
      });
    },
  };
}
