/**
 * @module Webhook delivery, run by the scheduler: due deliveries are POSTed with Standard Webhooks signatures
 * (`standardwebhooks`, the reference implementation) plus `X-Heimdall-Signature`, one at a time per app in
 * event order and apps side by side. Success is any 2xx; anything else (a 3xx is not followed, a timeout, a
 * refused target) is retried with exponential back-off and jitter until 24 h after the event; ten events
 * in a row that fail (each counted once, at its first failed attempt) disable the destination. At least once: a delivery stays pending until its attempt is
 * recorded, so a crash mid-request sends it again at the next start, and the `webhook-id` lets receivers drop
 * the repeat. On SQLite one process owns the database (the data-dir lock) and its ticks never overlap, so
 * nothing needs a lease in the database: one would hold a crashed process's deliveries back after the restart.
 * On PostgreSQL every instance runs the job, so each delivery is claimed before it is sent (a conditional
 * UPDATE that pushes `next_attempt_at` past the request's timeout): two runs never send one delivery.
 */
import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import type { AuditWriter } from "../audit/writer.ts";
import { type Clock, HOUR, iso, MINUTE, SECOND } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { Logger } from "../core/logger.ts";
import { SYSTEM_ACTOR } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { Vault } from "../vault/vault.ts";
import type { EventPayload } from "./model.ts";
import { EVENT_RETENTION_MS, SECRET_PREFIX, secretAad } from "./service.ts";
import { createWebhookStore, type DueDelivery } from "./store.ts";
import { resolvedTargetProblem, type TargetPolicy } from "./targets.ts";

/** Delay before attempt n+1 after n failed attempts (then jittered ±20 %), capped by the 24 h window. */
export const RETRY_SCHEDULE_MS = [
  30 * SECOND,
  2 * MINUTE,
  10 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  4 * HOUR,
  8 * HOUR,
] as const;
export const RETRY_WINDOW_MS = 24 * HOUR;
export const DISABLE_AFTER_FAILURES = 10;
export const REQUEST_TIMEOUT_MS = 10 * SECOND;
export const RESPONSE_BODY_LIMIT = 1024;
/** Deliveries taken per app per tick; the rest wait for the next one. */
const BATCH = 100;
/** How long a claimed delivery is left to the instance that claimed it, beyond the request's timeout. */
const CLAIM_MARGIN_MS = MINUTE;

export interface WebhookDeliveryDeps {
  db: Db;
  clock: Clock;
  vault: Vault;
  audit: AuditWriter;
  log: Logger;
  policy: TargetPolicy;
  /** Tests shorten it; 10 s otherwise. */
  timeoutMs?: number;
  /** Tests make it deterministic; `Math.random` otherwise. */
  random?: () => number;
}

export interface WebhookDelivery {
  /** One tick: sends what is due; resolves when every request of the tick has settled. */
  deliverDue(): Promise<{ delivered: number; failed: number }>;
  /** Deliveries waiting (due or backing off), for `/metrics`. */
  pending(): Promise<number>;
  /** Attempts since start by outcome, for `/metrics`. */
  counters(): { succeeded: number; failed: number; disabled: number };
  /** Retention: attempts and finished deliveries older than 30 days, and events nothing still needs. */
  prune(): ReturnType<ReturnType<typeof createWebhookStore>["prune"]>;
}

/** `X-Heimdall-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed by the secret's bytes. */
export function heimdallSignature(secret: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");
  return `t=${timestamp},v1=${createHmac("sha256", key).update(`${timestamp}.${body}`).digest("hex")}`;
}

export function retryDelay(failedAttempts: number, random: () => number): number {
  const base = RETRY_SCHEDULE_MS[Math.min(failedAttempts, RETRY_SCHEDULE_MS.length) - 1]!;
  return Math.round(base * (0.8 + 0.4 * random()));
}

interface Outcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  latencyMs: number | null;
  body: string | null;
}

/** Reads at most `RESPONSE_BODY_LIMIT` bytes of the response, then lets the rest go. */
async function boundedText(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_BODY_LIMIT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    void reader.cancel().catch(() => {});
  }
  const all = Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT);
  return new TextDecoder("utf-8", { fatal: false }).decode(all);
}

export function createWebhookDelivery(deps: WebhookDeliveryDeps): WebhookDelivery {
  const { db, clock, vault, audit, log, policy } = deps;
  const store = createWebhookStore(db);
  const timeoutMs = deps.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const random = deps.random ?? Math.random;
  const claims = db.engine === "postgres";
  const totals = { succeeded: 0, failed: 0, disabled: 0 };
  /**
   * Each destination's opened secret, by the vault id it was sealed under: the vault (an unwrap and a
   * decryption) is opened once per secret, not per delivery. A rotation seals under a new id, so an entry is
   * never stale; it is replaced at the next delivery.
   */
  const secrets = new Map<string, { secretId: string; secret: string }>();
  const secretOf = async (d: DueDelivery): Promise<string> => {
    const hit = secrets.get(d.configId);
    if (hit?.secretId === d.secretId) return hit.secret;
    const secret = new TextDecoder().decode(await vault.open(d.secretId, secretAad(d.appId, d.configId)));
    secrets.set(d.configId, { secretId: d.secretId, secret });
    return secret;
  };

  async function send(d: DueDelivery): Promise<Outcome> {
    const problem = await resolvedTargetProblem(d.url, policy);
    if (problem)
      return {
        ok: false,
        statusCode: null,
        error: `target refused: ${problem}`,
        latencyMs: null,
        body: null,
      };
    let secret: string;
    try {
      secret = await secretOf(d);
    } catch {
      // Rotated between the read and now: the next tick reads the new secret.
      return {
        ok: false,
        statusCode: null,
        error: "signing secret changed; retrying",
        latencyMs: null,
        body: null,
      };
    }
    const payload: EventPayload = {
      id: d.eventId,
      type: d.eventType,
      created_at: iso(d.eventCreatedAt),
      app_id: d.appId,
      data: d.eventData,
    };
    const body = JSON.stringify(payload);
    const timestamp = Math.floor(clock.now() / 1000);
    const headers = {
      "content-type": "application/json",
      "user-agent": "Heimdall-Webhooks/1",
      "webhook-id": d.eventId,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": new Webhook(secret).sign(d.eventId, new Date(timestamp * 1000), body),
      "x-heimdall-signature": heimdallSignature(secret, timestamp, body),
    };
    const started = performance.now();
    try {
      const res = await fetch(d.url, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await boundedText(res);
      const latencyMs = Math.round(performance.now() - started);
      const ok = res.status >= 200 && res.status < 300;
      return {
        ok,
        statusCode: res.status,
        error: ok ? null : `HTTP ${res.status}`,
        latencyMs,
        body: text || null,
      };
    } catch (err) {
      const latencyMs = Math.round(performance.now() - started);
      const e = err as Error;
      const error =
        e.name === "TimeoutError" || e.name === "AbortError"
          ? `timed out after ${timeoutMs} ms`
          : `${e.name}: ${e.message}`.slice(0, 300);
      return { ok: false, statusCode: null, error, latencyMs, body: null };
    }
  }

  /** Records the attempt and its consequences in one transaction. */
  async function settle(d: DueDelivery, o: Outcome): Promise<void> {
    await tx(db, async () => {
      const now = clock.now();
      const attempt = d.attempts + 1;
      await store.insertAttempt({
        id: newId(clock),
        appId: d.appId,
        eventId: d.eventId,
        eventType: d.eventType,
        attemptNumber: attempt,
        url: d.url,
        statusCode: o.statusCode,
        errorMessage: o.error,
        latencyMs: o.latencyMs,
        responseBody: o.body,
        attemptedAt: now,
      });
      const config = await store.configOf(d.appId);
      // The destination was deleted or replaced while the request was out: nothing more to do.
      const current = config?.id === d.configId ? config : undefined;
      // A deleted destination's secret is not kept in memory past its last delivery.
      if (!current) secrets.delete(d.configId);
      if (o.ok) {
        totals.succeeded++;
        await store.updateDelivery(d.id, { status: "delivered", attempts: attempt, lastAttemptAt: now });
        if (current && current.consecutiveFailures !== 0)
          await store.updateConfig(current.id, { consecutiveFailures: 0 });
        return;
      }
      totals.failed++;
      const next = now + retryDelay(attempt, random);
      const expired = next > d.createdAt + RETRY_WINDOW_MS;
      await store.updateDelivery(d.id, {
        status: expired ? "failed" : "pending",
        attempts: attempt,
        lastAttemptAt: now,
        nextAttemptAt: expired ? now : next,
      });
      if (!current || current.disabledAt !== null) return;
      // What disables a destination is events it cannot take, not retries: an event counts once, at its first
      // failed attempt, so one poison event retried all day never disables it, and ten events in a row do.
      if (d.attempts > 0) return;
      const failures = current.consecutiveFailures + 1;
      if (failures < DISABLE_AFTER_FAILURES) {
        await store.updateConfig(current.id, { consecutiveFailures: failures });
        return;
      }
      const reason = `${failures} consecutive events could not be delivered (last: ${o.error ?? "unknown"})`;
      await store.updateConfig(current.id, {
        consecutiveFailures: failures,
        disabledAt: now,
        disabledReason: reason,
      });
      totals.disabled++;
      await audit.record({
        appId: d.appId,
        action: "webhook.disabled",
        resourceType: "webhook",
        resourceId: current.id,
        actor: SYSTEM_ACTOR,
        details: { reason, url: current.url },
      });
      log.warn("webhook disabled after consecutive failures", { app_id: d.appId, failures });
    });
  }

  /**
   * The destination as it is now, right before the request: a rotation, a replace or a delete between the
   * tick's read and this delivery's turn is honoured (the new secret signs; a deleted or disabled
   * destination is sent nothing).
   */
  async function current(d: DueDelivery): Promise<DueDelivery | null> {
    const config = await store.configOf(d.appId);
    if (!config || config.id !== d.configId || config.disabledAt !== null) return null;
    return { ...d, url: config.url, secretId: config.secretId };
  }

  async function tick(): Promise<{ delivered: number; failed: number }> {
    const now = clock.now();
    let delivered = 0;
    let failed = 0;
    // Each app takes its own batch, so one app's backlog (a replay of a month) never starves the others.
    await Promise.all(
      (await store.dueApps(now)).map(async (appId) => {
        for (const due of await store.due(now, BATCH, appId)) {
          const d = await current(due);
          if (!d) break;
          // Another instance took it (and, to keep the app's event order, the rest of this app's queue).
          if (
            claims &&
            !(await tx(db, () => store.claim(d.id, now, clock.now() + timeoutMs + CLAIM_MARGIN_MS)))
          )
            break;
          const outcome = await send(d);
          try {
            await settle(d, outcome);
          } catch (err) {
            // The app was deleted meanwhile (its rows are gone): nothing to record.
            log.debug("webhook attempt not recorded", { app_id: d.appId, err });
            break;
          }
          if (outcome.ok) {
            delivered++;
            continue;
          }
          failed++;
          // A failing receiver gets one attempt per tick: the rest of its queue waits for the next tick
          // (in event order), and a dead one cannot hold a tick for a hundred timeouts.
          break;
        }
      }),
    );
    return { delivered, failed };
  }

  let running: Promise<{ delivered: number; failed: number }> | null = null;

  return {
    async deliverDue() {
      // One tick at a time, also when called beside the scheduler (tests, `heimdall dev`): joined, not doubled.
      running ??= tick().finally(() => {
        running = null;
      });
      return running;
    },
    pending: async () => await store.pendingCount(),
    counters: () => ({ ...totals }),
    prune: async () => await tx(db, () => store.prune(clock.now() - EVENT_RETENTION_MS)),
  };
}
