/** @module App API keys wire model: the permission grammar shared with M2M scopes, the create schema, row → DTO. */
import { z } from "zod";
import { iso } from "../core/clock.ts";
import { expiresAtSchema } from "../core/expiry.ts";
import type { appApiKeys } from "../db/schema.ts";

export type ApiKeyRow = typeof appApiKeys.$inferSelect;

/** Wire prefix of an app API key; the rest is 256 random bits in base64url (43 characters). */
export const API_KEY_PREFIX = "hdk_live_";
/** How much of a key is kept in clear for display: the prefix and 7 random characters. */
export const KEY_PREFIX_LENGTH = 16;

/** `resource.action`, each segment lowercase and starting with a letter (e.g. `user.read`, `audit_log.list`). */
export const PERMISSION_PATTERN = /^[a-z][a-z0-9_-]{1,47}\.[a-z][a-z0-9_-]{1,47}$/;
/** Upper bound on one credential's permission list: it rides in every token and every check. */
export const MAX_PERMISSIONS = 100;

export const permissionSchema = z.string().regex(PERMISSION_PATTERN, "must be resource.action (lowercase)");

/** Permission lists are sets: duplicates are dropped, first occurrence kept, so order stays the caller's. */
export const permissionListSchema = z
  .array(permissionSchema)
  .max(MAX_PERMISSIONS, `must have at most ${MAX_PERMISSIONS} entries`)
  .transform((list) => [...new Set(list)]);

export const credentialNameSchema = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(120, "must be at most 120 characters");

export const createApiKeySchema = z.object({
  name: credentialNameSchema,
  permissions: z
    .array(permissionSchema)
    .min(1, "must have at least one entry")
    .max(MAX_PERMISSIONS, `must have at most ${MAX_PERMISSIONS} entries`)
    .transform((list) => [...new Set(list)]),
  /** Appliance addition (the contract has no expiry): after it the key is refused like a deleted one. */
  expires_at: expiresAtSchema,
});
export type CreateApiKeyInput = z.output<typeof createApiKeySchema>;

export interface ApiKeySummaryDto {
  id: string;
  name: string;
  key_prefix: string;
  permissions: string[];
  last_used_at: string | null;
  /** Appliance addition; null when the key never expires. */
  expires_at: string | null;
  created_at: string;
}

export interface CreateApiKeyResponseDto {
  id: string;
  name: string;
  key: string;
  key_prefix: string;
  permissions: string[];
  /** Appliance addition; null when the key never expires. */
  expires_at: string | null;
  created_at: string;
}

export const toApiKeySummary = (r: ApiKeyRow): ApiKeySummaryDto => ({
  id: r.id,
  name: r.name,
  key_prefix: r.keyPrefix,
  permissions: r.permissions,
  last_used_at: iso(r.lastUsedAt),
  expires_at: iso(r.expiresAt),
  created_at: iso(r.createdAt),
});
