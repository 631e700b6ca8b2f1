/** @module Helpers shared by the binary tests: compile `src/main.ts`, pick a free port, start, await health, stop. */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { buildBinary as compile } from "../../scripts/build.ts";

export const ROOT = join(import.meta.dir, "../..");

/** A port nothing listens on right now: bind an ephemeral one and release it. */
export function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const p = probe.port!;
  probe.stop(true);
  return p;
}

/**
 * Compiles the binary fresh (a few seconds, so a test never exercises a stale ./heimdall) and copies it
 * alone into `runDir`; returns its path. `work` holds the intermediate build.
 */
export function buildBinary(work: string, runDir: string): string {
  const out = join(work, "build", "heimdall");
  compile(out);
  mkdirSync(runDir, { recursive: true });
  const binary = join(runDir, "heimdall");
  copyFileSync(out, binary);
  chmodSync(binary, 0o755);
  rmSync(join(work, "build"), { recursive: true, force: true });
  return binary;
}

export interface RunningServer {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  stdout: Promise<string>;
  stderr: Promise<string>;
}

/** `heimdall serve` on 127.0.0.1:`port` with exactly `env` (plus PATH/HOME): nothing leaks from the runner. */
export function startServer(o: {
  binary: string;
  cwd: string;
  port: number;
  env: Record<string, string>;
}): RunningServer {
  const proc = Bun.spawn(
    [o.binary, "serve", "--port", String(o.port), "--host", "127.0.0.1", "--data-dir", "./data"],
    {
      cwd: o.cwd,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? o.cwd, ...o.env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  return { proc, stdout: new Response(proc.stdout).text(), stderr: new Response(proc.stderr).text() };
}

export async function waitHealthy(baseUrl: string, server: RunningServer): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (server.proc.exitCode !== null) {
      throw new Error(`server exited early (${server.proc.exitCode}): ${await server.stderr}`);
    }
    try {
      if ((await fetch(`${baseUrl}/healthz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(100);
  }
  throw new Error("server did not become healthy within 20 s");
}

export async function stopServer(server: RunningServer): Promise<number> {
  server.proc.kill("SIGTERM");
  return server.proc.exited;
}

export interface Appliance {
  baseUrl: string;
  server: RunningServer;
  /** Stops the server (asserting a clean exit is the caller's business) and removes the temp dir. */
  dispose(): Promise<number>;
}

/**
 * A freshly built binary, alone in a temp dir, serving on a free port with a known bootstrap PAK and
 * `HEIMDALL_PUBLIC_URL` set to where it listens: the set-up every end-to-end test file shares.
 */
export async function startAppliance(
  name: string,
  pak: string,
  env: Record<string, string> = {},
): Promise<Appliance> {
  const work = mkdtempSync(join(tmpdir(), `heimdall-${name}-`));
  const runDir = join(work, "run");
  const binary = buildBinary(work, runDir);
  const port = freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = startServer({
    binary,
    cwd: runDir,
    port,
    env: { HEIMDALL_PUBLIC_URL: baseUrl, HEIMDALL_BOOTSTRAP_PAK: pak, HEIMDALL_LOG_LEVEL: "warn", ...env },
  });
  await waitHealthy(baseUrl, server);
  return {
    baseUrl,
    server,
    async dispose() {
      const code = await stopServer(server);
      rmSync(work, { recursive: true, force: true });
      return code;
    },
  };
}

/** A JSON call to the Admin API with `pak` as the bearer; resolves with the body, throws on any status from 300 up. */
export async function adminCall<T>(pak: string, url: string, method: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${pak}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300)
    throw new Error(`${method} ${new URL(url).pathname}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
