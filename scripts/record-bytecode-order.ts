/**
 * @module Records `scripts/bytecode-order.txt`, the profile `scripts/build.ts` lays the binary's bytecode out
 * by: Bun places the functions a run used together at the front of the executable, so `serve` touches fewer
 * pages of it (lower resident memory, a faster start). It builds a binary without a profile, runs `serve` on
 * a throw-away data dir with `BUN_BYTECODE_ORDER_OUT` set, drives the routes a deployment lives on (sign-up,
 * sign-in, refresh, `/me`, the M2M grant, introspection, the JWKS and discovery, the Admin lists, health and
 * metrics), stops it and keeps what it wrote. A profile recorded on an older build still applies to the
 * functions that did not change; record again after large changes.
 * Run by hand: `node_modules/.bin/bun scripts/record-bytecode-order.ts`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BYTECODE_ORDER, buildBinary } from "./build.ts";

const work = mkdtempSync(join(tmpdir(), "heimdall-order-"));
const PAK = `pcft_live_${"R".repeat(43)}`;
const SLUG = "order";

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = probe;
  probe.stop(true);
  return port;
}

async function call(base: string, method: string, path: string, body?: unknown, headers = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
}

let server: ReturnType<typeof Bun.spawn> | undefined;
try {
  const binary = join(work, "heimdall");
  buildBinary(binary, { withProfile: false });
  const out = join(work, "order.txt");
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  server = Bun.spawn(
    [binary, "serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", join(work, "data")],
    {
      env: {
        PATH: process.env.PATH ?? "",
        HEIMDALL_BOOTSTRAP_PAK: PAK,
        HEIMDALL_PUBLIC_URL: base,
        HEIMDALL_LOG_LEVEL: "warn",
        BUN_BYTECODE_ORDER_OUT: out,
      },
      stdout: "ignore",
      stderr: "inherit",
    },
  );
  for (let i = 0; ; i++) {
    const up = await fetch(`${base}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (up) break;
    if (i > 400) throw new Error("serve did not become ready");
    await Bun.sleep(25);
  }
  const admin = { authorization: `Bearer ${PAK}` };
  const app = await call(base, "POST", "/v1/apps", { slug: SLUG, display_name: "Order" }, admin);
  const m2m = await call(
    base,
    "POST",
    `/v1/apps/${app.id}/credentials`,
    { name: "order", scopes: ["user.read"] },
    admin,
  );
  const grant = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: m2m.client_id,
    client_secret: m2m.client_secret,
  }).toString();
  // Several rounds, so the hot routes count as hot in the profile's order.
  for (let round = 0; round < 3; round++) {
    const user = {
      username: `order${round}`,
      email: `order${round}@example.test`,
      password: "correct horse battery staple 42",
    };
    const signup = await call(base, "POST", `/${SLUG}/v1/auth/signup`, user);
    const signin = await call(base, "POST", `/${SLUG}/v1/auth/signin`, {
      identifier: user.username,
      password: user.password,
    });
    const bearer = { authorization: `Bearer ${signin.access_token}` };
    for (let i = 0; i < 20; i++) await call(base, "GET", `/${SLUG}/v1/me`, undefined, bearer);
    await call(base, "POST", `/${SLUG}/v1/auth/refresh`, { refresh_token: signup.refresh_token });
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${base}/${SLUG}/v1/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: grant,
      });
      const { access_token } = (await res.json()) as { access_token: string };
      await call(base, "POST", `/${SLUG}/v1/verify`, {}, { authorization: `Bearer ${access_token}` });
    }
    for (const path of [
      `/${SLUG}/v1/.well-known/jwks.json`,
      `/${SLUG}/v1/.well-known/openid-configuration`,
      `/.well-known/oauth-authorization-server/${SLUG}`,
    ]) {
      for (let i = 0; i < 10; i++) await call(base, "GET", path);
    }
    for (const path of [`/v1/apps`, `/v1/apps/${app.id}/end-users`, `/v1/apps/${app.id}/audit-logs`]) {
      await call(base, "GET", path, undefined, admin);
    }
    await call(base, "GET", "/metrics", undefined, admin);
    await call(base, "GET", "/healthz");
  }
  server.kill("SIGTERM");
  if ((await server.exited) !== 0) throw new Error("serve did not stop cleanly");
  await Bun.write(BYTECODE_ORDER, Bun.file(out));
  console.log(`wrote ${BYTECODE_ORDER}`);
} finally {
  if (server?.exitCode === null) server.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
}
