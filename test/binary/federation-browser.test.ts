/**
 * @module Federated sign-in through the compiled binary in a real browser: a customer app's page (its own
 * origin, in the app's `allowed_redirect_origins`) sends headless Chromium to Heimdall's authorize URL; the
 * local OpenID Provider (`oidc-provider`) shows its login form and consent page, which Playwright fills
 * and submits; Heimdall's callback lands the browser back on the customer page with `heimdall_code`, which
 * the page exchanges and uses on `/me`. Run for the `oidc` kind (discovery), the `google` kind (every
 * endpoint overridden to the local IdP) and `github` (the local GitHub responder; email from
 * `/user/emails`). Apple's `form_post` callback is posted as Apple's page would, the code redeemed at a
 * local Apple token endpoint. Screenshots land in `test-artifacts/`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { decodeJwt } from "jose";
import type { Browser } from "playwright-core";
import { type LocalApple, startApple } from "../support/apple.ts";
import { freshPage, launchBrowser, screenshot } from "../support/browser.ts";
import { type LocalGithub, startGithub } from "../support/github.ts";
import { type LocalIdp, startIdp } from "../support/idp.ts";
import { type Appliance, startAppliance } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"F".repeat(43)}`;
const APPLE = { serviceId: "com.example.heimdall.web", teamId: "TEAM123456", keyId: "KEYID12345" };

let appliance: Appliance;
let idp: LocalIdp;
let github: LocalGithub;
let apple: LocalApple;
let browser: Browser;
let site: Server<undefined>;
let siteOrigin = "";
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

const callbackOf = (slug: string, provider: string) =>
  `${appliance.baseUrl}/${slug}/v1/auth/oauth/${provider}/callback`;

/** An app whose web flow may return to the customer site, with one provider configured and enabled. */
async function appWith(slug: string, provider: string, config: Record<string, unknown>): Promise<string> {
  const app = await admin<{ id: string }>("POST", "/v1/apps", {
    slug,
    display_name: `Federation ${provider}`,
  });
  await admin("PATCH", `/v1/apps/${app.id}/auth-config`, { allowed_redirect_origins: [siteOrigin] });
  await admin("PUT", `/v1/apps/${app.id}/auth-config/providers/${provider}`, { config, enabled: true });
  appIds[slug] = app.id;
  return app.id;
}

/**
 * The customer app: `/` links to Heimdall's authorize URL; `/landing` is `return_to`, whose script trades
 * `heimdall_code` for tokens and reads `/me` (the app's allowed origin also passes CORS), then reports.
 */
function customerSite(api: string): Server<undefined> {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const url = new URL(req.url);
      const slug = url.searchParams.get("app") ?? "";
      const provider = url.searchParams.get("provider") ?? "";
      const html = (body: string) =>
        new Response(
          `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Customer app</title>
<style>body{font-family:sans-serif;margin:40px}a.btn{display:inline-block;padding:10px 16px;background:#234;color:#fff;text-decoration:none;border-radius:6px}</style>
</head><body><h2>Customer app (${esc(slug)})</h2>${body}</body></html>`,
          { headers: { "content-type": "text/html; charset=utf-8" } },
        );
      if (url.pathname === "/") {
        const returnTo = `${url.origin}/landing?app=${encodeURIComponent(slug)}`;
        const href = `${api}/${slug}/v1/auth/oauth/${provider}/authorize?return_to=${encodeURIComponent(returnTo)}`;
        return html(`<a class="btn" id="signin" href="${esc(href)}">Sign in with ${esc(provider)}</a>`);
      }
      if (url.pathname === "/landing") {
        const script = `
(async () => {
  const q = new URL(location.href).searchParams;
  const out = { error: q.get("heimdall_error") };
  const code = q.get("heimdall_code");
  if (code) {
    const ex = await fetch(${JSON.stringify(api)} + "/" + q.get("app") + "/v1/auth/oauth/exchange", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code }) });
    out.exchange_status = ex.status;
    const tokens = await ex.json();
    out.access_token = tokens.access_token;
    out.refresh_token_present = typeof tokens.refresh_token === "string";
    const me = await fetch(${JSON.stringify(api)} + "/" + q.get("app") + "/v1/me", {
      headers: { authorization: "Bearer " + tokens.access_token } });
    out.me_status = me.status;
    out.me = await me.json();
    document.getElementById("who").textContent = "Signed in as " + out.me.email + (out.me.email_verified ? " (verified)" : "");
    const amr = JSON.parse(atob(tokens.access_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).amr;
    document.getElementById("facts").textContent =
      "username: " + out.me.username + "\\nuser id: " + out.me.id + "\\namr: " + amr.join(", ");
  } else {
    document.getElementById("who").textContent = "Sign-in failed: " + out.error;
  }
  // The machine-readable report, for the test; hidden from the screenshot.
  const pre = document.createElement("pre");
  pre.hidden = true;
  pre.id = "report";
  pre.textContent = JSON.stringify(out);
  document.body.append(pre);
})();`;
        return html(`<h1 id="who">Signing in…</h1><pre id="facts"></pre><script>${script}</script>`);
      }
      return new Response("not found", { status: 404 });
    },
  });
}

interface Report {
  error: string | null;
  exchange_status?: number;
  access_token?: string;
  refresh_token_present?: boolean;
  me_status?: number;
  me?: { id: string; email: string | null; email_verified: boolean; username: string };
}

/**
 * One sign-in in a fresh browser context: the customer page's button, the provider's pages (`login` fills
 * and submits them, after a screenshot of the first), then the landing page's report.
 */
async function signInThroughBrowser(
  slug: string,
  provider: string,
  providerOrigin: string,
  login: (page: import("playwright-core").Page) => Promise<void>,
): Promise<{ landing: URL; report: Report }> {
  const { context, page } = await freshPage(browser);
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  try {
    await page.goto(`${siteOrigin}/?app=${slug}&provider=${provider}`);
    await Promise.all([page.waitForURL((u) => u.origin === providerOrigin), page.click("#signin")]);
    await page.waitForLoadState("load");
    await screenshot(page, `federation-${provider}-provider-login`);
    await login(page);
    await page.waitForURL((u) => u.origin === siteOrigin && u.pathname === "/landing");
    await page.waitForSelector("#report", { state: "attached", timeout: 10_000 }).catch((e: Error) => {
      throw new Error(`the landing page wrote no report (${pageErrors.join("; ")}): ${e.message}`);
    });
    const landing = new URL(page.url());
    const report = JSON.parse((await page.textContent("#report")) ?? "{}") as Report;
    await screenshot(page, `federation-${provider}-landing`);
    return { landing, report };
  } finally {
    await context.close();
  }
}

/** The IdP's login form, then its consent page. */
async function idpLogin(page: import("playwright-core").Page): Promise<void> {
  expect(await page.isVisible("#username")).toBe(true);
  await page.fill("#username", "ada");
  await page.fill("#password", "Analytical-Engine-1843");
  await Promise.all([page.waitForSelector("#allow"), page.click("#sign-in")]);
  await page.click("#allow");
}

/** What every successful browser sign-in shows: the landing URL, the exchange, `/me`, the token's `amr`. */
async function expectSignedIn(
  slug: string,
  provider: string,
  r: { landing: URL; report: Report },
  email: string,
): Promise<void> {
  expect(r.landing.origin).toBe(siteOrigin);
  expect(r.landing.searchParams.get("app")).toBe(slug);
  expect(r.landing.searchParams.get("heimdall_error")).toBeNull();
  const code = r.landing.searchParams.get("heimdall_code");
  expect(code).toEqual(expect.any(String));
  expect(r.report).toMatchObject({
    error: null,
    exchange_status: 200,
    refresh_token_present: true,
    me_status: 200,
    me: { email, email_verified: true },
  });
  const claims = decodeJwt(r.report.access_token!);
  expect(claims.amr).toEqual(expect.arrayContaining(["oauth", provider]));
  expect(claims.sub).toBe(r.report.me!.id);
  // The code was single-use: the page redeemed it, a second exchange is refused.
  const again = await fetch(`${appliance.baseUrl}/${slug}/v1/auth/oauth/exchange`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code }),
  });
  expect(again.status).toBe(401);
  expect(((await again.json()) as { code: string }).code).toBe("OAUTH_CODE_INVALID");
  // The sign-up, the identity and the sign-in were audited with the provider.
  const audit = await admin<{ data: { action: string; details: Record<string, unknown> }[] }>(
    "GET",
    `/v1/apps/${appIds[slug]}/audit-logs`,
  );
  const details = (action: string) => audit.data.find((row) => row.action === action)?.details;
  expect(details("user.signed_up")).toMatchObject({ provider });
  expect(details("user.identity_linked")).toMatchObject({ provider, via: "signup" });
  expect(details("user.signed_in")).toMatchObject({ provider, amr: expect.arrayContaining([provider]) });
  // The provider's client secret is in no audit row.
  expect(JSON.stringify(audit.data)).not.toMatch(/secret-1/);
}

beforeAll(async () => {
  appliance = await startAppliance("federation-browser", PAK);
  site = customerSite(appliance.baseUrl);
  siteOrigin = `http://127.0.0.1:${site.port}`;
  [idp, browser] = await Promise.all([
    startIdp({
      clients: [
        {
          client_id: "heimdall-oidc",
          client_secret: "oidc-secret-1",
          redirect_uris: [callbackOf("fed-oidc", "oidc")],
          // Discovery says the IdP signs with RS256 and ES256; this client's ID tokens are ES256.
          id_token_signed_response_alg: "ES256",
        },
        {
          client_id: "heimdall-google.apps.example",
          client_secret: "google-secret-1",
          redirect_uris: [callbackOf("fed-google", "google")],
        },
      ],
    }),
    launchBrowser(),
  ]);
  github = startGithub({
    apps: [
      {
        client_id: "Iv1.heimdall",
        client_secret: "gh-secret-1",
        callback_url: callbackOf("fed-github", "github"),
      },
    ],
  });
  apple = await startApple({ idp, ...APPLE });
  await appWith("fed-oidc", "oidc", {
    issuer: idp.issuer,
    client_id: "heimdall-oidc",
    client_secret: "oidc-secret-1",
    display_name: "Corporate SSO",
  });
  await appWith("fed-google", "google", {
    client_id: "heimdall-google.apps.example",
    client_secret: "google-secret-1",
    issuer: idp.issuer,
    authorization_endpoint: idp.authorizationEndpoint,
    token_endpoint: idp.tokenEndpoint,
    userinfo_endpoint: idp.userinfoEndpoint,
    jwks_uri: idp.jwksUri,
  });
  await appWith("fed-github", "github", {
    client_id: "Iv1.heimdall",
    client_secret: "gh-secret-1",
    authorization_endpoint: github.authorizationEndpoint,
    token_endpoint: github.tokenEndpoint,
    api_base_url: github.baseUrl,
  });
  await appWith("fed-apple", "apple", {
    service_id: APPLE.serviceId,
    bundle_ids: ["com.example.heimdall.ios"],
    team_id: APPLE.teamId,
    key_id: APPLE.keyId,
    private_key_pem: apple.privateKeyPem,
    issuer: apple.issuer,
    authorization_endpoint: apple.authorizationEndpoint,
    token_endpoint: apple.tokenEndpoint,
    jwks_uri: idp.jwksUri,
  });
}, TIMEOUT);

afterAll(async () => {
  await browser?.close();
  await Promise.all([idp?.stop(), github?.stop(), apple?.stop()]);
  site?.stop(true);
  if (appliance) expect(await appliance.dispose()).toBe(0);
});

describe("the redirect flow in headless Chromium, through the compiled binary", () => {
  test(
    "oidc kind (issuer discovered, ES256 ID token): customer page → IdP login and consent → callback → landing with heimdall_code → exchange → /me",
    async () => {
      const r = await signInThroughBrowser("fed-oidc", "oidc", idp.issuer, idpLogin);
      await expectSignedIn("fed-oidc", "oidc", r, "ada@idp.example");
    },
    TIMEOUT,
  );

  test(
    "google kind with every endpoint overridden to the local IdP: the same flow lands signed in",
    async () => {
      const r = await signInThroughBrowser("fed-google", "google", idp.issuer, idpLogin);
      await expectSignedIn("fed-google", "google", r, "ada@idp.example");
    },
    TIMEOUT,
  );

  test(
    "github kind against the local GitHub responder: the primary verified email comes from /user/emails",
    async () => {
      const before = github.seen.length;
      const r = await signInThroughBrowser("fed-github", "github", github.baseUrl, async (page) => {
        await page.fill("#login", "octo-linus");
        await page.fill("#password", "Pull-Request-2005");
        await page.click("#authorize");
      });
      await expectSignedIn("fed-github", "github", r, "linus@gh.example");
      // /user has no public email for this user: only /user/emails could have given it.
      expect(github.seen.slice(before)).toEqual(
        expect.arrayContaining(["POST /login/oauth/access_token", "GET /user", "GET /user/emails"]),
      );
    },
    TIMEOUT,
  );

  test(
    "a wrong password at the IdP keeps the browser there: nothing reaches the customer page",
    async () => {
      const { context, page } = await freshPage(browser);
      try {
        await page.goto(`${siteOrigin}/?app=fed-oidc&provider=oidc`);
        await Promise.all([page.waitForURL((u) => u.origin === idp.issuer), page.click("#signin")]);
        await page.fill("#username", "ada");
        await page.fill("#password", "not-her-password");
        await Promise.all([page.waitForSelector("#error"), page.click("#sign-in")]);
        expect(new URL(page.url()).origin).toBe(idp.issuer);
      } finally {
        await context.close();
      }
    },
    TIMEOUT,
  );

  test(
    "the provider's error callback (consent denied upstream) lands on return_to with heimdall_error, no code",
    async () => {
      const start = await fetch(
        `${appliance.baseUrl}/fed-oidc/v1/auth/oauth/oidc/authorize?return_to=${encodeURIComponent(`${siteOrigin}/landing?app=fed-oidc`)}`,
        { redirect: "manual" },
      );
      expect(start.status).toBe(302);
      const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
      const back = await fetch(
        `${callbackOf("fed-oidc", "oidc")}?error=access_denied&state=${encodeURIComponent(state)}`,
        { redirect: "manual" },
      );
      expect(back.status).toBe(303);
      const landing = new URL(back.headers.get("location")!);
      expect(landing.origin).toBe(siteOrigin);
      expect(landing.searchParams.get("heimdall_error")).toBe("access_denied");
      expect(landing.searchParams.get("heimdall_code")).toBeNull();
    },
    TIMEOUT,
  );
});

describe("Apple's form_post callback", () => {
  test(
    "authorize asks for form_post; the POSTed code is redeemed with an ES256 client secret, the ID token (Apple's issuer, string email_verified) checked, 303 to return_to with heimdall_code",
    async () => {
      const returnTo = `${siteOrigin}/landing?app=fed-apple`;
      const start = await fetch(
        `${appliance.baseUrl}/fed-apple/v1/auth/oauth/apple/authorize?return_to=${encodeURIComponent(returnTo)}`,
        { redirect: "manual" },
      );
      expect(start.status).toBe(302);
      const to = new URL(start.headers.get("location")!);
      expect(`${to.origin}${to.pathname}`).toBe(apple.authorizationEndpoint);
      expect(Object.fromEntries(to.searchParams)).toMatchObject({
        client_id: APPLE.serviceId,
        response_type: "code",
        response_mode: "form_post",
        redirect_uri: callbackOf("fed-apple", "apple"),
        code_challenge_method: "S256",
      });
      const state = to.searchParams.get("state")!;
      const nonce = to.searchParams.get("nonce")!;
      expect(nonce.length).toBeGreaterThanOrEqual(16);

      // What Apple's page posts back on a first sign-in: code, state and the user's name as JSON.
      const code = apple.issueCode({
        nonce,
        sub: "001234.apple-user.0042",
        email: "tim@apple-user.example",
        emailVerified: "true",
      });
      const back = await fetch(callbackOf("fed-apple", "apple"), {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://appleid.apple.com" },
        body: new URLSearchParams({
          state,
          code,
          user: JSON.stringify({
            name: { firstName: "Tim", lastName: "Apple" },
            email: "tim@apple-user.example",
          }),
        }).toString(),
      });
      expect(back.status).toBe(303);
      const landing = new URL(back.headers.get("location")!);
      expect(`${landing.origin}${landing.pathname}`).toBe(`${siteOrigin}/landing`);
      expect(landing.searchParams.get("heimdall_error")).toBeNull();
      const heimdallCode = landing.searchParams.get("heimdall_code")!;
      expect(heimdallCode).toEqual(expect.any(String));

      // Heimdall authenticated to the token endpoint as Apple documents.
      expect(apple.acceptedSecrets.at(-1)).toMatchObject({
        alg: "ES256",
        kid: APPLE.keyId,
        iss: APPLE.teamId,
        sub: APPLE.serviceId,
        aud: "https://appleid.apple.com",
      });

      const ex = await fetch(`${appliance.baseUrl}/fed-apple/v1/auth/oauth/exchange`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ code: heimdallCode }),
      });
      expect(ex.status).toBe(200);
      const tokens = (await ex.json()) as { access_token: string };
      expect(decodeJwt(tokens.access_token).amr).toEqual(expect.arrayContaining(["oauth", "apple"]));
      const me = await fetch(`${appliance.baseUrl}/fed-apple/v1/me`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ email: "tim@apple-user.example", email_verified: true });

      // The state was single-use: the same POST again is refused without a redirect.
      const replay = await fetch(callbackOf("fed-apple", "apple"), {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ state, code }).toString(),
      });
      expect(replay.status).toBe(400);
      expect(replay.headers.get("location")).toBeNull();
      expect(((await replay.json()) as { code: string }).code).toBe("OAUTH_STATE_INVALID");
    },
    TIMEOUT,
  );
});

describe("return_to through the binary", () => {
  test("anything but an allowed origin is 400 and never a redirect elsewhere", async () => {
    const bad = [
      "https://evil.example/landing",
      `${siteOrigin}.evil.example/landing`,
      `${siteOrigin}@evil.example/landing`,
      `${siteOrigin.replace("http://", "http://user:pw@")}/landing`,
      `//evil.example/landing`,
      "javascript:alert(1)",
      `${siteOrigin.replace(/:(\d+)$/, (_m, p) => `:${Number(p) + 1}`)}/landing`,
      "/landing",
      "",
    ];
    for (const returnTo of bad) {
      const res = await fetch(
        `${appliance.baseUrl}/fed-oidc/v1/auth/oauth/oidc/authorize?return_to=${encodeURIComponent(returnTo)}`,
        { redirect: "manual" },
      );
      expect({ returnTo, status: res.status }).toEqual({ returnTo, status: 400 });
      expect(res.headers.get("location")).toBeNull();
      expect(((await res.json()) as { code: string }).code).toBe("RETURN_TO_NOT_ALLOWED");
    }
    // The allowed origin itself is a 302 to the IdP, not to anywhere else.
    const ok = await fetch(
      `${appliance.baseUrl}/fed-oidc/v1/auth/oauth/oidc/authorize?return_to=${encodeURIComponent(`${siteOrigin}/landing`)}`,
      { redirect: "manual" },
    );
    expect(ok.status).toBe(302);
    expect(new URL(ok.headers.get("location")!).origin).toBe(idp.issuer);
  });
});

describe("ID tokens from the token endpoint", () => {
  test(
    "a forged ID token in the code exchange (unknown key, published kid over another key, other audience, expired, other issuer, other nonce, alg none) lands on return_to with heimdall_error, never a code",
    async () => {
      const kinds = [
        "unknown_key",
        "forged_kid",
        "wrong_audience",
        "expired",
        "wrong_issuer",
        "wrong_nonce",
        "alg_none",
      ] as const;
      const seen: Record<string, unknown> = {};
      for (const forge of kinds) {
        const start = await fetch(
          `${appliance.baseUrl}/fed-apple/v1/auth/oauth/apple/authorize?return_to=${encodeURIComponent(`${siteOrigin}/landing`)}`,
          { redirect: "manual" },
        );
        const to = new URL(start.headers.get("location")!);
        const code = apple.issueCode({
          nonce: to.searchParams.get("nonce")!,
          sub: "001234.apple-forged.0001",
          email: "forged@apple-user.example",
          emailVerified: "true",
          forge,
        });
        const back = await fetch(callbackOf("fed-apple", "apple"), {
          method: "POST",
          redirect: "manual",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ state: to.searchParams.get("state")!, code }).toString(),
        });
        const landing = new URL(back.headers.get("location") ?? "http://no-location.invalid");
        seen[forge] = {
          status: back.status,
          origin: landing.origin,
          heimdall_error: landing.searchParams.get("heimdall_error"),
          heimdall_code: landing.searchParams.get("heimdall_code"),
        };
      }
      const refused = {
        status: 303,
        origin: siteOrigin,
        heimdall_error: "id_token_invalid",
        heimdall_code: null,
      };
      expect(seen).toEqual(Object.fromEntries(kinds.map((k) => [k, refused])));
      const users = await admin<{ data: { email: string | null }[] }>(
        "GET",
        `/v1/apps/${appIds["fed-apple"]}/end-users`,
      );
      expect(users.data.map((u) => u.email)).not.toContain("forged@apple-user.example");
    },
    TIMEOUT,
  );
});
