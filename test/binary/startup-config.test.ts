/** @module The compiled binary at start-up: the public URL (issuer base) printed on every start, and configuration refused with its key and source before anything is written. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary, freePort, startServer, stopServer, waitHealthy } from "./support.ts";

const TIMEOUT = 60_000;
const work = mkdtempSync(join(tmpdir(), "heimdall-startup-config-"));
const runDir = join(work, "run");
let binary = "";

beforeAll(() => {
  binary = buildBinary(work, runDir);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function run(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([binary, ...args], {
    cwd: runDir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

describe("the public URL at start-up", () => {
  test(
    "without HEIMDALL_PUBLIC_URL, the first start's box and every start's line name http://localhost:<port>, not the listen address",
    async () => {
      const port = freePort();
      // The URL a client must use is the default public URL, although the server listens on 127.0.0.1.
      const publicUrl = `http://localhost:${port}`;
      const env = { HEIMDALL_LOG_LEVEL: "warn" };
      for (const first of [true, false]) {
        const server = startServer({ binary, cwd: runDir, port, env });
        try {
          await waitHealthy(`http://127.0.0.1:${port}`, server);
        } finally {
          expect(await stopServer(server)).toBe(0);
        }
        const stdout = await server.stdout;
        const line = stdout.split("\n").find((l) => l.startsWith("Issuer base / SDK baseUrl: "));
        expect(line).toStartWith(`Issuer base / SDK baseUrl: ${publicUrl}  `);
        expect(line).toContain(`iss = ${publicUrl}/<app slug>`);
        // The credentials box shows it too, on the first start only (with the credentials).
        const boxed = stdout.split("\n").find((l) => l.startsWith("│ SDK baseUrl"));
        if (first) expect(boxed).toContain(publicUrl);
        else expect(boxed).toBeUndefined();
      }
    },
    TIMEOUT,
  );
});

describe("configuration refused at start-up (exit 2), naming the key and its source", () => {
  const dataDir = join(runDir, "refused");

  test.each([
    [
      "an unknown flag suggests the nearest one",
      ["--prot", "8080"],
      {},
      "heimdall serve: unknown flag --prot; did you mean --port?",
    ],
    ["a port that is not a number", ["--port=abc"], {}, '--port: expected an integer 1–65535, got "abc"'],
    [
      "smtp mode without an SMTP URL",
      [],
      { HEIMDALL_EMAIL_MODE: "smtp" },
      "HEIMDALL_EMAIL_MODE (env): email mode smtp needs an SMTP URL",
    ],
    [
      "a trusted proxy that is no address",
      [],
      { HEIMDALL_TRUSTED_PROXIES: "10.0.0.1,proxy.internal" },
      'HEIMDALL_TRUSTED_PROXIES (env): expected a comma-separated list of IP addresses or CIDR ranges, got "proxy.internal"',
    ],
  ] as const)(
    "%s",
    async (_name, args, env, message) => {
      const res = await run(["serve", "--data-dir", dataDir, ...args], env);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(message);
      // One line to read, not the whole usage.
      expect(res.stderr).not.toContain("Usage:");
      expect(existsSync(dataDir)).toBe(false);
    },
    TIMEOUT,
  );
});
