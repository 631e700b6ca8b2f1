/**
 * @module The console end to end, as a person uses it, in headless Chromium against the compiled binary:
 * sign in with the bootstrap credentials, create an app (a bad slug refused beside its field), find an end
 * user who signed up through the Consumer API, suspend and reinstate them, end one of their sessions and
 * send them a password reset, read a verification email in the dev inbox, rotate the signing key (and the
 * emergency rotation's typed confirmation), copy a new M2M secret and mint a token with it, filter the
 * audit log, lose the session and come back to the same page after signing in again. Every page visited is
 * checked with axe (serious and critical violations, light and dark: test/support/axe.ts), the main pages
 * are checked at phone width (390×844), and screenshots go to test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { accessibilityProblems, installAxe } from "../support/axe.ts";
import { launchBrowser, screenshot } from "../support/browser.ts";
import { type Appliance, startAppliance } from "./support.ts";

const TIMEOUT = 90_000;
const PAK = `pcft_live_${"E".repeat(43)}`;
const EMAIL = "owner@e2e.test";
const PASSWORD = "correct-horse-e2e-staple";
const SLUG = "e2e-shop";
const USER_PASSWORD = "Tangerine-Orbit-47-Lantern";

let appliance: Appliance;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let appId = "";
let userId = "";
/** Script errors, CSP refusals and axe findings, across the whole file: none is expected. */
const problems: string[] = [];

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${appliance.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

function consumer(path: string, body: unknown, pak = false): Promise<Response> {
  return fetch(`${appliance.baseUrl}/${SLUG}/v1${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(pak ? { authorization: `Bearer ${PAK}` } : {}) },
    body: JSON.stringify(body),
  });
}

const at = (tail: string) => `${appliance.baseUrl}/console/apps/${appId}${tail}`;

/** axe on the page as it stands, both colour schemes; findings are collected, not thrown. */
async function checkA11y(where: string): Promise<void> {
  problems.push(...(await accessibilityProblems(page, where)));
}

async function signInHere(): Promise<void> {
  await page.getByLabel("Email or username").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
}

beforeAll(async () => {
  appliance = await startAppliance("console-e2e", PAK, {
    HEIMDALL_BOOTSTRAP_EMAIL: EMAIL,
    HEIMDALL_BOOTSTRAP_PASSWORD: PASSWORD,
  });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: appliance.baseUrl });
  await installAxe(context);
  page = await context.newPage();
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    // Refused forms answer 4xx on purpose, and a lost session 401; the browser logs those as failed loads.
    if (msg.type() === "error" && !/status of 4\d\d/.test(msg.text()))
      problems.push(`console: ${msg.text()}`);
  });
}, TIMEOUT);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  expect(await appliance?.dispose()).toBe(0);
});

describe("the console end to end", () => {
  test(
    "sign in with the bootstrap credentials, then create an app: a bad slug is refused beside its field",
    async () => {
      await page.goto(`${appliance.baseUrl}/console`);
      await page.waitForURL(/\/console\/signin/);
      await checkA11y("sign-in");
      await signInHere();
      await page.getByRole("heading", { name: /^Apps/ }).waitFor();
      await page.getByText("No apps yet.").waitFor();
      await checkA11y("overview (empty)");

      await page.getByText("Create an app").click();
      await page.getByLabel("App name").fill("E2E Shop");
      await page.getByLabel("Slug").fill("Bad Slug!");
      await page.getByRole("button", { name: "Create app" }).click();
      // The API's reason, beside the field it names (and the field marked invalid for screen readers).
      const slugError = page.locator(".field-invalid .field-error");
      await slugError.waitFor();
      expect((await slugError.textContent())?.length).toBeGreaterThan(3);
      expect(await page.getByLabel("Slug").getAttribute("aria-invalid")).toBe("true");
      await checkA11y("overview (refused form)");

      await page.getByLabel("Slug").fill(SLUG);
      await page.getByRole("button", { name: "Create app" }).click();
      await page.waitForURL(/\/console\/apps\/[^/]+$/);
      appId = decodeURIComponent(new URL(page.url()).pathname.split("/").at(-1)!);
      await page.getByRole("heading", { level: 1, name: "E2E Shop" }).waitFor();
      const app = await admin<{ slug: string; display_name: string }>("GET", `/v1/apps/${appId}`);
      expect(app).toMatchObject({ slug: SLUG, display_name: "E2E Shop" });
      await checkA11y("app settings");
      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );

  test(
    "an end user who signed up through the Consumer API is found by search; suspend and reinstate show the status",
    async () => {
      for (const [username, email] of [
        ["grace", "grace@example.com"],
        ["alan", "alan@example.com"],
      ]) {
        const res = await consumer("/auth/signup", { username, email, password: USER_PASSWORD });
        expect(res.status).toBe(200);
      }
      await page.goto(at("/users"));
      await page.getByRole("link", { name: "alan" }).waitFor();
      await page.getByLabel("Search users").fill("grac");
      await page.getByLabel("Search users").press("Enter");
      await page.getByRole("link", { name: "alan" }).waitFor({ state: "detached" });
      const rows = page.getByRole("table", { name: /End users matching grac/ }).locator("tbody tr");
      expect(await rows.count()).toBe(1);
      await checkA11y("end users (searched)");
      await screenshot(page, "console-e2e-end-users");

      await page.getByRole("link", { name: "grace" }).click();
      const title = page.getByRole("heading", { level: 2, name: /^grace/ });
      await title.waitFor();
      userId = decodeURIComponent(new URL(page.url()).pathname.split("/").at(-1)!);
      // The sign-up opened one session; no tenants, no factors.
      await page.getByRole("table", { name: "Live sessions" }).locator("tbody tr").first().waitFor();
      await page.getByText("Not a member of any tenant.").waitFor();
      await page.getByText("No factors.").waitFor();
      await checkA11y("end user");

      await page.getByRole("button", { name: "Suspend…" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Suspend" }).click();
      await title.locator(".badge", { hasText: "suspended" }).waitFor();
      await page.getByText("Suspended: every session ended.").waitFor();
      expect((await admin<{ status: string }>("GET", `/v1/apps/${appId}/end-users/${userId}`)).status).toBe(
        "suspended",
      );
      // Suspension ended the session: the list says so.
      await page.getByText("No live sessions.").waitFor();

      await page.getByRole("button", { name: "Reinstate" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Reinstate" }).click();
      await title.locator(".badge", { hasText: "active" }).waitFor();
      expect((await admin<{ status: string }>("GET", `/v1/apps/${appId}/end-users/${userId}`)).status).toBe(
        "active",
      );
      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );

  test(
    "a verification email read in the dev inbox; then the end user page ends one session and sends a reset",
    async () => {
      await admin("PATCH", `/v1/apps/${appId}/notification-settings`, {
        notifications_via_envoi: true,
        default_sender_address: "no-reply@e2e.test",
      });
      // The app's backend asks Heimdall to send the verification email, with its platform API key.
      expect(
        (await consumer("/auth/send-verification-email", { email: "grace@example.com" }, true)).status,
      ).toBe(201);
      await page.goto(at("/inbox"));
      await page
        .getByRole("button", { name: /to grace@example\.com/ })
        .first()
        .click();
      const text = (await page.locator("#inbox-message pre").textContent()) ?? "";
      const code = /\b(\d{6})\b/.exec(text)?.[1];
      expect(code).toBeDefined();
      await checkA11y("dev inbox");
      await screenshot(page, "console-e2e-dev-inbox");
      // The code read off the page verifies the address.
      const verified = await consumer("/auth/verify", { code });
      expect(verified.status).toBe(200);

      // Two sessions: end one from the page, the other stays.
      for (let i = 0; i < 2; i++) {
        const res = await consumer("/auth/signin", { identifier: "grace", password: USER_PASSWORD });
        expect(res.status).toBe(200);
      }
      await page.goto(at(`/users/${userId}`));
      const sessions = page.getByRole("table", { name: "Live sessions" }).locator("tbody tr");
      await sessions.nth(1).waitFor();
      expect(await sessions.count()).toBe(2);
      await page
        .getByRole("button", { name: /^End the session started/ })
        .first()
        .click();
      await page.getByRole("dialog").getByRole("button", { name: "End session" }).click();
      await page.getByText("Session ended.").waitFor();
      // The ended session's row goes (no waitForFunction: its polling evaluates strings, which the CSP refuses).
      await sessions.nth(1).waitFor({ state: "detached" });
      const live = await admin<{ data: unknown[] }>("GET", `/v1/apps/${appId}/end-users/${userId}/sessions`);
      expect(live.data).toHaveLength(1);

      await page.getByRole("button", { name: "Send password reset…" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Send reset" }).click();
      await page.getByText("Password reset sent to grace@example.com.").waitFor();
      expect(await page.content()).not.toMatch(/reset code: \d{6}/i);
      await checkA11y("end user (after actions)");
      await screenshot(page, "console-e2e-end-user");
      await page.goto(at("/inbox"));
      await page
        .getByRole("button", { name: /password/i })
        .first()
        .waitFor();
      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );

  test(
    "signing keys: a rotation too soon is refused with the API's reason; the emergency rotation asks to type, then shows the new state",
    async () => {
      await page.goto(at("/keys"));
      const rows = page.getByRole("table", { name: "The app's signing keys" }).locator("tbody tr");
      await rows.first().waitFor();
      await checkA11y("signing keys");
      const before = await admin<{ data: { kid: string; state: string }[] }>("GET", `/v1/apps/${appId}/keys`);
      const active = before.data.find((k) => k.state === "active")!.kid;

      await page.getByRole("button", { name: "Rotate", exact: true }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Rotate" }).click();
      await page.getByText("ROTATION_TOO_SOON").waitFor();

      await page.getByRole("button", { name: "Emergency rotate…" }).click();
      const dialog = page.getByRole("dialog");
      const confirm = dialog.getByRole("button", { name: "Withdraw the key now" });
      expect(await confirm.isDisabled()).toBe(true);
      await checkA11y("signing keys (emergency dialog)");
      await dialog.getByRole("textbox").fill("rotate");
      await confirm.click();
      await page.getByText(/Rotated \(emergency\)/).waitFor();
      const after = await admin<{ data: { kid: string; state: string }[] }>("GET", `/v1/apps/${appId}/keys`);
      const newActive = after.data.find((k) => k.state === "active")!.kid;
      expect(newActive).not.toBe(active);
      await page
        .locator("tbody tr", { hasText: newActive })
        .locator(".badge", { hasText: "active" })
        .waitFor();
      await page.locator("tbody tr", { hasText: active }).locator(".badge", { hasText: "retired" }).waitFor();
      await screenshot(page, "console-e2e-keys");
      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );

  test(
    "credentials: a new M2M secret copied with the button mints a token",
    async () => {
      await page.goto(at("/credentials"));
      await page.getByLabel("Credential name").fill("billing-job");
      await page.getByRole("button", { name: "Create credential" }).click();
      const secret = await page.getByRole("textbox", { name: /Client secret of billing-job/ }).inputValue();
      await checkA11y("credentials (secret shown)");
      await page.getByRole("button", { name: "Copy" }).click();
      await page.getByText("Copied to the clipboard.").waitFor();
      const copied = await page.evaluate<string>("navigator.clipboard.readText()");
      expect(copied).toBe(secret);
      const clientId = ((await page.locator(".secret-once code").textContent()) ?? "").trim();
      const token = await fetch(`${appliance.baseUrl}/${SLUG}/v1/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: clientId,
          client_secret: copied,
        }),
      });
      expect(token.status).toBe(200);
      expect(((await token.json()) as { token_type: string }).token_type).toBe("Bearer");
      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );

  test(
    "audit log: filtering by an action shows only that action's rows",
    async () => {
      await page.goto(at("/audit"));
      await page.getByText("intact").waitFor();
      await checkA11y("audit log");
      await page.getByLabel("Action (exact)").fill("user.status_changed");
      await page.getByLabel("Action (exact)").press("Enter");
      await page.getByRole("cell", { name: "user.status_changed" }).first().waitFor();
      await page
        .locator("tbody tr td:nth-child(2) code")
        .filter({ hasNotText: "user.status_changed" })
        .first()
        .waitFor({ state: "detached" });
      // Suspended, then reinstated: two rows, nothing else.
      expect(await page.locator("tbody tr").count()).toBe(2);
      await screenshot(page, "console-e2e-audit");
      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );

  test(
    "a lost session returns to sign-in, and signing in again comes back to the page the user was on",
    async () => {
      await page.goto(at("/keys"));
      await page.getByRole("table", { name: "The app's signing keys" }).waitFor();
      // Every call of the page has answered: the next one is the click below.
      await page.waitForLoadState("networkidle");
      await context.clearCookies();
      // The next call the page makes answers 401.
      await page
        .getByRole("navigation", { name: "App sections" })
        .getByRole("link", { name: "Audit log" })
        .click();
      await page.waitForURL(/\/console\/signin\?next=/);
      expect(decodeURIComponent(new URL(page.url()).searchParams.get("next") ?? "")).toBe(
        `/console/apps/${appId}/audit`,
      );
      await signInHere();
      await page.waitForURL(at("/audit"));
      await page.getByText("intact").waitFor();
      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );

  test(
    "at phone width (390×844) the main pages fit: no sideways scroll of the page, tables scroll in their box",
    async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      try {
        for (const [name, url] of [
          ["overview", `${appliance.baseUrl}/console`],
          ["end-users", at("/users")],
          ["end-user", at(`/users/${userId}`)],
          ["keys", at("/keys")],
          ["audit", at("/audit")],
          ["inbox", at("/inbox")],
        ] as const) {
          await page.goto(url);
          await page.locator("main h1, main h2").first().waitFor();
          await page.waitForLoadState("networkidle");
          const overflow = await page.evaluate<{ scroll: number; width: number; wide: string[] }>(`({
            scroll: document.documentElement.scrollWidth,
            width: window.innerWidth,
            wide: [...document.querySelectorAll("body *")]
              .filter((e) => !e.closest(".table-wrap") && e.getBoundingClientRect().right > window.innerWidth + 1)
              .map((e) => e.tagName + "." + e.className),
          })`);
          expect({ page: name, ...overflow }).toEqual({
            page: name,
            scroll: overflow.width,
            width: overflow.width,
            wide: [],
          });
          await checkA11y(`${name} (phone)`);
          await screenshot(page, `console-e2e-phone-${name}`);
        }
      } finally {
        await page.setViewportSize({ width: 1000, height: 800 });
      }
      expect(await page.evaluate<number>("localStorage.length + sessionStorage.length")).toBe(0);
      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );
});
