/** @module M2M clients wire model: request schemas, the client_id and secret formats, row → DTO mappings. */
import { z } from "zod";
import { credentialNameSchema, permissionListSchema } from "../api-keys/model.ts";
import type { m2mClients } from "../db/schema.ts";
import { iso } from "../platform/clock.ts";

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
