/**
 * @module A local stand-in for Sign in with Apple's token endpoint (`/auth/token`), on Apple's documented
 * shapes: the client authenticates with `client_secret`, an ES256 JWT signed by the team's key (iss = team
 * id, sub = service id, aud = https://appleid.apple.com), and gets `{access_token, token_type, expires_in,
 * id_token}`. The ID token is minted by the local IdP posing as Apple (its issuer and key; point the app's
 * `jwks_uri` at the IdP). Apple's login page cannot run here: a test issues the authorization code itself
 * with `issueCode`, then posts the form_post callback as Apple's page would.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "bun";
import { exportPKCS8, exportSPKI, generateKeyPair, importSPKI, jwtVerify } from "jose";
import type { BadIdTokenKind, LocalIdp, MintOptions } from "./idp.ts";

export const APPLE_AUDIENCE = "https://appleid.apple.com";

export interface AppleCodeFacts {
  /** The nonce from Heimdall's authorize redirect, carried into the ID token as Apple does. */
  readonly nonce: string;
  readonly sub: string;
  readonly email: string;
  /** Apple sends `"true"`/`"false"` strings. */
  readonly emailVerified: "true" | "false";
  readonly isPrivateEmail?: boolean;
  /** Answer with this forged variant of the ID token instead (a relying party must refuse it). */
  readonly forge?: BadIdTokenKind;
}

export interface LocalApple {
  /** `http://127.0.0.1:<port>`: the issuer the ID tokens carry. */
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  /** The .p8 content to configure (PKCS#8 PEM of a P-256 key). */
  readonly privateKeyPem: string;
  /** A code the token endpoint will redeem once, for the ID token these facts describe. */
  issueCode(facts: AppleCodeFacts): string;
  /** Client secrets the token endpoint saw and accepted, decoded (header and claims). */
  readonly acceptedSecrets: readonly Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Starts the responder; `serviceId`, `teamId` and `keyId` are what the app's apple config will say. */
export async function startApple(o: {
  idp: LocalIdp;
  serviceId: string;
  teamId: string;
  keyId: string;
}): Promise<LocalApple> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const privateKeyPem = await exportPKCS8(privateKey);
  const verifyKey = await importSPKI(await exportSPKI(publicKey), "ES256");
  const codes = new Map<string, AppleCodeFacts>();
  const acceptedSecrets: Record<string, unknown>[] = [];
  let issuer = "";

  const error = (code: string) =>
    new Response(JSON.stringify({ error: code }), {
      status: 400,
      headers: { "content-type": "application/json" },
    });

  const server: Server<undefined> = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname !== "/auth/token" || req.method !== "POST")
        return new Response("Not Found", { status: 404 });
      const form = new URLSearchParams(await req.text());
      if (form.get("client_id") !== o.serviceId) return error("invalid_client");
      try {
        const { payload, protectedHeader } = await jwtVerify(form.get("client_secret") ?? "", verifyKey, {
          issuer: o.teamId,
          subject: o.serviceId,
          audience: APPLE_AUDIENCE,
          algorithms: ["ES256"],
        });
        if (protectedHeader.kid !== o.keyId) return error("invalid_client");
        acceptedSecrets.push({ ...protectedHeader, ...payload });
      } catch {
        return error("invalid_client");
      }
      if (form.get("grant_type") !== "authorization_code") return error("unsupported_grant_type");
      const facts = codes.get(form.get("code") ?? "");
      codes.delete(form.get("code") ?? "");
      if (!facts) return error("invalid_grant");
      const claims: MintOptions = {
        issuer,
        audience: o.serviceId,
        nonce: facts.nonce,
        sub: facts.sub,
        email: facts.email,
        extra: {
          email_verified: facts.emailVerified,
          is_private_email: facts.isPrivateEmail ? "true" : "false",
          nonce_supported: true,
        },
      };
      const idToken = facts.forge
        ? await o.idp.mintBadIdToken(facts.forge, claims)
        : await o.idp.mintIdToken(claims);
      return new Response(
        JSON.stringify({
          access_token: `a${randomBytes(16).toString("hex")}`,
          token_type: "Bearer",
          expires_in: 3600,
          refresh_token: `r${randomBytes(16).toString("hex")}`,
          id_token: idToken,
        }),
        { headers: { "content-type": "application/json", "cache-control": "no-store" } },
      );
    },
  });
  issuer = `http://127.0.0.1:${server.port}`;
  return {
    issuer,
    authorizationEndpoint: `${issuer}/auth/authorize`,
    tokenEndpoint: `${issuer}/auth/token`,
    privateKeyPem,
    acceptedSecrets,
    issueCode(facts) {
      const code = `c${randomBytes(16).toString("hex")}.0.abcd.${randomBytes(8).toString("hex")}`;
      codes.set(code, facts);
      return code;
    },
    async stop() {
      await server.stop(true);
    },
  };
}
