/**
 * @module Interop against the compiled binary: openid-client (v6) discovers each app (OIDC and RFC 8414
 * locations), runs client_credentials with client_secret_basic and client_secret_post, and jose's remote
 * JWKS verifies the tokens with issuer and audience pinned. Also the per-address failure limit on real sockets.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import * as oidc from "openid-client";
import { FAILED_AUTH_LIMITS } from "../../src/m2m/grant.ts";
import { type Appliance, adminCall, startAppliance } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"I".repeat(43)}`;
const SLUG = "interop";
const SCOPES = ["user.read", "user.list"];

let appliance: Appliance;
let baseUrl = "";
let client: { client_id: string; client_secret: string };

/** The Admin API with the bootstrap PAK (throws on any status from 300 up). */
const admin = <T>(method: string, path: string, body?: unknown): Promise<T> =>
  adminCall<T>(PAK, `${baseUrl}${path}`, method, body);

beforeAll(async () => {
  appliance = await startAppliance("interop", PAK);
  baseUrl = appliance.baseUrl;
  const app = await admin<{ id: string }>("POST", "/v1/apps", { slug: SLUG, display_name: "Interop" });
  client = await admin("POST", `/v1/apps/${app.id}/credentials`, { name: "interop", scopes: SCOPES });
}, TIMEOUT);

afterAll(async () => {
  if (appliance) await appliance.dispose();
});

const issuer = () => `${baseUrl}/${SLUG}`;

/** Signature against the published JWKS, `iss` and `aud` pinned, RS256 `at+jwt` only. */
async function verifyWithRemoteJwks(config: oidc.Configuration, token: string) {
  const jwksUri = config.serverMetadata().jwks_uri!;
  expect(jwksUri).toBe(`${issuer()}/v1/.well-known/jwks.json`);
  const jwks = createRemoteJWKSet(new URL(jwksUri));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: issuer(),
    audience: SLUG,
    algorithms: ["RS256"],
    typ: "at+jwt",
  });
  expect(protectedHeader.kid).toBeString();
  return payload;
}

describe("openid-client against the compiled binary", () => {
  const METHODS = [
    ["client_secret_basic", (secret: string) => oidc.ClientSecretBasic(secret)],
    ["client_secret_post", (secret: string) => oidc.ClientSecretPost(secret)],
  ] as const;
  const DISCOVERY = ["oidc", "oauth2"] as const;

  for (const [method, auth] of METHODS) {
    for (const algorithm of DISCOVERY) {
      test(
        `${algorithm} discovery + client_credentials with ${method}; the token verifies with jose`,
        async () => {
          const config = await oidc.discovery(
            new URL(issuer()),
            client.client_id,
            undefined,
            auth(client.client_secret),
            {
              algorithm,
              execute: [oidc.allowInsecureRequests],
            },
          );
          const meta = config.serverMetadata();
          expect(meta.issuer).toBe(issuer());
          expect(meta.token_endpoint).toBe(`${issuer()}/v1/oauth/token`);
          expect(meta.token_endpoint_auth_methods_supported).toContain(method);

          const tokens = await oidc.clientCredentialsGrant(config);
          expect(tokens.token_type).toBe("bearer");
          expect(tokens.expires_in).toBe(3600);
          expect(tokens.scope).toBe(SCOPES.join(" "));
          const claims = await verifyWithRemoteJwks(config, tokens.access_token);
          expect(claims).toMatchObject({
            type: "m2m",
            sub: client.client_id,
            client_id: client.client_id,
            scopes: SCOPES,
          });

          const narrowed = await oidc.clientCredentialsGrant(config, { scope: "user.list" });
          expect(narrowed.scope).toBe("user.list");
          expect((await verifyWithRemoteJwks(config, narrowed.access_token)).scopes).toEqual(["user.list"]);
        },
        TIMEOUT,
      );
    }
  }

  test("a wrong secret: 401 with a Basic challenge (RFC 6749 §5.2) and the body error invalid_client", async () => {
    for (const auth of [oidc.ClientSecretBasic("hcs_wrong"), oidc.ClientSecretPost("hcs_wrong")]) {
      const config = await oidc.discovery(new URL(issuer()), client.client_id, undefined, auth, {
        execute: [oidc.allowInsecureRequests],
      });
      const err = await oidc.clientCredentialsGrant(config).catch((e: unknown) => e);
      // oauth4webapi reports a 401 carrying WWW-Authenticate as a challenge error, the response attached.
      expect(err).toBeInstanceOf(oidc.WWWAuthenticateChallengeError);
      const challenge = err as oidc.WWWAuthenticateChallengeError;
      expect(challenge.status).toBe(401);
      expect(challenge.cause[0]).toMatchObject({ scheme: "basic", parameters: { realm: SLUG } });
      expect(((await challenge.response.json()) as { error: string }).error).toBe("invalid_client");
    }
  });

  test("a scope beyond the client's surfaces as invalid_scope (400)", async () => {
    const config = await oidc.discovery(
      new URL(issuer()),
      client.client_id,
      undefined,
      oidc.ClientSecretPost(client.client_secret),
      {
        execute: [oidc.allowInsecureRequests],
      },
    );
    const err = await oidc.clientCredentialsGrant(config, { scope: "user.delete" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(oidc.ResponseBodyError);
    expect((err as oidc.ResponseBodyError).error).toBe("invalid_scope");
  });
});

describe("failed-authentication limit per client address (real sockets)", () => {
  test(
    "past the limit every request from the address → 429 with Retry-After, even with the right secret",
    async () => {
      const app = await admin<{ id: string }>("POST", "/v1/apps", {
        slug: "interop-limited",
        display_name: "L",
      });
      const c = await admin<{ client_id: string; client_secret: string }>(
        "POST",
        `/v1/apps/${app.id}/credentials`,
        {
          name: "limited",
        },
      );
      const url = `${baseUrl}/interop-limited/v1/oauth/token`;
      const grant = (id: string, secret: string) =>
        fetch(url, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "client_credentials",
            client_id: id,
            client_secret: secret,
          }),
        });
      // Unknown client ids count only against the address, never against a real client.
      for (let i = 0; i < FAILED_AUTH_LIMITS.perIp.max; i++) {
        expect((await grant(`m2m_unknown_${i}`, "x")).status).toBe(401);
      }
      const res = await grant(c.client_id, c.client_secret);
      expect(res.status).toBe(429);
      expect(((await res.json()) as { error: string }).error).toBe("temporarily_unavailable");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      // Another app's limits are its own.
      const other = await oidc.discovery(
        new URL(issuer()),
        client.client_id,
        undefined,
        oidc.ClientSecretBasic(client.client_secret),
        {
          execute: [oidc.allowInsecureRequests],
        },
      );
      expect((await oidc.clientCredentialsGrant(other)).access_token).toBeString();
      expect(decodeJwt((await oidc.clientCredentialsGrant(other)).access_token).aud).toBe(SLUG);
    },
    TIMEOUT,
  );
});
