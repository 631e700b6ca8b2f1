/**
 * @module Discovery that stock clients accept: RFC 8414 metadata publishing only what is implemented, the JWKS
 * at `{issuer}/.well-known/jwks.json`, and every advertised URL inside a path-prefixed public URL.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { GOOD_PASSWORD, signUp } from "../../support/end-users.ts";
import { createApp } from "../../support/fixtures.ts";
import { createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";

const METADATA = "/{app_slug}/v1/.well-known/openid-configuration";
const JWKS = "/{app_slug}/v1/.well-known/jwks.json";

describe("RFC 8414 metadata (default public URL)", () => {
  let ctx: TestContext;
  const slug = "standards-app";
  beforeAll(async () => {
    ctx = await createTestContext();
    await createApp(ctx, slug);
  });

  test("publishes only what Heimdall does: client_credentials, no authorization endpoint, RS256 only", async () => {
    // Contract-checked: the fields the contract requires are all still there.
    const res = await ctx.call("GET", METADATA, { params: { app_slug: slug }, auth: null });
    expect(res.status).toBe(200);
    const issuer = `${PUBLIC_URL}/${slug}`;
    expect(res.body).toEqual({
      issuer,
      jwks_uri: `${issuer}/v1/.well-known/jwks.json`,
      token_endpoint: `${issuer}/v1/oauth/token`,
      introspection_endpoint: `${issuer}/v1/oauth/introspect`,
      userinfo_endpoint: `${issuer}/v1/me`,
      heimdall_verify_endpoint: `${issuer}/v1/verify`,
      heimdall_authorize_endpoint: `${issuer}/v1/authorize`,
      heimdall_admin_users_endpoint: `${issuer}/v1/admin/users`,
      grant_types_supported: ["client_credentials"],
      // No authorization endpoint answers any response_type.
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      // No ID token is signed either, but verifiers (express-oauth2-jwt-bearer) read this as the token algorithms.
      id_token_signing_alg_values_supported: ["RS256"],
      subject_types_supported: ["public"],
      // Another change adds this key; it is not this test's business beyond its presence being allowed.
      ...(res.body.introspection_endpoint_auth_methods_supported
        ? {
            introspection_endpoint_auth_methods_supported:
              res.body.introspection_endpoint_auth_methods_supported,
          }
        : {}),
    });
    expect(res.body).not.toHaveProperty("authorization_endpoint");
  });

  test("`{issuer}/.well-known/jwks.json` serves the same key set, ETag and caching as the /v1 one", async () => {
    const v1 = await ctx.call("GET", JWKS, { params: { app_slug: slug }, auth: null });
    const atIssuer = await ctx.call("GET", `/${slug}/.well-known/jwks.json`, { auth: null, unchecked: true });
    expect(atIssuer.status).toBe(200);
    expect(atIssuer.text).toBe(v1.text);
    expect(atIssuer.headers.get("etag")).toBe(v1.headers.get("etag"));
    expect(atIssuer.headers.get("cache-control")).toBe("public, max-age=3600");
    expect(atIssuer.body.keys.length).toBeGreaterThan(0);

    const notModified = await ctx.call("GET", `/${slug}/.well-known/jwks.json`, {
      auth: null,
      headers: { "if-none-match": v1.headers.get("etag")! },
      unchecked: true,
    });
    expect(notModified.status).toBe(304);
    expect(notModified.text).toBe("");
  });

  test("`{issuer}/.well-known/jwks.json` of an unknown or archived app is 404 APP_NOT_FOUND", async () => {
    const unknown = await ctx.call("GET", "/no-such-app/.well-known/jwks.json", {
      auth: null,
      unchecked: true,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("APP_NOT_FOUND");

    const gone = await createApp(ctx, "gone-standards");
    const archived = await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
      params: { app_id: gone.id },
      body: { status: "archived" },
    });
    expect(archived.status).toBe(200);
    const res = await ctx.call("GET", "/gone-standards/.well-known/jwks.json", {
      auth: null,
      unchecked: true,
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("APP_NOT_FOUND");
  });

  test("/openapi.json documents the issuer-level JWKS as the contract's JWKS operation", async () => {
    const res = await ctx.call("GET", "/openapi.json", { auth: null, unchecked: true });
    const op = res.body.paths["/{app_slug}/.well-known/jwks.json"]?.get;
    expect(op.operationId).toBe("getJwksAtIssuer");
    expect(op.security).toEqual([]);
    expect(op.responses["200"].content["application/json"].schema).toEqual(
      res.body.paths["/{app_slug}/v1/.well-known/jwks.json"].get.responses["200"].content["application/json"]
        .schema,
    );
    // No prefix in the public URL: the plain RFC 8414 location is the only one.
    expect(
      Object.keys(res.body.paths).filter((p) => p.startsWith("/.well-known/oauth-authorization-server/")),
    ).toEqual(["/.well-known/oauth-authorization-server/{app_slug}"]);
  });
});

describe("a path-prefixed public URL (a proxy at /auth that strips it)", () => {
  const PREFIXED = "https://id.example.test/auth";
  let ctx: TestContext;
  const slug = "prefixed-app";
  const issuer = `${PREFIXED}/${slug}`;
  beforeAll(async () => {
    ctx = await createTestContext({}, { publicUrl: PREFIXED });
    await createApp(ctx, slug);
  });

  test("every advertised URL stays inside the prefix", async () => {
    const res = await ctx.call("GET", METADATA, { params: { app_slug: slug }, auth: null });
    expect(res.status).toBe(200);
    expect(res.body.issuer).toBe(issuer);
    const urls = Object.entries(res.body).filter(
      ([k]) => k === "issuer" || k.endsWith("_endpoint") || k === "jwks_uri",
    );
    expect(urls.map(([k]) => k).sort()).toEqual(
      [
        "heimdall_admin_users_endpoint",
        "heimdall_authorize_endpoint",
        "heimdall_verify_endpoint",
        "introspection_endpoint",
        "issuer",
        "jwks_uri",
        "token_endpoint",
        "userinfo_endpoint",
      ].sort(),
    );
    for (const [, url] of urls) expect(String(url).startsWith(`${issuer}`)).toBe(true);
    expect(res.body.jwks_uri).toBe(`${issuer}/v1/.well-known/jwks.json`);
    expect(res.body.token_endpoint).toBe(`${issuer}/v1/oauth/token`);
    expect(res.body.introspection_endpoint).toBe(`${issuer}/v1/oauth/introspect`);
    expect(res.body.userinfo_endpoint).toBe(`${issuer}/v1/me`);
  });

  test("RFC 8414 §3: the metadata answers at /.well-known/oauth-authorization-server/auth/<slug>, issuer pinned", async () => {
    const base = await ctx.call("GET", METADATA, { params: { app_slug: slug }, auth: null });
    // What an RFC 8414 client derives from the issuer: the well-known segment between host and path.
    const derived = new URL(issuer);
    const location = `/.well-known/oauth-authorization-server${derived.pathname}`;
    expect(location).toBe(`/.well-known/oauth-authorization-server/auth/${slug}`);
    const res = await ctx.call("GET", location, { auth: null, unchecked: true });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(base.body);
    expect(res.body.issuer).toBe(issuer);
    // The other locations, as a stripping proxy forwards them, answer the same document.
    for (const path of [
      `/${slug}/.well-known/openid-configuration`,
      `/.well-known/oauth-authorization-server/${slug}`,
    ]) {
      const other = await ctx.call("GET", path, { auth: null, unchecked: true });
      expect(other.status).toBe(200);
      expect(other.body).toEqual(base.body);
    }
    const unknown = await ctx.call("GET", "/.well-known/oauth-authorization-server/auth/no-such-app", {
      auth: null,
      unchecked: true,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("APP_NOT_FOUND");
  });

  test("/openapi.json lists the prefixed RFC 8414 location and names the prefixed server", async () => {
    const res = await ctx.call("GET", "/openapi.json", { auth: null, unchecked: true });
    expect(res.body.servers).toEqual([{ url: PREFIXED }]);
    const op = res.body.paths["/.well-known/oauth-authorization-server/auth/{app_slug}"]?.get;
    expect(op.operationId).toBe("getOAuthAuthorizationServerMetadataUnderPrefix");
    expect(op.security).toEqual([]);
  });

  test("tokens name the prefixed issuer and verify against the JWKS at `{issuer}/.well-known/jwks.json`", async () => {
    const user = await signUp(ctx, slug, {
      username: "prefixed-user",
      email: "prefixed@example.test",
      password: GOOD_PASSWORD,
    });
    expect(decodeJwt(user.access_token).iss).toBe(issuer);
    // The proxy strips `/auth`: `{issuer}/.well-known/jwks.json` reaches the server as `/<slug>/.well-known/jwks.json`.
    const jwks = await ctx.call("GET", `/${slug}/.well-known/jwks.json`, { auth: null, unchecked: true });
    expect(jwks.status).toBe(200);
    const { payload } = await jwtVerify(user.access_token, createLocalJWKSet(jwks.body), {
      issuer,
      audience: slug,
      currentDate: new Date(ctx.clock.now()),
    });
    expect(payload.sub).toBe(user.userId);
  });
});
