/**
 * @module The native ID-token flow through the compiled binary: ID tokens minted by the local OpenID
 * Provider (its published keys), posted with the raw nonce whose SHA-256 they carry. A good token signs in
 * (and its tokens work on `/me`); every forged variant — another audience, expired, another issuer,
 * `alg: none`, an unknown key, a published kid over another key, a different nonce — is a 401 with its
 * stable code; a replayed nonce is refused. The official SDK's `consumer.auth.signinWithProvider` signs in
 * with Apple's shape (Apple's issuer and a bundle id as audience, the IdP's key behind `jwks_uri`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Heimdall, HeimdallHttpError } from "@productcraft/heimdall";
import { decodeJwt, exportPKCS8, generateKeyPair } from "jose";
import { type BadIdTokenKind, hashNonce, type LocalIdp, rawNonce, startIdp } from "../support/idp.ts";
import { type Appliance, startAppliance } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"N".repeat(43)}`;
const GOOGLE_WEB = "web-client.apps.example";
const GOOGLE_IOS = "ios-client.apps.example";
const APPLE_BUNDLE = "com.example.heimdall.ios";
const APPLE_ISSUER = "https://appleid.apple.com";

let appliance: Appliance;
let idp: LocalIdp;
const appIds: Record<string, string> = {};

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${appliance.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function native(slug: string, provider: string, body: Record<string, unknown>) {
  const res = await fetch(`${appliance.baseUrl}/${slug}/v1/auth/oauth/${provider}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function me(slug: string, accessToken: string) {
  const res = await fetch(`${appliance.baseUrl}/${slug}/v1/me`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  [appliance, idp] = await Promise.all([startAppliance("federation-native", PAK), startIdp()]);
  const apps: [string, string, Record<string, unknown>][] = [
    [
      "native-google",
      "google",
      {
        client_id: GOOGLE_WEB,
        client_secret: "google-secret-2",
        native_client_ids: [GOOGLE_IOS],
        issuer: idp.issuer,
        jwks_uri: idp.jwksUri,
        authorization_endpoint: idp.authorizationEndpoint,
        token_endpoint: idp.tokenEndpoint,
      },
    ],
    [
      "native-apple",
      "apple",
      {
        service_id: "com.example.heimdall.web",
        bundle_ids: [APPLE_BUNDLE],
        team_id: "TEAM123456",
        key_id: "KEYID12345",
        private_key_pem: await exportPKCS8(
          (await generateKeyPair("ES256", { extractable: true })).privateKey,
        ),
        // Apple's own issuer stays; only its keys are the local IdP's.
        jwks_uri: idp.jwksUri,
      },
    ],
  ];
  for (const [slug, provider, config] of apps) {
    const app = await admin<{ id: string }>("POST", "/v1/apps", { slug, display_name: slug });
    appIds[slug] = app.id;
    await admin("PUT", `/v1/apps/${app.id}/auth-config/providers/${provider}`, { config, enabled: true });
  }
}, TIMEOUT);

afterAll(async () => {
  await idp?.stop();
  if (appliance) expect(await appliance.dispose()).toBe(0);
});

describe("native ID-token sign-in against the binary", () => {
  test("a token from the IdP for a native client id, with the nonce's SHA-256, signs in; a replay is refused", async () => {
    const nonce = rawNonce();
    const idToken = await idp.mintIdToken({ audience: GOOGLE_IOS, nonce: hashNonce(nonce) });
    const first = await native("native-google", "google", { id_token: idToken, nonce });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ token_type: "Bearer", expires_in: expect.any(Number) });
    expect(first.body.refresh_token).toEqual(expect.any(String));
    const access = String(first.body.access_token);
    expect(decodeJwt(access).amr).toEqual(expect.arrayContaining(["oauth", "google"]));
    const profile = await me("native-google", access);
    expect(profile.status).toBe(200);
    expect(profile.body).toMatchObject({ email: idp.users[0]!.email, email_verified: true });

    const replay = await native("native-google", "google", { id_token: idToken, nonce });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe("NONCE_REPLAYED");

    // An ES256 token from the same IdP, the web client id as audience: the same account again.
    const nonce2 = rawNonce();
    const es = await native("native-google", "google", {
      id_token: await idp.mintIdToken({ audience: GOOGLE_WEB, nonce: hashNonce(nonce2), alg: "ES256" }),
      nonce: nonce2,
    });
    expect(es.status).toBe(200);
    expect(decodeJwt(String(es.body.access_token)).sub).toBe(decodeJwt(access).sub);
  });

  test("every forged token is a 401 with its stable code, and no account is created", async () => {
    const expected: Record<BadIdTokenKind, string> = {
      wrong_audience: "ID_TOKEN_INVALID",
      expired: "ID_TOKEN_INVALID",
      wrong_issuer: "ID_TOKEN_INVALID",
      alg_none: "ID_TOKEN_INVALID",
      unknown_key: "ID_TOKEN_INVALID",
      forged_kid: "ID_TOKEN_INVALID",
      wrong_nonce: "NONCE_MISMATCH",
    };
    const stranger = { sub: "idp-user-stranger", email: "stranger@idp.example" };
    const seen: Record<string, unknown> = {};
    for (const kind of Object.keys(expected) as BadIdTokenKind[]) {
      const nonce = rawNonce();
      const token = await idp.mintBadIdToken(kind, {
        audience: GOOGLE_IOS,
        nonce: hashNonce(nonce),
        ...stranger,
      });
      const res = await native("native-google", "google", { id_token: token, nonce });
      seen[kind] = { status: res.status, code: res.body.code };
    }
    expect(seen).toEqual(
      Object.fromEntries(Object.entries(expected).map(([k, code]) => [k, { status: 401, code }])),
    );
    const users = await admin<{ data: { email: string | null }[] }>(
      "GET",
      `/v1/apps/${appIds["native-google"]}/end-users`,
    );
    expect(users.data.map((u) => u.email)).not.toContain(stranger.email);
  });

  test("the raw nonce must be the one hashed into the token, and GitHub has no native flow", async () => {
    const nonce = rawNonce();
    const token = await idp.mintIdToken({ audience: GOOGLE_IOS, nonce: hashNonce(nonce) });
    const other = await native("native-google", "google", { id_token: token, nonce: rawNonce() });
    expect(other.status).toBe(401);
    expect(other.body.code).toBe("NONCE_MISMATCH");
    const github = await native("native-google", "github", { id_token: token, nonce });
    expect(github.status).toBe(400);
    expect(github.body.code).toBe("NATIVE_FLOW_UNSUPPORTED");
    const unknown = await native("native-google", "myspace", { id_token: token, nonce });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe("UNKNOWN_PROVIDER");
  });
});

describe("the official SDK's consumer.auth.signinWithProvider", () => {
  test("Apple's shape (Apple's issuer, bundle id audience, string email_verified) signs in; a forged token is a HeimdallHttpError 401", async () => {
    const sdk = new Heimdall({ baseUrl: appliance.baseUrl });
    const consumer = sdk.consumer("native-apple");
    const nonce = rawNonce();
    const idToken = await idp.mintIdToken({
      issuer: APPLE_ISSUER,
      audience: APPLE_BUNDLE,
      nonce: hashNonce(nonce),
      sub: "001234.apple-native.0001",
      email: "craig@apple-native.example",
      extra: { email_verified: "true" },
    });
    const tokens = await consumer.auth.signinWithProvider({
      provider: "apple",
      id_token: idToken,
      nonce,
      user: { name: "Craig F" },
    });
    expect(tokens.token_type).toBe("Bearer");
    expect(tokens.access_token).toBeString();
    expect(decodeJwt(tokens.access_token).amr).toEqual(expect.arrayContaining(["oauth", "apple"]));
    const profile = await me("native-apple", tokens.access_token);
    expect(profile.status).toBe(200);
    expect(profile.body).toMatchObject({ email: "craig@apple-native.example", email_verified: true });

    const nonce2 = rawNonce();
    const forged = await idp.mintBadIdToken("wrong_issuer", {
      audience: APPLE_BUNDLE,
      nonce: hashNonce(nonce2),
      sub: "001234.apple-native.0001",
    });
    const error = await consumer.auth
      .signinWithProvider({ provider: "apple", id_token: forged, nonce: nonce2 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeimdallHttpError);
    expect((error as HeimdallHttpError).status).toBe(401);
    expect((error as { data: unknown }).data).toMatchObject({ code: "ID_TOKEN_INVALID" });
  });
});

describe("provider switched off", () => {
  test("a disabled provider answers 503 PROVIDER_DISABLED to a good token", async () => {
    const id = appIds["native-google"]!;
    const current = await admin<{ config: Record<string, unknown> }>(
      "GET",
      `/v1/apps/${id}/auth-config/providers/google`,
    );
    const { client_secret_present: _flag, ...config } = current.config;
    await admin("PUT", `/v1/apps/${id}/auth-config/providers/google`, { config, enabled: false });
    try {
      const nonce = rawNonce();
      const res = await native("native-google", "google", {
        id_token: await idp.mintIdToken({ audience: GOOGLE_IOS, nonce: hashNonce(nonce) }),
        nonce,
      });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe("PROVIDER_DISABLED");
    } finally {
      await admin("PUT", `/v1/apps/${id}/auth-config/providers/google`, {
        config: { ...config, client_secret: "google-secret-2" },
        enabled: true,
      });
    }
  });
});
