/** @module The compiled binary, copied alone into an empty dir: first start, sign-in, an app, its JWKS, restart, refusals. */

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  waitHealthy as awaitHealth,
  buildBinary,
  freePort,
  type RunningServer as Server,
  startServer,
  stopServer,
} from "./support.ts";

const TIMEOUT = 60_000;
const EMAIL = "smoke@example.test";
const PASSWORD = "smoke test password 123";
const PAK = `pcft_live_${"S".repeat(43)}`;
const SLUG = "smoke";

const work = mkdtempSync(join(tmpdir(), "heimdall-smoke-"));
const runDir = join(work, "run");
const binary = join(runDir, "heimdall");
let port = 0;
let baseUrl = "";

/** Only what the binary needs: no HEIMDALL_* leaks in from the test runner's environment. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? work,
    HEIMDALL_PUBLIC_URL: baseUrl,
    HEIMDALL_BOOTSTRAP_EMAIL: EMAIL,
    HEIMDALL_BOOTSTRAP_PASSWORD: PASSWORD,
    HEIMDALL_BOOTSTRAP_PAK: PAK,
    ...extra,
  };
}

const start = (): Server => startServer({ binary, cwd: runDir, port, env: env() });
const waitHealthy = (server: Server) => awaitHealth(baseUrl, server);
const stop = stopServer;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([binary, ...args], { cwd: runDir, env: env(), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  // Build fresh every run (a few seconds) so the test never exercises a stale ./heimdall.
  buildBinary(work, runDir);
  port = freePort();
  baseUrl = `http://127.0.0.1:${port}`;
}, TIMEOUT);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("compiled binary", () => {
  let jwks = "";

  test("runs alone: the run dir holds nothing but the binary", async () => {
    expect(readdirSync(runDir)).toEqual(["heimdall"]);
    const { code, stdout } = await cli("version");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^heimdall \d+\.\d+\.\d+ \(bun \d+\.\d+\.\d+\)$/m);
  });

  test(
    "first start initialises the data dir, serves the API, and stops cleanly on SIGTERM",
    async () => {
      const server = start();
      try {
        await waitHealthy(server);
        expect(existsSync(join(runDir, "data", "heimdall.db"))).toBe(true);

        // Human lane: sign in, then use the cookie (with a matching Origin) on the Admin API.
        const signin = await fetch(`${baseUrl}/v1/auth/signin`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ identifier: EMAIL, password: PASSWORD }),
        });
        expect(signin.status).toBe(200);
        const cookie = signin.headers.get("set-cookie")?.match(/auth_token=([^;]+)/)?.[1];
        expect(cookie).toBeString();
        const list = await fetch(`${baseUrl}/v1/apps`, {
          headers: { cookie: `auth_token=${cookie}`, origin: baseUrl },
        });
        expect(list.status).toBe(200);
        expect(((await list.json()) as { data: unknown[] }).data).toEqual([]);

        // Machine lane: the bootstrap PAK creates an app.
        const created = await fetch(`${baseUrl}/v1/apps`, {
          method: "POST",
          headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
          body: JSON.stringify({ slug: SLUG, display_name: "Smoke" }),
        });
        expect(created.status).toBe(201);

        const keysRes = await fetch(`${baseUrl}/${SLUG}/v1/.well-known/jwks.json`);
        expect(keysRes.status).toBe(200);
        jwks = await keysRes.text();
        const parsed = JSON.parse(jwks) as { keys: { kid: string; kty: string; d?: string }[] };
        expect(parsed.keys.length).toBe(2);
        for (const k of parsed.keys) {
          expect(k.kty).toBe("RSA");
          expect(k.d).toBeUndefined();
        }

        const discovery = await fetch(`${baseUrl}/${SLUG}/v1/.well-known/openid-configuration`);
        expect(discovery.status).toBe(200);
        expect(((await discovery.json()) as { issuer: string }).issuer).toBe(`${baseUrl}/${SLUG}`);

        const health = await cli("healthcheck", "--port", String(port));
        expect(health.code).toBe(0);
      } finally {
        expect(await stop(server)).toBe(0);
      }
      const stdout = await server.stdout;
      // The credentials are shown once, in the box, and never in a JSON log line.
      expect(stdout).toContain(PAK);
      expect(stdout).toContain(EMAIL);
      const logLines = stdout.split("\n").filter((l) => l.startsWith("{"));
      expect(logLines.some((l) => JSON.parse(l).msg === "listening")).toBe(true);
      expect(logLines.some((l) => JSON.parse(l).msg === "stopped")).toBe(true);
      for (const l of logLines) {
        expect(l).not.toContain(PASSWORD);
        expect(l).not.toContain(PAK);
      }
    },
    TIMEOUT,
  );

  test("healthcheck exits 1 when nothing answers", async () => {
    const { code, stderr } = await cli("healthcheck", "--port", String(port), "--timeout", "2000");
    expect(code).toBe(1);
    expect(stderr).toContain("unhealthy");
  });

  test(
    "a restart on the same data dir publishes byte-identical keys and prints no credentials",
    async () => {
      const server = start();
      try {
        await waitHealthy(server);
        const res = await fetch(`${baseUrl}/${SLUG}/v1/.well-known/jwks.json`);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe(jwks);
      } finally {
        expect(await stop(server)).toBe(0);
      }
      const stdout = await server.stdout;
      expect(stdout).not.toContain(PAK);
      expect(stdout).not.toContain(PASSWORD);
    },
    TIMEOUT,
  );

  test("init refuses an initialised data dir", async () => {
    const { code, stderr } = await cli("init", "--data-dir", "./data");
    expect(code).toBe(1);
    expect(stderr).toContain("already initialised");
  });

  test(
    "maintenance commands: keys list, pak create, user create, migrate — and what they create works",
    async () => {
      const keys = await cli("keys", "list", "--app", SLUG, "--json", "--data-dir", "./data");
      expect(keys.code).toBe(0);
      expect((JSON.parse(keys.stdout) as { state: string }[]).map((k) => k.state).sort()).toEqual([
        "active",
        "next",
      ]);

      const pak = await cli("pak", "create", "--name", "ci", "--quiet", "--data-dir", "./data");
      expect(pak.code).toBe(0);
      const token = pak.stdout.trim();
      expect(token).toMatch(/^pcft_live_[A-Za-z0-9_-]{32,}$/);

      const user = await cli(
        "user",
        "create",
        "--email",
        "viewer@example.test",
        "--role",
        "viewer",
        "--json",
        "--data-dir",
        "./data",
      );
      expect(user.code).toBe(0);
      const created = JSON.parse(user.stdout) as { role: string; password: string };
      expect(created.role).toBe("viewer");

      const migrate = await cli("migrate", "--data-dir", "./data");
      expect(migrate.code).toBe(0);
      expect(migrate.stdout).toContain("applied 0 migration(s)");

      const server = start();
      try {
        await waitHealthy(server);
        const viaPak = await fetch(`${baseUrl}/v1/apps`, { headers: { authorization: `Bearer ${token}` } });
        expect(viaPak.status).toBe(200);
        const signin = await fetch(`${baseUrl}/v1/auth/signin`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ identifier: "viewer@example.test", password: created.password }),
        });
        expect(signin.status).toBe(200);
      } finally {
        expect(await stop(server)).toBe(0);
      }
    },
    TIMEOUT,
  );

  test("pak create --policy: the CLI reads the file, its statements bind a new policy; a bad file creates nothing", async () => {
    const statements = [{ effect: "allow", actions: ["heimdall.read"], resources: ["*"] }];
    const good = join(work, "reader.json");
    await Bun.write(good, JSON.stringify({ statements }));
    const pakCreate = (name: string, file: string, ...more: string[]) =>
      cli("pak", "create", "--name", name, "--policy", file, ...more, "--data-dir", "./data");
    const created = await pakCreate("reader", good, "--json");
    expect(created.code).toBe(0);
    const { record } = JSON.parse(created.stdout) as { record: { id: string; policies: { id: string }[] } };
    expect(record.policies).toHaveLength(1);

    const dbFile = join(runDir, "data", "heimdall.db");
    const read = (sql: string, ...params: string[]) => {
      const db = new Database(dbFile, { readonly: true });
      try {
        return db.query(sql).all(...params) as Record<string, unknown>[];
      } finally {
        db.close();
      }
    };
    const [bound] = read("SELECT statements FROM workspace_policies WHERE id = ?", record.policies[0]!.id);
    expect(JSON.parse(bound!.statements as string)).toEqual(statements);
    const paksBefore = read("SELECT id FROM paks").length;

    const broken = join(work, "broken.json");
    await Bun.write(broken, "{nope");
    const unknownAction = join(work, "unknown-action.json");
    await Bun.write(
      unknownAction,
      JSON.stringify([{ effect: "allow", actions: ["nope"], resources: ["*"] }]),
    );
    for (const file of [join(work, "missing.json"), broken, unknownAction]) {
      const refused = await pakCreate("bad", file);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("(VALIDATION_ERROR)");
      expect(refused.stderr).toMatch(/^ {2}policy(\.[\w.]+)?: /m);
      expect(refused.stdout).not.toContain("pcft_live_");
    }
    expect(read("SELECT id FROM paks")).toHaveLength(paksBefore);
  });

  test("usage errors exit 2, config errors name the key and exit 2", async () => {
    expect((await cli("keys", "list", "--data-dir", "./data")).code).toBe(2);
    expect((await cli("no-such-command")).code).toBe(2);
    expect((await cli("serve", "--no-such-flag")).code).toBe(2);
    const bad = await cli("serve", "--port", "abc");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("port");
  });

  test(
    "master-key rotate --retire-old re-wraps every secret; the server restarts with the same keys",
    async () => {
      const keyFile = join(runDir, "data", "master.key");
      const before = (await Bun.file(keyFile).text()).trim();
      const rotated = await cli("master-key", "rotate", "--retire-old", "--data-dir", "./data");
      expect(rotated.code).toBe(0);
      const after = (await Bun.file(keyFile).text()).trim().split("\n");
      expect(after.length).toBe(1);
      expect(after[0]!.split(" ")[0]).not.toBe(before.split(" ")[0]);

      const server = start();
      try {
        await waitHealthy(server);
        expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
        expect(await (await fetch(`${baseUrl}/${SLUG}/v1/.well-known/jwks.json`)).text()).toBe(jwks);
      } finally {
        expect(await stop(server)).toBe(0);
      }
    },
    TIMEOUT,
  );

  test(
    "keys rotate --emergency: the old key leaves the JWKS after a restart",
    async () => {
      const before = JSON.parse(jwks) as { keys: { kid: string }[] };
      const rotated = await cli("keys", "rotate", "--app", SLUG, "--emergency", "--data-dir", "./data");
      expect(rotated.code).toBe(0);
      const server = start();
      try {
        await waitHealthy(server);
        const now = (await (await fetch(`${baseUrl}/${SLUG}/v1/.well-known/jwks.json`)).json()) as {
          keys: { kid: string }[];
        };
        const kids = now.keys.map((k) => k.kid);
        // The old active key is gone; the former next key signs and a new next key is published.
        expect(kids).not.toContain(before.keys[0]!.kid);
        expect(kids).toContain(before.keys[1]!.kid);
        expect(kids.length).toBe(2);
        jwks = JSON.stringify(now);
      } finally {
        expect(await stop(server)).toBe(0);
      }
    },
    TIMEOUT,
  );

  test(
    "refuses to start with a well-formed but wrong master key",
    async () => {
      const keyFile = join(runDir, "data", "master.key");
      const right = await Bun.file(keyFile).text();
      const wrong = `mk-wrong ${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}\n`;
      await Bun.write(keyFile, wrong);
      try {
        const server = start();
        expect(await server.proc.exited).toBe(1);
        expect(await server.stderr).toContain("cannot be decrypted");
        expect(await Bun.file(keyFile).text()).toBe(wrong);
      } finally {
        await Bun.write(keyFile, right);
        chmodSync(keyFile, 0o600);
      }
    },
    TIMEOUT,
  );

  test(
    "refuses to start with a group/world-readable master key, and changes nothing",
    async () => {
      const keyFile = join(runDir, "data", "master.key");
      const before = await Bun.file(keyFile).text();
      chmodSync(keyFile, 0o644);
      try {
        const server = start();
        const code = await server.proc.exited;
        expect(code).not.toBe(0);
        expect(await server.stderr).toContain("master key file");
        expect(await server.stderr).toContain("chmod 600");
        expect(await Bun.file(keyFile).text()).toBe(before);
      } finally {
        chmodSync(keyFile, 0o600);
      }
    },
    TIMEOUT,
  );

  test(
    "refuses to start when the database exists but the master key is gone",
    async () => {
      const keyFile = join(runDir, "data", "master.key");
      const moved = join(runDir, "master.key.moved");
      copyFileSync(keyFile, moved);
      rmSync(keyFile);
      try {
        const server = start();
        expect(await server.proc.exited).toBe(1);
        expect(await server.stderr).toContain("Restore the master key");
        expect(existsSync(keyFile)).toBe(false);
      } finally {
        copyFileSync(moved, keyFile);
        chmodSync(keyFile, 0o600);
        rmSync(moved);
      }
    },
    TIMEOUT,
  );

  test("audit verify: the chains written by the server and the CLI are intact", async () => {
    const { code, stdout } = await cli("audit", "verify", "--data-dir", "./data");
    expect(code).toBe(0);
    expect(stdout).toContain("intact");
  });

  test("audit verify: a tampered row breaks the chain, exit 1 naming it", async () => {
    const db = new Database(join(runDir, "data", "heimdall.db"));
    const row = db
      .query<{ seq: number; chain: string }, []>("SELECT seq, chain FROM audit_log ORDER BY seq LIMIT 1")
      .get()!;
    db.run("UPDATE audit_log SET action = 'tampered' WHERE seq = ?", [row.seq]);
    db.close();
    const { code, stderr } = await cli("audit", "verify", "--data-dir", "./data");
    expect(code).toBe(1);
    expect(stderr).toContain(`chain ${row.chain}, row seq ${row.seq}`);
  });
});
