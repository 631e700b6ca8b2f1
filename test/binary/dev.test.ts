/**
 * @module `heimdall dev` against the compiled binary: the `.env` block it prints is enough for the official
 * SDK (sign-up, the verification email printed readably with its code, an M2M token); the same credentials
 * come back on the next start; `--reset` starts over and refuses dirs it did not make; `--seed` applies a
 * seed before listening and refuses a bad one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Heimdall } from "@productcraft/heimdall";
import type { Subprocess } from "bun";
import { decodeJwt } from "jose";
import { buildBinary, freePort } from "./support.ts";

const USER_PASSWORD = "Analytical-Engine-1837";
let work = "";
let binary = "";

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "heimdall-dev-"));
  binary = buildBinary(work, join(work, "bin"));
}, 120_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

interface Dev {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  port: number;
  /** Everything printed to stdout so far. */
  out(): string;
  err: Promise<string>;
  /** Resolves once `text` has been printed (or rejects when the process exits first). */
  waitFor(text: string | RegExp): Promise<string>;
}

/** `heimdall dev …` in `cwd` on a free port with exactly `env` (plus PATH/HOME). */
function startDev(cwd: string, args: string[], env: Record<string, string> = {}): Dev {
  const port = freePort();
  const proc = Bun.spawn([binary, "dev", "--port", String(port), ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cwd, HEIMDALL_LOG_LEVEL: "warn", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let buffer = "";
  const decoder = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of proc.stdout) buffer += decoder.decode(chunk, { stream: true });
  })();
  const err = new Response(proc.stderr).text();
  return {
    proc,
    port,
    out: () => buffer,
    err,
    async waitFor(text) {
      const deadline = Date.now() + 30_000;
      const found = () => (typeof text === "string" ? buffer.includes(text) : text.test(buffer));
      while (!found()) {
        if (proc.exitCode !== null) {
          await pump;
          if (found()) break;
          throw new Error(`heimdall dev exited (${proc.exitCode}) first:\n${buffer}\n${await err}`);
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${text}:\n${buffer}`);
        await Bun.sleep(25);
      }
      return buffer;
    },
  };
}

const READY = "Ctrl-C stops the server.";

/** The `KEY=value` lines of an app's block, after its `# .env for app "<slug>"` heading. */
function envBlock(out: string, slug: string): Record<string, string> {
  const start = out.indexOf(`# .env for app "${slug}"`);
  expect(start).toBeGreaterThanOrEqual(0);
  const env: Record<string, string> = {};
  for (const line of out.slice(start).split("\n").slice(1)) {
    const m = line.match(/^([A-Z0-9_]+)=(.*)$/);
    if (!m) break;
    env[m[1]!] = m[2]!;
  }
  return env;
}

async function stop(dev: Dev, signal: "SIGINT" | "SIGTERM" = "SIGINT"): Promise<number> {
  dev.proc.kill(signal);
  return dev.proc.exited;
}

async function m2mToken(env: Record<string, string>): Promise<Response> {
  return fetch(`${env.HEIMDALL_BASE_URL}/${env.HEIMDALL_APP_SLUG}/v1/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      grant_type: "client_credentials",
      client_id: env.HEIMDALL_M2M_CLIENT_ID,
      client_secret: env.HEIMDALL_M2M_CLIENT_SECRET,
    }),
  });
}

async function signin(env: Record<string, string>, email: string): Promise<number> {
  const res = await fetch(`${env.HEIMDALL_BASE_URL}/${env.HEIMDALL_APP_SLUG}/v1/auth/signin`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identifier: email, password: USER_PASSWORD }),
  });
  return res.status;
}

describe("heimdall dev", () => {
  test("--app demo: the printed .env drives the SDK, emails show in the terminal, and a restart keeps it all", async () => {
    const cwd = join(work, "project");
    mkdirSync(cwd);
    const first = startDev(cwd, ["--app", "demo"]);
    const out = await first.waitFor(READY);
    const env = envBlock(out, "demo");
    const baseUrl = `http://127.0.0.1:${first.port}`;
    expect(env).toMatchObject({
      HEIMDALL_BASE_URL: baseUrl,
      HEIMDALL_ISSUER: `${baseUrl}/demo`,
      HEIMDALL_APP_SLUG: "demo",
      HEIMDALL_PAK: "pcft_live_heimdall_dev_pak_not_a_secret_do_not_deploy",
    });
    expect(env.HEIMDALL_APP_ID).toMatch(/^[0-9a-f-]{36}$/);
    expect(env.HEIMDALL_M2M_CLIENT_ID).toMatch(/^m2m_/);
    expect(env.HEIMDALL_M2M_CLIENT_SECRET!.length).toBeGreaterThan(30);
    expect(out).toContain("dev@heimdall.localhost / heimdall-dev-password");
    // The dev data dir and its credentials file, private.
    const dataDir = join(cwd, ".heimdall-dev");
    expect(statSync(join(dataDir, "dev-credentials.json")).mode & 0o777).toBe(0o600);

    // biome-ignore lint/suspicious/noExplicitAny: the SDK's generated types are not what this test checks.
    const sdk: any = new Heimdall({
      baseUrl: env.HEIMDALL_BASE_URL!,
      auth: { type: "apiKey", key: env.HEIMDALL_PAK! },
    });
    const consumer = sdk.consumer(env.HEIMDALL_APP_SLUG);
    const email = "ada@example.test";
    const signup = await consumer.auth.signup({ username: "ada", email, password: USER_PASSWORD });
    const claims = await consumer.verifyToken(signup.access_token);
    expect(claims.iss).toBe(env.HEIMDALL_ISSUER);

    // The verification email, as a box in dev's stdout with its code pulled out.
    await consumer.auth.sendVerificationEmail({ email });
    const withMail = await first.waitFor(/Code: +\d{6}/);
    expect(withMail).toContain(`To:      ${email}`);
    expect(withMail).toContain("Subject: Verify your email for Demo");
    const code = withMail.match(/Code: +(\d{6})/)![1]!;
    const verified = await fetch(`${baseUrl}/demo/v1/auth/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code }),
    });
    expect(verified.status).toBe(200);

    // The printed M2M credentials mint a token, through the SDK and the token endpoint.
    const viaSdk = await consumer.oauth.clientCredentials({
      grant_type: "client_credentials",
      client_id: env.HEIMDALL_M2M_CLIENT_ID,
      client_secret: env.HEIMDALL_M2M_CLIENT_SECRET,
    });
    expect(decodeJwt(viaSdk.access_token).iss).toBe(env.HEIMDALL_ISSUER);
    expect((await m2mToken(env)).status).toBe(200);

    expect(await stop(first, "SIGINT")).toBe(0);

    // Second start on the same dir: the same block, still working, nothing re-created.
    const second = startDev(cwd, ["--app", "demo"]);
    const again = envBlock(await second.waitFor(READY), "demo");
    expect({ ...again, HEIMDALL_BASE_URL: "", HEIMDALL_ISSUER: "" }).toEqual({
      ...env,
      HEIMDALL_BASE_URL: "",
      HEIMDALL_ISSUER: "",
    });
    expect(second.out()).not.toContain("initialised a new data dir");
    expect((await m2mToken(again)).status).toBe(200);
    expect(await signin(again, email)).toBe(200);
    expect(await stop(second, "SIGTERM")).toBe(0);

    // The credentials file lost: the dev client's secret is rotated and the file rewritten.
    rmSync(join(dataDir, "dev-credentials.json"));
    const third = startDev(cwd, ["--app", "demo"]);
    const rotated = envBlock(await third.waitFor(READY), "demo");
    expect(rotated.HEIMDALL_M2M_CLIENT_ID).toBe(env.HEIMDALL_M2M_CLIENT_ID!);
    expect(rotated.HEIMDALL_M2M_CLIENT_SECRET).not.toBe(env.HEIMDALL_M2M_CLIENT_SECRET!);
    expect((await m2mToken(rotated)).status).toBe(200);
    expect(
      (await m2mToken({ ...rotated, HEIMDALL_M2M_CLIENT_SECRET: env.HEIMDALL_M2M_CLIENT_SECRET! })).status,
    ).toBe(401);
    expect(await stop(third)).toBe(0);

    // --reset: a fresh data dir, a new app; the old user is gone.
    const fourth = startDev(cwd, ["--app", "demo", "--reset"]);
    const fresh = envBlock(await fourth.waitFor(READY), "demo");
    expect(fourth.out()).toContain("initialised a new data dir");
    expect(fresh.HEIMDALL_APP_ID).not.toBe(env.HEIMDALL_APP_ID!);
    expect(fresh.HEIMDALL_M2M_CLIENT_ID).not.toBe(env.HEIMDALL_M2M_CLIENT_ID!);
    expect(fresh.HEIMDALL_PAK).toBe(env.HEIMDALL_PAK!);
    expect(await signin(fresh, email)).toBe(401);
    expect((await m2mToken(fresh)).status).toBe(200);
    expect(await stop(fourth)).toBe(0);
  }, 90_000);

  test("--reset refuses a dir heimdall dev did not make, and deletes nothing", async () => {
    const cwd = join(work, "refuse");
    const notOurs = join(cwd, "src");
    mkdirSync(notOurs, { recursive: true });
    writeFileSync(join(notOurs, "index.ts"), "export {};\n");
    const foreign = startDev(cwd, ["--reset", "--data-dir", "src"]);
    expect(await foreign.proc.exited).toBe(1);
    expect(await foreign.err).toContain("does not look like a Heimdall data dir (it holds index.ts");
    expect(existsSync(join(notOurs, "index.ts"))).toBe(true);

    // A server's data dir (a database but no dev-credentials.json) is not dev's to wipe either.
    const serverDir = join(cwd, "data");
    mkdirSync(serverDir);
    writeFileSync(join(serverDir, "heimdall.db"), "not really a database");
    const server = startDev(cwd, ["--reset", "--data-dir", "data"]);
    expect(await server.proc.exited).toBe(1);
    expect(await server.err).toContain("no dev-credentials.json");
    expect(existsSync(join(serverDir, "heimdall.db"))).toBe(true);

    const badSlug = startDev(cwd, ["--app", "Not A Slug"]);
    expect(await badSlug.proc.exited).toBe(2);
    expect(await badSlug.err).toContain('--app "Not A Slug"');
  }, 30_000);

  test("--seed applies the file before listening; a bad file stops start-up naming the path", async () => {
    const cwd = join(work, "seeded");
    mkdirSync(cwd);
    const seedPath = join(cwd, "heimdall.seed.json");
    writeFileSync(
      seedPath,
      JSON.stringify({
        version: 1,
        apps: [
          {
            slug: "shop",
            display_name: "Shop",
            permissions: [{ name: "orders.read" }],
            roles: [{ name: "clerk", permissions: ["orders.read"] }],
          },
        ],
      }),
    );
    // Any address, with the fixed credentials: allowed, with a warning on stderr.
    const dev = startDev(cwd, ["--seed", seedPath, "--host", "0.0.0.0"]);
    const out = await dev.waitFor(READY);
    const env = envBlock(out, "shop");
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    const sdk: any = new Heimdall({
      baseUrl: env.HEIMDALL_BASE_URL!,
      auth: { type: "apiKey", key: env.HEIMDALL_PAK! },
    });
    const shop = sdk.app(env.HEIMDALL_APP_ID);
    expect(await shop.get()).toMatchObject({ id: env.HEIMDALL_APP_ID, slug: "shop", display_name: "Shop" });
    const roles = await shop.roles.list();
    expect(roles.data.map((r: { name: string }) => r.name)).toContain("clerk");
    expect((await m2mToken(env)).status).toBe(200);
    expect(await stop(dev)).toBe(0);
    expect(await dev.err).toContain("WARNING");
    expect(await dev.err).toContain("0.0.0.0");

    const badPath = join(cwd, "bad.seed.json");
    writeFileSync(badPath, JSON.stringify({ version: 1, apps: [{ slug: "Bad Slug", display_name: "x" }] }));
    const bad = startDev(cwd, ["--seed", badPath]);
    expect(await bad.proc.exited).toBe(2);
    const message = await bad.err;
    expect(message).toContain(badPath);
    expect(message).toContain("apps[0].slug");
    expect(bad.out()).not.toContain(READY);

    // A role naming a permission the app will not have: refused before anything is written, exit 2.
    const unknownPath = join(cwd, "unknown-permission.seed.json");
    writeFileSync(
      unknownPath,
      JSON.stringify({
        version: 1,
        apps: [
          { slug: "shop", display_name: "Shop", roles: [{ name: "clerk", permissions: ["orders.write"] }] },
        ],
      }),
    );
    const unknown = startDev(cwd, ["--seed", unknownPath]);
    expect(await unknown.proc.exited).toBe(2);
    const refusal = await unknown.err;
    expect(refusal).toContain(unknownPath);
    expect(refusal).toContain("apps[0].roles[0]");
    expect(refusal).toContain("orders.write");
  }, 60_000);
});
