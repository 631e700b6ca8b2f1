/** @module Email wire model: the notification-settings PATCH schema, its DTO, and the outbox listing DTO. */
import { z } from "zod";
import { normalizeOrigin } from "../apps/auth-config.ts";
import { iso } from "../core/clock.ts";
import { isEmail } from "../users/normalize.ts";
import type { NotificationSettingsRow, OutboxRow } from "./store.ts";
import { isTemplateOf, TEMPLATE_NAMES, type TemplateKind } from "./templates.ts";

/** `https://host[:port]` or `http://localhost[:port]`, normalised; null when the value is neither. */
export function normalizeWebOrigin(value: string): string | null {
  const origin = normalizeOrigin(value.trim());
  if (origin === null) return null;
  // The portal link ends up in users' inboxes: plain http only for a developer's own machine.
  if (origin.startsWith("http:") && new URL(origin).hostname !== "localhost") return null;
  return origin;
}

const templateSlot = (kind: TemplateKind) =>
  z
    .string()
    .trim()
    .refine((name) => isTemplateOf(kind, name), {
      message: `must be a built-in ${kind.replace("_", "-")} template: ${TEMPLATE_NAMES[kind].join(", ")}`,
    })
    .nullable()
    .optional();

export const notificationSettingsPatchSchema = z.object({
  notifications_via_envoi: z.boolean().optional(),
  default_sender_address: z.string().trim().refine(isEmail, "must be an email address").nullable().optional(),
  verification_template_name: templateSlot("verification"),
  welcome_template_name: templateSlot("welcome"),
  password_reset_template_name: templateSlot("password_reset"),
  web_origin: z
    .string()
    .transform((s, ctx) => {
      const origin = normalizeWebOrigin(s);
      if (origin === null) {
        ctx.addIssue({
          code: "custom",
          message: "must be https://host[:port] or http://localhost[:port], without path or credentials",
        });
        return z.NEVER;
      }
      return origin;
    })
    .nullable()
    .optional(),
});

export type NotificationSettingsPatch = z.output<typeof notificationSettingsPatchSchema>;

export interface NotificationSettingsDto {
  app_id: string;
  notifications_via_envoi: boolean;
  default_sender_address: string | null;
  verification_template_name: string | null;
  welcome_template_name: string | null;
  password_reset_template_name: string | null;
  web_origin: string | null;
  created_at: string;
  updated_at: string;
}

/** Wire field → row column, for the patch and its audit row. */
export const SETTINGS_FIELDS = {
  notifications_via_envoi: "notificationsViaEnvoi",
  default_sender_address: "defaultSenderAddress",
  verification_template_name: "verificationTemplateName",
  welcome_template_name: "welcomeTemplateName",
  password_reset_template_name: "passwordResetTemplateName",
  web_origin: "webOrigin",
} as const satisfies Record<keyof NotificationSettingsPatch, keyof NotificationSettingsRow>;

/** An app without a row reads as the defaults, dated like the app itself. */
export function defaultSettings(appId: string, appCreatedAt: number): NotificationSettingsRow {
  return {
    appId,
    notificationsViaEnvoi: false,
    defaultSenderAddress: null,
    verificationTemplateName: null,
    welcomeTemplateName: null,
    passwordResetTemplateName: null,
    webOrigin: null,
    createdAt: appCreatedAt,
    updatedAt: appCreatedAt,
  };
}

export function toSettingsDto(r: NotificationSettingsRow): NotificationSettingsDto {
  return {
    app_id: r.appId,
    notifications_via_envoi: r.notificationsViaEnvoi,
    default_sender_address: r.defaultSenderAddress,
    verification_template_name: r.verificationTemplateName,
    welcome_template_name: r.welcomeTemplateName,
    password_reset_template_name: r.passwordResetTemplateName,
    web_origin: r.webOrigin,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
  };
}

export interface OutboxEntryDto {
  id: string;
  to: string;
  from: string;
  subject: string;
  text: string;
  status: "pending" | "sent" | "failed";
  attempts: number;
  created_at: string;
  sent_at: string | null;
  last_error: string | null;
  /**
   * `EMAIL_MODE=log` only: the text as delivered, codes and links in clear, while the dev inbox still holds
   * it (in memory, an hour; `email/dev-inbox.ts`). Null in SMTP mode, before delivery and after that.
   */
  delivered_text: string | null;
}

export function toOutboxDto(r: OutboxRow, deliveredText: string | null = null): OutboxEntryDto {
  return {
    id: r.id,
    to: r.to,
    from: r.from,
    subject: r.subject,
    text: r.text,
    status: r.status,
    attempts: r.attempts,
    created_at: iso(r.createdAt),
    sent_at: iso(r.sentAt),
    last_error: r.lastError,
    delivered_text: deliveredText,
  };
}
