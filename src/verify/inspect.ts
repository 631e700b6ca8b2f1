/**
 * @module One answer to "what is this access token right now?", shared by introspection, `/verify`,
 * `/authorize*` and the Consumer admin lane.
 *
 * A signature alone is not enough: the token's session must still be live and its account active
 * (EndUser), or its client must still exist and be active (M2M). Failures are values, not throws —
 * `/verify` reports them in a 200 body, the admin lane turns them into 401/403.
 */
import type { AppRef } from "../core/app-ref.ts";
import type { Db } from "../db/client.ts";
import { actingTenant, type SessionService } from "../sessions/service.ts";
import { type EndUserClaims, type M2mClaims, TokenError, type TokenService } from "../tokens/service.ts";
import { createVerifyStore } from "./store.ts";

/** A signed JWT is well under this; anything longer is refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;

export type InspectFailure = "TOKEN_INVALID" | "TOKEN_EXPIRED" | "TOKEN_REVOKED" | "ACCOUNT_SUSPENDED";

export interface EndUserTokenPrincipal {
  readonly type: "end_user";
  readonly sub: string;
  readonly sessionId: string;
  /** The account's role now, not the one in the token: role changes apply to live tokens at once. */
  readonly role: string;
  /**
   * The tenant the token acts in and the account's role there, read now: both null for app scope, and
   * also once the membership or the tenant is gone (see `sessions/service.ts`, `actingTenant`).
   */
  readonly tenantId: string | null;
  readonly tenantRole: string | null;
  readonly claims: EndUserClaims;
}

export interface M2mTokenPrincipal {
  readonly type: "m2m";
  readonly sub: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly claims: M2mClaims;
}

export type TokenPrincipal = EndUserTokenPrincipal | M2mTokenPrincipal;

export type Inspection = { ok: true; principal: TokenPrincipal } | { ok: false; error: InspectFailure };

export interface TokenInspector {
  inspect(app: AppRef, token: string): Promise<Inspection>;
}

const fail = (error: InspectFailure): Inspection => ({ ok: false, error });

export function createTokenInspector({
  db,
  tokens,
  sessions,
}: {
  db: Db;
  tokens: TokenService;
  sessions: SessionService;
}): TokenInspector {
  const store = createVerifyStore(db);
  return {
    async inspect(app, token) {
      if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return fail("TOKEN_INVALID");
      let claims: EndUserClaims | M2mClaims;
      try {
        claims = await tokens.verify(app, token);
      } catch (err) {
        if (err instanceof TokenError) return fail(err.reason);
        throw err;
      }
      if (claims.type === "m2m") {
        const client = await store.m2mClient(claims.sub);
        // A deleted client, or a deactivated one, takes its outstanding tokens with it.
        if (!client || client.appId !== app.id || !client.isActive) return fail("TOKEN_REVOKED");
        return {
          ok: true,
          principal: { type: "m2m", sub: claims.sub, clientId: claims.sub, scopes: claims.scopes, claims },
        };
      }
      const facts = await sessions.facts(claims.sid);
      // A signed token whose session row is gone: the account was deleted with its sessions.
      if (!facts) return fail("TOKEN_REVOKED");
      if (facts.userId !== claims.sub || facts.appId !== app.id) return fail("TOKEN_INVALID");
      // Checked before liveness: suspension also ends the sessions, and the cause is what callers need.
      if (facts.status !== "active") return fail("ACCOUNT_SUSPENDED");
      if (!sessions.isLive(facts)) return fail("TOKEN_REVOKED");
      return {
        ok: true,
        principal: {
          type: "end_user",
          sub: claims.sub,
          sessionId: claims.sid,
          role: facts.role,
          ...actingTenant(facts, claims.tid),
          claims,
        },
      };
    },
  };
}
