/**
 * @module Headless Chromium for tests: Debian's `/usr/bin/chromium` (`.ci/run` installs it when missing)
 * driven by `playwright-core`, one browser per test file, and screenshots saved as test artifacts under
 * `test-artifacts/` at the repository root (gitignored; CI keeps what is there).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const ARTIFACTS = join(import.meta.dir, "../../test-artifacts");

/** Launches Debian's Chromium headless (no sandbox: tests and CI run as root). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}

/** A fresh context (own cookies and storage) and page; close the context when done. */
export async function freshPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  return { context, page: await context.newPage() };
}

/**
 * Saves a full-page PNG as `test-artifacts/<name>.png` (the directory is created on demand) and returns
 * its path. Names are kebab-case and say what the picture shows, e.g. `federation-oidc-idp-login`.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
