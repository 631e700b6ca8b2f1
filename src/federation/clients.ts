/**
 * @module Reaching a provider: the openid-client `Configuration` of an (app, provider) — discovered for `oidc`
 * (and for Google/Apple whose issuer is overridden), built from the well-known endpoints otherwise — and the
 * provider's remote JWKS for the native flow. Both are cached per app and provider for an hour and dropped
 * when the config changes. Nothing here runs until a configured provider is used.
 */
import { createRemoteJWKSet, importPKCS8, type JWTVerifyGetKey, SignJWT } from "jose";
import {
  allowInsecureRequests,
  ClientSecretPost,
  Configuration,
  clockSkew,
  discovery,
  enableNonRepudiationChecks,
  type ServerMetadata,
} from "openid-client";
import { type Clock, HOUR, SECOND } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { ResolvedProvider } from "./config-service.ts";
import type { ProviderId } from "./model.ts";

/**
 * The ID token signatures accepted, from the token endpoint and in the native flow: every asymmetric JWS
 * algorithm (the key itself comes from the provider's JWKS and must fit the algorithm); never `none` or HMAC.
 */
export const ID_TOKEN_ALGS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];

/** How long discovered metadata is trusted before it is fetched again. */
export const METADATA_TTL = HOUR;

/** Each built-in provider's documented endpoints; every one may be overridden in its config. */
const WELL_KNOWN: Record<Exclude<ProviderId, "oidc">, ServerMetadata> = {
  google: {
    issuer: "https://accounts.google.com",
    authorization_endpoint: "https://accounts.google.com/o/oauth2/v2/auth",
    token_endpoint: "https://oauth2.googleapis.com/token",
    userinfo_endpoint: "https://openidconnect.googleapis.com/v1/userinfo",
    jwks_uri: "https://www.googleapis.com/oauth2/v3/certs",
  },
  apple: {
    issuer: "https://appleid.apple.com",
    authorization_endpoint: "https://appleid.apple.com/auth/authorize",
    token_endpoint: "https://appleid.apple.com/auth/token",
    jwks_uri: "https://appleid.apple.com/auth/keys",
  },
  github: {
    issuer: "https://github.com",
    authorization_endpoint: "https://github.com/login/oauth/authorize",
    token_endpoint: "https://github.com/login/oauth/access_token",
  },
};

export const GITHUB_API = "https://api.github.com";

const ENDPOINTS = ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"] as const;

/** Apple's client secret is an ES256 JWT signed with the team's key; Apple accepts up to six months. */
const APPLE_SECRET_TTL = 2 * HOUR;

export interface ProviderClient {
  readonly config: Configuration;
  /** The client id the provider knows this app by (Apple's web flow: the service id). */
  readonly clientId: string;
  /** The provider's signing keys (fetched on first use, refreshed by jose when an unknown `kid` shows up). */
  readonly jwks: JWTVerifyGetKey | null;
}

export interface ProviderClients {
  client(resolved: ResolvedProvider): Promise<ProviderClient>;
  forget(appId: string, provider: string): void;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

export function createProviderClients(deps: { clock: Clock; log: Pick<Logger, "warn"> }): ProviderClients {
  const { clock, log } = deps;
  const cache = new Map<string, { version: number; until: number; client: Promise<ProviderClient> }>();

  async function appleSecret(r: ResolvedProvider, pem: string, audience: string): Promise<string> {
    const key = await importPKCS8(pem, "ES256");
    const now = Math.floor(clock.now() / SECOND);
    return new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: String(r.config.key_id) })
      .setIssuer(String(r.config.team_id))
      .setSubject(String(r.config.service_id))
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + APPLE_SECRET_TTL / SECOND)
      .sign(key);
  }

  async function build(r: ResolvedProvider): Promise<ProviderClient> {
    const c = r.config;
    const clientId = r.provider === "apple" ? String(c.service_id) : String(c.client_id);
    const overrides: Record<string, string> = {};
    for (const e of ENDPOINTS) {
      const v = str(c[e]);
      if (v) overrides[e] = v;
    }
    const issuer = str(c.issuer);
    const insecure = [issuer, ...Object.values(overrides)].some((u) => u?.startsWith("http:"));

    let metadata: ServerMetadata;
    // The generic kind always discovers; Google or Apple pointed at another issuer discover it unless every
    // endpoint the flows need is given.
    const discover =
      r.provider === "oidc" ||
      (issuer !== undefined &&
        r.provider !== "github" &&
        !(overrides.authorization_endpoint && overrides.token_endpoint));
    if (discover && issuer) {
      const found = await discovery(new URL(issuer), clientId, undefined, undefined, {
        ...(insecure ? { execute: [allowInsecureRequests] } : {}),
        ...(r.provider === "oidc" ? {} : { algorithm: "oidc" as const }),
      });
      metadata = { ...found.serverMetadata(), ...overrides };
    } else {
      const base = WELL_KNOWN[r.provider as Exclude<ProviderId, "oidc">];
      metadata = { ...base, ...(issuer ? { issuer } : {}), ...overrides };
    }
    // Without `id_token_signing_alg_values_supported` (the hand-built metadata of Google and Apple, or a
    // discovery document that leaves it out) openid-client would accept RS256 ID tokens only, whatever the
    // provider's JWKS holds (a proxy or a local IdP signing with ES256).
    metadata = {
      ...metadata,
      id_token_signing_alg_values_supported: metadata.id_token_signing_alg_values_supported ?? ID_TOKEN_ALGS,
    };
    // Apple's key signs the redirect flow's client secret; a native-only config has none (and needs none).
    const opened = await r.secret();
    const secret =
      r.provider === "apple"
        ? opened
          ? await appleSecret(r, opened, WELL_KNOWN.apple.issuer)
          : undefined
        : (opened ?? undefined);
    // Heimdall's clock is the one that decides whether an ID token has expired (0 in production).
    const skew = Math.round((clock.now() - Date.now()) / SECOND);
    const config = new Configuration(metadata, clientId, { [clockSkew]: skew }, ClientSecretPost(secret));
    if (insecure) allowInsecureRequests(config);
    // An ID token from the token endpoint is verified against the provider's JWKS too, not only trusted for
    // having come over TLS: a provider that issues ID tokens without publishing keys is not usable.
    if (r.provider !== "github") {
      if (!metadata.jwks_uri) throw new Error(`${r.provider}: the provider publishes no jwks_uri`);
      enableNonRepudiationChecks(config);
    }
    const jwks = metadata.jwks_uri ? createRemoteJWKSet(new URL(metadata.jwks_uri)) : null;
    return { config, clientId, jwks };
  }

  return {
    async client(r) {
      const key = `${r.appId}:${r.provider}`;
      const hit = cache.get(key);
      if (hit && hit.version === r.version && hit.until > clock.now()) return hit.client;
      const client = build(r).catch((err: unknown) => {
        cache.delete(key);
        log.warn("federated sign-in: the provider's metadata could not be loaded", {
          app_id: r.appId,
          provider: r.provider,
          reason: err instanceof Error ? ((err as { code?: string }).code ?? err.name) : "unknown",
        });
        throw fail("PROVIDER_UNAVAILABLE");
      });
      cache.set(key, { version: r.version, until: clock.now() + METADATA_TTL, client });
      return client;
    },
    forget(appId, provider) {
      cache.delete(`${appId}:${provider}`);
    },
  };
}
