/**
 * @module The admin console in a real browser against the compiled binary (headless Debian Chromium through
 * playwright-core): `/` leads to sign-in, the bootstrap credentials open the workspace overview listing an
 * app with its live figures, a deep link survives the trip through sign-in, the page breaks no CSP rule and
 * keeps no credential where scripts can read it. The full end-to-end suite lives beside it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { freshPage, launchBrowser, screenshot } from "../support/browser.ts";
import { type Appliance, startAppliance } from "./support.ts";

const TIMEOUT = 90_000;
const PAK = `pcft_live_${"C".repeat(43)}`;
const EMAIL = "owner@console.test";
const PASSWORD = "correct-horse-console-staple";

let appliance: Appliance;
let browser: Browser;
let appId = "";

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${appliance.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

beforeAll(async () => {
  appliance = await startAppliance("console", PAK, {
    HEIMDALL_BOOTSTRAP_EMAIL: EMAIL,
    HEIMDALL_BOOTSTRAP_PASSWORD: PASSWORD,
  });
  appId = (
    await admin<{ id: string }>("POST", "/v1/apps", { slug: "console-shop", display_name: "Console Shop" })
  ).id;
  const signup = await fetch(`${appliance.baseUrl}/console-shop/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      username: "ada",
      email: "ada@example.com",
      password: "Tangerine-Orbit-47-Lantern",
    }),
  });
  expect(signup.status).toBe(200);
  browser = await launchBrowser();
}, TIMEOUT);

afterAll(async () => {
  await browser?.close();
  expect(await appliance?.dispose()).toBe(0);
});

/** Everything the page reports as wrong: script errors, failed loads and CSP violations. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error" && !/status of 401/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  return problems;
}

async function signIn(page: Page): Promise<void> {
  await page.getByLabel("Email or username").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
}

describe("the console in Chromium", () => {
  test(
    "/ → sign-in; the bootstrap credentials open the overview listing the app with its figures",
    async () => {
      const { context, page } = await freshPage(browser);
      const problems = watch(page);
      try {
        await page.goto(`${appliance.baseUrl}/`);
        await page.waitForURL(/\/console\/signin\?next=%2Fconsole$/);
        await expect(page.getByRole("heading", { name: "Sign in to Heimdall" }).isVisible()).resolves.toBe(
          true,
        );

        await signIn(page);
        await page.waitForURL(`${appliance.baseUrl}/console`);
        await page.getByRole("heading", { name: /^Apps in / }).waitFor();
        const card = page
          .getByRole("listitem")
          .filter({ has: page.getByRole("link", { name: "Console Shop" }) });
        await card.waitFor();
        await card.getByText("1 active").waitFor();
        expect(await card.locator(".figures dd").first().textContent()).toBe("1");
        expect(await card.textContent()).toContain("console-shop");
        await screenshot(page, "console-overview");

        // The session is the HttpOnly cookie: no script can read it, and nothing was put in storage.
        expect(await page.evaluate<string>("document.cookie")).not.toContain("auth_token");
        expect(await page.evaluate<number>("localStorage.length + sessionStorage.length")).toBe(0);
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    },
    TIMEOUT,
  );

  test(
    "a deep link goes through sign-in and comes back to the same page",
    async () => {
      const { context, page } = await freshPage(browser);
      const problems = watch(page);
      try {
        await page.goto(`${appliance.baseUrl}/console/apps/${appId}/keys`);
        await page.waitForURL(/\/console\/signin\?next=/);
        await page.getByText("Your session has ended").waitFor();
        await signIn(page);
        await page.waitForURL(`${appliance.baseUrl}/console/apps/${appId}/keys`);
        await page.getByRole("heading", { name: "Signing keys" }).waitFor();
        await page
          .getByRole("cell", { name: /^active/ })
          .first()
          .waitFor();
        expect(await page.getByRole("link", { name: "Signing keys" }).getAttribute("aria-current")).toBe(
          "page",
        );
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    },
    TIMEOUT,
  );
});
