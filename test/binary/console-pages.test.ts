/**
 * @module The console's roles, credentials, tenants, invites, webhook, providers, audit, dev inbox and
 * platform pages in headless Chromium against the compiled binary: each test does what a person would
 * (fill a form, press the button, read the answer off the page) and checks the result through the API
 * too — an M2M secret copied from the page gets a token, a refused field shows the API's reason beside it.
 * Each page is also checked with axe, light and dark (test/support/axe.ts); findings join `problems`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { accessibilityProblems, installAxe } from "../support/axe.ts";
import { launchBrowser } from "../support/browser.ts";
import { type Appliance, startAppliance } from "./support.ts";

const TIMEOUT = 90_000;
const PAK = `pcft_live_${"P".repeat(43)}`;
const EMAIL = "owner@pages.test";
const PASSWORD = "correct-horse-pages-staple";
const SLUG = "pages-shop";

let appliance: Appliance;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let appId = "";
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

const at = (tail: string) => `${appliance.baseUrl}/console/apps/${appId}${tail}`;

/** axe on the page as it stands (light and dark); serious and critical findings join `problems`. */
async function checkA11y(where: string): Promise<void> {
  problems.push(...(await accessibilityProblems(page, where)));
}

beforeAll(async () => {
  appliance = await startAppliance("console-pages", PAK, {
    HEIMDALL_BOOTSTRAP_EMAIL: EMAIL,
    HEIMDALL_BOOTSTRAP_PASSWORD: PASSWORD,
  });
  appId = (await admin<{ id: string }>("POST", "/v1/apps", { slug: SLUG, display_name: "Pages Shop" })).id;
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: appliance.baseUrl });
  await installAxe(context);
  page = await context.newPage();
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    // A refused form answers 4xx on purpose; the browser logs those as failed loads.
    if (msg.type() === "error" && !/status of 4\d\d/.test(msg.text()))
      problems.push(`console: ${msg.text()}`);
  });
  await page.goto(`${appliance.baseUrl}/console/signin`);
  await page.getByLabel("Email or username").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${appliance.baseUrl}/console`);
}, TIMEOUT);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  expect(await appliance?.dispose()).toBe(0);
});

describe("the console's pages in Chromium", () => {
  test(
    "roles: create a custom role, grant it a permission with a checkbox; the API sees the grant",
    async () => {
      await page.goto(at("/roles"));
      await page.getByRole("heading", { name: "Roles", exact: true }).waitFor();
      const tabs = page.getByRole("navigation", { name: "App sections" });
      expect(await tabs.getByRole("link", { name: "Roles" }).getAttribute("aria-current")).toBe("page");
      await page.getByLabel("Name", { exact: true }).fill("editor");
      await page.getByLabel("Description", { exact: true }).fill("Edits things");
      await page.getByRole("button", { name: "Create role" }).click();
      await page.getByRole("heading", { name: "editor" }).waitFor();
      await page.getByRole("button", { name: "Edit permissions of editor" }).click();
      await page.getByRole("checkbox", { name: /^user\.read/ }).check();
      await page.getByRole("button", { name: "Save permissions" }).click();
      await page.getByText("Saved 1 permissions.").waitFor();
      const role = await admin<{ permissions: { resource: string; action: string }[] }>(
        "GET",
        `/v1/apps/${appId}/roles/editor`,
      );
      expect(role.permissions.map((p) => `${p.resource}.${p.action}`)).toEqual(["user.read"]);
      await checkA11y("roles");
    },
    TIMEOUT,
  );

  test(
    "credentials: an M2M secret read off the page (and copied) gets a token; a bad API-key permission is named beside its field",
    async () => {
      await page.goto(at("/credentials"));
      await page.getByRole("heading", { name: "M2M credentials" }).waitFor();
      await page.getByLabel("Credential name").fill("ci-runner");
      await page.getByRole("button", { name: "Create credential" }).click();
      const secretBox = page.getByRole("textbox", { name: /Client secret of ci-runner/ });
      await secretBox.waitFor();
      const secret = await secretBox.inputValue();
      expect(secret.length).toBeGreaterThan(20);
      await page.getByRole("button", { name: "Copy" }).click();
      await page.getByText("Copied to the clipboard.").waitFor();
      expect(await page.evaluate<string>("navigator.clipboard.readText()")).toBe(secret);
      const clientId = ((await page.locator(".secret-once code").textContent()) ?? "").trim();
      const token = await fetch(`${appliance.baseUrl}/${SLUG}/v1/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: clientId,
          client_secret: secret,
        }),
      });
      expect(token.status).toBe(200);
      expect(((await token.json()) as { access_token: string }).access_token).toBeTruthy();
      await page.getByRole("cell", { name: clientId }).waitFor();

      await page.getByLabel("Key name").fill("reporting");
      await page.getByLabel("Permissions", { exact: true }).fill("Bad Perm");
      await page.getByRole("button", { name: "Create API key" }).click();
      await page.locator(".field-error", { hasText: "must be resource.action (lowercase)" }).waitFor();
      await page.getByLabel("Permissions", { exact: true }).fill("user.read");
      await page.getByRole("button", { name: "Create API key" }).click();
      const key = await page.getByRole("textbox", { name: /API key reporting/ }).inputValue();
      expect(key).toStartWith("hdk_live_");
      await page.getByRole("cell", { name: "reporting", exact: true }).waitFor();
      await checkA11y("credentials");
    },
    TIMEOUT,
  );

  test(
    "tenants and invites: create a tenant, open it, add a member by email; an invite's code is shown once",
    async () => {
      await page.goto(at("/tenants"));
      await page.getByLabel("Tenant name").fill("Acme Corp");
      await page.getByRole("button", { name: "Create tenant" }).click();
      await page.getByRole("status").getByRole("link", { name: "Acme Corp" }).click();
      await page.getByRole("heading", { name: "Acme Corp" }).waitFor();
      const tabs = page.getByRole("navigation", { name: "App sections" });
      expect(await tabs.getByRole("link", { name: "Tenants" }).getAttribute("aria-current")).toBe("page");
      await page.getByLabel("Member email").fill("bea@example.com");
      await page.getByLabel("Tenant role").fill("member");
      await page.getByRole("button", { name: "Add member" }).click();
      await page.getByRole("table", { name: "Tenant members" }).getByRole("row").nth(1).waitFor();
      const tenants = await admin<{ data: { id: string; display_name: string }[] }>(
        "GET",
        `/v1/apps/${appId}/tenants`,
      );
      const acme = tenants.data.find((t) => t.display_name === "Acme Corp");
      expect(acme).toBeDefined();
      const members = await admin<{ data: unknown[] }>(
        "GET",
        `/v1/apps/${appId}/tenants/${acme!.id}/members`,
      );
      expect(members.data).toHaveLength(1);
      await checkA11y("tenant");

      await page.goto(at("/invites"));
      await page.getByLabel("Invitee email").fill("cleo@example.com");
      await page.getByRole("button", { name: "Create invite" }).click();
      const code = await page.getByRole("textbox", { name: /Invite code for cleo@example.com/ }).inputValue();
      expect(code.length).toBeGreaterThan(10);
      await page.getByRole("cell", { name: "cleo@example.com", exact: true }).waitFor();
      await checkA11y("invites");
    },
    TIMEOUT,
  );

  test(
    "webhook: a bad URL is refused beside the field; a good one saves and shows the secret and its hint",
    async () => {
      await page.goto(at("/webhook"));
      await page.getByText("No webhook yet.").waitFor();
      await page.getByLabel("Destination URL").fill("ftp://example.com/hook");
      await page.getByRole("checkbox", { name: "user.signup" }).check();
      await page.getByRole("button", { name: "Save webhook" }).click();
      await page.locator(".field-error", { hasText: "must use https://" }).waitFor();
      await page.getByLabel("Destination URL").fill("http://127.0.0.1:9/hook");
      await page.getByRole("button", { name: "Save webhook" }).click();
      const secret = await page.getByRole("textbox", { name: /Signing secret/ }).inputValue();
      expect(secret).toStartWith("whsec_");
      await page.locator("dd code", { hasText: `…${secret.slice(-4)}` }).waitFor();
      await page.getByRole("heading", { name: "Delivery attempts" }).waitFor();
      const hook = await admin<{ event_types: string[] }>("GET", `/v1/apps/${appId}/webhook`);
      expect(hook.event_types).toEqual(["user.signup"]);
      await checkA11y("webhook");
    },
    TIMEOUT,
  );

  test(
    "providers: configure GitHub with a write-only secret; the form never shows it back",
    async () => {
      await page.goto(at("/providers"));
      await page.getByRole("button", { name: "Configure GitHub" }).click();
      await page.getByLabel("Client ID").fill("gh-client-123");
      await page.getByLabel("Client secret").fill("gh-secret-value");
      await page.getByRole("button", { name: "Save provider" }).click();
      await page.getByText("GitHub saved.").waitFor();
      await page.getByRole("button", { name: "Enable GitHub" }).click();
      await page.getByText("GitHub enabled.").waitFor();
      const gh = await admin<{ enabled: boolean; config: Record<string, unknown> }>(
        "GET",
        `/v1/apps/${appId}/auth-config/providers/github`,
      );
      expect(gh.enabled).toBe(true);
      expect(gh.config).toMatchObject({ client_id: "gh-client-123", client_secret_present: true });
      await page.getByRole("button", { name: "Edit GitHub" }).click();
      expect(await page.getByLabel("Client secret").inputValue()).toBe("");
      await page.getByText("Stored (never shown)").waitFor();
      expect(await page.content()).not.toContain("gh-secret-value");
      await checkA11y("providers");
    },
    TIMEOUT,
  );

  test(
    "dev inbox: a verification email sent through the Consumer API shows its code",
    async () => {
      await admin("PATCH", `/v1/apps/${appId}/notification-settings`, {
        notifications_via_envoi: true,
        default_sender_address: "no-reply@pages.test",
      });
      const signup = await fetch(`${appliance.baseUrl}/${SLUG}/v1/auth/signup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          username: "dora",
          email: "dora@example.com",
          password: "Tangerine-Orbit-47-Lantern",
        }),
      });
      expect(signup.status).toBe(200);
      // The app's backend asks Heimdall to send the email, with its platform API key.
      const send = await fetch(`${appliance.baseUrl}/${SLUG}/v1/auth/send-verification-email`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${PAK}` },
        body: JSON.stringify({ email: "dora@example.com" }),
      });
      expect(send.status).toBe(201);
      await page.goto(at("/inbox"));
      await page
        .getByRole("button", { name: /to dora@example\.com/ })
        .first()
        .click();
      const body = (await page.locator("#inbox-message pre").textContent()) ?? "";
      expect(body).toMatch(/\b\d{6}\b/);
      expect(body).not.toContain("******");
      await checkA11y("dev inbox");
    },
    TIMEOUT,
  );

  test(
    "audit log: the chain is intact, and filtering by action shows only that action",
    async () => {
      await page.goto(at("/audit"));
      await page.getByText("intact").waitFor();
      await page.getByLabel("Action (exact)").fill("tenant.created");
      await page.getByLabel("Action (exact)").press("Enter");
      await page.getByRole("cell", { name: "tenant.created" }).first().waitFor();
      // Rows of other actions go (not waitForFunction: its polling evaluates a string, which the CSP refuses).
      await page
        .locator("tbody tr td:nth-child(2) code")
        .filter({ hasNotText: "tenant.created" })
        .first()
        .waitFor({ state: "detached" });
      expect(await page.locator("tbody tr").count()).toBe(1);
      await checkA11y("audit log");
    },
    TIMEOUT,
  );

  test(
    "platform access: members listed; a policy and a platform API key created, the key shown once and working",
    async () => {
      await page.goto(`${appliance.baseUrl}/console`);
      await page.getByRole("link", { name: "Platform access" }).click();
      await page.getByRole("heading", { name: "Members" }).waitFor();
      await page.getByRole("cell", { name: EMAIL }).waitFor();
      await page.getByLabel("Policy name").fill("read-only");
      await page.getByRole("button", { name: "Create policy" }).click();
      await page.getByRole("cell", { name: "read-only" }).waitFor();
      await page.getByLabel("Key name").fill("ci");
      await page.getByRole("checkbox", { name: "read-only" }).check();
      await page.getByRole("button", { name: "Create platform API key" }).click();
      const token = await page.getByRole("textbox", { name: /Platform API key ci/ }).inputValue();
      expect(token).toStartWith("pcft_live_");
      const res = await fetch(`${appliance.baseUrl}/v1/apps/${appId}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      await checkA11y("platform access");
      // Narrow phone width: the page still fits without sideways scrolling of the body.
      await page.setViewportSize({ width: 375, height: 800 });
      const wide = await page.evaluate<string[]>(`[...document.querySelectorAll("body *")]
        .filter((e) => !e.closest(".table-wrap") && e.getBoundingClientRect().right > window.innerWidth + 1)
        .map((e) => e.tagName + "." + e.className)`);
      expect(wide).toEqual([]);
      expect(await page.evaluate<number>("localStorage.length + sessionStorage.length")).toBe(0);
      expect(problems).toEqual([]);
    },
    TIMEOUT,
  );
});
