/**
 * @module Peer for bench/oauth-token.ts and bench/jwks.ts: `oidc-provider` (the certified Node OpenID Provider)
 * with one confidential client allowed the client_credentials grant, issuing RS256 JWT access tokens (a
 * resource indicator with `accessTokenFormat: "jwt"`; opaque ones for `resource=urn:bench:opaque`, which
 * its introspection endpoint answers), an RSA-2048 key, the in-memory adapter. Runs under Node
 * (plain JavaScript, so `node` runs it as it is) or Bun.
 * Usage: node bench/peers/oidc-provider.mjs <port> <client_id> <client_secret> <scope>
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import Provider from "oidc-provider";

const [port, clientId, clientSecret, scope] = process.argv.slice(2);
if (!port || !clientId || !clientSecret || scope === undefined)
  throw new Error("usage: oidc-provider.mjs <port> <client_id> <client_secret> <scope>");

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: "bench-rs256", alg: "RS256", use: "sig" };
const issuer = `http://127.0.0.1:${port}`;
const AUDIENCE = "urn:bench:api";
const OPAQUE = "urn:bench:opaque";

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ["client_credentials"],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: "client_secret_post",
      scope,
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  scopes: scope.split(" "),
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => AUDIENCE,
      useGrantedResource: () => true,
      // `resource=urn:bench:opaque` asks for an opaque token instead (stored, for the introspection peer).
      getResourceServerInfo: (_ctx, resource) =>
        resource === OPAQUE
          ? { scope, audience: OPAQUE, accessTokenTTL: 3600, accessTokenFormat: "opaque" }
          : {
              scope,
              audience: AUDIENCE,
              accessTokenTTL: 3600,
              accessTokenFormat: "jwt",
              jwt: { sign: { alg: "RS256" } },
            },
    },
  },
});
provider.listen(Number(port), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
