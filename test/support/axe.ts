/**
 * @module axe-core in the browser tests: every console page a test visits is checked in the light and the
 * dark colour scheme, and a `serious` or `critical` violation fails the test with the rule, its help and
 * the first offending nodes.
 *
 * The console's Content-Security-Policy (`script-src 'self'`) refuses Playwright's `addScriptTag`, which
 * injects an inline `<script>`. axe is therefore installed with `context.addInitScript({ path })`: Playwright
 * runs init scripts through the DevTools protocol (`Page.addScriptToEvaluateOnNewDocument`), outside the
 * page's CSP, so the policy under test stays exactly as served — no `bypassCSP`.
 */
import { createRequire } from "node:module";
import type { BrowserContext, Page } from "playwright-core";

const AXE_PATH = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** Makes `window.axe` available in every page the context opens from now on. */
export async function installAxe(context: BrowserContext): Promise<void> {
  await context.addInitScript({ path: AXE_PATH });
}

interface AxeNode {
  target: string[];
  failureSummary?: string;
}
interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: AxeNode[];
}

/** Runs axe once on the page as it is now; the serious and critical violations, as readable lines. */
async function seriousViolations(page: Page): Promise<string[]> {
  const violations = await page.evaluate(async () => {
    // Runs in the page; the test tree has no DOM types, so the page's global is reached through globalThis.
    const axe = (
      globalThis as unknown as { axe: { run: (o: unknown) => Promise<{ violations: unknown[] }> } }
    ).axe;
    const result = await axe.run({ resultTypes: ["violations"] });
    return result.violations;
  });
  return (violations as AxeViolation[])
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} — ${v.nodes
          .slice(0, 3)
          .map((n) => n.target.join(" "))
          .join(", ")}`,
    );
}

/**
 * The serious and critical violations on the page in both colour schemes, prefixed with `where` and the
 * scheme; `[]` when it passes. The page is left in the light scheme.
 */
export async function accessibilityProblems(page: Page, where: string): Promise<string[]> {
  const out: string[] = [];
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const line of await seriousViolations(page)) out.push(`${where} (${scheme}): ${line}`);
  }
  await page.emulateMedia({ colorScheme: "light" });
  return out;
}
