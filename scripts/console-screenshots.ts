/**
 * @module Refreshes the console screenshots under `docs/console/`: `bun scripts/console-screenshots.ts [outdir]`.
 * Builds the binary, starts it in a temporary directory with fixed bootstrap credentials, fills it with demo
 * data through the public APIs (two apps, end users who signed up through the Consumer API, a suspended one,
 * a tenant, sessions, a webhook, verification and reset emails), then signs in with headless Chromium
 * (Debian's `/usr/bin/chromium`, as in the browser tests) and saves one PNG per page. Nothing is edited by hand.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type Page } from "playwright-core";
import { buildBinary, ROOT } from "./build.ts";

const PAK = `pcft_live_${"D".repeat(43)}`;
const EMAIL = "owner@demo.test";
const PASSWORD = "correct-horse-demo-staple";
const USER_PASSWORD = "Tangerine-Orbit-47-Lantern";
const VIEWPORT = { width: 1100, height: 760 };

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

async function main(outDir: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "heimdall-screenshots-"));
  const binary = join(work, "heimdall");
  buildBinary(binary);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = Bun.spawn(
    [binary, "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", join(work, "data")],
    {
      cwd: work,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: work,
        HEIMDALL_PUBLIC_URL: base,
        HEIMDALL_BOOTSTRAP_PAK: PAK,
        HEIMDALL_BOOTSTRAP_EMAIL: EMAIL,
        HEIMDALL_BOOTSTRAP_PASSWORD: PASSWORD,
        HEIMDALL_LOG_LEVEL: "warn",
      },
      stdout: "ignore",
      stderr: "inherit",
    },
  );
  try {
    await waitHealthy(base);
    const ids = await seed(base);
    await capture(base, ids, outDir);
  } finally {
    server.kill("SIGTERM");
    await server.exited;
    rmSync(work, { recursive: true, force: true });
  }
}

async function waitHealthy(base: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(100);
  }
  throw new Error("the server did not become healthy");
}

async function call<T>(base: string, method: string, path: string, body?: unknown, pak = true): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(pak ? { authorization: `Bearer ${PAK}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** Demo data through the public APIs only; returns the ids the pages need. */
async function seed(base: string): Promise<{ appId: string; userId: string }> {
  const app = await call<{ id: string }>(base, "POST", "/v1/apps", {
    slug: "acme-shop",
    display_name: "Acme Shop",
  });
  await call(base, "POST", "/v1/apps", { slug: "internal-tools", display_name: "Internal Tools" });
  await call(base, "PATCH", `/v1/apps/${app.id}/notification-settings`, {
    notifications_via_envoi: true,
    default_sender_address: "no-reply@acme.test",
  });
  const people = ["grace", "alan", "ada", "linus", "margaret", "edsger", "barbara"];
  const userIds: Record<string, string> = {};
  for (const username of people) {
    const email = `${username}@example.com`;
    await call(
      base,
      "POST",
      "/acme-shop/v1/auth/signup",
      { username, email, password: USER_PASSWORD },
      false,
    );
    const found = await call<{ data: { id: string }[] }>(
      base,
      "GET",
      `/v1/apps/${app.id}/end-users?search=${username}`,
    );
    userIds[username] = found.data[0]!.id;
  }
  // Grace: a verified email (the code read back from the dev inbox listing), two more sessions, a tenant.
  await call(base, "POST", "/acme-shop/v1/auth/send-verification-email", { email: "grace@example.com" });
  const outbox = await call<{ data: { delivered_text?: string | null }[] }>(
    base,
    "GET",
    `/v1/apps/${app.id}/outbox`,
  );
  const code = /\b(\d{6})\b/.exec(outbox.data.map((m) => m.delivered_text ?? "").join("\n"))?.[1];
  if (code) await call(base, "POST", "/acme-shop/v1/auth/verify", { code }, false);
  for (let i = 0; i < 2; i++)
    await call(
      base,
      "POST",
      "/acme-shop/v1/auth/signin",
      { identifier: "grace", password: USER_PASSWORD },
      false,
    );
  const tenant = await call<{ id: string }>(base, "POST", `/v1/apps/${app.id}/tenants`, {
    display_name: "Acme Corp",
    slug: "acme-corp",
  });
  await call(base, "POST", `/v1/apps/${app.id}/tenants/${tenant.id}/members`, {
    email: "grace@example.com",
    role_name: "member",
  });
  await call(base, "POST", `/v1/apps/${app.id}/end-users/${userIds.grace}/password-reset`);
  await call(base, "PATCH", `/v1/apps/${app.id}/end-users/${userIds.edsger}/status`, { status: "suspended" });
  await call(base, "POST", "/acme-shop/v1/auth/send-verification-email", { email: "alan@example.com" });
  await call(base, "PUT", `/v1/apps/${app.id}/webhook`, {
    url: "https://hooks.acme.test/heimdall",
    event_types: ["user.signup", "user.deleted"],
  });
  return { appId: app.id, userId: userIds.grace! };
}

async function capture(base: string, ids: { appId: string; userId: string }, outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  try {
    for (const scheme of ["light", "dark"] as const) {
      const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: scheme });
      const page = await context.newPage();
      await page.goto(`${base}/console/signin`);
      await page.getByLabel("Email or username").fill(EMAIL);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(`${base}/console`);
      const app = `${base}/console/apps/${ids.appId}`;
      const shots: [string, string][] =
        scheme === "light"
          ? [
              ["overview", `${base}/console`],
              ["end-users", `${app}/users`],
              ["end-user", `${app}/users/${ids.userId}`],
              ["webhook", `${app}/webhook`],
              ["dev-inbox", `${app}/inbox`],
            ]
          : [["overview-dark", `${base}/console`]];
      for (const [name, url] of shots) {
        await page.goto(url);
        await settle(page);
        if (name === "dev-inbox") {
          await page
            .getByRole("button", { name: /to grace@example\.com/ })
            .first()
            .click();
          await settle(page);
          // The message with its code, rather than the list above it.
          await page.locator("#inbox-message").scrollIntoViewIfNeeded();
        }
        await page.screenshot({ path: join(outDir, `${name}.png`) });
        console.log(`saved ${join(outDir, `${name}.png`)}`);
      }
      await context.close();
    }
  } finally {
    await browser.close();
  }
}

/** The page has answered every call and drawn it. */
async function settle(page: Page): Promise<void> {
  await page.waitForLoadState("networkidle");
  await page.locator("main h1, main h2").first().waitFor();
}

if (import.meta.main) {
  await main(resolve(process.argv[2] ?? join(ROOT, "docs/console")));
}
