/** @module Per-app auth config: the defaults, the PATCH schema with the spec's bounds, and the stored-to-wire merge. */
import { z } from "zod";
import { SIGNING_ALGS, type SigningAlg } from "../keys/material.ts";

export type OAuthLinkPolicy = "auto" | "confirm" | "reject";

export interface AuthConfig {
  signup_enabled: boolean;
  signin_enabled: boolean;
  signup_allowed_email_domains: string[];
  signup_default_role: string;
  session_duration_minutes: number;
  max_failed_login_attempts: number;
  password_min_length: number;
  password_require_uppercase: boolean;
  password_require_number: boolean;
  password_require_symbol: boolean;
  max_sessions: number;
  enforce_app_permissions: boolean;
  oauth_link_policy: OAuthLinkPolicy;
  allowed_redirect_origins: string[];
  /** Appliance field: when true, Consumer signup needs a PAK allowed `heimdall.signup.create`. */
  signup_requires_pak: boolean;
  /** Appliance field: every account must sign in with a second factor (one without enrols at sign-in). */
  mfa_required: boolean;
  /** Appliance field: accounts holding one of these roles must, as with `mfa_required`. */
  mfa_required_roles: string[];
  /**
   * Appliance field: the JWS algorithm of the app's access tokens. A change publishes a key of the new
   * algorithm as the next key; it signs once every verifier cache can hold it (docs/operations.md).
   */
  signing_alg: SigningAlg;
}

export const AUTH_CONFIG_DEFAULTS: Readonly<AuthConfig> = Object.freeze({
  signup_enabled: true,
  signin_enabled: true,
  signup_allowed_email_domains: [],
  signup_default_role: "member",
  session_duration_minutes: 10080,
  max_failed_login_attempts: 5,
  password_min_length: 12,
  password_require_uppercase: false,
  password_require_number: false,
  password_require_symbol: false,
  max_sessions: 5,
  // Secure by default, unlike the hosted API (docs/decisions.md, "Admin lane secure by default").
  enforce_app_permissions: true,
  oauth_link_policy: "confirm",
  allowed_redirect_origins: [],
  signup_requires_pak: false,
  mfa_required: false,
  mfa_required_roles: [],
  // The hosted API signs RS256; ES256 and EdDSA sign an order of magnitude faster (docs/decisions.md).
  signing_alg: "RS256",
});

export const AUTH_CONFIG_FIELDS = Object.keys(AUTH_CONFIG_DEFAULTS) as (keyof AuthConfig)[];

/** Enough for any real allowlist; bounded so one config row cannot grow without limit. */
const MAX_LIST = 100;

const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A DNS name with at least two labels and a non-numeric TLD (so IP literals are refused); IDNs in punycode. */
export function isEmailDomain(value: string): boolean {
  if (value.length > 253) return false;
  const labels = value.split(".");
  if (labels.length < 2 || !labels.every((l) => HOST_LABEL.test(l))) return false;
  return !/^\d+$/.test(labels.at(-1)!);
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Normalises an origin (`scheme://host[:port]`) or returns null. Browsers send exactly this in
 * `Origin`, so anything more (path, query, fragment, credentials, wildcard) cannot be matched
 * exactly and is refused instead of silently truncated. One trailing `/` is tolerated.
 */
export function normalizeOrigin(value: string): string | null {
  if (value.includes("*") || !/^[a-z][a-z0-9+.-]*:\/\/[^/?#\s\\]+\/?$/i.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.username || url.password || url.pathname !== "/") return null;
  if (url.protocol === "https:") return url.origin;
  // Plain http is only safe where the traffic never leaves the machine.
  if (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname)) return url.origin;
  return null;
}

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** Normalised entries can collide (`Acme.com`, `acme.com`); keep the first of each. */
const unique = (items: string[]) => [...new Set(items)];

export const authConfigPatchSchema = z.object({
  signup_enabled: z.boolean().optional(),
  signin_enabled: z.boolean().optional(),
  signup_allowed_email_domains: z
    .array(
      z
        .string()
        .transform((s) => s.trim().toLowerCase())
        .refine(isEmailDomain, "must be a domain name such as example.com"),
    )
    .max(MAX_LIST)
    .transform(unique)
    .optional(),
  signup_default_role: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{1,47}$/, "must be a role slug: 2-48 of a-z, 0-9, _ or -, starting with a letter")
    .optional(),
  session_duration_minutes: int(1, 43200).optional(),
  max_failed_login_attempts: int(1, 100).optional(),
  password_min_length: int(8, 128).optional(),
  password_require_uppercase: z.boolean().optional(),
  password_require_number: z.boolean().optional(),
  password_require_symbol: z.boolean().optional(),
  max_sessions: int(1, 50).optional(),
  enforce_app_permissions: z.boolean().optional(),
  oauth_link_policy: z.enum(["auto", "confirm", "reject"]).optional(),
  allowed_redirect_origins: z
    .array(
      z.string().transform((s, ctx) => {
        const origin = normalizeOrigin(s.trim());
        if (origin === null) {
          ctx.addIssue({
            code: "custom",
            message:
              "must be an exact origin (https://host[:port], or http on localhost) without path, query or wildcard",
          });
          return z.NEVER;
        }
        return origin;
      }),
    )
    .max(MAX_LIST)
    .transform(unique)
    .optional(),
  signup_requires_pak: z.boolean().optional(),
  mfa_required: z.boolean().optional(),
  mfa_required_roles: z
    .array(z.string().regex(/^[a-z][a-z0-9_-]{1,47}$/, "must be a role slug"))
    .max(MAX_LIST)
    .transform(unique)
    .optional(),
  signing_alg: z.enum(SIGNING_ALGS).optional(),
});

export type AuthConfigPatch = z.output<typeof authConfigPatchSchema>;

/**
 * Kept in the stored JSON beside the fields, never on the wire: the operator set `enforce_app_permissions`
 * through the Admin API. Every config row used to be written whole with the then-default `false`, so a
 * stored `false` alone does not say anyone chose it; only one carrying this mark turns the admin lane off.
 */
export const ENFORCEMENT_CHOSEN = "enforce_app_permissions_chosen";

/** A row from before the secure default: `false` that no operator chose. It reads as enforced. */
export function isUnchosenOptOut(stored: Record<string, unknown> | null | undefined): boolean {
  return stored?.enforce_app_permissions === false && stored[ENFORCEMENT_CHOSEN] !== true;
}

/** Stored JSON → full config: fields added after a row was written take their defaults; unknown keys drop. */
export function resolveAuthConfig(stored: Record<string, unknown> | null | undefined): AuthConfig {
  const out = { ...AUTH_CONFIG_DEFAULTS } as Record<string, unknown>;
  for (const k of AUTH_CONFIG_FIELDS) if (stored && Object.hasOwn(stored, k)) out[k] = stored[k];
  if (isUnchosenOptOut(stored)) out.enforce_app_permissions = true;
  return out as unknown as AuthConfig;
}

/** Config → stored JSON; `chosen` records that the operator set `enforce_app_permissions` explicitly. */
export function storedAuthConfig(config: AuthConfig, chosen: boolean): Record<string, unknown> {
  return chosen ? { ...config, [ENFORCEMENT_CHOSEN]: true } : { ...config };
}

/** Applies a patch; returns the new config and the names of the fields whose value actually changed. */
export function applyAuthConfigPatch(
  current: AuthConfig,
  patch: AuthConfigPatch,
): { next: AuthConfig; changed: string[] } {
  const next = { ...current } as Record<string, unknown>;
  const changed: string[] = [];
  for (const k of AUTH_CONFIG_FIELDS) {
    const v = patch[k];
    if (v === undefined) continue;
    if (JSON.stringify(v) !== JSON.stringify(current[k])) changed.push(k);
    next[k] = v;
  }
  return { next: next as unknown as AuthConfig, changed };
}
