/**
 * @module Federated sign-in in process against a real local OpenID Provider (`oidc-provider` on loopback): the
 * redirect flow (authorize → IdP login → callback → exchange), its state and code rules, the return_to table,
 * the native ID-token flow with every bad token, and the three link policies.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeJwt } from "jose";
import {
  GOOD_PASSWORD,
  queryRows,
  setAuthConfig,
  signIn,
  signUp,
  verifyPrimaryEmail,
} from "../../support/end-users.ts";
import { type AppBody, auditRows, createApp } from "../../support/fixtures.ts";
import { closeTestContext, createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";
import { browseIdp, DEFAULT_USERS, hashNonce, type LocalIdp, rawNonce, startIdp } from "../../support/idp.ts";
import { expectServedFit, servedDocument } from "../../support/served-openapi.ts";

const ORIGIN = "https://app.example.com";
const RETURN_TO = `${ORIGIN}/signed-in?tab=1#top`;
const CLIENT = { client_id: "heimdall-test", client_secret: "idp-client-secret-0123456789" };
const ADA = DEFAULT_USERS[0]!;
const GRACE = DEFAULT_USERS[1]!;

let ctx: TestContext;
let idp: LocalIdp;
let app: AppBody;
let other: AppBody;

const PROVIDER_PATH = "/v1/apps/{app_id}/auth-config/providers/{provider}";

async function configure(target: AppBody, provider: string, config: Record<string, unknown>, enabled = true) {
  const res = await ctx.call("PUT", PROVIDER_PATH, {
    params: { app_id: target.id, provider },
    body: { config, enabled },
    unchecked: provider === "oidc",
  });
  expect(res.status).toBe(200);
}

const callbackUrl = (target: AppBody, provider = "oidc") =>
  `${PUBLIC_URL}/${target.slug}/v1/auth/oauth/${provider}/callback`;

beforeAll(async () => {
  ctx = await createTestContext();
  // ID tokens are minted on the wall clock; Heimdall checks them on its own (injected) clock.
  ctx.clock.set(Date.now());
  idp = await startIdp({ autoConsent: true });
  app = await createApp(ctx, "fed");
  other = await createApp(ctx, "fed-other");
  idp.addClient({ ...CLIENT, redirect_uris: [callbackUrl(app), callbackUrl(other)] });
  for (const a of [app, other]) {
    await setAuthConfig(ctx, a.id, { allowed_redirect_origins: [ORIGIN] });
    await configure(a, "oidc", { issuer: idp.issuer, ...CLIENT, native_client_ids: ["com.example.ios"] });
  }
});

afterAll(async () => {
  await idp.stop();
  await closeTestContext(ctx);
});

const authorize = (target: AppBody, returnTo: string | undefined, provider = "oidc") =>
  ctx.call("GET", "/{app_slug}/v1/auth/oauth/{provider}/authorize", {
    params: { app_slug: target.slug, provider },
    query: { return_to: returnTo },
    unchecked: provider === "oidc",
  });

const callback = (target: AppBody, query: URLSearchParams) =>
  ctx.call("GET", `/{app_slug}/v1/auth/oauth/{provider}/callback?${query}`, {
    params: { app_slug: target.slug, provider: "oidc" },
    unchecked: true,
  });

const exchange = (target: AppBody, code: string) =>
  ctx.call("POST", "/{app_slug}/v1/auth/oauth/exchange", {
    params: { app_slug: target.slug },
    body: { code },
  });

const native = (target: AppBody, body: Record<string, unknown>, provider = "oidc") =>
  ctx.call("POST", "/{app_slug}/v1/auth/oauth/{provider}", {
    params: { app_slug: target.slug, provider },
    body,
    unchecked: provider === "oidc",
  });

/** Drives the IdP's login form as a browser would; returns Heimdall's callback URL. */
const loginAtIdp = (authorizeUrl: string, user = ADA) => browseIdp(authorizeUrl, user, PUBLIC_URL);

/** authorize → IdP → callback; the 303's Location. */
async function redirectFlow(target: AppBody, user = ADA): Promise<URL> {
  const start = await authorize(target, RETURN_TO);
  expect(start.status).toBe(302);
  const back = await loginAtIdp(start.headers.get("location")!, user);
  const res = await callback(target, back.searchParams);
  expect(res.status).toBe(303);
  return new URL(res.headers.get("location")!);
}

const eventsOf = async (appId: string, type: string) =>
  (
    await queryRows(
      ctx,
      "SELECT data FROM events WHERE app_id = ? AND type = ? ORDER BY created_at, id",
      appId,
      type,
    )
  ).map(
    // jsonb arrives parsed on PostgreSQL, as text on SQLite.
    (r) => (typeof r.data === "string" ? JSON.parse(r.data) : r.data) as Record<string, unknown>,
  );

describe("authorize", () => {
  test("302 to the provider with state, PKCE S256, nonce and Heimdall's callback as redirect_uri", async () => {
    const res = await authorize(app, RETURN_TO);
    expect(res.status).toBe(302);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const to = new URL(res.headers.get("location")!);
    expect(`${to.origin}${to.pathname}`).toBe(idp.authorizationEndpoint);
    const q = to.searchParams;
    expect(q.get("client_id")).toBe(CLIENT.client_id);
    expect(q.get("redirect_uri")).toBe(callbackUrl(app));
    expect(q.get("response_type")).toBe("code");
    expect(q.get("scope")).toBe("openid email profile");
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get("state")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get("nonce")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The state is stored hashed only, bound to the app, provider and return_to.
    const rows = await queryRows(
      ctx,
      "SELECT * FROM oauth_grants WHERE kind = 'state' AND app_id = ?",
      app.id,
    );
    expect(rows.some((r) => r.value_hash === q.get("state"))).toBe(false);
    expect(rows.at(-1)).toMatchObject({ provider: "oidc", return_to: RETURN_TO, consumed_at: null });
  });

  const tricks: [string, string | undefined][] = [
    ["missing", undefined],
    ["another origin", "https://evil.example.com/cb"],
    ["userinfo trick", "https://app.example.com@evil.example.com/cb"],
    ["userinfo on the right host", "https://user:pw@app.example.com/cb"],
    ["scheme-relative", "//evil.example.com/cb"],
    ["javascript:", "javascript:alert(1)//https://app.example.com"],
    ["data:", "data:text/html,hi"],
    ["another port", "https://app.example.com:8443/cb"],
    ["plain http", "http://app.example.com/cb"],
    ["trailing-dot host", "https://app.example.com./cb"],
    ["a subdomain", "https://evil.app.example.com/cb"],
    ["a suffix host", "https://app.example.com.evil.example/cb"],
    ["encoded slash in the host", "https://app.example.com%2F@evil.example.com/cb"],
    ["backslash", "https:\\\\evil.example.com/cb"],
    ["backslash after the host", "https://evil.example.com\\@app.example.com/cb"],
    ["relative path", "/cb"],
    ["tab in the scheme", "ht\ttps://app.example.com/cb"],
    ["leading space", " https://app.example.com/cb"],
  ];
  test.each(tricks)("return_to %s → 400 RETURN_TO_NOT_ALLOWED, no state issued", async (_name, returnTo) => {
    const before = (await queryRows(ctx, "SELECT id FROM oauth_grants WHERE kind = 'state'")).length;
    const res = await authorize(app, returnTo);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("RETURN_TO_NOT_ALLOWED");
    expect(res.headers.get("location")).toBeNull();
    expect(await queryRows(ctx, "SELECT id FROM oauth_grants WHERE kind = 'state'")).toHaveLength(before);
  });

  test("an app without allowed_redirect_origins has the web flow off (400)", async () => {
    await setAuthConfig(ctx, other.id, { allowed_redirect_origins: [] });
    try {
      const res = await authorize(other, RETURN_TO);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("RETURN_TO_NOT_ALLOWED");
    } finally {
      await setAuthConfig(ctx, other.id, { allowed_redirect_origins: [ORIGIN] });
    }
  });

  test("unknown provider 400; configured but disabled, or not configured, 503 PROVIDER_DISABLED", async () => {
    const unknown = await authorize(app, RETURN_TO, "facebook");
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe("UNKNOWN_PROVIDER");
    const unconfigured = await authorize(app, RETURN_TO, "google");
    expect(unconfigured.status).toBe(503);
    expect(unconfigured.body.code).toBe("PROVIDER_DISABLED");
    await configure(other, "oidc", { issuer: idp.issuer, client_id: CLIENT.client_id }, false);
    try {
      const disabled = await authorize(other, RETURN_TO);
      expect(disabled.status).toBe(503);
      expect(disabled.body.code).toBe("PROVIDER_DISABLED");
      const nativeDisabled = await native(other, { id_token: "x".repeat(40), nonce: rawNonce() });
      expect(nativeDisabled.status).toBe(503);
    } finally {
      await configure(other, "oidc", { issuer: idp.issuer, client_id: CLIENT.client_id });
    }
  });
});

describe("the redirect flow against the local IdP", () => {
  let code = "";

  test("login → 303 to return_to with heimdall_code (query and fragment kept); a new account", async () => {
    const landed = await redirectFlow(app);
    expect(`${landed.origin}${landed.pathname}`).toBe(`${ORIGIN}/signed-in`);
    expect(landed.searchParams.get("tab")).toBe("1");
    expect(landed.hash).toBe("#top");
    code = landed.searchParams.get("heimdall_code")!;
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [user] = await queryRows(
      ctx,
      "SELECT * FROM end_users WHERE app_id = ? AND username = 'ada'",
      app.id,
    );
    expect(user).toMatchObject({
      password_hash: null,
      status: "active",
      role: "member",
      display_name: ADA.name,
    });
    const contacts = await queryRows(
      ctx,
      "SELECT type, value, CAST(is_primary AS INTEGER) AS is_primary, verified_at FROM end_user_contacts WHERE user_id = ?",
      String(user!.id),
    );
    expect(contacts).toHaveLength(1);
    expect(contacts[0]).toMatchObject({ type: "email", value: ADA.email, is_primary: 1 });
    expect(contacts[0]!.verified_at).not.toBeNull();
    const ids = await queryRows(
      ctx,
      "SELECT provider, subject, CAST(email_verified AS INTEGER) AS email_verified FROM federated_identities WHERE user_id = ?",
      String(user!.id),
    );
    expect(ids).toEqual([expect.objectContaining({ provider: "oidc", subject: ADA.sub, email_verified: 1 })]);
    expect(
      (await auditRows(ctx, { app_id: app.id, action: "user.signed_up" })).at(-1)!.details,
    ).toMatchObject({
      provider: "oidc",
      username: "ada",
    });
    expect((await eventsOf(app.id, "user.signup")).at(-1)).toMatchObject({
      user_id: user!.id,
      provider: "oidc",
    });
  });

  test("exchange: the token pair with amr [oauth, oidc]; /me shows the federated user; audited", async () => {
    const res = await exchange(app, code);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body.token_type).toBe("Bearer");
    expect(decodeJwt(res.body.access_token).amr).toEqual(["oauth", "oidc"]);
    const me = await ctx.call("GET", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: { bearer: res.body.access_token },
    });
    expect(me.status).toBe(200);
    expect(me.body.username).toBe("ada");
    expect(
      (await auditRows(ctx, { app_id: app.id, action: "user.signed_in" })).at(-1)!.details,
    ).toMatchObject({
      amr: ["oauth", "oidc"],
      provider: "oidc",
    });
    expect((await eventsOf(app.id, "user.signin")).at(-1)).toMatchObject({
      provider: "oidc",
      amr: ["oauth", "oidc"],
    });
  });

  test("the code is single-use (401) and never another app's (403); garbage 401", async () => {
    const replay = await exchange(app, code);
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe("OAUTH_CODE_INVALID");
    const landed = await redirectFlow(app);
    const fresh = landed.searchParams.get("heimdall_code")!;
    const foreign = await exchange(other, fresh);
    expect(foreign.status).toBe(403);
    expect(foreign.body.code).toBe("OAUTH_CODE_OTHER_APP");
    expect((await exchange(app, "x".repeat(43))).status).toBe(401);
  });

  test("a code older than 60 s is refused", async () => {
    const landed = await redirectFlow(app);
    ctx.clock.advance(61_000);
    try {
      const res = await exchange(app, landed.searchParams.get("heimdall_code")!);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("OAUTH_CODE_INVALID");
    } finally {
      ctx.clock.set(Date.now());
    }
  });

  test("the second sign-in of the same identity opens the same account (no new user)", async () => {
    const before = (await queryRows(ctx, "SELECT id FROM end_users WHERE app_id = ?", app.id)).length;
    const landed = await redirectFlow(app);
    const res = await exchange(app, landed.searchParams.get("heimdall_code")!);
    expect(res.status).toBe(200);
    expect(await queryRows(ctx, "SELECT id FROM end_users WHERE app_id = ?", app.id)).toHaveLength(before);
  });
});

describe("callback state", () => {
  test("replayed state → 400 OAUTH_STATE_INVALID, no redirect", async () => {
    const start = await authorize(app, RETURN_TO);
    const back = await loginAtIdp(start.headers.get("location")!);
    expect((await callback(app, back.searchParams)).status).toBe(303);
    const again = await callback(app, back.searchParams);
    expect(again.status).toBe(400);
    expect(again.body.code).toBe("OAUTH_STATE_INVALID");
    expect(again.headers.get("location")).toBeNull();
  });

  test("a state issued for another app → 400", async () => {
    const start = await authorize(other, RETURN_TO);
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    const res = await callback(app, new URLSearchParams({ state, code: "abc" }));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("OAUTH_STATE_INVALID");
  });

  test("an expired state (10 min) → 400", async () => {
    const start = await authorize(app, RETURN_TO);
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    ctx.clock.advance(10 * 60_000 + 1);
    try {
      const res = await callback(app, new URLSearchParams({ state, code: "abc" }));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("OAUTH_STATE_INVALID");
    } finally {
      ctx.clock.set(Date.now());
    }
  });

  test("unknown or missing state → 400", async () => {
    for (const q of [
      new URLSearchParams({ state: "nope", code: "abc" }),
      new URLSearchParams({ code: "abc" }),
    ]) {
      const res = await callback(app, q);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("OAUTH_STATE_INVALID");
    }
  });

  test("the provider's error → 303 to return_to with heimdall_error; a forged code → id_token_invalid", async () => {
    const start = await authorize(app, RETURN_TO);
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    const res = await callback(app, new URLSearchParams({ state, error: "access_denied" }));
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get("location")!);
    expect(to.origin).toBe(ORIGIN);
    expect(to.searchParams.get("heimdall_error")).toBe("access_denied");
    expect(to.searchParams.get("heimdall_code")).toBeNull();

    const start2 = await authorize(app, RETURN_TO);
    const state2 = new URL(start2.headers.get("location")!).searchParams.get("state")!;
    const forged = await callback(
      app,
      new URLSearchParams({ state: state2, code: "forged-code", iss: idp.issuer }),
    );
    expect(forged.status).toBe(303);
    expect(new URL(forged.headers.get("location")!).searchParams.get("heimdall_error")).toBeString();
  });
});

describe("the native flow", () => {
  const claims = (nonce: string, extra: Record<string, unknown> = {}) => ({
    audience: CLIENT.client_id,
    nonce: hashNonce(nonce),
    sub: "native-user-1",
    email: "native1@idp.example",
    emailVerified: true,
    ...extra,
  });

  test("a good ID token → 200 token pair, amr [oauth, oidc]; the nonce is single-use", async () => {
    const nonce = rawNonce();
    const id_token = await idp.mintIdToken(claims(nonce));
    const res = await native(app, { id_token, nonce });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).amr).toEqual(["oauth", "oidc"]);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const replay = await native(app, { id_token, nonce });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe("NONCE_REPLAYED");
    // Stored as a hash only.
    expect(await queryRows(ctx, "SELECT id FROM oauth_grants WHERE value_hash = ?", nonce)).toHaveLength(0);
  });

  test("a native client id is an accepted audience; the raw nonce is accepted for oidc too", async () => {
    const nonce = rawNonce();
    const id_token = await idp.mintIdToken({ ...claims(nonce), audience: "com.example.ios", nonce });
    expect((await native(app, { id_token, nonce })).status).toBe(200);
  });

  test("every bad token is 401 with a stable code, and opens no session", async () => {
    const nonce = rawNonce();
    const bad = await idp.badIdTokens(claims(nonce));
    const sessions = async () =>
      (await queryRows(ctx, "SELECT id FROM end_user_sessions WHERE app_id = ?", app.id)).length;
    const before = await sessions();
    for (const [kind, id_token] of Object.entries(bad)) {
      const res = await native(app, { id_token, nonce });
      const expected = kind === "wrong_nonce" ? "NONCE_MISMATCH" : "ID_TOKEN_INVALID";
      expect({ kind, status: res.status, code: res.body.code }).toEqual({
        kind,
        status: 401,
        code: expected,
      });
    }
    expect(await sessions()).toBe(before);
  });

  test("github has no native flow (400); a malformed body is 400", async () => {
    await configure(app, "github", { client_id: "gh", client_secret: "gh-secret" });
    const gh = await native(app, { id_token: "x".repeat(40), nonce: rawNonce() }, "github");
    expect(gh.status).toBe(400);
    expect(gh.body.code).toBe("NATIVE_FLOW_UNSUPPORTED");
    const malformed = await native(app, { id_token: "short" });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe("VALIDATION_ERROR");
  });
});

describe("accounts and linking", () => {
  let n = 0;
  /** A password account with a verified email, and a native sign-in for an identity asserting that email. */
  async function holder(target: AppBody, email: string) {
    n++;
    const username = `holder${n}`;
    const user = await signUp(ctx, target.slug, { username, email, password: GOOD_PASSWORD });
    await verifyPrimaryEmail(ctx, user.userId);
    return { userId: user.userId, username };
  }
  const nativeFor = async (target: AppBody, sub: string, email: string, emailVerified = true) => {
    const nonce = rawNonce();
    const id_token = await idp.mintIdToken({
      audience: CLIENT.client_id,
      nonce: hashNonce(nonce),
      sub,
      email,
      emailVerified,
    });
    return native(target, { id_token, nonce });
  };
  const identityOwner = async (target: AppBody, sub: string) =>
    (
      await queryRows(
        ctx,
        "SELECT user_id FROM federated_identities WHERE app_id = ? AND subject = ?",
        target.id,
        sub,
      )
    )[0]?.user_id;

  test("auto: a verified email of an account links and signs in to it", async () => {
    await setAuthConfig(ctx, other.id, { oauth_link_policy: "auto" });
    const user = await holder(other, "auto@example.com");
    const res = await nativeFor(other, "sub-auto", "auto@example.com");
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).sub).toBe(user.userId);
    expect(await identityOwner(other, "sub-auto")).toBe(user.userId);
    expect(
      (await auditRows(ctx, { app_id: other.id, action: "user.identity_linked" })).at(-1)!.details,
    ).toMatchObject({
      provider: "oidc",
      via: "auto",
    });
  });

  test("never on an unverified provider email: 409 account_exists_with_different_provider, nothing linked", async () => {
    await holder(other, "unverified@example.com");
    const res = await nativeFor(other, "sub-unverified", "unverified@example.com", false);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("account_exists_with_different_provider");
    expect(await identityOwner(other, "sub-unverified")).toBeUndefined();
  });

  test("an unverified provider email with no account: a new account without that email as a contact", async () => {
    const res = await nativeFor(other, "sub-fresh-unverified", "fresh@example.com", false);
    expect(res.status).toBe(200);
    const userId = String(await identityOwner(other, "sub-fresh-unverified"));
    expect(await queryRows(ctx, "SELECT id FROM end_user_contacts WHERE user_id = ?", userId)).toHaveLength(
      0,
    );
  });

  test("confirm: 409 link_required with a link token; the owner links after a password sign-in", async () => {
    await setAuthConfig(ctx, other.id, { oauth_link_policy: "confirm" });
    const user = await holder(other, "confirm@example.com");
    const res = await nativeFor(other, "sub-confirm", "confirm@example.com");
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("link_required");
    const linkToken = res.body.link_token as string;
    expect(linkToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await identityOwner(other, "sub-confirm")).toBeUndefined();

    const link = (bearer: string, token = linkToken) =>
      ctx.call("POST", "/{app_slug}/v1/auth/oauth/link", {
        params: { app_slug: other.slug },
        body: { link_token: token },
        auth: { bearer },
        // An appliance route whose path has the shape of the contract's native sign-in: checked here.
        unchecked: true,
      });
    // Another account cannot take it.
    const stranger = await holder(other, "stranger@example.com");
    const strangerTokens = await signIn(ctx, other.slug, stranger.username, GOOD_PASSWORD);
    const refused = await link(strangerTokens.access_token);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("LINK_EMAIL_MISMATCH");
    // Not in the contract: each answer is checked against the served document instead.
    const doc = await servedDocument(ctx);
    const LINK = "/{app_slug}/v1/auth/oauth/link";
    expectServedFit(doc, "POST", LINK, refused);

    const own = await signIn(ctx, other.slug, user.username, GOOD_PASSWORD);
    const done = await link(own.access_token);
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ provider: "oidc", linked: true });
    expectServedFit(doc, "POST", LINK, done);
    expect(await identityOwner(other, "sub-confirm")).toBe(user.userId);
    const reused = await link(own.access_token);
    expect(reused.status).toBe(400);
    expect(reused.body.code).toBe("LINK_TOKEN_INVALID");
    expectServedFit(doc, "POST", LINK, reused);

    const after = await nativeFor(other, "sub-confirm", "confirm@example.com");
    expect(after.status).toBe(200);
    expect(decodeJwt(after.body.access_token).sub).toBe(user.userId);
  });

  test("confirm on the redirect flow: 303 with heimdall_error=link_required and heimdall_link", async () => {
    // Ada's identity is already linked on `app`; on `other` a password account holds her verified email.
    await holder(other, ADA.email);
    const landed = await redirectFlow(other);
    expect(landed.searchParams.get("heimdall_error")).toBe("link_required");
    expect(landed.searchParams.get("heimdall_link")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(landed.searchParams.get("heimdall_code")).toBeNull();
  });

  test("reject: 409 account_exists_with_different_provider", async () => {
    await setAuthConfig(ctx, other.id, { oauth_link_policy: "reject" });
    await holder(other, "reject@example.com");
    const res = await nativeFor(other, "sub-reject", "reject@example.com");
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("account_exists_with_different_provider");
  });

  test("signup_enabled=false blocks federated sign-up (403) but not a linked identity's sign-in", async () => {
    await setAuthConfig(ctx, other.id, { signup_enabled: false });
    try {
      const res = await nativeFor(other, "sub-new-blocked", "blocked@example.com");
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("SIGNUP_DISABLED");
      expect(await identityOwner(other, "sub-new-blocked")).toBeUndefined();
      expect((await nativeFor(other, "sub-auto", "auto@example.com")).status).toBe(200);
    } finally {
      await setAuthConfig(ctx, other.id, { signup_enabled: true });
    }
  });

  test("a suspended account's identity is refused", async () => {
    const userId = String(await identityOwner(other, "sub-auto"));
    await queryRows(ctx, "UPDATE end_users SET status = 'suspended' WHERE id = ?", userId);
    try {
      const res = await nativeFor(other, "sub-auto", "auto@example.com");
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("ACCOUNT_SUSPENDED");
    } finally {
      await queryRows(ctx, "UPDATE end_users SET status = 'active' WHERE id = ?", userId);
    }
  });

  test("deleting the provider config keeps the identity rows but stops sign-in (503)", async () => {
    const before = (await queryRows(ctx, "SELECT id FROM federated_identities WHERE app_id = ?", other.id))
      .length;
    const del = await ctx.call("DELETE", PROVIDER_PATH, {
      params: { app_id: other.id, provider: "oidc" },
      unchecked: true,
    });
    expect(del.status).toBe(204);
    expect(
      await queryRows(ctx, "SELECT id FROM federated_identities WHERE app_id = ?", other.id),
    ).toHaveLength(before);
    const res = await nativeFor(other, "sub-auto", "auto@example.com");
    expect(res.status).toBe(503);
    expect(res.body.code).toBe("PROVIDER_DISABLED");
  });
});

test("Grace (unverified at the IdP) signs up through the redirect flow without an email contact", async () => {
  const landed = await redirectFlow(app, GRACE);
  const code = landed.searchParams.get("heimdall_code");
  expect(code).toBeString();
  const [row] = await queryRows(ctx, "SELECT user_id FROM federated_identities WHERE subject = ?", GRACE.sub);
  expect(
    await queryRows(ctx, "SELECT id FROM end_user_contacts WHERE user_id = ?", String(row!.user_id)),
  ).toHaveLength(0);
});
