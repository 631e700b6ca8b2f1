/**
 * @module Federated sign-in follow-ups against the real local IdP: the MFA challenge after a federated first
 * factor (native and redirect flows, completion with a TOTP or recovery code, the enrolment challenge of an
 * app that requires MFA), an Apple config for the native flow only, and ES256 ID tokens from the token
 * endpoint of a `google` provider whose endpoints are overridden.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportPKCS8, generateKeyPair } from "jose";
import { Secret } from "otpauth";
import { queryRow, queryRows, setAuthConfig } from "../../support/end-users.ts";
import { type AppBody, auditRows, createApp } from "../../support/fixtures.ts";
import { closeTestContext, createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";
import {
  browseIdp,
  DEFAULT_USERS,
  hashNonce,
  type IdpUser,
  type LocalIdp,
  rawNonce,
  startIdp,
} from "../../support/idp.ts";
import { expectResponseMatches } from "../../support/openapi.ts";
import { claimsOf, codeAt, STEP } from "../consumer/mfa-signin-fixtures.ts";

const ORIGIN = "https://app.example.com";
const CLIENT = { client_id: "heimdall-mfa", client_secret: "idp-client-secret-mfa-0123456789" };
const ES_CLIENT = { client_id: "heimdall-es256", client_secret: "idp-client-secret-es-0123456789" };
const ADA = DEFAULT_USERS[0]!;
const META = { requestId: "test-enrol", ip: null, userAgent: null };
const PROVIDER_PATH = "/v1/apps/{app_id}/auth-config/providers/{provider}";

let ctx: TestContext;
let idp: LocalIdp;
/** oidc, no MFA required: accounts with a factor get the challenge. */
let app: AppBody;
/** oidc, `mfa_required`: accounts without a factor get the enrolment challenge. */
let strict: AppBody;
/** google kind pointed at the local IdP, whose client signs ID tokens with ES256. */
let es: AppBody;
/** apple configured for the native flow only (no private key). */
let nativeApple: AppBody;

const callbackUrl = (target: AppBody, provider: string) =>
  `${PUBLIC_URL}/${target.slug}/v1/auth/oauth/${provider}/callback`;

async function configure(target: AppBody, provider: string, config: Record<string, unknown>) {
  const res = await ctx.call("PUT", PROVIDER_PATH, {
    params: { app_id: target.id, provider },
    body: { config, enabled: true },
    unchecked: provider === "oidc",
  });
  expect(res.status).toBe(200);
  return res;
}

beforeAll(async () => {
  ctx = await createTestContext();
  // ID tokens are minted on the wall clock; Heimdall checks them on its own (injected) clock.
  ctx.clock.set(Date.now());
  idp = await startIdp({ autoConsent: true });
  app = await createApp(ctx, "fed-mfa");
  strict = await createApp(ctx, "fed-mfa-required");
  es = await createApp(ctx, "fed-es256");
  nativeApple = await createApp(ctx, "fed-apple-native");
  idp.addClient({ ...CLIENT, redirect_uris: [callbackUrl(app, "oidc"), callbackUrl(strict, "oidc")] });
  idp.addClient({
    ...ES_CLIENT,
    redirect_uris: [callbackUrl(es, "google")],
    id_token_signed_response_alg: "ES256",
  });
  for (const a of [app, strict, es, nativeApple]) {
    await setAuthConfig(ctx, a.id, { allowed_redirect_origins: [ORIGIN] });
  }
  await setAuthConfig(ctx, strict.id, { mfa_required: true });
  for (const a of [app, strict]) await configure(a, "oidc", { issuer: idp.issuer, ...CLIENT });
  await configure(es, "google", {
    ...ES_CLIENT,
    issuer: idp.issuer,
    authorization_endpoint: idp.authorizationEndpoint,
    token_endpoint: idp.tokenEndpoint,
    jwks_uri: idp.jwksUri,
  });
});

afterAll(async () => {
  await idp.stop();
  await closeTestContext(ctx);
});

const native = (target: AppBody, provider: string, body: Record<string, unknown>) =>
  ctx.call("POST", "/{app_slug}/v1/auth/oauth/{provider}", {
    params: { app_slug: target.slug, provider },
    body,
    // The MFA answer is the appliance's extension of the contract's token-only 200; checked below.
    unchecked: true,
  });

const exchange = (target: AppBody, code: string) =>
  ctx.call("POST", "/{app_slug}/v1/auth/oauth/exchange", {
    params: { app_slug: target.slug },
    body: { code },
    unchecked: true,
  });

const consumerPost = (target: AppBody, path: string, body: Record<string, unknown>, unchecked = false) =>
  ctx.call("POST", `/{app_slug}/v1/auth/${path}`, {
    params: { app_slug: target.slug },
    body,
    auth: null,
    unchecked,
  });

/** A native sign-in with a fresh, correct nonce for `sub` on the oidc provider. */
async function nativeSignin(target: AppBody, sub: string, email: string) {
  const nonce = rawNonce();
  const id_token = await idp.mintIdToken({
    audience: CLIENT.client_id,
    nonce: hashNonce(nonce),
    sub,
    email,
    emailVerified: true,
  });
  return native(target, "oidc", { id_token, nonce });
}

/** authorize → IdP login → callback → exchange, on `provider`. */
async function redirectSignin(target: AppBody, provider = "oidc", user: IdpUser = ADA) {
  const start = await ctx.call("GET", "/{app_slug}/v1/auth/oauth/{provider}/authorize", {
    params: { app_slug: target.slug, provider },
    query: { return_to: `${ORIGIN}/done` },
    unchecked: provider === "oidc",
  });
  expect(start.status).toBe(302);
  const back = await browseIdp(start.headers.get("location")!, user, PUBLIC_URL);
  const res = await ctx.call("GET", `/{app_slug}/v1/auth/oauth/{provider}/callback?${back.searchParams}`, {
    params: { app_slug: target.slug, provider },
    unchecked: true,
  });
  expect(res.status).toBe(303);
  const landing = new URL(res.headers.get("location")!);
  expect(landing.searchParams.get("heimdall_error")).toBeNull();
  return exchange(target, landing.searchParams.get("heimdall_code")!);
}

/** Enrols a confirmed TOTP factor on the account behind `accessToken`; the clock moves past the spent step. */
async function enrolFactor(target: AppBody, accessToken: string) {
  const claims = claimsOf(accessToken);
  const caller = { appId: target.id, userId: String(claims.sub), sessionId: String(claims.sid) };
  const started = await ctx.deps.mfa.startEnrollment(caller, { type: "totp" }, META);
  const secret = Secret.fromBase32(started.enrollment.secret);
  const now = ctx.clock.now();
  const confirmed = await ctx.deps.mfa.confirmEnrollment(
    caller,
    started.factor.id,
    { codes: [codeAt(secret, now - STEP), codeAt(secret, now)] },
    META,
  );
  ctx.clock.advance(STEP);
  return { userId: caller.userId, secret, factorId: started.factor.id, recovery: confirmed.recovery_codes };
}

/** A 200 that is the MFA challenge, in the contract's shape of the password sign-in's challenge. */
function expectChallenge(res: { status: number; body: Record<string, unknown> }) {
  expect(res.status).toBe(200);
  expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/auth/signin", 200, res.body);
  expect(res.body.mfa_required).toBe(true);
  expect(res.body.access_token).toBeUndefined();
  expect(res.body.refresh_token).toBeUndefined();
  return res.body.mfa_token as string;
}

/** The newest challenge of the account, its JSON as text and its time as a number on either engine. */
const challengeRow = async (appId: string, userId: string) => {
  const r = await queryRow(
    ctx,
    "SELECT purpose, first_factor_amr, consumed_at FROM mfa_challenges WHERE app_id = ? AND user_id = ? ORDER BY created_at DESC, id DESC",
    appId,
    userId,
  );
  if (!r) return r;
  const amr = r.first_factor_amr;
  return {
    ...r,
    first_factor_amr: typeof amr === "string" || amr === null ? amr : JSON.stringify(amr),
    consumed_at: r.consumed_at === null ? null : Number(r.consumed_at),
  };
};
const sessionCount = async (userId: string) =>
  Number(
    (await queryRow(
      ctx,
      "SELECT CAST(count(*) AS INTEGER) AS n FROM end_user_sessions WHERE user_id = ?",
      userId,
    ))!.n,
  );

describe("MFA after a federated first factor", () => {
  test("native: an account with a TOTP factor gets the challenge; auth/mfa/verify completes it with amr [oauth, oidc, totp]", async () => {
    const first = await nativeSignin(app, "mfa-native-1", "mfa-native@idp.example");
    expect(first.status).toBe(200);
    const factor = await enrolFactor(app, first.body.access_token);
    const sessionsBefore = await sessionCount(factor.userId);

    const res = await nativeSignin(app, "mfa-native-1", "mfa-native@idp.example");
    const token = expectChallenge(res);
    expect(res.body.factors).toEqual([{ id: factor.factorId, type: "totp", label: null }]);
    expect(res.body.enrollment_required).toBeUndefined();
    // The provider proved the first factor only: no session yet, and the challenge remembers how.
    expect(await sessionCount(factor.userId)).toBe(sessionsBefore);
    expect(await challengeRow(app.id, factor.userId)).toMatchObject({
      purpose: "signin",
      first_factor_amr: JSON.stringify(["oauth", "oidc"]),
      consumed_at: null,
    });
    const challenged = (await auditRows(ctx, { app_id: app.id, action: "user.signin_mfa_challenged" })).at(
      -1,
    )!;
    expect(challenged).toMatchObject({ resource_id: factor.userId, actor_type: "end_user" });
    expect(challenged.details).toMatchObject({ provider: "oidc", purpose: "signin", factors: 1 });

    const wrong = await consumerPost(app, "mfa/verify", { mfa_token: token, code: "000000" });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe("MFA_CODE_INVALID");

    const done = await consumerPost(app, "mfa/verify", {
      mfa_token: token,
      code: codeAt(factor.secret, ctx.clock.now()),
    });
    expect(done.status).toBe(200);
    const claims = claimsOf(done.body.access_token);
    expect(claims.sub).toBe(factor.userId);
    expect(claims.amr).toEqual(["oauth", "oidc", "totp"]);
    expect(await sessionCount(factor.userId)).toBe(sessionsBefore + 1);
    const session = (await queryRow(
      ctx,
      "SELECT amr, mfa_at FROM end_user_sessions WHERE id = ?",
      String(claims.sid),
    ))!;
    // jsonb arrives parsed on PostgreSQL, as text on SQLite.
    expect(typeof session.amr === "string" ? JSON.parse(session.amr) : session.amr).toEqual([
      "oauth",
      "oidc",
      "totp",
    ]);
    expect(session.mfa_at).not.toBeNull();
    const signedIn = (await auditRows(ctx, { app_id: app.id, action: "user.signed_in" })).at(-1)!;
    expect(signedIn.details).toMatchObject({ session_id: claims.sid, amr: ["oauth", "oidc", "totp"] });
  });

  test("redirect: exchange answers the challenge instead of tokens; verify or a recovery code completes it", async () => {
    const first = await redirectSignin(app);
    expect(first.status).toBe(200);
    expect(first.body.access_token).toBeString();
    const factor = await enrolFactor(app, first.body.access_token);

    const res = await redirectSignin(app);
    const token = expectChallenge(res);
    expect(res.body.factors).toEqual([{ id: factor.factorId, type: "totp", label: null }]);
    expect((await challengeRow(app.id, factor.userId))!.first_factor_amr).toBe(
      JSON.stringify(["oauth", "oidc"]),
    );
    const done = await consumerPost(app, "mfa/verify", {
      mfa_token: token,
      code: codeAt(factor.secret, ctx.clock.now()),
    });
    expect(done.status).toBe(200);
    expect(claimsOf(done.body.access_token)).toMatchObject({
      sub: factor.userId,
      amr: ["oauth", "oidc", "totp"],
    });
    // The challenge is spent: the same token completes nothing twice.
    const again = await consumerPost(app, "mfa/verify", {
      mfa_token: token,
      code: codeAt(factor.secret, ctx.clock.now()),
    });
    expect(again.status).toBe(401);
    expect(again.body.code).toBe("MFA_TOKEN_INVALID");

    const viaRecovery = await redirectSignin(app);
    const recovered = await consumerPost(app, "mfa/recover", {
      mfa_token: expectChallenge(viaRecovery),
      recovery_code: factor.recovery[0],
    });
    expect(recovered.status).toBe(200);
    expect(claimsOf(recovered.body.access_token).amr).toEqual(["oauth", "oidc", "recovery_code"]);
  });

  test("an app requiring MFA: a new federated account gets the enrolment challenge, enrols and signs in", async () => {
    const res = await nativeSignin(strict, "mfa-required-1", "required@idp.example");
    const token = expectChallenge(res);
    expect(res.body).toMatchObject({ factors: [], enrollment_required: true });
    // The account exists (sign-up happened), without a session until the factor is enrolled.
    const user = (await queryRow(
      ctx,
      "SELECT u.id FROM end_users u JOIN federated_identities f ON f.user_id = u.id WHERE f.app_id = ? AND f.subject = ?",
      strict.id,
      "mfa-required-1",
    ))!;
    const userId = String(user.id);
    expect(await sessionCount(userId)).toBe(0);
    expect(await challengeRow(strict.id, userId)).toMatchObject({
      purpose: "enroll",
      first_factor_amr: JSON.stringify(["oauth", "oidc"]),
    });
    expect(
      (
        await auditRows(ctx, { app_id: strict.id, action: "user.signin_mfa_challenged", resource_id: userId })
      )[0]!.details,
    ).toMatchObject({ provider: "oidc", purpose: "enroll", factors: 0 });

    const started = await consumerPost(strict, "mfa/enroll", { mfa_token: token }, true);
    expect(started.status).toBe(201);
    const secret = Secret.fromBase32(started.body.enrollment.secret);
    const now = ctx.clock.now();
    const done = await consumerPost(
      strict,
      "mfa/enroll/confirm",
      {
        mfa_token: token,
        factor_id: started.body.factor.id,
        codes: [codeAt(secret, now - STEP), codeAt(secret, now)],
      },
      true,
    );
    expect(done.status).toBe(200);
    expect(done.body.recovery_codes).toHaveLength(10);
    expect(claimsOf(done.body.access_token)).toMatchObject({ sub: userId, amr: ["oauth", "oidc", "totp"] });
    expect(await sessionCount(userId)).toBe(1);
    ctx.clock.advance(STEP);
  });

  test("an app requiring MFA: the redirect flow's exchange answers the enrolment challenge too", async () => {
    const res = await redirectSignin(strict);
    expectChallenge(res);
    expect(res.body).toMatchObject({ factors: [], enrollment_required: true });
  });
});

describe("apple for the native flow only (no private key)", () => {
  const APPLE = { service_id: "com.example.web", bundle_ids: ["com.example.ios"], team_id: "TEAM123456" };

  test("the config needs no key; native sign-in works; the redirect flow is 503 REDIRECT_FLOW_UNCONFIGURED", async () => {
    const put = await configure(nativeApple, "apple", {
      ...APPLE,
      issuer: idp.issuer,
      jwks_uri: idp.jwksUri,
    });
    expect(put.body.config).toMatchObject({ ...APPLE, private_key_present: false });

    const nonce = rawNonce();
    const id_token = await idp.mintIdToken({
      audience: "com.example.ios",
      nonce: hashNonce(nonce),
      sub: "001234.native-only",
      email: "native-only@privaterelay.appleid.com",
      extra: { email_verified: "true" },
    });
    const ok = await ctx.call("POST", "/{app_slug}/v1/auth/oauth/{provider}", {
      params: { app_slug: nativeApple.slug, provider: "apple" },
      body: { id_token, nonce },
    });
    expect(ok.status).toBe(200);
    expect(claimsOf(ok.body.access_token).amr).toEqual(["oauth", "apple"]);

    const grantsBefore = (
      await queryRows(ctx, "SELECT id FROM oauth_grants WHERE app_id = ?", nativeApple.id)
    ).length;
    const redirect = await ctx.call("GET", "/{app_slug}/v1/auth/oauth/{provider}/authorize", {
      params: { app_slug: nativeApple.slug, provider: "apple" },
      query: { return_to: `${ORIGIN}/done` },
    });
    expect(redirect.status).toBe(503);
    expect(redirect.body.code).toBe("REDIRECT_FLOW_UNCONFIGURED");
    expect(redirect.headers.get("location")).toBeNull();
    expect(await queryRows(ctx, "SELECT id FROM oauth_grants WHERE app_id = ?", nativeApple.id)).toHaveLength(
      grantsBefore,
    );
  });

  test("a key without its key_id is 400 naming config.key_id", async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const res = await ctx.call("PUT", PROVIDER_PATH, {
      params: { app_id: nativeApple.id, provider: "apple" },
      body: { config: { ...APPLE, private_key_pem: await exportPKCS8(privateKey) }, enabled: true },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain("config.key_id");
    const stored = await ctx.call("GET", PROVIDER_PATH, {
      params: { app_id: nativeApple.id, provider: "apple" },
    });
    expect(stored.body.config.private_key_present).toBe(false);
  });
});

describe("google with overridden endpoints", () => {
  test("an ES256 ID token from the token endpoint is accepted (its JWKS says ES256)", async () => {
    const res = await redirectSignin(es, "google");
    expect(res.status).toBe(200);
    expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/auth/oauth/exchange", 200, res.body);
    expect(claimsOf(res.body.access_token).amr).toEqual(["oauth", "google"]);
    expect(await queryRows(ctx, "SELECT subject FROM federated_identities WHERE app_id = ?", es.id)).toEqual([
      { subject: ADA.sub },
    ]);
  });
});
