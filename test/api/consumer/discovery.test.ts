/** @module Consumer discovery: per-app JWKS and OpenID/OAuth metadata, their caching headers and locations. */

import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { createLocalJWKSet, jwtVerify } from "jose";
import { rows } from "../../../src/db/query.ts";
import { PREPUBLISH } from "../../../src/keys/rotation-schedule.ts";
import { auditRows } from "../../support/fixtures.ts";
import { createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";

let ctx: TestContext;
let appId: string;
const slug = "disco-app";

beforeAll(async () => {
  ctx = await createTestContext();
  const res = await ctx.call("POST", "/v1/apps", { body: { slug, display_name: "Disco" } });
  expect(res.status).toBe(201);
  appId = res.body.id;
});

describe("GET /{app_slug}/v1/.well-known/jwks.json", () => {
  test("publishes the active and next keys with public members only, cacheable", async () => {
    const res = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: { app_slug: slug },
      auth: null,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=3600");
    expect(res.headers.get("etag")).toMatch(/^".+"$/);
    expect(res.body.keys).toHaveLength(2);
    for (const k of res.body.keys) {
      expect(Object.keys(k).sort()).toEqual(["alg", "e", "kid", "kty", "n", "use"]);
      expect(k).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
      expect(k.kid).toMatch(/^rs256-[0-9a-z]+-[0-9a-f]{8}$/);
    }
  });

  test("If-None-Match with the current ETag answers 304", async () => {
    const first = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: { app_slug: slug },
      auth: null,
    });
    const res = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: { app_slug: slug },
      auth: null,
      headers: { "if-none-match": first.headers.get("etag")! },
      unchecked: true,
    });
    expect(res.status).toBe(304);
    expect(res.text).toBe("");
  });

  test("a token signed for the app verifies against the served JWKS", async () => {
    const res = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: { app_slug: slug },
      auth: null,
    });
    const token = await ctx.deps.keys.sign(
      appId,
      { iss: `${PUBLIC_URL}/${slug}`, sub: "x" },
      { ttlSeconds: 60 },
    );
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(res.body), {
      issuer: `${PUBLIC_URL}/${slug}`,
      currentDate: new Date(ctx.clock.now()),
    });
    expect(payload.sub).toBe("x");
    expect(protectedHeader).toMatchObject({ alg: "RS256", typ: "at+jwt" });
  });

  test("unknown slug is 404 APP_NOT_FOUND", async () => {
    const res = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: { app_slug: "nope-app" },
      auth: null,
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("APP_NOT_FOUND");
  });
});

describe("discovery metadata", () => {
  test("openid-configuration under /v1 matches the spec with issuer = PUBLIC_URL/slug", async () => {
    const res = await ctx.call("GET", "/{app_slug}/v1/.well-known/openid-configuration", {
      params: { app_slug: slug },
      auth: null,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=3600");
    expect(res.headers.get("etag")).toBeTruthy();
    expect(res.body.issuer).toBe(`${PUBLIC_URL}/${slug}`);
    expect(res.body.jwks_uri).toBe(`${PUBLIC_URL}/${slug}/v1/.well-known/jwks.json`);
    expect(res.body.token_endpoint).toBe(`${PUBLIC_URL}/${slug}/v1/oauth/token`);
    expect(res.body.grant_types_supported).toEqual(["client_credentials"]);
    expect(res.body.token_endpoint_auth_methods_supported).toEqual([
      "client_secret_basic",
      "client_secret_post",
    ]);
    // Introspection's client-authenticated mode takes the token endpoint's methods (RFC 8414 §2).
    expect(res.body.introspection_endpoint).toBe(`${PUBLIC_URL}/${slug}/v1/oauth/introspect`);
    expect(res.body.introspection_endpoint_auth_methods_supported).toEqual([
      "client_secret_basic",
      "client_secret_post",
    ]);
  });

  test("the same document is served where stock clients look for the issuer", async () => {
    const base = await ctx.call("GET", "/{app_slug}/v1/.well-known/openid-configuration", {
      params: { app_slug: slug },
      auth: null,
    });
    for (const path of [
      `/${slug}/.well-known/openid-configuration`,
      `/.well-known/oauth-authorization-server/${slug}`,
    ]) {
      const res = await ctx.call("GET", path, { auth: null, unchecked: true });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(base.body);
    }
  });

  test("suspended apps keep publishing keys; archived apps disappear", async () => {
    const created = await ctx.call("POST", "/v1/apps", {
      body: { slug: "fading-app", display_name: "Fading" },
    });
    const id = created.body.id;
    const jwks = () =>
      ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
        params: { app_slug: "fading-app" },
        auth: null,
      });
    expect(
      (
        await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
          params: { app_id: id },
          body: { status: "suspended" },
        })
      ).status,
    ).toBe(200);
    expect((await jwks()).status).toBe(200);
    expect(
      (
        await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
          params: { app_id: id },
          body: { status: "archived" },
        })
      ).status,
    ).toBe(200);
    const gone = await jwks();
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe("APP_NOT_FOUND");
  });
});

describe("Admin key routes (appliance additions)", () => {
  test("GET /v1/apps/{app_id}/keys lists states without private material", async () => {
    const res = await ctx.call("GET", "/v1/apps/{app_id}/keys", {
      params: { app_id: appId },
      unchecked: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.data.map((k: { state: string }) => k.state).sort()).toEqual(["active", "next"]);
    expect(res.text).not.toMatch(/"d"|PRIVATE/);
  });

  test("rotation publishes a new next key, keeps the old one retiring, and is audited", async () => {
    // The next key must have been published for PREPUBLISH before a non-emergency rotation promotes it.
    ctx.clock.advance(PREPUBLISH);
    const before = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: { app_slug: slug },
      auth: null,
    });
    const res = await ctx.call("POST", "/v1/apps/{app_id}/keys/rotate", {
      params: { app_id: appId },
      unchecked: true,
    });
    expect(res.status).toBe(200);
    const states = res.body.keys.map((k: { state: string }) => k.state).sort();
    expect(states).toEqual(["active", "next", "retiring"]);
    const after = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: { app_slug: slug },
      auth: null,
    });
    expect(after.headers.get("etag")).not.toBe(before.headers.get("etag"));
    expect(after.body.keys.map((k: { kid: string }) => k.kid)).toContain(res.body.old_kid);
    const rows = await auditRows(ctx, { app_id: appId, action: "app.key_rotated" });
    expect(rows.map((r) => r.actor_type)).toEqual(["pak"]);
  });

  test("emergency rotation drops the old key from the JWKS at once", async () => {
    const res = await ctx.call("POST", "/v1/apps/{app_id}/keys/rotate", {
      params: { app_id: appId },
      body: { emergency: true },
      unchecked: true,
    });
    expect(res.status).toBe(200);
    const jwks = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: { app_slug: slug },
      auth: null,
    });
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).not.toContain(res.body.old_kid);
  });

  test.each([
    ["no credential", null, 401, "UNAUTHORIZED"],
    ["unknown PAK", { pak: `pcft_live_${"x".repeat(40)}` }, 401, "INVALID_TOKEN"],
  ] as const)("rotate with %s", async (_n, auth, status, code) => {
    const res = await ctx.call("POST", "/v1/apps/{app_id}/keys/rotate", {
      params: { app_id: appId },
      auth,
      unchecked: true,
    });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
  });

  test("bad body is 400 VALIDATION_ERROR", async () => {
    const res = await ctx.call("POST", "/v1/apps/{app_id}/keys/rotate", {
      params: { app_id: appId },
      body: { emergency: "yes" },
      unchecked: true,
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
  });
});

describe("slug rename alias", () => {
  test("the old slug serves the JWKS for 30 days and cannot be taken meanwhile", async () => {
    const created = await ctx.call("POST", "/v1/apps", {
      body: { slug: "before-rename", display_name: "Renamed" },
    });
    const id = created.body.id;
    const jwks = (s: string) =>
      ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", { params: { app_slug: s }, auth: null });
    const original = await jwks("before-rename");
    const renamed = await ctx.call("PATCH", "/v1/apps/{app_id}", {
      params: { app_id: id },
      body: { slug: "after-rename" },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.slug).toBe("after-rename");

    expect((await jwks("after-rename")).body).toEqual(original.body);
    expect((await jwks("before-rename")).body).toEqual(original.body);
    const taken = await ctx.call("POST", "/v1/apps", {
      body: { slug: "before-rename", display_name: "Squatter" },
    });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe("SLUG_TAKEN");
    // Discovery metadata follows the live slug only: its issuer is the new one.
    const oldMeta = await ctx.call("GET", "/{app_slug}/v1/.well-known/openid-configuration", {
      params: { app_slug: "before-rename" },
      auth: null,
    });
    expect(oldMeta.status).toBe(404);

    ctx.clock.advance(30 * 24 * 3600 * 1000 + 1);
    const expired = await jwks("before-rename");
    expect(expired.status).toBe(404);
    expect(expired.body.code).toBe("APP_NOT_FOUND");
    expect(
      (await ctx.call("POST", "/v1/apps", { body: { slug: "before-rename", display_name: "Now free" } }))
        .status,
    ).toBe(201);
  });

  test("renaming back to a live alias of the same app is allowed", async () => {
    const created = await ctx.call("POST", "/v1/apps", { body: { slug: "ping-app", display_name: "Ping" } });
    const id = created.body.id;
    expect(
      (await ctx.call("PATCH", "/v1/apps/{app_id}", { params: { app_id: id }, body: { slug: "pong-app" } }))
        .status,
    ).toBe(200);
    const back = await ctx.call("PATCH", "/v1/apps/{app_id}", {
      params: { app_id: id },
      body: { slug: "ping-app" },
    });
    expect(back.status).toBe(200);
    const aliases = await rows(ctx.deps.db, sql`SELECT slug FROM app_slug_aliases WHERE app_id = ${id}`);
    expect(aliases).toEqual([{ slug: "pong-app" }]);
  });
});
