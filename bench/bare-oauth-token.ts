/**
 * @module Baseline for bench/oauth-token.ts: a bare Bun.serve doing what a client_credentials grant must at
 * minimum — parse the form, SHA-256 the presented secret and compare it in constant time, sign an `at+jwt`
 * with jose (RS256 with RSA-2048 unless the optional 7th argument says ES256 or EdDSA; a WebCrypto key),
 * answer the RFC 6749 JSON with no-store headers.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { SignJWT } from "jose";

const [port, clientId, secretHash, issuer, audience, scope, alg = "RS256"] = Bun.argv.slice(2);
if (!port || !clientId || !secretHash || !issuer || !audience || scope === undefined)
  throw new Error(
    "usage: bun bench/bare-oauth-token.ts <port> <client_id> <sha256 hex> <issuer> <audience> <scope> [RS256|ES256|EdDSA]",
  );

const KEYGEN = {
  RS256: {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
} as const;
const params = KEYGEN[alg as keyof typeof KEYGEN];
if (!params) throw new Error(`unknown algorithm ${alg}`);
const { privateKey } = (await crypto.subtle.generateKey(params, false, ["sign", "verify"])) as CryptoKeyPair;
const expected = Buffer.from(secretHash);
const scopes = scope.split(" ").filter(Boolean);
const KID = `${alg.toLowerCase()}-bare-00000000`;

Bun.serve({
  port: Number(port),
  hostname: "127.0.0.1",
  async fetch(req) {
    const form = new URLSearchParams(await req.text());
    if (form.get("grant_type") !== "client_credentials")
      return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
    const presented = Buffer.from(
      createHash("sha256")
        .update(form.get("client_secret") ?? "")
        .digest("hex"),
    );
    if (form.get("client_id") !== clientId || !timingSafeEqual(presented, expected)) {
      return Response.json({ error: "invalid_client" }, { status: 401 });
    }
    const token = await new SignJWT({ type: "m2m", scopes, client_id: clientId, aid: "bare" })
      .setProtectedHeader({ alg, kid: KID, typ: "at+jwt" })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(clientId)
      .setIssuedAt()
      .setExpirationTime("3600s")
      .setJti(crypto.randomUUID())
      .sign(privateKey);
    return Response.json(
      { access_token: token, token_type: "Bearer", expires_in: 3600, scope: scopes.join(" ") },
      { headers: { "cache-control": "no-store", pragma: "no-cache", "x-request-id": crypto.randomUUID() } },
    );
  },
});
process.on("SIGTERM", () => process.exit(0));
