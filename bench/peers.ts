/**
 * @module The peers the benchmarks run beside Heimdall in the same script run: `oidc-provider` (under Node
 * when `node` is on the PATH, as the peers were measured in issue 18, else under Bun) and better-auth (Bun,
 * bun:sqlite, argon2id at Heimdall's parameters). Each starts in a process of its own, pinned like the
 * servers it is compared with.
 */
import { join } from "node:path";
import type { Subprocess } from "bun";
import { BENCH_PASSWORD } from "./end-users.ts";
import { freePort, serverCpu, track, work } from "./lib.ts";

export interface Peer {
  url: string;
  proc: Subprocess;
  /** Who runs it: `node v20.x` or `bun 1.x`. */
  runtime: string;
}

const node = Bun.which("node");
export const peerRuntime = node
  ? `node ${Bun.spawnSync([node, "--version"]).stdout.toString().trim()}`
  : `bun ${Bun.version}`;

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check().catch(() => false)) return;
    await Bun.sleep(50);
  }
  throw new Error(`${what} did not come up`);
}

/** oidc-provider with one client_credentials client (client_secret_post), RS256 JWT access tokens. */
export async function startOidcProvider(
  client: { id: string; secret: string; scope: string },
  { pinned = true } = {},
): Promise<Peer> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = track(
    Bun.spawn(
      [
        ...(pinned ? serverCpu : []),
        node ?? process.execPath,
        join(import.meta.dir, "peers", "oidc-provider.mjs"),
        String(port),
        client.id,
        client.secret,
        client.scope,
      ],
      { stdout: "ignore", stderr: "ignore", env: { PATH: process.env.PATH ?? "", NODE_ENV: "production" } },
    ),
  );
  await until(async () => (await fetch(`${url}/jwks`)).ok, "oidc-provider");
  return { url, proc, runtime: peerRuntime };
}

/** The form oidc-provider's token endpoint takes for the same grant Heimdall's bench sends. */
export const oidcProviderGrantForm = (client: { id: string; secret: string; scope: string }) =>
  new URLSearchParams({
    grant_type: "client_credentials",
    client_id: client.id,
    client_secret: client.secret,
    scope: client.scope,
  }).toString();

/** better-auth with `users` accounts signed up (`benchuser<i>@example.test`); `cookie` is the last one's session. */
export async function startBetterAuth(
  users: number,
  { pinned = true } = {},
): Promise<Peer & { cookie: string }> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = track(
    Bun.spawn(
      [
        ...(pinned ? serverCpu : []),
        process.execPath,
        join(import.meta.dir, "peers", "better-auth.ts"),
        String(port),
        join(work, `better-auth-${port}.db`),
        String(users),
        BENCH_PASSWORD,
      ],
      { stdout: "pipe", stderr: "inherit", env: { PATH: process.env.PATH ?? "", NODE_ENV: "production" } },
    ),
  );
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`better-auth exited before it was ready: ${text}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const { cookie } = JSON.parse(text.trim()) as { cookie: string };
  return { url, proc, runtime: `bun ${Bun.version}`, cookie };
}

/** A wrk script signing in to better-auth round-robin over `users` accounts (its rate limiter is off). */
export async function betterAuthSigninScript(users: number): Promise<string> {
  const file = join(work, "signin-better-auth.lua");
  await Bun.write(
    file,
    `counter = 0
request = function()
  counter = counter + 1
  local i = counter % ${users}
  local body = '{"email":"benchuser' .. i .. '@example.test","password":"${BENCH_PASSWORD}"}'
  return wrk.format("POST", "/api/auth/sign-in/email", {["Content-Type"] = "application/json"}, body)
end
`,
  );
  return file;
}

/** Resident set size of a process in MiB (Linux /proc), or null. */
export async function rssMiB(pid: number): Promise<number | null> {
  try {
    const status = await Bun.file(`/proc/${pid}/status`).text();
    const kb = Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1]);
    return Number.isFinite(kb) ? kb / 1024 : null;
  } catch {
    return null;
  }
}
