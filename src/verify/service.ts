/**
 * @module Token checks for resource servers: RFC 7662 introspection, `/verify` and `/authorize*`.
 *
 * These endpoints answer about a token rather than act for it, so a bad token is an answer
 * (`active: false`, `valid: false`, `authorized: false`) in a 200, never an error status. What a token
 * holds: an M2M token its `scopes`, an EndUser token the permissions of the account's current role.
 */
import type { AppRef } from "../core/app-ref.ts";
import { constantTimeEqual } from "../core/crypto.ts";
import { fail, validationError } from "../core/errors.ts";
import type { PermissionResolver } from "../rbac/resolver.ts";
import type { TokenInspector, TokenPrincipal } from "./inspect.ts";
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

export interface VerifyService {
  introspect(app: AppRef, bearer: string | null, body: IntrospectBody): Promise<IntrospectResponse>;
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

export function createVerifyService({
  inspector,
  permissions,
}: {
  inspector: TokenInspector;
  permissions: PermissionResolver;
}): VerifyService {
  const heldBy = (app: AppRef, p: TokenPrincipal): ReadonlySet<string> =>
    p.type === "m2m" ? new Set(p.scopes) : permissions.forEndUser(app.id, p.role);

  const missingOf = (held: ReadonlySet<string>, required: string[]) => required.filter((r) => !held.has(r));

  return {
    async introspect(app, bearer, body) {
      if (bearer === null)
        throw fail("UNAUTHORIZED", { message: "The token to introspect is sent as a Bearer token" });
      // Only a token the caller already holds may be introspected: no probing one credential with another.
      if (body?.token !== undefined && !constantTimeEqual(body.token, bearer)) return INACTIVE;
      const r = await inspector.inspect(app, bearer);
      if (!r.ok) return INACTIVE;
      const p = r.principal;
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
        : { ...common, role: p.role };
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
            : { sub: p.sub, aid: app.id, type: "end_user", role: p.role },
      };
    },

    async authorize(app, bearer, body) {
      const required = requiredOf(body);
      const r = await inspector.inspect(app, tokenOf(bearer, body));
      if (!r.ok) return { authorized: false, error: r.error, missing_permissions: required };
      const missing = missingOf(heldBy(app, r.principal), required);
      return { authorized: missing.length === 0, missing_permissions: missing };
    },

    async authorizeBatch(app, bearer, body) {
      const r = await inspector.inspect(app, tokenOf(bearer, body));
      const held = r.ok ? heldBy(app, r.principal) : null;
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
