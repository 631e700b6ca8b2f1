/** @module A per-app signing algorithm (`signing_alg` in the auth config): the switch through the rotation path, JWKS and discovery, and tokens of each algorithm on every verifying route. */
import { beforeAll, describe, expect, test } from "bun:test";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { MINUTE } from "../../../src/core/clock.ts";
import { PREPUBLISH } from "../../../src/keys/rotation-schedule.ts";
import { GOOD_PASSWORD, signIn, signUp, verifyPrimaryEmail } from "../../support/end-users.ts";
import { auditRows, createApp, type TestApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { expectErrorShape } from "../../support/openapi.ts";

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});

const patchAlg = (app: TestApp, signing_alg: unknown) =>
  ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", { params: { app_id: app.id }, body: { signing_alg } });

/**
 * The JWKS, checked here rather than against the contract: its `JwkDto` names only the RSA members, and
 * an EC or OKP key carries `crv`/`x`/`y` instead of `n`/`e` (RFC 7518 §6.2, RFC 8037 §2).
 */
async function jwks(app: TestApp) {
  const res = await ctx.call<JSONWebKeySet>("GET", "/{app_slug}/v1/.well-known/jwks.json", {
    params: { app_slug: app.slug },
    auth: null,
    unchecked: true,
  });
  expect(res.status).toBe(200);
  for (const k of res.body.keys) {
    const members = { RSA: ["e", "n"], EC: ["crv", "x", "y"], OKP: ["crv", "x"] }[k.kty as string];
    expect(Object.keys(k).sort()).toEqual([...members!, "alg", "kid", "kty", "use"].sort());
    expect(k.use).toBe("sig");
  }
  return res.body;
}

const discoveryAlgs = async (app: TestApp) => {
  const res = await ctx.call("GET", "/{app_slug}/v1/.well-known/openid-configuration", {
    params: { app_slug: app.slug },
    auth: null,
  });
  expect(res.status).toBe(200);
  return res.body.id_token_signing_alg_values_supported as string[];
};

async function m2mToken(app: TestApp) {
  const created = await ctx.call("POST", "/v1/apps/{app_id}/credentials", {
    params: { app_id: app.id },
    body: { name: `svc-${crypto.randomUUID().slice(0, 6)}`, scopes: ["user.read"] },
  });
  expect(created.status).toBe(201);
  const { client_id, client_secret } = created.body as { client_id: string; client_secret: string };
  return async () => {
    const res = await ctx.call("POST", "/{app_slug}/v1/oauth/token", {
      params: { app_slug: app.slug },
      raw: new URLSearchParams({ grant_type: "client_credentials", client_id, client_secret }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
      auth: null,
    });
    expect(res.status).toBe(200);
    return res.body.access_token as string;
  };
}

/** `/verify`, introspection (Bearer self-introspection) and, for an EndUser token, `/me`: all must accept it. */
async function expectAcceptedEverywhere(app: TestApp, token: string, kind: "end_user" | "m2m") {
  const verify = await ctx.call("POST", "/{app_slug}/v1/verify", {
    params: { app_slug: app.slug },
    auth: null,
    body: { token },
  });
  expect(verify.status).toBe(200);
  expect(verify.body).toMatchObject({ valid: true, principal: { type: kind, aid: app.id } });
  const introspection = await ctx.call("POST", "/{app_slug}/v1/oauth/introspect", {
    params: { app_slug: app.slug },
    auth: { bearer: token },
    body: {},
  });
  expect(introspection.status).toBe(200);
  expect(introspection.body.active).toBe(true);
  if (kind === "end_user") {
    const me = await ctx.call("GET", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: { bearer: token },
    });
    expect(me.status).toBe(200);
  }
}

const algOf = (token: string) => decodeProtectedHeader(token).alg;

describe("PATCH /v1/apps/{app_id}/auth-config signing_alg", () => {
  test("RS256 → ES256: published as the next key at once, signing from its activation, old tokens verify through the overlap", async () => {
    const app = await createApp(ctx, "alg-es");
    const email = "ada@example.com";
    const signedUp = await signUp(ctx, app.slug, { username: "ada", email, password: GOOD_PASSWORD });
    await verifyPrimaryEmail(ctx, signedUp.userId);
    const m2m = await m2mToken(app);
    const before = await jwks(app);
    expect(before.keys.map((k) => k.alg)).toEqual(["RS256", "RS256"]);
    const rsaActive = before.keys[0]!.kid!;

    const res = await patchAlg(app, "ES256");
    expect(res.status).toBe(200);
    expect(res.body.signing_alg).toBe("ES256");
    const got = await ctx.call("GET", "/v1/apps/{app_id}/auth-config", { params: { app_id: app.id } });
    expect(got.body.signing_alg).toBe("ES256");

    // The JWKS holds the RSA key that signs and an ES256 next key; the RSA next key was withdrawn.
    const after = await jwks(app);
    expect(after.keys.map((k) => [k.kty, k.alg])).toEqual([
      ["RSA", "RS256"],
      ["EC", "ES256"],
    ]);
    expect(after.keys[1]!.crv).toBe("P-256");
    const esKid = after.keys[1]!.kid!;
    expect(await discoveryAlgs(app)).toEqual(["RS256", "ES256"]);
    const next = (await ctx.deps.keys.list(app.id)).find((k) => k.state === "next")!;
    expect(next).toMatchObject({ kid: esKid, alg: "ES256" });
    expect(Date.parse(next.activates_at)).toBe(ctx.clock.now() + PREPUBLISH);

    const [changed] = await auditRows(ctx, { app_id: app.id, action: "app.signing_alg_changed" });
    expect(changed).toMatchObject({ resource_type: "app", resource_id: app.id, actor_type: "pak" });
    expect(changed!.details).toEqual({
      from: "RS256",
      to: "ES256",
      next_kid: esKid,
      activates_at: next.activates_at,
      withdrawn_kid: before.keys[1]!.kid,
    });
    expect((await auditRows(ctx, { app_id: app.id, action: "auth_config.updated" })).at(-1)!.details).toEqual(
      {
        changed: ["signing_alg"],
      },
    );

    // Until the ES256 key activates, every token is RS256 and verifies as before.
    ctx.clock.advance(PREPUBLISH - 10 * MINUTE);
    await ctx.deps.keys.tick();
    const rsUser = (await signIn(ctx, app.slug, email, GOOD_PASSWORD)).access_token;
    const rsM2m = await m2m();
    expect([algOf(rsUser), algOf(rsM2m)]).toEqual(["RS256", "RS256"]);

    ctx.clock.advance(10 * MINUTE);
    expect((await ctx.deps.keys.tick()).rotated).toBe(1);
    const esUser = (await signIn(ctx, app.slug, email, GOOD_PASSWORD)).access_token;
    const esM2m = await m2m();
    expect(decodeProtectedHeader(esUser)).toMatchObject({ alg: "ES256", kid: esKid });
    expect(decodeProtectedHeader(esM2m)).toMatchObject({ alg: "ES256", kid: esKid });

    // New and old tokens pass every verifying route; the JWKS verifies both with stock jose.
    for (const [token, kind] of [
      [esUser, "end_user"],
      [esM2m, "m2m"],
      [rsUser, "end_user"],
      [rsM2m, "m2m"],
    ] as const)
      await expectAcceptedEverywhere(app, token, kind);
    const set = await jwks(app);
    expect(set.keys.map((k) => [k.kid, k.alg])).toContainEqual([rsaActive, "RS256"]);
    const local = createLocalJWKSet(set);
    const opts = {
      issuer: `${ctx.deps.config.publicUrl}/${app.slug}`,
      currentDate: new Date(ctx.clock.now()),
    };
    expect((await jwtVerify(esM2m, local, { ...opts, algorithms: ["ES256"] })).protectedHeader.alg).toBe(
      "ES256",
    );
    expect((await jwtVerify(rsM2m, local, { ...opts, algorithms: ["RS256"] })).protectedHeader.alg).toBe(
      "RS256",
    );
    // Discovery lists the active algorithm first, then the retiring key's.
    expect(await discoveryAlgs(app)).toEqual(["ES256", "RS256"]);
  });

  test("EdDSA, then an emergency rotation: the new key signs at once and the fresh next key is EdDSA", async () => {
    const app = await createApp(ctx, "alg-ed");
    expect((await patchAlg(app, "EdDSA")).status).toBe(200);
    const rotated = await ctx.call("POST", "/v1/apps/{app_id}/keys/rotate", {
      params: { app_id: app.id },
      body: { emergency: true },
      unchecked: true,
    });
    expect(rotated.status).toBe(200);
    const keys = rotated.body.keys as { kid: string; alg: string; state: string }[];
    expect(
      keys
        .filter((k) => k.state !== "retired")
        .map((k) => [k.state, k.alg])
        .sort(),
    ).toEqual([
      ["active", "EdDSA"],
      ["next", "EdDSA"],
    ]);
    const m2m = await m2mToken(app);
    const token = await m2m();
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "EdDSA", kid: rotated.body.new_kid });
    await expectAcceptedEverywhere(app, token, "m2m");
    const set = await jwks(app);
    expect(set.keys.map((k) => [k.kty, k.crv, k.alg])).toEqual([
      ["OKP", "Ed25519", "EdDSA"],
      ["OKP", "Ed25519", "EdDSA"],
    ]);
    expect(await discoveryAlgs(app)).toEqual(["EdDSA"]);
  });

  test("the same value again changes nothing and writes no audit row", async () => {
    const app = await createApp(ctx, "alg-same");
    const kids = (await ctx.deps.keys.list(app.id)).map((k) => k.kid);
    const res = await patchAlg(app, "RS256");
    expect(res.status).toBe(200);
    expect(res.body.signing_alg).toBe("RS256");
    expect((await ctx.deps.keys.list(app.id)).map((k) => k.kid)).toEqual(kids);
    expect(await auditRows(ctx, { app_id: app.id, action: "app.signing_alg_changed" })).toHaveLength(0);
    expect(await auditRows(ctx, { app_id: app.id, action: "auth_config.updated" })).toHaveLength(0);
  });

  test.each([["HS256"], ["rs256"], ["none"], [256], [null]])(
    "signing_alg %p is 400 VALIDATION_ERROR and changes nothing",
    async (value) => {
      const app = await createApp(ctx, `alg-bad-${crypto.randomUUID().slice(0, 6)}`);
      const kids = (await ctx.deps.keys.list(app.id)).map((k) => k.kid);
      const res = await patchAlg(app, value);
      expect(res.status).toBe(400);
      expectErrorShape(res.body, "VALIDATION_ERROR");
      expect(res.body.details.map((d: { field: string }) => d.field)).toEqual(["signing_alg"]);
      expect((await ctx.deps.keys.list(app.id)).map((k) => k.kid)).toEqual(kids);
      expect(await auditRows(ctx, { app_id: app.id, action: "auth_config.updated" })).toHaveLength(0);
    },
  );
});
