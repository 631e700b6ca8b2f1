/**
 * @module Email rules (docs/decisions.md, "Email dispatch" under "End users"): per-app notification settings, the preconditions of a code email,
 * the durable outbox and its delivery with retries.
 *
 * Delivery. A message is written to `email_outbox` in the transaction of the change that causes it, so a
 * crash can lose neither the message nor leave one for a change that did not happen. Right after the
 * commit the request makes one bounded attempt (`deliverNow`); the `email.deliver` job sends whatever is
 * still pending, with exponential backoff (1, 2, 4 … min, capped at 1 h) for 24 h, then gives up
 * (`failed`). An SMTP 5yz reply is final at once: retrying would only be refused again.
 *
 * Sealed bodies. A pending message may carry a live code, so its real text and HTML are sealed in the vault
 * (`email_outbox:<id>`) and the row keeps only a copy rendered with the code masked — what the outbox
 * listing shows. Delivery opens the sealed body; the status change that ends the message (sent, or failed
 * for good) destroys it in the same transaction, so no code outlives its message in the database.
 */

import { authorize } from "../access/authorize.ts";
import { appResource } from "../access/pak-policy.ts";
import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { Config } from "../config/index.ts";
import { type Clock, DAY, HOUR, MINUTE } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Logger } from "../core/logger.ts";
import {
  decodeCursor,
  isPosition,
  type Page,
  type Position,
  pageOf,
  parseLimit,
  queryParam,
} from "../core/pagination.ts";
import { actorOf, type CallMeta, type PlatformPrincipal } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { Vault } from "../vault/vault.ts";
import type { DevInbox } from "./dev-inbox.ts";
import {
  defaultSettings,
  type NotificationSettingsDto,
  type NotificationSettingsPatch,
  type OutboxEntryDto,
  SETTINGS_FIELDS,
  toOutboxDto,
  toSettingsDto,
} from "./model.ts";
import { createEmailStore, type NotificationSettingsRow, type OutboxRow } from "./store.ts";
import {
  INVITE_TEMPLATE,
  isTemplateOf,
  NOTICE_TEMPLATES,
  type NoticeKind,
  REDACTED_CODE,
  renderTemplate,
  type TemplateVars,
} from "./templates.ts";
import type { MailTransport, SendResult } from "./transport.ts";

/** How long a request waits for its own first delivery attempt before leaving it to the outbox. */
export const DELIVER_NOW_BUDGET_MS = 5_000;
/** A claimed row is not retried by anyone else for this long (covers the SMTP socket timeouts). */
export const DELIVERY_LEASE = 2 * MINUTE;
/** Retries stop this long after the message was queued. */
export const GIVE_UP_AFTER = DAY;
/** Delivered and abandoned rows are kept this long for the operator, then dropped. */
export const OUTBOX_RETENTION = 7 * DAY;
const BATCH = 50;

/** The template a code email uses while its slot is empty: the one built in for its kind. */
export const BUILT_IN_CODE_TEMPLATES = {
  verification: "heimdall-verification",
  password_reset: "heimdall-password-reset",
} as const;

/** Each code email's template slot: the wire field an operator PATCHes and the row column. */
const CODE_TEMPLATE_SLOTS = {
  verification: { field: "verification_template_name", column: "verificationTemplateName" },
  password_reset: { field: "password_reset_template_name", column: "passwordResetTemplateName" },
} as const;

/** Delay before attempt `attempts + 1`: 1 min after the first failure, doubling, at most an hour. */
export function backoff(attempts: number): number {
  return Math.min(MINUTE * 2 ** Math.max(0, attempts - 1), HOUR);
}

export type CodeMailKind = "verification" | "password_reset";

/** Everything needed to render and address an email of an app, resolved before the transaction. */
export interface MailPlan {
  readonly from: string;
  readonly template: string;
  readonly webOrigin: string | null;
  readonly appName: string;
}

/** `sent`: delivered; `queued`: left to the outbox (transient failure or slow server); `failed`: refused for good. */
export type DeliveryOutcome = "sent" | "queued" | "failed";

export interface EmailService {
  readonly transport: MailTransport;
  getSettings(p: PlatformPrincipal, ref: string): Promise<NotificationSettingsDto>;
  updateSettings(
    p: PlatformPrincipal,
    ref: string,
    patch: NotificationSettingsPatch,
    meta: CallMeta,
  ): Promise<NotificationSettingsDto>;
  /** The operator's view of an app's outbox (dev only; docs/decisions.md, "Outbox route"); it shows codes, so minting rights are required. */
  listOutbox(
    p: PlatformPrincipal,
    ref: string,
    query: Record<string, unknown>,
    meta: CallMeta,
  ): Promise<Page<OutboxEntryDto>>;
  /** The plan of a code email, or the 412/503 precondition error; reveals nothing about any contact. */
  codeMailPlan(appId: string, kind: CodeMailKind): Promise<MailPlan>;
  /** The plan of the welcome email, or null when the app sends none. */
  welcomePlan(appId: string): Promise<MailPlan | null>;
  /**
   * The plan of a security notice, or null when the app sends no email. Never throws for a disabled
   * channel: the change a notice reports goes ahead whether or not it can be told.
   */
  noticePlan(appId: string, kind: NoticeKind): Promise<MailPlan | null>;
  /**
   * The plan of an end-user invitation, or null when the app sends no email (or has no sender): the invite
   * is made all the same and the operator hands its code over.
   */
  invitePlan(appId: string): Promise<MailPlan | null>;
  /**
   * Renders `plan` for `to` and queues it, the body sealed and the row holding a redacted copy;
   * synchronous, call it inside the change's transaction.
   */
  enqueue(
    appId: string,
    plan: MailPlan,
    to: string,
    vars: Omit<TemplateVars, "appName" | "webOrigin">,
  ): Promise<string>;
  /** One attempt at a just-queued message, waiting at most DELIVER_NOW_BUDGET_MS. */
  deliverNow(id: string): Promise<DeliveryOutcome>;
  /** The delivery job: every due pending message, one attempt each. */
  deliverDue(): Promise<{ sent: number; queued: number; failed: number }>;
  purge(): Promise<number>;
}

export interface EmailServiceDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  config: Pick<Config, "emailFrom">;
  audit: AuditWriter;
  apps: Pick<AppService, "authorizeApp" | "find">;
  transport: MailTransport;
  vault: Pick<Vault, "seal" | "open" | "destroy">;
  /** `EMAIL_MODE=log` only: the delivered texts the outbox listing shows as `delivered_text`. */
  devInbox?: Pick<DevInbox, "textOf">;
}

/**
 * The outbox shows who was sent what and when; codes are masked in it since bodies are sealed, but it
 * stays behind the minting actions: it was the code reader in log mode, and addresses are personal data.
 */
const OUTBOX_ACTIONS = ["heimdall.user.verify.create", "heimdall.user.password-reset.create"] as const;

export function createEmailService(deps: EmailServiceDeps): EmailService {
  const { db, clock, log, config, audit, apps, transport, vault, devInbox } = deps;
  const aadOf = (id: string) => `email_outbox:${id}`;

  /** The body to send: the sealed one while it exists (rows queued before sealing carry their own). */
  async function bodyOf(row: OutboxRow): Promise<{ text: string; html: string | null }> {
    if (!row.bodySecretId) return { text: row.text, html: row.html };
    const body = JSON.parse(new TextDecoder().decode(await vault.open(row.bodySecretId, aadOf(row.id))));
    return { text: String(body.text), html: typeof body.html === "string" ? body.html : null };
  }

  /** Ends a message's sealed body with the status change that ends the message; call inside its tx. */
  async function shred(row: OutboxRow): Promise<void> {
    if (row.bodySecretId) await vault.destroy([row.bodySecretId]);
  }
  const store = createEmailStore(db);

  const appNotFound = () => fail("APP_NOT_FOUND");

  async function settingsOf(appId: string): Promise<NotificationSettingsRow> {
    const row = await store.settings(appId);
    if (row) return row;
    return defaultSettings(appId, (await apps.find(appId))?.createdAt ?? clock.now());
  }

  async function plan(appId: string, s: NotificationSettingsRow, template: string): Promise<MailPlan | null> {
    const from = s.defaultSenderAddress ?? config.emailFrom;
    if (!from) return null;
    return {
      from,
      template,
      webOrigin: s.webOrigin,
      appName: (await apps.find(appId))?.displayName ?? "your app",
    };
  }

  async function attempt(row: OutboxRow): Promise<DeliveryOutcome | "skipped"> {
    const start = clock.now();
    if (!(await tx(db, () => store.claim(row.id, start, start + DELIVERY_LEASE)))) return "skipped";
    const attempts = row.attempts + 1;
    let body: { text: string; html: string | null } | null = null;
    try {
      body = await bodyOf(row);
    } catch (err) {
      // The sealed body is gone or undecryptable: no later attempt can do better, and the job must not
      // trip over the row every 15 seconds.
      log.error("email body cannot be opened", { outbox_id: row.id, err });
    }
    const result: SendResult = body
      ? await transport.send({ ...row, ...body })
      : { ok: false, permanent: true, error: "the sealed message body cannot be opened" };
    const now = clock.now();
    if (result.ok) {
      await tx(db, async () => {
        await store.markSent(row.id, now);
        await shred(row);
      });
      return "sent";
    }
    const next = now + backoff(attempts);
    if (result.permanent || next > row.createdAt + GIVE_UP_AFTER) {
      await tx(db, async () => {
        await store.markFailed(row.id, result.error);
        await shred(row);
        await audit.record({
          appId: row.appId,
          action: "email.failed",
          resourceType: "email",
          resourceId: row.id,
          actor: { type: "system", id: null },
          details: { attempts, permanent: result.permanent },
        });
      });
      log.warn("email delivery failed", {
        outbox_id: row.id,
        app_id: row.appId,
        attempts,
        error: result.error,
      });
      return "failed";
    }
    await tx(db, () => store.markRetry(row.id, next, result.error));
    log.warn("email delivery deferred", {
      outbox_id: row.id,
      app_id: row.appId,
      attempts,
      error: result.error,
    });
    return "queued";
  }

  /** Never rejects: a delivery problem is recorded on the row, not thrown at the caller. */
  async function safeAttempt(row: OutboxRow): Promise<DeliveryOutcome | "skipped"> {
    try {
      return await attempt(row);
    } catch (err) {
      log.error("email delivery crashed", { outbox_id: row.id, err });
      return "queued";
    }
  }

  return {
    transport,

    async getSettings(p, ref) {
      const app = await apps.authorizeApp(p, ref, "heimdall.read");
      return toSettingsDto(await settingsOf(app.id));
    },

    async updateSettings(p, ref, patch, meta) {
      const app = await apps.authorizeApp(p, ref, "heimdall.update");
      if (app.status === "archived") throw fail("APP_ARCHIVED");
      return await tx(db, async () => {
        const current = await store.settings(app.id);
        const base = current ?? { ...defaultSettings(app.id, app.createdAt), createdAt: clock.now() };
        const next: NotificationSettingsRow = { ...base };
        const changed: string[] = [];
        for (const field of Object.keys(SETTINGS_FIELDS) as (keyof typeof SETTINGS_FIELDS)[]) {
          const column = SETTINGS_FIELDS[field];
          const value = patch[field];
          if (value === undefined || value === base[column]) continue;
          (next as Record<string, unknown>)[column] = value;
          changed.push(field);
        }
        // Nothing changes: no write, no audit row, `updated_at` untouched.
        if (changed.length === 0) return toSettingsDto(current ?? defaultSettings(app.id, app.createdAt));
        next.updatedAt = clock.now();
        await store.putSettings(next);
        await audit.record({
          appId: app.id,
          workspaceId: app.workspaceId,
          action: "notification_settings.updated",
          resourceType: "notification_settings",
          resourceId: app.id,
          actor: actorOf(p),
          details: { changed },
          meta,
        });
        return toSettingsDto(next);
      });
    },

    async listOutbox(p, ref, query, meta) {
      const limit = parseLimit(queryParam(query, "limit"));
      const after = decodeCursor(queryParam(query, "cursor"), isPosition);
      const app = await apps.authorizeApp(p, ref, "heimdall.read");
      for (const action of OUTBOX_ACTIONS)
        authorize(p, app.workspaceId, action, appResource(app.id), appNotFound);
      const rows = await store.listForApp(app.id, after, limit + 1);
      // A read that hands out codes and addresses is itself worth a trace (docs/architecture.md, "Audit").
      await audit.record({
        appId: app.id,
        workspaceId: app.workspaceId,
        action: "outbox.read",
        resourceType: "email_outbox",
        resourceId: app.id,
        actor: actorOf(p),
        details: { count: Math.min(rows.length, limit) },
        meta,
      });
      return pageOf(
        rows,
        limit,
        (r): Position => ({ c: r.createdAt, i: r.id }),
        (r) => toOutboxDto(r, devInbox?.textOf(r.id) ?? null),
      );
    },

    async codeMailPlan(appId, kind) {
      // Each refusal names the one setting to change and how (docs/decisions.md, "Email in one step"):
      // the sender defaults to HEIMDALL_EMAIL_FROM and an empty code slot to the built-in template, so
      // in log mode switching notifications on is all a fresh app needs.
      const settingsRoute = `PATCH /v1/apps/${appId}/notification-settings`;
      const s = await settingsOf(appId);
      if (!s.notificationsViaEnvoi) {
        throw fail("ENVOI_NOT_ENABLED", {
          message: `Email notifications are off for this app: ${settingsRoute} {"notifications_via_envoi": true}`,
        });
      }
      if (!(s.defaultSenderAddress ?? config.emailFrom)) {
        throw fail("ENVOI_SENDER_NOT_CONFIGURED", {
          message:
            "No sender address: set HEIMDALL_EMAIL_FROM on the server (email_from in the config file), " +
            `or ${settingsRoute} {"default_sender_address": "no-reply@example.com"}`,
        });
      }
      const slot = CODE_TEMPLATE_SLOTS[kind];
      const template = s[slot.column] ?? BUILT_IN_CODE_TEMPLATES[kind];
      // Only a name this binary does not ship gets here (a row written by another version or by hand):
      // the PATCH schema accepts nothing else.
      if (!isTemplateOf(kind, template)) {
        throw fail("ENVOI_TEMPLATE_NOT_CONFIGURED", {
          message:
            `The app's ${slot.field} "${template}" is not a built-in template: ` +
            `${settingsRoute} {"${slot.field}": null} to use ${BUILT_IN_CODE_TEMPLATES[kind]}`,
        });
      }
      if (transport.kind === "unwired") {
        throw fail("ENVOI_NOT_WIRED");
      }
      return (await plan(appId, s, template))!;
    },

    async welcomePlan(appId) {
      const s = await settingsOf(appId);
      if (!s.notificationsViaEnvoi || !s.welcomeTemplateName || transport.kind === "unwired") return null;
      return await plan(appId, s, s.welcomeTemplateName);
    },

    async noticePlan(appId, kind) {
      // The same switch as every other email of the app; no template slot: the built-in notice is used.
      const s = await settingsOf(appId);
      if (!s.notificationsViaEnvoi || transport.kind === "unwired") return null;
      return await plan(appId, s, NOTICE_TEMPLATES[kind]);
    },

    async invitePlan(appId) {
      const s = await settingsOf(appId);
      if (!s.notificationsViaEnvoi || transport.kind === "unwired") return null;
      return await plan(appId, s, INVITE_TEMPLATE);
    },

    async enqueue(appId, p, to, vars) {
      const common = { appName: p.appName, webOrigin: p.webOrigin };
      const rendered = renderTemplate(p.template, { ...vars, ...common });
      // The same message with the code masked: the row's copy, for the outbox listing and the operator.
      const redacted = vars.code
        ? renderTemplate(p.template, { ...vars, ...common, code: REDACTED_CODE })
        : rendered;
      const id = newId(clock);
      const now = clock.now();
      const bodySecretId = await vault.seal(
        aadOf(id),
        new TextEncoder().encode(JSON.stringify({ text: rendered.text, html: rendered.html })),
      );
      await store.insertOutbox({
        id,
        appId,
        to,
        from: p.from,
        subject: rendered.subject,
        text: redacted.text,
        html: redacted.html,
        bodySecretId,
        status: "pending",
        attempts: 0,
        nextAttemptAt: now,
        createdAt: now,
      });
      return id;
    },

    async deliverNow(id) {
      const row = await store.outboxById(id);
      if (!row) throw new Error(`outbox row ${id} does not exist`);
      if (row.status !== "pending") return row.status;
      let timer: ReturnType<typeof setTimeout> | undefined;
      // A slow server does not hold the request: past the budget the attempt finishes on its own and
      // records its outcome on the row, and the caller treats the message as queued.
      const budget = new Promise<"queued">((resolve) => {
        timer = setTimeout(() => resolve("queued"), DELIVER_NOW_BUDGET_MS);
      });
      try {
        const outcome = await Promise.race([safeAttempt(row), budget]);
        return outcome === "skipped" ? "queued" : outcome;
      } finally {
        clearTimeout(timer);
      }
    },

    async deliverDue() {
      const counts = { sent: 0, queued: 0, failed: 0 };
      // Sequential on purpose: one SMTP conversation at a time is plenty for an appliance and keeps
      // a flaky server from being hammered by a burst.
      for (const row of await store.due(clock.now(), BATCH)) {
        const outcome = await safeAttempt(row);
        if (outcome !== "skipped") counts[outcome]++;
      }
      return counts;
    },

    async purge() {
      return await tx(db, () => store.purge(clock.now() - OUTBOX_RETENTION));
    },
  };
}
