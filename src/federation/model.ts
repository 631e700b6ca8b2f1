/** @module Federated sign-in's wire: the provider ids, each kind's config schema (public part and secret split), the DTOs and the sign-in bodies. */
import { z } from "zod";
import { fail } from "../core/errors.ts";
import type { identityProviders } from "../db/schema.ts";

/** The contract's three providers and the appliance's generic OpenID Connect one (one per app). */
export const PROVIDERS = ["apple", "google", "github", "oidc"] as const;
export type ProviderId = (typeof PROVIDERS)[number];

export const DISPLAY_NAMES: Record<ProviderId, string> = {
  apple: "Apple",
  google: "Google",
  github: "GitHub",
  oidc: "OpenID Connect",
};

export type ProviderRow = typeof identityProviders.$inferSelect;

/** 400 UNKNOWN_PROVIDER for anything but the four ids (case matters: ids are lower-case on the wire). */
export function providerId(raw: string): ProviderId {
  if ((PROVIDERS as readonly string[]).includes(raw)) return raw as ProviderId;
  throw fail("UNKNOWN_PROVIDER", { message: `Unknown provider ${raw.slice(0, 64)}` });
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** https anywhere; plain http only on loopback (a local IdP, tests). No credentials, fragment or query. */
export function isProviderUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username || url.password || url.hash || url.search) return false;
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && LOOPBACK.has(url.hostname);
}

const providerUrl = z
  .string()
  .max(2048)
  .refine(isProviderUrl, "must be an https URL (http only on localhost, 127.0.0.1 or [::1])")
  .transform((s) => s.replace(/\/+$/, "") || s);
const text = (max = 256) => z.string().trim().min(1).max(max);
const clientIds = z.array(text(512)).max(20);

/** Endpoint overrides every kind accepts: for a proxy in front of the provider, or a local IdP in tests. */
const overrides = {
  issuer: providerUrl.optional(),
  authorization_endpoint: providerUrl.optional(),
  token_endpoint: providerUrl.optional(),
  userinfo_endpoint: providerUrl.optional(),
  jwks_uri: providerUrl.optional(),
};

const appleConfig = z.strictObject({
  service_id: text(),
  bundle_ids: z.array(text()).max(20).default([]),
  team_id: z.string().regex(/^[A-Z0-9]{10}$/, "must be Apple's 10-character team id"),
  /** With the key: the redirect flow's client secret is signed with it. Both may be left out for native only. */
  key_id: z
    .string()
    .regex(/^[A-Z0-9]{10}$/, "must be Apple's 10-character key id")
    .optional(),
  /** The .p8 file's content (PKCS#8, P-256); checked to parse as an ES256 key by the service. */
  private_key_pem: z.string().max(8192).optional(),
  ...overrides,
});

const googleConfig = z.strictObject({
  client_id: text(512),
  client_secret: text(512).optional(),
  native_client_ids: clientIds.default([]),
  ...overrides,
});

const githubConfig = z.strictObject({
  client_id: text(),
  client_secret: text(512).optional(),
  api_base_url: providerUrl.optional(),
  ...overrides,
});

const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

const oidcConfig = z.strictObject({
  issuer: providerUrl,
  client_id: text(512),
  client_secret: text(512).optional(),
  scopes: z.array(z.string().regex(SCOPE, "must be a scope token")).min(1).max(30).optional(),
  display_name: text(64).optional(),
  native_client_ids: clientIds.default([]),
  authorization_endpoint: providerUrl.optional(),
  token_endpoint: providerUrl.optional(),
  userinfo_endpoint: providerUrl.optional(),
  jwks_uri: providerUrl.optional(),
});

const CONFIG_SCHEMAS = {
  apple: appleConfig,
  google: googleConfig,
  github: githubConfig,
  oidc: oidcConfig,
} as const;

/** The PUT body of one provider: its kind's config, and `enabled` (false unless sent). */
export const upsertSchemaFor = (provider: ProviderId) =>
  z.object({ config: CONFIG_SCHEMAS[provider], enabled: z.boolean().optional() });

export type UpsertProviderInput = z.output<ReturnType<typeof upsertSchemaFor>>;

/** Where each kind keeps its secret, and the flag the DTO shows instead of it. */
export const SECRET_FIELD: Record<ProviderId, { field: string; flag: string }> = {
  apple: { field: "private_key_pem", flag: "private_key_present" },
  google: { field: "client_secret", flag: "client_secret_present" },
  github: { field: "client_secret", flag: "client_secret_present" },
  oidc: { field: "client_secret", flag: "client_secret_present" },
};

/** A provider's stored config: the public part, and whether a sealed secret stands beside it. */
export interface ProviderListEntryDto {
  provider: ProviderId;
  display_name: string;
  configured: boolean;
  enabled: boolean;
  updated_at: string | null;
}

export interface ProviderDetailDto {
  provider: ProviderId;
  enabled: boolean;
  config: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

export const displayNameOf = (provider: ProviderId, row: ProviderRow | undefined): string =>
  (provider === "oidc" && typeof row?.config.display_name === "string" && row.config.display_name) ||
  DISPLAY_NAMES[provider];

export function toListEntry(provider: ProviderId, row: ProviderRow | undefined): ProviderListEntryDto {
  return {
    provider,
    display_name: displayNameOf(provider, row),
    configured: row !== undefined,
    enabled: row?.enabled ?? false,
    updated_at: row ? iso(row.updatedAt) : null,
  };
}

export function toDetailDto(row: ProviderRow): ProviderDetailDto {
  const provider = row.provider as ProviderId;
  return {
    provider,
    enabled: row.enabled,
    config: { ...row.config, [SECRET_FIELD[provider].flag]: row.secretId !== null },
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
}

// ─── Consumer bodies ───────────────────────────────────────────────────────────

export const exchangeSchema = z.object({ code: z.string().min(16).max(256) });

export const nativeSigninSchema = z.object({
  id_token: z.string().min(16).max(8192),
  nonce: z.string().min(16).max(256),
  /** Apple's first sign-in payload; display only, the verified token is the truth. */
  user: z
    .object({
      name: z.string().max(256).optional(),
      email: z.string().max(254).optional(),
    })
    .optional(),
});
export type NativeSigninInput = z.output<typeof nativeSigninSchema>;

export const linkSchema = z.object({ link_token: z.string().min(16).max(256) });

/** The callback's query or form fields; anything else the provider adds is ignored. */
export const callbackParamsSchema = z.looseObject({
  state: z.string().max(512).optional(),
  code: z.string().max(4096).optional(),
  error: z.string().max(256).optional(),
  id_token: z.string().max(8192).optional(),
  user: z.string().max(4096).optional(),
});
export type CallbackParams = z.output<typeof callbackParamsSchema>;
