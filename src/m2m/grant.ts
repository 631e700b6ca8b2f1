/**
 * @module The OAuth 2.0 token endpoint's rules (RFC 6749 §2.3.1, §4.4, §5): client authentication by
 * `client_secret_basic` or `client_secret_post`, the client_credentials grant, scope narrowing, RFC errors.
 */

import type { AuditWriter } from "../audit/writer.ts";
import type { AppRef } from "../core/app-ref.ts";
import { type Clock, MINUTE } from "../core/clock.ts";
import { constantTimeEqual, sha256Hex } from "../core/crypto.ts";
import { HeimdallError, OAuthError } from "../core/errors.ts";
import type { AuditActor, CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { RateLimiter } from "../ratelimit/limiter.ts";
import type { TokenService } from "../tokens/service.ts";
import { type ClientLookup, createM2mStore } from "./store.ts";

export const GRANT_TYPE = "client_credentials";

/** How often a client's `last_used_at` is written; every issuance is audited regardless. */
export const CLIENT_USE_DEBOUNCE_MS = MINUTE;

/**
 * Failed client authentications allowed per window. The IP limit refuses everything from that address
 * once spent; the per-client limit only refuses further *failures*, so a party that merely knows a
 * client_id (it is in every token's `sub`) cannot lock the real client out.
 */
export const FAILED_AUTH_LIMITS = {
  perIp: { max: 30, windowMs: 5 * MINUTE },
  perClient: { max: 10, windowMs: 5 * MINUTE },
} as const;

export interface TokenRequest {
  /** The `Authorization` header, if any. */
  authorization: string | null;
  /** The parsed body: a form or JSON object, or undefined when there was none. */
  body: unknown;
}

export interface OAuthTokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope: string;
}

/** Which endpoint a client authenticated at; written into failure rows other than the token endpoint's. */
export type ClientAuthEndpoint = "token" | "introspection";

export interface AuthenticatedClient {
  clientId: string;
  method: AuthMethod;
}

export interface M2mGrant {
  /** Runs the client_credentials grant for `app`; throws `OAuthError` with the RFC 6749 §5.2 code. */
  token(app: AppRef, req: TokenRequest, meta: CallMeta): Promise<OAuthTokenResponse>;
  /**
   * The token endpoint's client authentication, for another endpoint that takes the same credentials
   * (RFC 7662 introspection): the same methods, failure limits and audit rows; an active client of `app`
   * or a thrown `OAuthError` (401 `invalid_client` with a Basic challenge, 429 past the limits).
   */
  authenticateClient(
    app: AppRef,
    req: TokenRequest,
    meta: CallMeta,
    endpoint: ClientAuthEndpoint,
  ): Promise<AuthenticatedClient>;
}

export interface M2mGrantDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  tokens: Pick<TokenService, "issueM2m">;
  rateLimiter: RateLimiter;
}

export type AuthMethod = "client_secret_basic" | "client_secret_post";

interface ClientCredentials {
  method: AuthMethod;
  clientId: string;
  secret: string;
}

const invalidRequest = (description: string) => new OAuthError(400, "invalid_request", description);

/** Compared against when the client is unknown, so that answer costs what a wrong secret costs. */
const DUMMY_HASH = sha256Hex("heimdall:no-such-client");

/** `application/x-www-form-urlencoded` decoding of one Basic credential part (RFC 6749 §2.3.1). */
function formDecode(part: string): string | null {
  try {
    return decodeURIComponent(part.replace(/\+/g, " "));
  } catch {
    return null;
  }
}

/** The Basic credentials of the header; `undefined` when the header is absent or another scheme, null when malformed. */
function basicCredentials(header: string | null): { clientId: string; secret: string } | null | undefined {
  if (header === null) return undefined;
  const m = /^Basic(?:[ ]+(\S*))?\s*$/i.exec(header.trim());
  if (!m) return undefined;
  const encoded = m[1] ?? "";
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return null;
  const decoded = Buffer.from(encoded, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return null;
  const clientId = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (clientId === null || secret === null || clientId === "" || secret === "") return null;
  return { clientId, secret };
}

/** The four parameters as strings; a parameter sent empty counts as absent (RFC 6749 §3.2). */
function bodyParams(
  body: unknown,
): Record<"grant_type" | "client_id" | "client_secret" | "scope", string | undefined> {
  if (body === undefined) body = {};
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalidRequest("The request body must be a form or a JSON object");
  }
  const b = body as Record<string, unknown>;
  const param = (name: string): string | undefined => {
    const v = b[name];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string") throw invalidRequest(`Parameter ${name} must be a string`);
    return v;
  };
  return {
    grant_type: param("grant_type"),
    client_id: param("client_id"),
    client_secret: param("client_secret"),
    scope: param("scope"),
  };
}

/**
 * The first `resource` or `audience` parameter (RFC 8707 §2; `audience` is the name several client
 * libraries use) that names another audience than the app's own: every token carries `aud` = the app's
 * slug and nothing else, so that is the only target Heimdall can honour. Undefined when there is none.
 */
function requestedTarget(body: unknown, app: AppRef): { param: string; value: string } | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const b = body as Record<string, unknown>;
  for (const param of ["resource", "audience"]) {
    const v = b[param];
    if (v === undefined || v === null || v === "") continue;
    if (typeof v !== "string") throw invalidRequest(`Parameter ${param} must be a string`);
    if (v !== app.slug) return { param, value: v };
  }
  return undefined;
}

export function createM2mGrant({ db, clock, audit, tokens, rateLimiter }: M2mGrantDeps): M2mGrant {
  const store = createM2mStore(db);

  const ipLimit = (appId: string, ip: string) => ({
    key: `oauth-token:ip:${appId}:${ip}`,
    ...FAILED_AUTH_LIMITS.perIp,
  });
  const clientLimit = (appId: string, id: string) => ({
    key: `oauth-token:client:${appId}:${id}`,
    ...FAILED_AUTH_LIMITS.perClient,
  });

  const tooMany = (err: HeimdallError) =>
    new OAuthError(429, "temporarily_unavailable", "Too many failed client authentications; retry later", {
      ...err.headers,
    });

  const failureRow = async (
    app: AppRef,
    reason: string,
    creds: ClientCredentials,
    client: ClientLookup | null,
    meta: CallMeta,
    extra: Record<string, unknown> = {},
  ) => {
    const actor: AuditActor = { type: "m2m", id: client?.clientId ?? null };
    await audit.record({
      appId: app.id,
      action: "m2m.token_failed",
      resourceType: "m2m_client",
      resourceId: client?.id ?? null,
      actor,
      details: { reason, client_id: creds.clientId.slice(0, 128), auth_method: creds.method, ...extra },
      meta,
    });
  };

  /**
   * A failed authentication: counted against the address and (for a real client of this app) the
   * client; audited while under the limits. Past them the answer is 429 and nothing more is written.
   */
  const authFailed = async (
    app: AppRef,
    creds: ClientCredentials,
    client: ClientLookup | null,
    meta: CallMeta,
    reason: string | undefined,
    where: Record<string, unknown>,
  ): Promise<never> => {
    const limits = [];
    if (meta.ip) limits.push(ipLimit(app.id, meta.ip));
    if (client) limits.push(clientLimit(app.id, client.id));
    try {
      await rateLimiter.consume(limits);
    } catch (err) {
      if (err instanceof HeimdallError && err.status === 429) throw tooMany(err);
      throw err;
    }
    await tx(
      db,
      async () =>
        await failureRow(
          app,
          reason ?? (client ? "invalid_secret" : "unknown_client"),
          creds,
          client,
          meta,
          where,
        ),
    );
    throw new OAuthError(401, "invalid_client", "Client authentication failed", {
      "www-authenticate": `Basic realm="${app.slug}"`,
    });
  };

  /** Which client is calling and how, refusing a request that uses both methods or neither. */
  function credentialsOf(
    app: AppRef,
    req: TokenRequest,
    params: ReturnType<typeof bodyParams>,
  ): ClientCredentials {
    const basic = basicCredentials(req.authorization);
    if (basic === null) {
      throw new OAuthError(401, "invalid_client", "Malformed Basic client credentials", {
        "www-authenticate": `Basic realm="${app.slug}"`,
      });
    }
    if (basic) {
      if (params.client_secret !== undefined) {
        throw invalidRequest("Use one client authentication method, not both Basic and client_secret");
      }
      if (params.client_id !== undefined && params.client_id !== basic.clientId) {
        throw invalidRequest("client_id in the body does not match the Basic credentials");
      }
      return { method: "client_secret_basic", ...basic };
    }
    if (params.client_id === undefined || params.client_secret === undefined) {
      throw new OAuthError(401, "invalid_client", "Client authentication is required", {
        "www-authenticate": `Basic realm="${app.slug}"`,
      });
    }
    return { method: "client_secret_post", clientId: params.client_id, secret: params.client_secret };
  }

  /**
   * The client behind `creds`, if it is one of `app` and the secret (current, or previous within its grace
   * window) matches; otherwise counted, audited and refused. Whether the client is active is the caller's.
   */
  const authenticate = async (
    app: AppRef,
    creds: ClientCredentials,
    meta: CallMeta,
    endpoint: ClientAuthEndpoint,
  ): Promise<{ client: ClientLookup; secretUsed: "current" | "previous" }> => {
    // Token-endpoint rows stay as they always were; another endpoint says which it was.
    const where = endpoint === "token" ? {} : { endpoint };
    if (meta.ip) {
      // Spent once the address has used up its allowance of failures (the next one would be refused).
      const s = await rateLimiter.peek(ipLimit(app.id, meta.ip));
      if (s.remaining === 0) {
        throw new OAuthError(
          429,
          "temporarily_unavailable",
          "Too many failed client authentications; retry later",
          {
            "retry-after": String(s.resetSeconds),
            "ratelimit-limit": String(s.limit),
            "ratelimit-remaining": "0",
            "ratelimit-reset": String(s.resetSeconds),
          },
        );
      }
    }

    const found = creds.clientId.length <= 128 ? await store.lookup(creds.clientId) : null;
    // Another app's client is as unknown here as a client that does not exist.
    const client = found && found.appId === app.id ? found : null;
    const hash = sha256Hex(creds.secret);
    // Both hashes are always compared, so the answer costs the same whether a grace window is open.
    const currentOk = constantTimeEqual(client?.secretHash ?? DUMMY_HASH, hash);
    const previousMatch = constantTimeEqual(client?.prevSecretHash ?? DUMMY_HASH, hash);
    const previousLive = client?.prevSecretExpiresAt != null && client.prevSecretExpiresAt > clock.now();
    const secretUsed = currentOk ? "current" : previousMatch && previousLive ? "previous" : null;
    if (!client || secretUsed === null) {
      const reason = client && previousMatch && client.prevSecretHash ? "previous_secret_expired" : undefined;
      return await authFailed(app, creds, client, meta, reason, where);
    }
    return { client, secretUsed };
  };

  return {
    async token(app, req, meta) {
      const params = bodyParams(req.body);
      const creds = credentialsOf(app, req, params);
      if (params.grant_type === undefined) throw invalidRequest("grant_type is required");
      if (params.grant_type !== GRANT_TYPE) {
        throw new OAuthError(400, "unsupported_grant_type", `Only ${GRANT_TYPE} is supported`);
      }

      const { client, secretUsed } = await authenticate(app, creds, meta, "token");

      if (!client.isActive) {
        await tx(db, async () => await failureRow(app, "client_inactive", creds, client, meta));
        throw new OAuthError(400, "unauthorized_client", "This client is deactivated");
      }

      const allowed: string[] = JSON.parse(client.scopes);
      let granted = allowed;
      if (params.scope !== undefined) {
        const requested = [...new Set(params.scope.split(" ").filter(Boolean))];
        const unknown = requested.filter((s) => !allowed.includes(s));
        if (unknown.length > 0) {
          await tx(
            db,
            async () =>
              await failureRow(app, "invalid_scope", creds, client, meta, { scopes: unknown.slice(0, 20) }),
          );
          throw new OAuthError(400, "invalid_scope", "The requested scope exceeds the client's scopes");
        }
        granted = requested;
      }

      // RFC 8707 §2: a target the token will not be valid for is refused, not silently ignored.
      const target = requestedTarget(req.body, app);
      if (target !== undefined) {
        await tx(
          db,
          async () =>
            await failureRow(app, "invalid_target", creds, client, meta, {
              [target.param]: target.value.slice(0, 256),
            }),
        );
        throw new OAuthError(
          400,
          "invalid_target",
          `${target.param} must be this app's audience (${app.slug}), the only one its tokens carry`,
        );
      }

      const issued = await tokens.issueM2m(app, { clientId: client.clientId, scopes: granted });
      // Every issuance is audited, durably, before the token leaves: the audit writer's group commit, so
      // concurrent grants share one fsync; `last_used_at` rides in the same write at most once a minute.
      await audit.recordDurably({
        alongside: {
          key: client.id,
          write: async (now) => {
            if (client.lastUsedAt === null || client.lastUsedAt <= now - CLIENT_USE_DEBOUNCE_MS) {
              await store.touch(client.id, now, CLIENT_USE_DEBOUNCE_MS);
            }
          },
        },
        entry: {
          appId: app.id,
          action: "m2m.token_issued",
          resourceType: "m2m_client",
          resourceId: client.id,
          actor: { type: "m2m", id: client.clientId },
          // The client id is the row's actor_id already; every grant writes a row, so nothing is repeated.
          details: {
            scopes: granted,
            auth_method: creds.method,
            // "previous" while a rotation's grace window is open: shows who still has to switch over.
            secret: secretUsed,
            expires_in: issued.expiresIn,
          },
          meta,
        },
      });
      return {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: issued.expiresIn,
        scope: granted.join(" "),
      };
    },

    async authenticateClient(app, req, meta, endpoint) {
      const creds = credentialsOf(app, req, bodyParams(req.body));
      const { client } = await authenticate(app, creds, meta, endpoint);
      if (!client.isActive) {
        await tx(db, async () => await failureRow(app, "client_inactive", creds, client, meta, { endpoint }));
        // Not the token endpoint's 400 unauthorized_client: here the client is the caller, and a
        // deactivated caller is not authenticated (RFC 7662 §2.1 requires an authenticated caller).
        throw new OAuthError(401, "invalid_client", "This client is deactivated", {
          "www-authenticate": `Basic realm="${app.slug}"`,
        });
      }
      return { clientId: client.clientId, method: creds.method };
    },
  };
}
