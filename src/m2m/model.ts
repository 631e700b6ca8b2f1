/** @module M2M clients wire model: request schemas, the client_id and secret formats, row → DTO mappings. */
import { z } from "zod";
import { credentialNameSchema, permissionListSchema } from "../api-keys/model.ts";
import { iso } from "../core/clock.ts";
import type { m2mClients } from "../db/schema.ts";

export type M2mClientRow = typeof m2mClients.$inferSelect;

/** Public client identifier: `m2m_` and 128 random bits in hex (nothing a form or Basic header must escape). */
export const CLIENT_ID_PREFIX = "m2m_";
/** Client secrets are `hcs_` and 256 random bits in base64url; stored as SHA-256 only. */
export const CLIENT_SECRET_PREFIX = "hcs_";

export const createM2mClientSchema = z.object({
  name: credentialNameSchema,
  scopes: permissionListSchema.optional(),
});
export type CreateM2mClientInput = z.output<typeof createM2mClientSchema>;

export const updateM2mClientSchema = z.object({
  is_active: z.boolean().optional(),
});
export type UpdateM2mClientInput = z.output<typeof updateM2mClientSchema>;

export const setScopesSchema = z.object({
  permissions: permissionListSchema,
});
export type SetScopesInput = z.output<typeof setScopesSchema>;

/** The longest a replaced secret may keep working: long enough for a weekly deploy, short enough to matter. */
export const MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 60 * 60;

const graceSchema = z
  .number()
  .int("must be an integer")
  .min(0, "must be at least 0")
  .max(MAX_ROTATION_GRACE_SECONDS, `must be at most ${MAX_ROTATION_GRACE_SECONDS} (7 days)`);

/**
 * The contract's rotate operation takes no body; this optional one (or the query parameter of the same
 * name) is an appliance addition, so a caller that sends nothing gets the old behaviour: no grace.
 */
export const rotateSecretSchema = z
  .object({ grace_period_seconds: graceSchema.optional() })
  .optional()
  .transform((b) => ({ grace_period_seconds: b?.grace_period_seconds }));
export type RotateSecretInput = { grace_period_seconds?: number };

/** `?grace_period_seconds=` arrives as text: digits only, then the same bounds as the body field. */
export const rotateSecretQuerySchema = z.object({
  grace_period_seconds: z
    .string()
    .regex(/^\d{1,7}$/, "must be an integer")
    .transform(Number)
    .pipe(graceSchema)
    .optional(),
});

export interface M2mClientSummaryDto {
  id: string;
  app_id: string;
  client_id: string;
  name: string;
  is_active: boolean;
  last_used_at: string | null;
  created_at: string;
}

export interface M2mScopeEntryDto {
  resource: string;
  action: string;
}

export interface M2mClientDetailDto extends M2mClientSummaryDto {
  scopes: M2mScopeEntryDto[];
}

export interface M2mClientCreateResponseDto {
  id: string;
  client_id: string;
  client_secret: string;
  name: string;
  created_at: string;
}

export interface M2mRotateSecretResponseDto {
  client_id: string;
  client_secret: string;
  /** Appliance addition: until when the replaced secret is still accepted; null when it stopped at once. */
  previous_secret_expires_at: string | null;
}

export const toClientSummary = (r: M2mClientRow): M2mClientSummaryDto => ({
  id: r.id,
  app_id: r.appId,
  client_id: r.clientId,
  name: r.name,
  is_active: r.isActive,
  last_used_at: iso(r.lastUsedAt),
  created_at: iso(r.createdAt),
});

/** `user.read` → `{resource: "user", action: "read"}`; the grammar guarantees exactly one dot. */
export function scopeEntry(permission: string): M2mScopeEntryDto {
  const dot = permission.indexOf(".");
  return { resource: permission.slice(0, dot), action: permission.slice(dot + 1) };
}

export const toClientDetail = (r: M2mClientRow): M2mClientDetailDto => ({
  ...toClientSummary(r),
  scopes: r.scopes.map(scopeEntry),
});
