/**
 * @module A real browser against the compiled binary: headless Chromium (Debian's, which `.ci/run` installs
 * when missing) loads a page from an allowed origin and one from another origin, and the page's own fetches
 * show what the browser lets a script read: discovery and the JWKS from anywhere, the Consumer API (with
 * its preflights for JSON bodies and bearer tokens) only from the allowed origin, the Admin API from none.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { type Appliance, startAppliance } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"B".repeat(43)}`;
const SLUG = "browser-spa";
const CHROMIUM = "/usr/bin/chromium";

let appliance: Appliance;
let profile = "";
const sites: Server<undefined>[] = [];

/** What the page reports: one entry per step, a status and what it could read, or `blocked`. */
type Report = Record<string, { status?: number; read?: unknown; blocked?: string }>;

/**
 * The page: each step is a fetch to Heimdall; a TypeError is the browser refusing to hand the answer
 * (or to send the request, after a failed preflight) to the script.
 */
function page(api: string, username: string): string {
  const script = `
const api = ${JSON.stringify(api)};
const slug = ${JSON.stringify(SLUG)};
const out = {};
async function step(name, run) {
  try { out[name] = await run(); } catch (e) { out[name] = { blocked: e.name }; }
}
(async () => {
  let jwksUri = "";
  await step("discovery", async () => {
    const r = await fetch(api + "/" + slug + "/.well-known/openid-configuration");
    const doc = await r.json();
    jwksUri = doc.jwks_uri;
    return { status: r.status, read: doc.issuer };
  });
  await step("jwks", async () => {
    const r = await fetch(jwksUri);
    return { status: r.status, read: (await r.json()).keys.length };
  });
  // If-None-Match is not CORS-safelisted: the browser preflights this one.
  await step("jwks_conditional", async () => {
    const r = await fetch(jwksUri, { headers: { "if-none-match": '"stale"' }, cache: "no-store" });
    return { status: r.status };
  });
  let token = "";
  // A JSON body is not a simple request: preflighted.
  await step("signup", async () => {
    const r = await fetch(api + "/" + slug + "/v1/auth/signup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: ${JSON.stringify(username)}, email: ${JSON.stringify(`${username}@example.com`)}, password: "Tangerine-Orbit-47-Lantern" }),
    });
    const body = await r.json();
    token = body.access_token;
    return { status: r.status, read: { token: typeof token, request_id: r.headers.get("x-request-id") !== null } };
  });
  await step("me", async () => {
    const r = await fetch(api + "/" + slug + "/v1/me", { headers: { authorization: "Bearer " + token } });
    return { status: r.status, read: (await r.json()).username };
  });
  await step("me_unauthenticated", async () => {
    const r = await fetch(api + "/" + slug + "/v1/me");
    return { status: r.status, read: r.headers.get("www-authenticate") };
  });
  await step("admin", async () => {
    const r = await fetch(api + "/v1/apps", { headers: { authorization: "Bearer ${PAK}" } });
    return { status: r.status };
  });
  const pre = document.createElement("pre");
  pre.id = "report";
  pre.textContent = JSON.stringify(out);
  document.body.append(pre);
})();`;
  return `<!doctype html><html><head><title>spa</title></head><body><script>${script}</script></body></html>`;
}

/** A static site on its own port (its own origin) serving `html` at `/`. */
function site(html: () => string): string {
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => new Response(html(), { headers: { "content-type": "text/html; charset=utf-8" } }),
  });
  sites.push(server);
  return `http://127.0.0.1:${server.port}`;
}

/** Loads `url` in headless Chromium, lets its script finish, and returns the page's report. */
async function visit(url: string): Promise<Report> {
  const proc = Bun.spawn(
    [
      CHROMIUM,
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      `--user-data-dir=${profile}`,
      "--virtual-time-budget=20000",
      "--dump-dom",
      url,
    ],
    { stdout: "pipe", stderr: "pipe", stdin: "ignore" },
  );
  const killer = setTimeout(() => proc.kill(), 45_000);
  const [dom, stderr] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  clearTimeout(killer);
  await proc.exited;
  const m = /<pre id="report">([^<]*)<\/pre>/.exec(dom);
  if (!m)
    throw new Error(
      `the page wrote no report (exit ${proc.exitCode}): ${dom.slice(0, 500)} ${stderr.slice(-1500)}`,
    );
  return JSON.parse(m[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, "&")) as Report;
}

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${appliance.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

let allowedSite = "";
let strangerSite = "";
let appId = "";

beforeAll(async () => {
  appliance = await startAppliance("cors-browser", PAK);
  profile = mkdtempSync(join(tmpdir(), "heimdall-chromium-"));
  allowedSite = site(() => page(appliance.baseUrl, "from-allowed"));
  strangerSite = site(() => page(appliance.baseUrl, "from-stranger"));
  const app = await admin<{ id: string }>("POST", "/v1/apps", { slug: SLUG, display_name: "Browser SPA" });
  appId = app.id;
  await admin("PATCH", `/v1/apps/${app.id}/auth-config`, { allowed_redirect_origins: [allowedSite] });
}, TIMEOUT);

afterAll(async () => {
  for (const s of sites) s.stop(true);
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (appliance) await appliance.dispose();
});

/** The usernames of the app's end users, read through the Admin API. */
async function usernames(): Promise<string[]> {
  const page = await admin<{ data: { username: string }[] }>("GET", `/v1/apps/${appId}/end-users`);
  return page.data.map((u) => u.username).sort();
}

describe("headless Chromium", () => {
  test(
    "a page from an allowed origin reads discovery, the JWKS and the Consumer API (preflights granted), never the Admin API",
    async () => {
      const report = await visit(allowedSite);
      expect(report).toEqual({
        discovery: { status: 200, read: `${appliance.baseUrl}/${SLUG}` },
        jwks: { status: 200, read: 2 },
        jwks_conditional: { status: 200 },
        signup: { status: 200, read: { token: "string", request_id: true } },
        me: { status: 200, read: "from-allowed" },
        me_unauthenticated: { status: 401, read: 'Bearer realm="heimdall"' },
        admin: { blocked: "TypeError" },
      });
      expect(await usernames()).toEqual(["from-allowed"]);
    },
    TIMEOUT,
  );

  test(
    "a page from another origin reads the public documents only; its sign-up is stopped at the preflight",
    async () => {
      const report = await visit(strangerSite);
      expect(report).toEqual({
        discovery: { status: 200, read: `${appliance.baseUrl}/${SLUG}` },
        jwks: { status: 200, read: 2 },
        jwks_conditional: { status: 200 },
        signup: { blocked: "TypeError" },
        me: { blocked: "TypeError" },
        me_unauthenticated: { blocked: "TypeError" },
        admin: { blocked: "TypeError" },
      });
      // The preflight was refused, so the browser never sent the sign-up itself.
      expect(await usernames()).toEqual(["from-allowed"]);
    },
    TIMEOUT,
  );
});
