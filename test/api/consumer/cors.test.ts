/**
 * @module CORS: the public documents (JWKS, discovery) to any origin with a preflight, the Consumer API to
 * the app's `allowed_redirect_origins` only (no credentials flag, ever), the Admin and platform routes to none.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { GOOD_PASSWORD, queryRow, setAuthConfig, signUp } from "../../support/end-users.ts";
import { type AppBody, createApp } from "../../support/fixtures.ts";
import { type CallOptions, createTestContext, type TestContext } from "../../support/harness.ts";
import { expectErrorShape } from "../../support/openapi.ts";

const SPA = "https://spa.example.com";
const OTHER_SPA = "https://other.example.com";

let ctx: TestContext;
let app: AppBody;
let other: AppBody;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "cors-app");
  other = await createApp(ctx, "cors-other");
  await setAuthConfig(ctx, app.id, { allowed_redirect_origins: [SPA, "http://localhost:5173"] });
  await setAuthConfig(ctx, other.id, { allowed_redirect_origins: [OTHER_SPA] });
});

/** Every `access-control-*` header of a response, by name. */
const corsHeaders = (headers: Headers) =>
  Object.fromEntries([...headers].filter(([name]) => name.startsWith("access-control-")));

const preflight = (path: string, origin: string | null, extra: Record<string, string> = {}) =>
  ctx.call("OPTIONS", path, {
    auth: null,
    unchecked: true,
    headers: { ...(origin ? { origin } : {}), ...extra },
  });

describe("public documents: any origin", () => {
  const DOCUMENTS = [
    "/cors-app/v1/.well-known/jwks.json",
    "/cors-app/v1/.well-known/openid-configuration",
    "/cors-app/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server/cors-app",
  ];

  test.each(DOCUMENTS)(
    "GET %s carries Access-Control-Allow-Origin: * with and without Origin",
    async (path) => {
      for (const headers of [{ origin: "https://anyone.example" }, {} as Record<string, string>]) {
        const res = await ctx.call("GET", path, { auth: null, headers, unchecked: true });
        expect(res.status).toBe(200);
        expect(corsHeaders(res.headers)).toEqual({ "access-control-allow-origin": "*" });
        // A wildcard never comes with credentials, and a wildcard answer does not vary by Origin.
        expect(res.headers.get("vary")).toBeNull();
      }
    },
  );

  test("the 304 of a conditional request is readable cross-origin too", async () => {
    const first = await ctx.call("GET", DOCUMENTS[0]!, { auth: null, unchecked: true });
    const res = await ctx.call("GET", DOCUMENTS[0]!, {
      auth: null,
      unchecked: true,
      headers: { origin: "https://anyone.example", "if-none-match": first.headers.get("etag")! },
    });
    expect(res.status).toBe(304);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });

  test.each([
    ...DOCUMENTS,
    // The key set at the issuer path (get-jwks' default) is a public document as well.
    "/cors-app/.well-known/jwks.json",
  ])("OPTIONS %s is a preflight answer: 204, GET/HEAD/OPTIONS, only safe requested headers", async (path) => {
    const res = await preflight(path, "https://anyone.example", {
      "access-control-request-method": "GET",
      "access-control-request-headers": "If-None-Match, x-request-id, x-secret-sauce, authorization",
      "x-request-id": "pre-1",
    });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(corsHeaders(res.headers)).toEqual({
      "access-control-allow-origin": "*",
      "access-control-allow-methods": "GET, HEAD, OPTIONS",
      "access-control-allow-headers": "if-none-match, x-request-id",
      "access-control-max-age": "3600",
    });
    expect(res.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
    expect(res.headers.get("x-request-id")).toBe("pre-1");
  });

  test("a plain OPTIONS (no Origin, no request method) is answered the same way, minus granted headers", async () => {
    const res = await preflight(DOCUMENTS[0]!, null);
    expect(res.status).toBe(204);
    expect(corsHeaders(res.headers)).toEqual({
      "access-control-allow-origin": "*",
      "access-control-allow-methods": "GET, HEAD, OPTIONS",
      "access-control-max-age": "3600",
    });
  });

  test("a preflight with a NUL in the URL is refused like any request (400), not granted", async () => {
    const res = await preflight("/cors-app%00/v1/.well-known/jwks.json", "https://anyone.example", {
      "access-control-request-method": "GET",
    });
    expect(res.status).toBe(400);
    expectErrorShape(res.body, "VALIDATION_ERROR");
    expect(res.headers.get("access-control-allow-methods")).toBeNull();
  });

  test("an unknown app's 404 is readable by the browser (wildcard), still in the wire error shape", async () => {
    const res = await ctx.call("GET", "/no-such-app/v1/.well-known/openid-configuration", {
      auth: null,
      unchecked: true,
      headers: { origin: "https://anyone.example" },
    });
    expect(res.status).toBe(404);
    expectErrorShape(res.body, "APP_NOT_FOUND");
    expect(corsHeaders(res.headers)).toEqual({ "access-control-allow-origin": "*" });
  });
});

describe("Consumer API: the app's allowed_redirect_origins, exactly", () => {
  const SIGNUP = "/{app_slug}/v1/auth/signup";

  test("a preflight from a listed origin: 204 for that origin, Vary: Origin, the Consumer methods and headers, no credentials", async () => {
    const res = await preflight("/cors-app/v1/auth/signin", SPA, {
      "access-control-request-method": "POST",
      "access-control-request-headers":
        "content-type,authorization,idempotency-key,x-request-id,cookie,x-evil",
    });
    expect(res.status).toBe(204);
    expect(corsHeaders(res.headers)).toEqual({
      "access-control-allow-origin": SPA,
      "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
      "access-control-allow-headers": "content-type, authorization, idempotency-key, x-request-id",
      "access-control-max-age": "600",
    });
    expect(res.headers.get("vary")).toBe("Origin");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });

  test("a listed origin's request is answered with its origin, Vary and the exposed headers; the user is created", async () => {
    const res = await ctx.call("POST", SIGNUP, {
      params: { app_slug: app.slug },
      auth: null,
      headers: { origin: SPA },
      body: { username: "corsy", email: "corsy@example.com", password: GOOD_PASSWORD },
    });
    expect(res.status).toBe(200);
    expect(corsHeaders(res.headers)).toEqual({
      "access-control-allow-origin": SPA,
      "access-control-expose-headers":
        "x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset, www-authenticate, idempotent-replayed",
    });
    expect(res.headers.get("vary")).toBe("Origin");
    expect(
      await queryRow(
        ctx,
        "SELECT username FROM end_users WHERE app_id = ? AND username = ?",
        app.id,
        "corsy",
      ),
    ).toEqual({
      username: "corsy",
    });
  });

  test("errors carry the headers too, so the SPA can read a 401 and its challenge", async () => {
    const res = await ctx.call("GET", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: null,
      headers: { origin: "http://localhost:5173" },
    });
    expect(res.status).toBe(401);
    expectErrorShape(res.body, "UNAUTHORIZED");
    expect(res.headers.get("www-authenticate")).toStartWith("Bearer");
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(res.headers.get("access-control-expose-headers")).toContain("www-authenticate");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });

  test("a signed-in browser call with a bearer token gets its origin back", async () => {
    const user = await signUp(ctx, app.slug, {
      username: "bearer-spa",
      email: "bearer-spa@example.com",
      password: GOOD_PASSWORD,
    });
    const res = await ctx.call("GET", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: { bearer: user.access_token },
      headers: { origin: SPA },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(SPA);
  });

  const unlisted: [string, string][] = [
    ["another app's origin", OTHER_SPA],
    ["the same host over http", "http://spa.example.com"],
    ["another port", "https://spa.example.com:8443"],
    ["a subdomain", "https://evil.spa.example.com"],
    ["an opaque origin", "null"],
  ];

  test.each(unlisted)(
    "%s: no CORS headers; the preflight is not granted (404 as before)",
    async (_, origin) => {
      const res = await preflight("/cors-app/v1/auth/signin", origin, {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      });
      expect(res.status).toBe(404);
      expectErrorShape(res.body, "NOT_FOUND");
      expect(corsHeaders(res.headers)).toEqual({});
    },
  );

  test.each(unlisted)(
    "%s: the request itself is still processed (CORS protects browsers, not the server)",
    async (_, origin) => {
      const username = `unlisted${unlisted.findIndex(([, o]) => o === origin)}`;
      const res = await ctx.call("POST", SIGNUP, {
        params: { app_slug: app.slug },
        auth: null,
        headers: { origin },
        body: { username, email: `${username}@example.com`, password: GOOD_PASSWORD },
      });
      expect(res.status).toBe(200);
      expect(corsHeaders(res.headers)).toEqual({});
      // The answer depends on Origin either way, so shared caches must keep the two apart.
      expect(res.headers.get("vary")).toBe("Origin");
      expect(
        await queryRow(
          ctx,
          "SELECT 1 AS n FROM end_users WHERE app_id = ? AND username = ?",
          app.id,
          username,
        ),
      ).toEqual({
        n: 1,
      });
    },
  );

  test("an origin taken off the list loses its headers at once; one added gains them", async () => {
    const call = (origin: string) =>
      ctx.call("GET", "/{app_slug}/v1/me", {
        params: { app_slug: other.slug },
        auth: null,
        headers: { origin },
      });
    expect((await call(OTHER_SPA)).headers.get("access-control-allow-origin")).toBe(OTHER_SPA);
    await setAuthConfig(ctx, other.id, { allowed_redirect_origins: [SPA] });
    try {
      expect((await call(OTHER_SPA)).headers.get("access-control-allow-origin")).toBeNull();
      expect((await call(SPA)).headers.get("access-control-allow-origin")).toBe(SPA);
    } finally {
      await setAuthConfig(ctx, other.id, { allowed_redirect_origins: [OTHER_SPA] });
    }
  });

  test("an app with no list (the default) answers no origin; an unknown slug neither", async () => {
    const bare = await createApp(ctx, "cors-bare");
    for (const slug of [bare.slug, "no-such-app"]) {
      const res = await preflight(`/${slug}/v1/auth/signin`, SPA, {
        "access-control-request-method": "POST",
      });
      expect(res.status).toBe(404);
      expect(corsHeaders(res.headers)).toEqual({});
    }
  });

  test("requests without Origin (servers, SDKs) get no CORS headers and no Vary", async () => {
    const res = await ctx.call("GET", "/{app_slug}/v1/me", { params: { app_slug: app.slug }, auth: null });
    expect(res.status).toBe(401);
    expect(corsHeaders(res.headers)).toEqual({});
    expect(res.headers.get("vary")).toBeNull();
  });
});

describe("Admin and platform routes: no CORS at all", () => {
  const cases: [string, string, CallOptions][] = [
    ["GET", "/v1/apps", {}],
    ["GET", "/v1/apps/{app_id}/auth-config", { params: { app_id: "" } }],
    [
      "POST",
      "/v1/auth/signin",
      { auth: null, body: { identifier: "nobody@example.com", password: "wrong-password-1" } },
    ],
  ];

  test.each(cases)(
    "%s %s from a listed origin: no access-control-* headers",
    async (method, template, opts) => {
      const params = opts.params ? { app_id: app.id } : undefined;
      const res = await ctx.call(method, template, { ...opts, params, headers: { origin: SPA } });
      expect(res.status).toBeLessThan(500);
      expect(corsHeaders(res.headers)).toEqual({});
    },
  );

  test("OPTIONS on an Admin route from a listed origin is still 404, without CORS headers", async () => {
    const res = await preflight(`/v1/apps/${app.id}`, SPA, { "access-control-request-method": "DELETE" });
    expect(res.status).toBe(404);
    expect(corsHeaders(res.headers)).toEqual({});
  });
});
