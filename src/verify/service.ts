/**
 * @module Token checks for resource servers: RFC 7662 introspection, `/verify` and `/authorize*`.
 *
 * These endpoints answer about a token rather than act for it, so a bad token is an answer
 * (`active: false`, `valid: false`, `authorized: false`) in a 200, never an error status. What a token
 * holds: an M2M token its `scopes`, an EndUser token the permissions of the account's current role, with
 * those of its current tenant role when it acts in a tenant.
 */
import type { AppRef } from "../core/app-ref.ts";
import { constantTimeEqual } from "../core/crypto.ts";
import { fail, OAuthError, validationError } from "../core/errors.ts";
import type { CallMeta } from "../core/principal.ts";
import type { PermissionResolver } from "../rbac/resolver.ts";
import type { EndUserTokenPrincipal, TokenInspector, TokenPrincipal } from "./inspect.ts";
import {
  type AuthorizeBatchBody,
  type AuthorizeBatchResponse,
  type AuthorizeBody,
  type AuthorizeResponse,
  type IntrospectBody,
  type IntrospectResponse,
  requiredOf,
  type VerifyBody,
  type VerifyResponse,
} from "./model.ts";

/** What introspection is asked with: the raw `Authorization` header, its Bearer token if any, the body. */
export interface IntrospectRequest {
  authorization: string | null;
  bearer: string | null;
  body: IntrospectBody;
}

/** The token endpoint's client authentication (`m2m/grant.ts`), as introspection needs it. */
export interface ClientAuthenticator {
  authenticateClient(
    app: AppRef,
    req: { authorization: string | null; body: unknown },
    meta: CallMeta,
    endpoint: "introspection",
  ): Promise<{ clientId: string }>;
}

export interface VerifyService {
  /**
   * RFC 7662 introspection in two modes: an M2M client authenticated as at the token endpoint (Basic, or
   * `client_id`/`client_secret` in the body) asks about any `token` of its app; otherwise the Bearer
   * token is asked about itself (the contract's mode).
   */
  introspect(app: AppRef, req: IntrospectRequest, meta: CallMeta): Promise<IntrospectResponse>;
  verify(app: AppRef, bearer: string | null, body: VerifyBody): Promise<VerifyResponse>;
  authorize(app: AppRef, bearer: string | null, body: AuthorizeBody): Promise<AuthorizeResponse>;
  authorizeBatch(
    app: AppRef,
    bearer: string | null,
    body: AuthorizeBatchBody,
  ): Promise<AuthorizeBatchResponse>;
}

const INACTIVE: IntrospectResponse = Object.freeze({ active: false as const });

/** The spec's token source: the body's `token` when given, else the bearer; one of them is required. */
function tokenOf(bearer: string | null, body: { token?: string } | undefined): string {
  const token = body?.token ?? bearer;
  if (token === null)
    throw validationError([{ field: "token", reason: "required in the body or as a Bearer token" }]);
  return token;
}

/** The `Authorization` header's scheme, lower-cased; null without one. */
const schemeOf = (authorization: string | null): string | null =>
  /^\s*([^\s]+)/.exec(authorization ?? "")?.[1]?.toLowerCase() ?? null;

/** The claims both modes report about an active token (the contract's IntrospectResponseDto). */
function describe(app: AppRef, p: TokenPrincipal): IntrospectResponse & { active: true } {
  const common = {
    active: true as const,
    sub: p.sub,
    aid: app.id,
    type: p.type,
    iss: p.claims.iss as string,
    exp: p.claims.exp as number,
    iat: p.claims.iat as number,
  };
  return p.type === "m2m"
    ? { ...common, client_id: p.clientId, scope: p.scopes.join(" "), scopes: [...p.scopes] }
    : { ...common, role: p.role, ...tenantClaims(p) };
}

/**
 * The tenant an EndUser token acts in, as of now (RFC 7662 §2.2 allows members beyond its list): `tid`
 * and `trole` only while the session acts in that tenant with a live membership.
 */
const tenantClaims = (p: EndUserTokenPrincipal): { tid?: string; trole?: string } =>
  p.tenantId !== null && p.tenantRole !== null ? { tid: p.tenantId, trole: p.tenantRole } : {};

export function createVerifyService({
  inspector,
  permissions,
  clients,
}: {
  inspector: TokenInspector;
  permissions: PermissionResolver;
  clients: ClientAuthenticator;
}): VerifyService {
  const heldBy = async (app: AppRef, p: TokenPrincipal): Promise<ReadonlySet<string>> =>
    p.type === "m2m" ? new Set(p.scopes) : await permissions.forEndUser(app.id, p.role, p.tenantRole);

  const missingOf = (held: ReadonlySet<string>, required: string[]) => required.filter((r) => !held.has(r));

  return {
    async introspect(app, { authorization, bearer, body }, meta) {
      const scheme = schemeOf(authorization);
      const bodyClient = body?.client_id !== undefined || body?.client_secret !== undefined;
      if (scheme === "basic" || (scheme !== "bearer" && bodyClient)) {
        // RFC 7662 §2.1: the caller authenticates as a client and names the token in the body.
        await clients.authenticateClient(app, { authorization, body }, meta, "introspection");
        if (typeof body?.token !== "string" || body.token === "") {
          throw new OAuthError(400, "invalid_request", "token is required");
        }
        const r = await inspector.inspect(app, body.token);
        // Inactive, unknown, expired, revoked or another app's: all the same bare answer (RFC 7662 §2.2).
        if (!r.ok) return INACTIVE;
        return {
          ...describe(app, r.principal),
          // The token's type in the RFC 6749 §7.1 sense: every token Heimdall introspects is a Bearer token.
          token_type: "Bearer",
          aud: r.principal.claims.aud as string,
          jti: r.principal.claims.jti as string,
        };
      }
      if (scheme === "bearer" && bodyClient) {
        throw new OAuthError(
          400,
          "invalid_request",
          "Authenticate either as a client (Basic or client_id/client_secret) or with a Bearer token, not both",
        );
      }
      if (bearer === null)
        throw fail("UNAUTHORIZED", { message: "The token to introspect is sent as a Bearer token" });
      // Only a token the caller already holds may be introspected: no probing one credential with another.
      if (body?.token !== undefined && !constantTimeEqual(body.token, bearer)) return INACTIVE;
      const r = await inspector.inspect(app, bearer);
      return r.ok ? describe(app, r.principal) : INACTIVE;
    },

    async verify(app, bearer, body) {
      const r = await inspector.inspect(app, tokenOf(bearer, body));
      if (!r.ok) return { valid: false, error: r.error };
      const p = r.principal;
      return {
        valid: true,
        principal:
          p.type === "m2m"
            ? { sub: p.sub, aid: app.id, type: "m2m", permissions: [...p.scopes] }
            : { sub: p.sub, aid: app.id, type: "end_user", role: p.role, ...tenantClaims(p) },
      };
    },

    async authorize(app, bearer, body) {
      const required = requiredOf(body);
      const r = await inspector.inspect(app, tokenOf(bearer, body));
      if (!r.ok) return { authorized: false, error: r.error, missing_permissions: required };
      const missing = missingOf(await heldBy(app, r.principal), required);
      return { authorized: missing.length === 0, missing_permissions: missing };
    },

    async authorizeBatch(app, bearer, body) {
      const r = await inspector.inspect(app, tokenOf(bearer, body));
      const held = r.ok ? await heldBy(app, r.principal) : null;
      const results = body.checks.map((c) => {
        const required = requiredOf(c);
        const missing = held ? missingOf(held, required) : required;
        return {
          ...(c.id !== undefined && { id: c.id }),
          authorized: missing.length === 0 && held !== null,
          missing_permissions: missing,
        };
      });
      return r.ok ? { results } : { error: r.error, results };
    },
  };
}
