/**
 * @module Stock clients against the compiled binary, each on its defaults: express-oauth2-jwt-bearer's
 * `requiredScopes` on an M2M token (RFC 9068 `scope`), openid-client's `fetchUserInfo` on `/me` (`sub`),
 * get-jwks at `{issuer}/.well-known/jwks.json` (alone and under @fastify/jwt), and RFC 8414 discovery.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import fastifyJwt, { type JwtHeader, type TokenOrHeader } from "@fastify/jwt";
import express from "express";
import { auth, requiredScopes } from "express-oauth2-jwt-bearer";
import Fastify, { type FastifyRequest } from "fastify";
import buildGetJwks from "get-jwks";
import { decodeJwt, decodeProtectedHeader, importSPKI, jwtVerify } from "jose";
import * as oidc from "openid-client";
import { type Appliance, startAppliance } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"S".repeat(43)}`;
const SLUG = "standards";
const SCOPES = ["user.read", "user.list"];
const PASSWORD = "Tangerine-Orbit-47-Lantern";

let appliance: Appliance;
let baseUrl = "";
let client: { client_id: string; client_secret: string };
const issuer = () => `${baseUrl}/${SLUG}`;

async function call<T>(
  method: string,
  path: string,
  body?: unknown,
  bearer: string | null = PAK,
): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      "content-type": "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** client_credentials through openid-client, as a resource server's caller would get its token. */
async function m2mToken(scope?: string): Promise<string> {
  const config = await oidc.discovery(
    new URL(issuer()),
    client.client_id,
    undefined,
    oidc.ClientSecretBasic(client.client_secret),
    { execute: [oidc.allowInsecureRequests] },
  );
  return (await oidc.clientCredentialsGrant(config, scope ? { scope } : {})).access_token;
}

beforeAll(async () => {
  appliance = await startAppliance("standards", PAK);
  baseUrl = appliance.baseUrl;
  const app = await call<{ id: string }>("POST", "/v1/apps", { slug: SLUG, display_name: "Standards" });
  client = await call("POST", `/v1/apps/${app.id}/credentials`, { name: "standards", scopes: SCOPES });
}, TIMEOUT);

afterAll(async () => {
  if (appliance) expect(await appliance.dispose()).toBe(0);
});

describe("express-oauth2-jwt-bearer (RFC 9068 scope claim)", () => {
  let server: Server;
  let api = "";
  beforeAll(async () => {
    const app = express();
    // The library's defaults: discovery from the issuer, RS256, audience pinned.
    app.use(auth({ issuerBaseURL: issuer(), audience: SLUG }));
    app.get("/read", requiredScopes("user.read"), (_req, res) => {
      res.json({ ok: true });
    });
    app.get("/read-and-list", requiredScopes(["user.read", "user.list"]), (_req, res) => {
      res.json({ ok: true });
    });
    app.get("/delete", requiredScopes("user.delete"), (_req, res) => {
      res.json({ ok: true });
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = (path: string, token?: string) =>
    fetch(`${api}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  test(
    "an M2M token passes requiredScopes for the scopes it holds and is refused (403) for others",
    async () => {
      const token = await m2mToken();
      expect(decodeJwt(token)).toMatchObject({ scope: "user.read user.list", scopes: SCOPES });
      const read = await get("/read", token);
      expect(read.status).toBe(200);
      expect(await read.json()).toEqual({ ok: true });
      expect((await get("/read-and-list", token)).status).toBe(200);
      const denied = await get("/delete", token);
      expect(denied.status).toBe(403);
      expect(denied.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    },
    TIMEOUT,
  );

  test(
    "a narrowed token carries only the narrowed scope; no token is 401",
    async () => {
      const narrowed = await m2mToken("user.list");
      expect(decodeJwt(narrowed).scope).toBe("user.list");
      expect((await get("/read", narrowed)).status).toBe(403);
      expect((await get("/read")).status).toBe(401);
    },
    TIMEOUT,
  );
});

describe("openid-client fetchUserInfo (userinfo_endpoint = /me)", () => {
  test(
    "an EndUser token's UserInfo has sub = the token's sub, with OIDC's email claims",
    async () => {
      const signedUp = await call<{ access_token: string }>(
        "POST",
        `/${SLUG}/v1/auth/signup`,
        { username: "userinfo", email: "userinfo@example.test", password: PASSWORD },
        null,
      );
      const sub = decodeJwt(signedUp.access_token).sub!;
      const config = await oidc.discovery(new URL(issuer()), client.client_id, undefined, oidc.None(), {
        execute: [oidc.allowInsecureRequests],
      });
      expect(config.serverMetadata().userinfo_endpoint).toBe(`${issuer()}/v1/me`);
      const info = await oidc.fetchUserInfo(config, signedUp.access_token, sub);
      expect(info).toMatchObject({
        sub,
        id: sub,
        preferred_username: "userinfo",
        email: "userinfo@example.test",
        email_verified: false,
      });
      // A wrong expected subject is refused by the client: `sub` is really checked.
      const mismatch = await oidc
        .fetchUserInfo(config, signedUp.access_token, "someone-else")
        .catch((e: unknown) => e);
      expect(mismatch).toBeInstanceOf(Error);
      expect((mismatch as { code?: string }).code).toBe("OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED");
    },
    TIMEOUT,
  );
});

describe("RFC 8414 metadata as clients read it", () => {
  test(
    "oauth2 discovery: the issuer matches, only client_credentials, no authorization endpoint",
    async () => {
      const config = await oidc.discovery(new URL(issuer()), client.client_id, undefined, oidc.None(), {
        algorithm: "oauth2",
        execute: [oidc.allowInsecureRequests],
      });
      const meta = config.serverMetadata();
      expect(meta.issuer).toBe(issuer());
      expect(meta.authorization_endpoint).toBeUndefined();
      expect(meta.grant_types_supported).toEqual(["client_credentials"]);
      expect(meta.response_types_supported).toEqual([]);
    },
    TIMEOUT,
  );
});

describe("get-jwks with its defaults ({issuer}/.well-known/jwks.json)", () => {
  test(
    "getPublicKey finds the signing key and the token verifies with it",
    async () => {
      const token = await m2mToken();
      const { kid, alg } = decodeProtectedHeader(token);
      // What get-jwks fetches by default: the domain (here the issuer) + `.well-known/jwks.json`.
      const direct = await fetch(`${issuer()}/.well-known/jwks.json`, {
        headers: { origin: "https://spa.example.test" },
      });
      expect(direct.status).toBe(200);
      expect(direct.headers.get("cache-control")).toBe("public, max-age=3600");
      // The native route answers like the /v1 one, browsers included.
      expect(direct.headers.get("access-control-allow-origin")).toBe("*");
      expect(direct.headers.get("x-request-id")).toBeString();
      expect(await direct.text()).toBe(await (await fetch(`${issuer()}/v1/.well-known/jwks.json`)).text());

      const getJwks = buildGetJwks();
      const pem = await getJwks.getPublicKey({ domain: issuer(), kid, alg });
      expect(pem).toContain("BEGIN PUBLIC KEY");
      const { payload } = await jwtVerify(token, await importSPKI(pem, "RS256"), {
        issuer: issuer(),
        audience: SLUG,
        typ: "at+jwt",
      });
      expect(payload.client_id).toBe(client.client_id);
    },
    TIMEOUT,
  );

  test(
    "@fastify/jwt with get-jwks as its secret (the @fastify/jwt docs' recipe) accepts the token",
    async () => {
      const getJwks = buildGetJwks();
      const fastify = Fastify();
      await fastify.register(fastifyJwt, {
        decode: { complete: true },
        secret: (_request: FastifyRequest, token: TokenOrHeader) => {
          const { header, payload } = token as { header: JwtHeader; payload: { iss: string } };
          return getJwks.getPublicKey({ kid: header.kid, domain: payload.iss, alg: header.alg });
        },
        verify: { allowedIss: issuer(), allowedAud: SLUG },
      });
      fastify.get("/protected", async (request) => {
        await request.jwtVerify();
        return { sub: (request.user as { sub: string }).sub };
      });
      try {
        const token = await m2mToken();
        const ok = await fastify.inject({
          method: "GET",
          url: "/protected",
          headers: { authorization: `Bearer ${token}` },
        });
        expect(ok.statusCode).toBe(200);
        expect(ok.json()).toEqual({ sub: client.client_id });
        const tampered = await fastify.inject({
          method: "GET",
          url: "/protected",
          headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` },
        });
        expect(tampered.statusCode).toBe(401);
      } finally {
        await fastify.close();
      }
    },
    TIMEOUT,
  );
});

describe("express-oauth2-jwt-bearer on its discovery defaults with ES256 and EdDSA apps", () => {
  test(
    "discovery lists the app's algorithm, which the middleware then allows: M2M tokens of each pass",
    async () => {
      for (const alg of ["ES256", "EdDSA"] as const) {
        const slug = `standards-${alg.toLowerCase()}`;
        const created = await call<{ id: string }>("POST", "/v1/apps", { slug, display_name: alg });
        await call("PATCH", `/v1/apps/${created.id}/auth-config`, { signing_alg: alg });
        // Signs at once instead of 2 h later: no token of the old key exists yet.
        await call("POST", `/v1/apps/${created.id}/keys/rotate`, { emergency: true });
        const c = await call<{ client_id: string; client_secret: string }>(
          "POST",
          `/v1/apps/${created.id}/credentials`,
          { name: "api", scopes: SCOPES },
        );
        const token = await fetch(`${baseUrl}/${slug}/v1/oauth/token`, {
          method: "POST",
          body: new URLSearchParams({ grant_type: "client_credentials", ...c }),
        }).then(async (r) => ((await r.json()) as { access_token: string }).access_token);
        expect(decodeProtectedHeader(token).alg).toBe(alg);

        const app = express();
        app.use(auth({ issuerBaseURL: `${baseUrl}/${slug}`, audience: slug }));
        app.get("/read", requiredScopes("user.read"), (_req, res) => {
          res.json({ ok: true });
        });
        const server = await new Promise<Server>((resolve) => {
          const s = app.listen(0, "127.0.0.1", () => resolve(s));
        });
        try {
          const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
          const ok = await fetch(`${api}/read`, { headers: { authorization: `Bearer ${token}` } });
          expect(ok.status).toBe(200);
          expect(await ok.json()).toEqual({ ok: true });
          // The demo app's RS256 token names another issuer and audience: refused.
          const foreign = await fetch(`${api}/read`, {
            headers: { authorization: `Bearer ${await m2mToken()}` },
          });
          expect(foreign.status).toBe(401);
        } finally {
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
      }
    },
    TIMEOUT,
  );
});
