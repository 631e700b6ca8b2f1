/**
 * @module Browser callers against the compiled binary: oauth4webapi, with a fetch that sends an `Origin`
 * as a browser page would, discovers an app and validates an M2M access token through the JWKS (the Bun
 * native route), and every response it reads carries the CORS headers; preflights are answered on the
 * real socket; the Consumer API answers only the app's allowed origins; the token endpoint refuses GET.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as oauth from "oauth4webapi";
import { type Appliance, adminCall, startAppliance } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"C".repeat(43)}`;
const SLUG = "spa-cors";
/** Where a development SPA runs; an allowed origin may be plain http on localhost. */
const SPA = "http://localhost:5173";
const STRANGER = "https://stranger.example";

let appliance: Appliance;
let baseUrl = "";
let client: { client_id: string; client_secret: string };

/** The Admin API with the bootstrap PAK (throws on any status from 300 up). */
const admin = <T>(method: string, path: string, body?: unknown): Promise<T> =>
  adminCall<T>(PAK, `${baseUrl}${path}`, method, body);

beforeAll(async () => {
  appliance = await startAppliance("cors", PAK);
  baseUrl = appliance.baseUrl;
  const app = await admin<{ id: string }>("POST", "/v1/apps", { slug: SLUG, display_name: "SPA" });
  await admin("PATCH", `/v1/apps/${app.id}/auth-config`, { allowed_redirect_origins: [SPA] });
  client = await admin("POST", `/v1/apps/${app.id}/credentials`, {
    name: "spa-backend",
    scopes: ["user.read"],
  });
}, TIMEOUT);

afterAll(async () => {
  if (appliance) await appliance.dispose();
});

const issuer = () => new URL(`${baseUrl}/${SLUG}`);

/** A fetch as a page at `origin` makes it (the browser adds `Origin`), recording every response. */
function browserFetch(origin: string) {
  const seen: { url: string; status: number; headers: Headers }[] = [];
  const fetchFrom = async (url: string, init: RequestInit) => {
    const headers = new Headers(init.headers);
    headers.set("origin", origin);
    const res = await fetch(url, { ...init, headers });
    seen.push({ url, status: res.status, headers: res.headers });
    return res;
  };
  return { seen, fetch: fetchFrom };
}

const corsHeaders = (headers: Headers) =>
  Object.fromEntries([...headers].filter(([name]) => name.startsWith("access-control-")));

describe("oauth4webapi from a page on another origin", () => {
  test.each(["oidc", "oauth2"] as const)(
    "%s discovery and validateJwtAccessToken: the metadata and the JWKS answer with Access-Control-Allow-Origin: *",
    async (algorithm) => {
      const page = browserFetch(STRANGER);
      const options = { [oauth.customFetch]: page.fetch, [oauth.allowInsecureRequests]: true };
      const as = await oauth.processDiscoveryResponse(
        issuer(),
        await oauth.discoveryRequest(issuer(), { algorithm, ...options }),
      );
      expect(as.jwks_uri).toBe(`${baseUrl}/${SLUG}/v1/.well-known/jwks.json`);

      // The token comes from the app's backend (a confidential client never lives in a page).
      const oauthClient = { client_id: client.client_id };
      const grant = await oauth.clientCredentialsGrantRequest(
        as,
        oauthClient,
        oauth.ClientSecretBasic(client.client_secret),
        new URLSearchParams({ scope: "user.read" }),
        { [oauth.allowInsecureRequests]: true },
      );
      const { access_token } = await oauth.processClientCredentialsResponse(as, oauthClient, grant);

      const request = new Request(`${baseUrl}/resource`, {
        headers: { authorization: `Bearer ${access_token}` },
      });
      const claims = await oauth.validateJwtAccessToken(as, request, SLUG, options);
      expect(claims.client_id).toBe(client.client_id);

      expect(page.seen.map((r) => new URL(r.url).pathname)).toEqual([
        algorithm === "oidc"
          ? `/${SLUG}/.well-known/openid-configuration`
          : `/.well-known/oauth-authorization-server/${SLUG}`,
        `/${SLUG}/v1/.well-known/jwks.json`,
      ]);
      for (const r of page.seen) {
        expect({ url: r.url, status: r.status, cors: corsHeaders(r.headers) }).toEqual({
          url: r.url,
          status: 200,
          cors: { "access-control-allow-origin": "*" },
        });
      }
    },
    TIMEOUT,
  );

  test("the JWKS native route carries the header without Origin too (a shared cache may serve it to a page later)", async () => {
    for (const path of [`/${SLUG}/v1/.well-known/jwks.json`, `/${SLUG}/.well-known/jwks.json`]) {
      const res = await fetch(`${baseUrl}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("x-request-id")).toBeString();
    }
  });

  test.each([
    `/${SLUG}/v1/.well-known/jwks.json`,
    `/${SLUG}/.well-known/jwks.json`,
    `/${SLUG}/v1/.well-known/openid-configuration`,
    `/.well-known/oauth-authorization-server/${SLUG}`,
  ])("preflight OPTIONS %s on the socket: 204 with the public grant", async (path) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method: "OPTIONS",
      headers: {
        origin: STRANGER,
        "access-control-request-method": "GET",
        "access-control-request-headers": "if-none-match",
      },
    });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect(corsHeaders(res.headers)).toEqual({
      "access-control-allow-origin": "*",
      "access-control-allow-methods": "GET, HEAD, OPTIONS",
      "access-control-allow-headers": "if-none-match",
      "access-control-max-age": "3600",
    });
  });
});

describe("the Consumer API from a page", () => {
  const preflight = (origin: string) =>
    fetch(`${baseUrl}/${SLUG}/v1/auth/signup`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
  const signUp = (origin: string, username: string) =>
    fetch(`${baseUrl}/${SLUG}/v1/auth/signup`, {
      method: "POST",
      headers: { origin, "content-type": "application/json" },
      body: JSON.stringify({
        username,
        email: `${username}@example.com`,
        password: "Tangerine-Orbit-47-Lantern",
      }),
    });

  test("the allowed origin: its preflight is granted and its sign-up readable, never with credentials", async () => {
    const pre = await preflight(SPA);
    expect(pre.status).toBe(204);
    expect(corsHeaders(pre.headers)).toEqual({
      "access-control-allow-origin": SPA,
      "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
      "access-control-allow-headers": "content-type",
      "access-control-max-age": "600",
    });
    const res = await signUp(SPA, "pagey");
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(SPA);
    expect(res.headers.get("vary")).toBe("Origin");
    expect(res.headers.get("access-control-expose-headers")).toContain("x-request-id");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(((await res.json()) as { access_token: string }).access_token).toBeString();
  });

  test("another origin: no grant, no headers; the server still does the work", async () => {
    const pre = await preflight(STRANGER);
    expect(pre.status).toBe(404);
    expect(corsHeaders(pre.headers)).toEqual({});
    const res = await signUp(STRANGER, "strangey");
    expect(res.status).toBe(200);
    expect(corsHeaders(res.headers)).toEqual({});
  });

  test("Admin routes: no CORS for any origin", async () => {
    const res = await fetch(`${baseUrl}/v1/apps`, {
      method: "OPTIONS",
      headers: { origin: SPA, "access-control-request-method": "GET" },
    });
    expect(res.status).toBe(404);
    expect(corsHeaders(res.headers)).toEqual({});
  });
});

describe("the token endpoint on the socket", () => {
  test("GET and HEAD → 405 with Allow: POST; GET's body is RFC 6749 invalid_request", async () => {
    const get = await fetch(`${baseUrl}/${SLUG}/v1/oauth/token?grant_type=client_credentials`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect(((await get.json()) as { error: string }).error).toBe("invalid_request");
    const head = await fetch(`${baseUrl}/${SLUG}/v1/oauth/token`, { method: "HEAD" });
    expect(head.status).toBe(405);
    expect(head.headers.get("allow")).toBe("POST");
    expect(await head.text()).toBe("");
  });

  test("oauth4webapi with a resource other than the app's audience gets invalid_target", async () => {
    const as = await oauth.processDiscoveryResponse(
      issuer(),
      await oauth.discoveryRequest(issuer(), { [oauth.allowInsecureRequests]: true }),
    );
    const oauthClient = { client_id: client.client_id };
    const grant = await oauth.clientCredentialsGrantRequest(
      as,
      oauthClient,
      oauth.ClientSecretPost(client.client_secret),
      new URLSearchParams({ resource: "https://api.example.com/" }),
      { [oauth.allowInsecureRequests]: true },
    );
    const err = await oauth.processClientCredentialsResponse(as, oauthClient, grant).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(oauth.ResponseBodyError);
    expect((err as oauth.ResponseBodyError).error).toBe("invalid_target");
    expect((err as oauth.ResponseBodyError).status).toBe(400);
  });
});
