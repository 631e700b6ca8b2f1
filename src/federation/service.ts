/**
 * @module Federated sign-in on the Consumer API (docs/federation.md): the redirect flow (authorize, callback,
 * exchange), the native ID-token flow, and completing a pending link. Every value handed out (state, code,
 * link token) is random and stored only as its SHA-256; the PKCE verifier and nonce of a redirect are derived
 * from its state under a server key, so nothing secret is stored either.
 */
import { createHmac, randomBytes } from "node:crypto";
import { errors as joseErrors, jwtVerify } from "jose";
import { authorizationCodeGrant, buildAuthorizationUrl, calculatePKCECodeChallenge } from "openid-client";
import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { MfaChallengeResponse } from "../auth/mfa-model.ts";
import type { MfaChecks, MfaSigninService } from "../auth/mfa-service.ts";
import type { TokenResponse } from "../auth/model.ts";
import { tokenResponse } from "../auth/model.ts";
import type { AppRef } from "../core/app-ref.ts";
import { type Clock, MINUTE, SECOND } from "../core/clock.ts";
import { sha256Hex } from "../core/crypto.ts";
import { fail, HeimdallError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Logger } from "../core/logger.ts";
import type { CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { isUniqueViolation } from "../db/query.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { RateLimiter } from "../ratelimit/limiter.ts";
import type { SessionService } from "../sessions/service.ts";
import type { TokenService } from "../tokens/service.ts";
import type { ServerSecrets } from "../vault/server-secrets.ts";
import { createFederatedAccounts, factsOf, type ProviderFacts, type SigninOutcome } from "./accounts.ts";
import { GITHUB_API, ID_TOKEN_ALGS, type ProviderClient, type ProviderClients } from "./clients.ts";
import type { ProviderConfigService, ResolvedProvider } from "./config-service.ts";
import type { CallbackParams, NativeSigninInput, ProviderId } from "./model.ts";
import { checkReturnTo, withParams } from "./return-to.ts";
import { createFederationStore, type GrantKind } from "./store.ts";

export const STATE_TTL = 10 * MINUTE;
export const CODE_TTL = 60 * SECOND;
export const LINK_TTL = 10 * MINUTE;
/** Federated sign-in attempts per client address per app and minute (authorize, native, exchange alike). */
export const FEDERATION_PER_IP = { max: 30, windowMs: MINUTE };

const GOOGLE_ISSUER = "https://accounts.google.com";

const SCOPES: Record<ProviderId, string> = {
  apple: "name email",
  google: "openid email profile",
  github: "read:user user:email",
  oidc: "openid email profile",
};

export interface FederationServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  events: Pick<EventEmitter, "emit">;
  apps: Pick<AppService, "authConfigOf">;
  providers: Pick<ProviderConfigService, "resolve">;
  clients: ProviderClients;
  secrets: Pick<ServerSecrets, "get">;
  sessions: Pick<SessionService, "create">;
  tokens: Pick<TokenService, "issueEndUser">;
  rateLimiter: Pick<RateLimiter, "consume">;
  mfa: Pick<MfaChecks, "enabledFactors">;
  mfaSignin: Pick<MfaSigninService, "challenge">;
  log: Pick<Logger, "warn">;
  /** The server's advertised URL: the callback every provider is told is `<publicUrl>/<slug>/v1/auth/oauth/<provider>/callback`. */
  publicUrl: string;
}

export interface FederationService {
  /** The provider's authorization URL to send the browser to. */
  authorize(app: AppRef, provider: ProviderId, returnTo: string | undefined, meta: CallMeta): Promise<string>;
  /** Where the browser goes next: `return_to` with `heimdall_code` or `heimdall_error`. Throws only on a bad state. */
  callback(app: AppRef, provider: ProviderId, params: CallbackParams, meta: CallMeta): Promise<string>;
  /** Tokens, or the MFA challenge (as `auth/signin` answers) when the account has a factor or must enrol one. */
  exchange(app: AppRef, code: string, meta: CallMeta): Promise<TokenResponse | MfaChallengeResponse>;
  native(
    app: AppRef,
    provider: ProviderId,
    input: NativeSigninInput,
    meta: CallMeta,
  ): Promise<TokenResponse | MfaChallengeResponse>;
  /** Attaches the identity of a `link_required` answer to the signed-in account that owns its email. */
  link(
    app: AppRef,
    userId: string,
    linkToken: string,
    meta: CallMeta,
  ): Promise<{ provider: ProviderId; linked: true }>;
  purge(): Promise<number>;
}

const opaque = () => randomBytes(32).toString("base64url");

/** The redirect's `heimdall_error` for a refusal: the code, lower-case. */
const errorParam = (err: unknown): string =>
  err instanceof HeimdallError ? err.code.toLowerCase() : "provider_unavailable";

export function createFederationService(deps: FederationServiceDeps): FederationService {
  const { db, clock, apps, providers, clients, secrets, tokens, rateLimiter, log } = deps;
  const store = createFederationStore(db);
  const accounts = createFederatedAccounts(deps);
  const publicUrl = deps.publicUrl.replace(/\/+$/, "");

  const redirectUri = (app: AppRef, provider: ProviderId) =>
    `${publicUrl}/${app.slug}/v1/auth/oauth/${provider}/callback`;
  const derive = async (label: string, state: string) =>
    createHmac("sha256", await secrets.get("oauth_flow"))
      .update(`${label}:${state}`)
      .digest("base64url");

  async function throttle(app: AppRef, meta: CallMeta): Promise<void> {
    await rateLimiter.consume([{ key: `oauth:ip:${app.id}:${meta.ip ?? "unknown"}`, ...FEDERATION_PER_IP }]);
  }

  async function signinAllowed(app: AppRef) {
    const config = await apps.authConfigOf(app.id);
    if (!config.signin_enabled) throw fail("SIGNIN_DISABLED");
    return config;
  }

  async function grant(
    app: AppRef,
    kind: GrantKind,
    provider: ProviderId,
    ttl: number,
    extra: {
      returnTo?: string;
      userId?: string;
      data?: Record<string, unknown>;
    },
  ): Promise<string> {
    const value = opaque();
    const now = clock.now();
    await store.insertGrant({
      id: newId(clock),
      appId: app.id,
      kind,
      valueHash: sha256Hex(value),
      provider,
      returnTo: extra.returnTo ?? null,
      userId: extra.userId ?? null,
      data: extra.data ?? null,
      expiresAt: now + ttl,
      consumedAt: null,
      createdAt: now,
    });
    return value;
  }

  async function answer(app: AppRef, opened: SigninOutcome) {
    if (opened.kind === "challenge") return opened.challenge;
    const s = opened.session;
    const access = await tokens.issueEndUser(
      app,
      { sub: s.userId, sid: s.id, role: opened.role, amr: s.amr, mfaAt: s.mfaAt, tenant: null },
      Math.floor(s.expiresAt / SECOND),
    );
    return tokenResponse(access, opened.refreshToken);
  }

  /**
   * The account for verified facts. `confirm` answers 409 link_required with a link token, written in its
   * own transaction first so the refusal does not roll it back.
   */
  async function resolveAccount(app: AppRef, provider: ProviderId, facts: ProviderFacts, meta: CallMeta) {
    const config = await signinAllowed(app);
    const outcome = await tx(db, async () => {
      const o = await accounts.resolve(app, provider, facts, config, meta);
      if (o.kind === "user") return { ...o, linkToken: null };
      const linkToken = await grant(app, "link", provider, LINK_TTL, {
        userId: o.userId,
        data: { ...facts },
      });
      await deps.audit.record({
        appId: app.id,
        action: "user.identity_link_requested",
        resourceType: "end_user",
        resourceId: o.userId,
        actor: { type: "system", id: null },
        details: { provider, subject: facts.subject },
        meta,
      });
      return { ...o, linkToken };
    });
    if (outcome.kind === "link_required") {
      throw fail("LINK_REQUIRED", { fields: { link_token: outcome.linkToken! } });
    }
    return { user: outcome.user, config };
  }

  /** The redirect flow needs a way to authenticate at the token endpoint: Apple's key may be left out (native only). */
  function redirectable(r: ResolvedProvider): ResolvedProvider {
    if (r.provider === "apple" && !r.hasSecret) throw fail("REDIRECT_FLOW_UNCONFIGURED");
    return r;
  }

  async function githubFacts(r: ResolvedProvider, accessToken: string): Promise<ProviderFacts> {
    const base = String(r.config.api_base_url ?? GITHUB_API).replace(/\/+$/, "");
    const get = async (path: string) => {
      const res = await fetch(`${base}${path}`, {
        headers: {
          authorization: `Bearer ${accessToken}`,
          accept: "application/vnd.github+json",
          "user-agent": "heimdall",
          "x-github-api-version": "2022-11-28",
        },
        signal: AbortSignal.timeout(10 * SECOND),
      });
      if (!res.ok) throw fail("PROVIDER_UNAVAILABLE");
      return res.json() as Promise<unknown>;
    };
    const user = (await get("/user")) as { id?: unknown; login?: unknown; name?: unknown };
    if (typeof user.id !== "number" && typeof user.id !== "string") throw fail("PROVIDER_UNAVAILABLE");
    const emails = (await get("/user/emails")) as {
      email?: unknown;
      primary?: unknown;
      verified?: unknown;
    }[];
    const primary = Array.isArray(emails)
      ? emails.find((e) => e.primary === true && e.verified === true)
      : undefined;
    return factsOf(
      { sub: String(user.id), email: primary?.email, email_verified: primary !== undefined, name: user.name },
      typeof user.login === "string" ? user.login : null,
    );
  }

  /** The code → tokens step of the callback, with openid-client's checks; the facts it proves. */
  async function codeFacts(
    app: AppRef,
    r: ResolvedProvider,
    client: ProviderClient,
    state: string,
    params: CallbackParams,
  ): Promise<ProviderFacts> {
    const current = new URL(redirectUri(app, r.provider));
    for (const [k, v] of Object.entries(params)) if (typeof v === "string") current.searchParams.set(k, v);
    const oidc = r.provider !== "github";
    let result: Awaited<ReturnType<typeof authorizationCodeGrant>>;
    try {
      result = await authorizationCodeGrant(client.config, current, {
        pkceCodeVerifier: await derive("pkce", state),
        expectedState: state,
        ...(oidc ? { expectedNonce: await derive("nonce", state), idTokenExpected: true } : {}),
      });
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err instanceof Error ? err.name : "unknown");
      log.warn("federated sign-in: the code exchange or ID token check failed", {
        app_id: app.id,
        provider: r.provider,
        reason: code,
      });
      // A token endpoint that refused or could not be reached is the provider's failure; a token that
      // fails a check (issuer, audience, nonce, signature, expiry) is the token's.
      if (
        code === "OAUTH_RESPONSE_BODY_ERROR" ||
        err instanceof TypeError ||
        code === "OAUTH_RESPONSE_IS_NOT_CONFORM"
      ) {
        throw fail("PROVIDER_UNAVAILABLE");
      }
      throw fail("ID_TOKEN_INVALID");
    }
    if (!oidc) return githubFacts(r, result.access_token);
    const claims = result.claims() as Record<string, unknown> | undefined;
    if (!claims?.sub) throw fail("ID_TOKEN_INVALID");
    return factsOf(claims);
  }

  return {
    async authorize(app, provider, returnTo, meta) {
      await throttle(app, meta);
      const config = await signinAllowed(app);
      const r = redirectable(await providers.resolve(app.id, provider));
      const target = checkReturnTo(returnTo, config.allowed_redirect_origins);
      const client = await clients.client(r);
      const state = await tx(
        db,
        async () => await grant(app, "state", provider, STATE_TTL, { returnTo: target.href }),
      );
      const scopes = Array.isArray(r.config.scopes)
        ? (r.config.scopes as string[]).join(" ")
        : SCOPES[provider];
      const params: Record<string, string> = {
        redirect_uri: redirectUri(app, provider),
        response_type: "code",
        scope: scopes,
        state,
        code_challenge: await calculatePKCECodeChallenge(await derive("pkce", state)),
        code_challenge_method: "S256",
      };
      if (provider !== "github") params.nonce = await derive("nonce", state);
      if (provider === "apple") params.response_mode = "form_post";
      return buildAuthorizationUrl(client.config, params).href;
    },

    async callback(app, provider, params, meta) {
      await throttle(app, meta);
      const state = params.state ?? "";
      const row = state ? await store.grant("state", sha256Hex(state)) : undefined;
      // Unknown, another app's or provider's, used or expired: the return_to is not trusted, so no redirect.
      if (!row || row.appId !== app.id || row.provider !== provider || !row.returnTo)
        throw fail("OAUTH_STATE_INVALID");
      if (!(await tx(db, async () => await store.consumeGrant(row.id, clock.now()))))
        throw fail("OAUTH_STATE_INVALID");
      const returnTo = row.returnTo;
      if (params.error) {
        const code = /^[a-z_]{1,64}$/.test(params.error) ? params.error : "provider_error";
        return withParams(returnTo, { heimdall_error: code });
      }
      if (!params.code) return withParams(returnTo, { heimdall_error: "invalid_request" });
      try {
        const r = redirectable(await providers.resolve(app.id, provider));
        const facts = await codeFacts(app, r, await clients.client(r), state, params);
        const { user } = await resolveAccount(app, provider, facts, meta);
        const code = await tx(
          db,
          async () => await grant(app, "code", provider, CODE_TTL, { userId: user.id }),
        );
        return withParams(returnTo, { heimdall_code: code });
      } catch (err) {
        if (!(err instanceof HeimdallError)) {
          // The provider's API failed in a way no check names (a reset connection, a malformed answer).
          log.warn("federated sign-in: the callback failed", {
            app_id: app.id,
            provider,
            reason: err instanceof Error ? err.name : "unknown",
          });
          return withParams(returnTo, { heimdall_error: "provider_unavailable" });
        }
        const extra: Record<string, string> = err.fields?.link_token
          ? { heimdall_link: err.fields.link_token }
          : {};
        return withParams(returnTo, { heimdall_error: errorParam(err), ...extra });
      }
    },

    async exchange(app, code, meta) {
      await throttle(app, meta);
      const row = await store.grant("code", sha256Hex(code));
      if (!row) throw fail("OAUTH_CODE_INVALID");
      if (row.appId !== app.id) throw fail("OAUTH_CODE_OTHER_APP");
      const config = await signinAllowed(app);
      const opened = await tx(db, async () => {
        if (!(await store.consumeGrant(row.id, clock.now())) || !row.userId) throw fail("OAUTH_CODE_INVALID");
        return await accounts.signIn(app, row.userId, row.provider as ProviderId, config, meta);
      });
      return answer(app, opened);
    },

    async native(app, provider, input, meta) {
      if (provider === "github") throw fail("NATIVE_FLOW_UNSUPPORTED");
      await throttle(app, meta);
      await signinAllowed(app);
      const r = await providers.resolve(app.id, provider);
      const client = await clients.client(r);
      const meta_ = client.config.serverMetadata();
      if (!client.jwks) throw fail("PROVIDER_UNAVAILABLE");
      const audience =
        provider === "apple"
          ? [...((r.config.bundle_ids as string[]) ?? []), String(r.config.service_id)]
          : [String(r.config.client_id), ...((r.config.native_client_ids as string[]) ?? [])];
      let claims: Record<string, unknown>;
      try {
        ({ payload: claims } = await jwtVerify(input.id_token, client.jwks, {
          // Google's tokens carry either spelling of its issuer (its documentation says so).
          issuer: meta_.issuer === GOOGLE_ISSUER ? [GOOGLE_ISSUER, "accounts.google.com"] : meta_.issuer,
          audience,
          algorithms: ID_TOKEN_ALGS,
          currentDate: new Date(clock.now()),
          requiredClaims: ["sub", "exp", "iat"],
        }));
      } catch (err) {
        if (err instanceof joseErrors.JWKSTimeout || (err as { code?: string }).code === "ERR_JOSE_GENERIC") {
          throw fail("PROVIDER_UNAVAILABLE");
        }
        throw fail("ID_TOKEN_INVALID");
      }
      // The token carries the SHA-256 of the raw nonce (Apple: hex; some SDKs base64url); Google and generic
      // providers may carry the raw value itself.
      const raw = input.nonce;
      const accepted = [sha256Hex(raw), Buffer.from(sha256Hex(raw), "hex").toString("base64url")];
      if (provider !== "apple") accepted.push(raw);
      if (typeof claims.nonce !== "string" || !accepted.includes(claims.nonce)) throw fail("NONCE_MISMATCH");
      const exp = typeof claims.exp === "number" ? claims.exp * SECOND : clock.now() + STATE_TTL;
      await tx(db, async () => {
        if (await store.grant("nonce", sha256Hex(raw))) throw fail("NONCE_REPLAYED");
        try {
          await grantNonce(app, provider, raw, Math.max(exp, clock.now() + STATE_TTL));
        } catch (err) {
          // The same nonce recorded by a concurrent sign-in (another instance) since the check: the index decides.
          const index = {
            sqlite: "oauth_grants.kind, oauth_grants.value_hash",
            postgres: "oauth_grants_value",
          };
          if (isUniqueViolation(err, index)) throw fail("NONCE_REPLAYED");
          throw err;
        }
      });
      const facts = factsOf(claims);
      if (!facts.name && input.user?.name) facts.name = input.user.name.slice(0, 128);
      const { user, config } = await resolveAccount(app, provider, facts, meta);
      const opened = await tx(db, async () => await accounts.signIn(app, user.id, provider, config, meta));
      return answer(app, opened);
    },

    async link(app, userId, linkToken, meta) {
      return await tx(db, async () => {
        const row = await store.grant("link", sha256Hex(linkToken));
        if (!row || row.appId !== app.id || !row.userId || !row.data) throw fail("LINK_TOKEN_INVALID");
        if (row.consumedAt !== null || row.expiresAt <= clock.now()) throw fail("LINK_TOKEN_INVALID");
        // The token names the account that holds the email; only that account's holder completes it.
        if (row.userId !== userId) throw fail("LINK_EMAIL_MISMATCH");
        // The read above may be stale with several writers: the conditional update is the single use.
        if (!(await store.consumeGrant(row.id, clock.now()))) throw fail("LINK_TOKEN_INVALID");
        const provider = row.provider as ProviderId;
        await accounts.link(app, userId, provider, row.data as unknown as ProviderFacts, meta);
        return { provider, linked: true as const };
      });
    },

    async purge() {
      return await store.purgeGrants(clock.now() - MINUTE);
    },
  };

  /** A native sign-in's nonce, kept (hashed) until its token would have expired anyway. */
  async function grantNonce(app: AppRef, provider: ProviderId, raw: string, until: number) {
    const now = clock.now();
    await store.insertGrant({
      id: newId(clock),
      appId: app.id,
      kind: "nonce",
      valueHash: sha256Hex(raw),
      provider,
      returnTo: null,
      userId: null,
      data: null,
      expiresAt: until,
      consumedAt: now,
      createdAt: now,
    });
  }
}
