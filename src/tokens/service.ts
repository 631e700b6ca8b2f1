/**
 * @module Access tokens (docs/architecture.md, "Tokens and sessions"): `at+jwt` signed with the app's active key (RS256, ES256 or
 * EdDSA, the app's `signing_alg`), verified against its published keys.
 *
 * Its own module rather than part of `sessions/` or `keys/`: sessions mint tokens for end users and the M2M
 * grant mints them for clients, so minting belongs to neither; and `keys/` owns key material (generation,
 * sealing, rotation, JWKS), which this module only asks for. The claims, lifetimes and verification
 * failures that guards and `/verify` read live here, beside the one place that signs them.
 */

import { decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from "jose";
import type { Config } from "../config/index.ts";
import type { AppRef } from "../core/app-ref.ts";
import type { Clock } from "../core/clock.ts";
import type { KeyService } from "../keys/service.ts";

/** Tokens need only the issuing app's identity: its id (`aid`) and slug (`iss`, `client_id`). */
type IssuerApp = Pick<AppRef, "id" | "slug">;

export const ACCESS_TOKEN_TTL_SECONDS = 3600;

/**
 * The one algorithm each verification key accepts, by the WebCrypto algorithm it was imported as: a key
 * verifies only tokens of its own `alg`, so a token can never pick another (RFC 8725 §3.1). Constant
 * arrays, so the hot path allocates none.
 */
const ALGORITHMS_OF_KEY: Readonly<Record<string, string[]>> = Object.freeze({
  "RSASSA-PKCS1-v1_5": ["RS256"],
  ECDSA: ["ES256"],
  Ed25519: ["EdDSA"],
});

export interface EndUserClaims extends JWTPayload {
  type: "end_user";
  sub: string;
  aid: string;
  sid: string;
  role: string | null;
  amr: string[];
  /** When the session last proved a second factor (Unix seconds); absent when it never did. */
  mfa_at?: number;
  /** The tenant the session acts in (its UUID) and the account's role there; absent for app scope. */
  tid?: string;
  trole?: string;
  client_id: string;
}

export interface M2mClaims extends JWTPayload {
  type: "m2m";
  sub: string;
  aid: string;
  scopes: string[];
  /**
   * The same scopes space-separated (RFC 9068 §2.2.3), the claim stock scope middleware reads. Optional
   * only because tokens minted before it existed may still be live; `scopes` stays the one Heimdall reads.
   */
  scope?: string;
  client_id: string;
}

export type AccessClaims = EndUserClaims | M2mClaims;

/** Why a token did not verify; `/verify` reports these, guards map them to 401s. */
export type TokenFailure = "TOKEN_INVALID" | "TOKEN_EXPIRED";

export class TokenError extends Error {
  constructor(readonly reason: TokenFailure) {
    super(reason);
  }
}

export interface TokenService {
  issuer(app: IssuerApp): string;
  /** Signs an EndUser access token; `maxExp` (Unix seconds) caps `exp`, e.g. at the session's end. */
  issueEndUser(
    app: IssuerApp,
    claims: {
      sub: string;
      sid: string;
      role: string | null;
      amr: string[];
      mfaAt?: number | null;
      /** The tenant scope (`tid`, `trole`); absent or null for an app-scoped token. */
      tenant?: { id: string; role: string } | null;
    },
    maxExp?: number,
  ): Promise<{ token: string; expiresIn: number }>;
  issueM2m(
    app: IssuerApp,
    claims: { clientId: string; scopes: string[] },
    ttlSeconds?: number,
  ): Promise<{ token: string; expiresIn: number }>;
  /** Signature by one of the app's published keys, `iss`, `aud`, `aid`, `typ` and expiry; throws TokenError. */
  verify(app: IssuerApp, token: string): Promise<AccessClaims>;
}

export function createTokenService({
  keys,
  config,
  clock,
}: {
  keys: KeyService;
  config: Config;
  clock: Clock;
}): TokenService {
  const issuer = (app: IssuerApp) => `${config.publicUrl}/${app.slug}`;
  const nowSeconds = () => Math.floor(clock.now() / 1000);

  const sign = async (app: IssuerApp, claims: JWTPayload, ttl: number) => {
    const token = await keys.sign(
      app.id,
      {
        ...claims,
        iss: issuer(app),
        aud: app.slug,
        aid: app.id,
        client_id: claims.client_id ?? app.slug,
        jti: crypto.randomUUID(),
      },
      { ttlSeconds: ttl },
    );
    return { token, expiresIn: ttl };
  };

  return {
    issuer,
    issueEndUser(app, c, maxExp) {
      const ttl = Math.max(
        1,
        Math.min(ACCESS_TOKEN_TTL_SECONDS, (maxExp ?? Number.MAX_SAFE_INTEGER) - nowSeconds()),
      );
      const mfa = c.mfaAt == null ? {} : { mfa_at: Math.floor(c.mfaAt / 1000) };
      // The contract's sign-in names `tid`/`trole`; no `org_id`/`org_role` aliases (docs/decisions.md).
      const tenant = c.tenant ? { tid: c.tenant.id, trole: c.tenant.role } : {};
      return sign(
        app,
        { type: "end_user", sub: c.sub, sid: c.sid, role: c.role, amr: c.amr, ...mfa, ...tenant },
        ttl,
      );
    },
    issueM2m(app, c, ttl = ACCESS_TOKEN_TTL_SECONDS) {
      // `scopes` is Heimdall's own claim; `scope` is RFC 9068's, for resource servers that only read that.
      const claims = { type: "m2m", sub: c.clientId, scopes: c.scopes, scope: c.scopes.join(" ") };
      return sign(app, { ...claims, client_id: c.clientId }, ttl);
    },
    async verify(app, token) {
      try {
        // The key is looked up by `kid` before jose runs: handing jose a key (not a resolver function)
        // keeps the hot path free of extra promise hops, measurably so at this call rate.
        const { kid, typ } = decodeProtectedHeader(token);
        if (typ !== "at+jwt" || typeof kid !== "string") throw new TokenError("TOKEN_INVALID");
        const key = keys.verifyKeySync(app.id, kid) ?? (await keys.verifyKey(app.id, kid));
        const algorithms = key && ALGORITHMS_OF_KEY[key.algorithm.name];
        if (!key || !algorithms) throw new TokenError("TOKEN_INVALID");
        const { payload } = await jwtVerify(token, key, {
          algorithms,
          issuer: issuer(app),
          audience: app.slug,
          currentDate: new Date(clock.now()),
        });
        // Claims jose does not require by itself: a token without `exp` must never verify.
        if (
          payload.aid !== app.id ||
          typeof payload.sub !== "string" ||
          typeof payload.iat !== "number" ||
          typeof payload.exp !== "number"
        ) {
          throw new TokenError("TOKEN_INVALID");
        }
        if (payload.type === "end_user" && typeof payload.sid === "string") return payload as EndUserClaims;
        if (payload.type === "m2m" && Array.isArray(payload.scopes)) return payload as M2mClaims;
        throw new TokenError("TOKEN_INVALID");
      } catch (err) {
        if (err instanceof TokenError) throw err;
        if (err instanceof errors.JWTExpired) throw new TokenError("TOKEN_EXPIRED");
        throw new TokenError("TOKEN_INVALID");
      }
    },
  };
}
