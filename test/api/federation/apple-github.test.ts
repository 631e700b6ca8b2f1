/**
 * @module The two providers that are not plain OIDC redirects: Apple's form_post callback (client secret as an
 * ES256 JWT, ID token verified against the JWKS) and GitHub's OAuth flow with the primary verified email read
 * from its API — each against the local stand-ins of test/support, with endpoints overridden.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeJwt } from "jose";
import { type LocalApple, startApple } from "../../support/apple.ts";
import { queryRows, setAuthConfig } from "../../support/end-users.ts";
import { type AppBody, createApp } from "../../support/fixtures.ts";
import { DEFAULT_GITHUB_USERS, type LocalGithub, startGithub } from "../../support/github.ts";
import { closeTestContext, createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";
import { hashNonce, type LocalIdp, rawNonce, startIdp } from "../../support/idp.ts";

const ORIGIN = "https://app.example.com";
const APPLE = { serviceId: "com.example.web", teamId: "TEAM123456", keyId: "KEY7654321" };

let ctx: TestContext;
let app: AppBody;
let idp: LocalIdp;
let apple: LocalApple;
let github: LocalGithub;

const callbackUrl = (provider: string) => `${PUBLIC_URL}/${app.slug}/v1/auth/oauth/${provider}/callback`;

beforeAll(async () => {
  ctx = await createTestContext();
  ctx.clock.set(Date.now());
  app = await createApp(ctx, "fed-ag");
  await setAuthConfig(ctx, app.id, { allowed_redirect_origins: [ORIGIN], oauth_link_policy: "auto" });
  idp = await startIdp();
  apple = await startApple({ idp, ...APPLE });
  github = startGithub({
    apps: [
      { client_id: "gh-client", client_secret: "gh-secret-0123456789", callback_url: callbackUrl("github") },
    ],
  });
  for (const [provider, config] of [
    [
      "apple",
      {
        service_id: APPLE.serviceId,
        bundle_ids: ["com.example.ios"],
        team_id: APPLE.teamId,
        key_id: APPLE.keyId,
        private_key_pem: apple.privateKeyPem,
        issuer: apple.issuer,
        authorization_endpoint: apple.authorizationEndpoint,
        token_endpoint: apple.tokenEndpoint,
        jwks_uri: idp.jwksUri,
      },
    ],
    [
      "github",
      {
        client_id: "gh-client",
        client_secret: "gh-secret-0123456789",
        authorization_endpoint: github.authorizationEndpoint,
        token_endpoint: github.tokenEndpoint,
        api_base_url: github.baseUrl,
      },
    ],
  ] as const) {
    const res = await ctx.call("PUT", "/v1/apps/{app_id}/auth-config/providers/{provider}", {
      params: { app_id: app.id, provider },
      body: { config, enabled: true },
    });
    expect(res.status).toBe(200);
  }
});

afterAll(async () => {
  await Promise.all([apple.stop(), github.stop(), idp.stop()]);
  await closeTestContext(ctx);
});

const authorize = async (provider: string) => {
  const res = await ctx.call("GET", "/{app_slug}/v1/auth/oauth/{provider}/authorize", {
    params: { app_slug: app.slug, provider },
    query: { return_to: `${ORIGIN}/done` },
  });
  expect(res.status).toBe(302);
  return new URL(res.headers.get("location")!);
};

describe("apple", () => {
  test("authorize asks for form_post; the POSTed callback (a urlencoded form) signs in with amr [oauth, apple]", async () => {
    const to = await authorize("apple");
    expect(`${to.origin}${to.pathname}`).toBe(apple.authorizationEndpoint);
    expect(to.searchParams.get("response_mode")).toBe("form_post");
    expect(to.searchParams.get("client_id")).toBe(APPLE.serviceId);
    expect(to.searchParams.get("scope")).toBe("name email");
    const code = apple.issueCode({
      nonce: to.searchParams.get("nonce")!,
      sub: "001234.apple-user",
      email: "relay@privaterelay.appleid.com",
      emailVerified: "true",
      isPrivateEmail: true,
    });
    const res = await ctx.call("POST", "/{app_slug}/v1/auth/oauth/{provider}/callback", {
      params: { app_slug: app.slug, provider: "apple" },
      raw: new URLSearchParams({ code, state: to.searchParams.get("state")! }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://appleid.apple.com" },
    });
    expect(res.status).toBe(303);
    const landed = new URL(res.headers.get("location")!);
    expect(landed.origin).toBe(ORIGIN);
    const heimdallCode = landed.searchParams.get("heimdall_code")!;
    expect(heimdallCode).toBeString();
    // Apple saw a client secret JWT signed with the team's key.
    expect(apple.acceptedSecrets.at(-1)).toMatchObject({
      iss: APPLE.teamId,
      sub: APPLE.serviceId,
      kid: APPLE.keyId,
    });
    const tokens = await ctx.call("POST", "/{app_slug}/v1/auth/oauth/exchange", {
      params: { app_slug: app.slug },
      body: { code: heimdallCode },
    });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.access_token).amr).toEqual(["oauth", "apple"]);
    // The boolean as SQLite holds it (PostgreSQL's is a boolean): the cast reads 1/0 from either.
    const [identity] = await queryRows(
      ctx,
      "SELECT subject, CAST(email_verified AS INTEGER) AS email_verified FROM federated_identities WHERE provider = 'apple'",
    );
    expect(identity).toMatchObject({ subject: "001234.apple-user", email_verified: 1 });
  });

  test("a token exchange Apple refuses (a code it never issued) lands on return_to with heimdall_error", async () => {
    const to = await authorize("apple");
    const res = await ctx.call("POST", "/{app_slug}/v1/auth/oauth/{provider}/callback", {
      params: { app_slug: app.slug, provider: "apple" },
      raw: new URLSearchParams({ code: "not-issued", state: to.searchParams.get("state")! }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(303);
    const landed = new URL(res.headers.get("location")!);
    expect(landed.searchParams.get("heimdall_error")).toBe("provider_unavailable");
    expect(landed.searchParams.get("heimdall_code")).toBeNull();
  });

  test("native: a bundle id is the audience and the nonce claim must be the SHA-256 (Apple never sends it raw)", async () => {
    const nonce = rawNonce();
    const mint = (claimed: string) =>
      idp.mintIdToken({
        issuer: apple.issuer,
        audience: "com.example.ios",
        nonce: claimed,
        sub: "001234.native",
        email: "native@privaterelay.appleid.com",
        extra: { email_verified: "true" },
      });
    const call = async (id_token: string) =>
      ctx.call("POST", "/{app_slug}/v1/auth/oauth/{provider}", {
        params: { app_slug: app.slug, provider: "apple" },
        body: { id_token, nonce, user: { name: "Native Person", email: "ignored@example.com" } },
      });
    const raw = await call(await mint(nonce));
    expect(raw.status).toBe(401);
    expect(raw.body.code).toBe("NONCE_MISMATCH");
    const ok = await call(await mint(hashNonce(nonce)));
    expect(ok.status).toBe(200);
    expect(decodeJwt(ok.body.access_token).amr).toEqual(["oauth", "apple"]);
    // The verified token's name and email win over the client's hint (used only where the token has none).
    const userId = String(decodeJwt(ok.body.access_token).sub);
    expect(await queryRows(ctx, "SELECT display_name FROM end_users WHERE id = ?", userId)).toEqual([
      { display_name: "Ada Lovelace" },
    ]);
    expect(await queryRows(ctx, "SELECT value FROM end_user_contacts WHERE user_id = ?", userId)).toEqual([
      { value: "native@privaterelay.appleid.com" },
    ]);
  });
});

describe("github", () => {
  test("OAuth with PKCE, then /user and the primary verified email from /user/emails", async () => {
    const to = await authorize("github");
    expect(to.searchParams.get("nonce")).toBeNull();
    expect(to.searchParams.get("code_challenge_method")).toBe("S256");
    expect(to.searchParams.get("scope")).toBe("read:user user:email");
    // The login page posts its hidden fields back with the credentials, as the browser would.
    const page = await (await fetch(to)).text();
    const hidden = [...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(
      ([, k, v]) => [k!, v!.replace(/&amp;/g, "&").replace(/&quot;/g, '"')] as [string, string],
    );
    const user = DEFAULT_GITHUB_USERS[0]!;
    const form = new URLSearchParams([...hidden, ["login", user.login], ["password", user.password]]);
    const back = await fetch(github.authorizationEndpoint, {
      method: "POST",
      body: form,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      redirect: "manual",
    });
    const callback = new URL(back.headers.get("location")!);
    expect(callback.href.startsWith(callbackUrl("github"))).toBe(true);
    const res = await ctx.call(
      "GET",
      `/{app_slug}/v1/auth/oauth/{provider}/callback?${callback.searchParams}`,
      {
        params: { app_slug: app.slug, provider: "github" },
      },
    );
    expect(res.status).toBe(303);
    const code = new URL(res.headers.get("location")!).searchParams.get("heimdall_code")!;
    const tokens = await ctx.call("POST", "/{app_slug}/v1/auth/oauth/exchange", {
      params: { app_slug: app.slug },
      body: { code },
    });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.access_token).amr).toEqual(["oauth", "github"]);
    const userId = String(decodeJwt(tokens.body.access_token).sub);
    const contacts = (
      await queryRows(ctx, "SELECT value, verified_at FROM end_user_contacts WHERE user_id = ?", userId)
    ).map((c) => ({ value: c.value, verified_at: c.verified_at === null ? null : Number(c.verified_at) }));
    expect(contacts).toEqual([{ value: "linus@gh.example", verified_at: expect.any(Number) }]);
    expect(
      await queryRows(ctx, "SELECT subject FROM federated_identities WHERE user_id = ?", userId),
    ).toEqual([{ subject: String(user.id) }]);
    expect(github.seen).toEqual(expect.arrayContaining(["GET /user", "GET /user/emails"]));
  });
});
