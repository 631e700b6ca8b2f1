/**
 * @module The admin console as the server serves it (docs/console.md): the index under /console and every
 * client-side route, with the security headers and CSP; the hashed assets with their types; `/` redirecting;
 * HEIMDALL_CONSOLE=off serving none of it; and the first-load size budget.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { CONSOLE_CSP } from "../../src/console/routes.ts";
import { closeTestContext, createTestContext, type TestContext } from "../support/harness.ts";

/** First load: every script the index pulls in, gzip-compressed, stays under this (docs/console.md). */
const FIRST_LOAD_JS_BUDGET = 150 * 1024;

let ctx: TestContext;
let off: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  off = await createTestContext({ HEIMDALL_CONSOLE: "off" });
});
afterAll(async () => {
  await closeTestContext(ctx);
  await closeTestContext(off);
});

const get = (c: TestContext, path: string, headers: Record<string, string> = {}) =>
  c.call("GET", path, { auth: null, unchecked: true, headers });

function expectSecurityHeaders(headers: Headers): void {
  expect(headers.get("content-security-policy")).toBe(CONSOLE_CSP);
  expect(headers.get("x-frame-options")).toBe("DENY");
  expect(headers.get("x-content-type-options")).toBe("nosniff");
  expect(headers.get("referrer-policy")).toBe("no-referrer");
}

/** The `/console/assets/…` paths the index names, scripts and stylesheets. */
function assetPaths(html: string): { scripts: string[]; styles: string[] } {
  const scripts = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]!);
  const styles = [...html.matchAll(/<link rel="stylesheet"[^>]*\shref="([^"]+)"/g)].map((m) => m[1]!);
  return { scripts, styles };
}

describe("/console", () => {
  test("serves the index with a strict CSP, no framing, no sniffing, no referrer, and no caching", async () => {
    const res = await get(ctx, "/console");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expectSecurityHeaders(res.headers);
    const csp = CONSOLE_CSP.split("; ");
    for (const d of ["script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
      expect(csp).toContain(d);
    }
    expect(CONSOLE_CSP).not.toContain("unsafe-inline");
    const html = res.text as string;
    expect(html).toContain('<div id="root">');
    // No inline script or style for the CSP to refuse: every script has a src, no style element or attribute.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle="/);
    const { scripts, styles } = assetPaths(html);
    expect(scripts.length).toBe(1);
    expect(styles.length).toBe(1);
    for (const p of [...scripts, ...styles]) expect(p).toMatch(/^\/console\/assets\/[\w.-]+$/);
  });

  test("client-side routes get the same index, so a deep link or a reload works", async () => {
    const index = (await get(ctx, "/console")).text;
    for (const path of ["/console/signin", "/console/apps/some-id/users", "/console/no/such/page"]) {
      const res = await get(ctx, path);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expectSecurityHeaders(res.headers);
      expect(res.text).toBe(index);
    }
  });

  test("the assets are the bundled ones, with their types, hashed names cached for good, and 304 on a match", async () => {
    const { scripts, styles } = assetPaths((await get(ctx, "/console")).text as string);
    const js = await get(ctx, scripts[0]!);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expectSecurityHeaders(js.headers);
    // The bundle: Preact and the console's own code (its sign-in form's API call), minified.
    expect(js.text).toContain("/v1/auth/signin");
    expect(js.text).not.toContain("sourceMappingURL=data:");
    expect((js.text as string).split("\n").length).toBeLessThan(50);
    const css = await get(ctx, styles[0]!);
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(css.text).toContain("prefers-color-scheme");
    const etag = js.headers.get("etag")!;
    expect(etag).toMatch(/^"[^"]+"$/);
    const again = await get(ctx, scripts[0]!, { "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe("");
  });

  test("an unknown asset is 404, never the index", async () => {
    const res = await get(ctx, "/console/assets/chunk-nothere.js");
    expect(res.status).toBe(404);
    expectSecurityHeaders(res.headers);
    expect(res.text).not.toContain('<div id="root">');
  });

  test("the first load stays within 150 KB of gzip-compressed JavaScript", async () => {
    const { scripts } = assetPaths((await get(ctx, "/console")).text as string);
    let total = 0;
    for (const p of scripts) {
      const res = await ctx.app.handle(new Request(`http://localhost${p}`));
      total += gzipSync(new Uint8Array(await res.arrayBuffer())).length;
    }
    expect(total).toBeGreaterThan(1024);
    expect(total).toBeLessThan(FIRST_LOAD_JS_BUDGET);
  });
});

describe("/", () => {
  test("redirects to the console", async () => {
    const res = await get(ctx, "/");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/console");
  });
});

describe("HEIMDALL_CONSOLE=off", () => {
  test("config: on by default, off by on/off, and a bad value names the key", async () => {
    const { loadConfig } = await import("../../src/config/index.ts");
    expect(loadConfig({}, {}).console).toBe(true);
    expect(loadConfig({}, { HEIMDALL_CONSOLE: "off" }).console).toBe(false);
    expect(loadConfig({}, { HEIMDALL_CONSOLE: "on" }).console).toBe(true);
    expect(() => loadConfig({}, { HEIMDALL_CONSOLE: "maybe" })).toThrow(
      'HEIMDALL_CONSOLE (env): expected on or off (the admin console at /console), got "maybe"',
    );
  });

  test("serves neither the console, its assets nor the redirect: 404 in the API's error shape", async () => {
    const { scripts } = assetPaths((await get(ctx, "/console")).text as string);
    for (const path of ["/console", "/console/apps/x", scripts[0]!, "/"]) {
      const res = await get(off, path);
      expect({ path, status: res.status, code: (res.body as { code?: string }).code }).toEqual({
        path,
        status: 404,
        code: "NOT_FOUND",
      });
      expect(res.headers.get("content-security-policy")).toBeNull();
    }
    // The API is unaffected.
    expect((await get(off, "/healthz")).status).toBe(200);
  });
});
