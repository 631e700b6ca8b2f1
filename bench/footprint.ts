/**
 * @module Footprint: idle RSS after warm-up of Heimdall and its peers (oidc-provider, better-auth), each
 * warmed with its own main routes, then left idle; and the cold start of `heimdall serve` on an existing data
 * dir, spawn to the first 200 from `/readyz` (polled every 5 ms), against the time the same binary takes to
 * load and exit (`heimdall version`) and a bare `Bun.serve` answering its first request.
 * Targets (issue 18): idle RSS ≤ 110 MiB; cold start ≤ 150 ms.
 * Run by hand: `node_modules/.bin/bun bench/footprint.ts [--starts 10] [--warmup 3] [--settle 5]`.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { signinScript, signUpUsers } from "./end-users.ts";
import {
  BENCH_PAK,
  binary,
  cleanup,
  createApp,
  freePort,
  machineLine,
  median,
  startHeimdall,
  work,
  wrk,
} from "./lib.ts";
import {
  betterAuthSigninScript,
  oidcProviderGrantForm,
  peerRuntime,
  rssMiB,
  startBetterAuth,
  startOidcProvider,
} from "./peers.ts";

const { values: opts } = parseArgs({
  options: {
    starts: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    settle: { type: "string", default: "5" },
  },
});
const starts = Number(opts.starts);
const warmup = Number(opts.warmup);
const settle = Number(opts.settle);
const SLUG = "bench-rss";
const SCOPE = "user.read user.list";

async function postScript(name: string, body: string): Promise<string> {
  const file = join(work, `${name}.lua`);
  await Bun.write(
    file,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n`,
  );
  return file;
}

/** Spawns `argv`, polls `url` every 5 ms until it answers 200; returns the milliseconds, then stops it. */
async function timeToReady(argv: string[], url: string, env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const proc = Bun.spawn(argv, {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdout: "ignore",
    stderr: "ignore",
  });
  try {
    for (;;) {
      const ok = await fetch(url)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) return performance.now() - t0;
      if (proc.exitCode !== null) throw new Error(`${argv.join(" ")} exited with ${proc.exitCode}`);
      if (performance.now() - t0 > 10_000) throw new Error(`${url} not ready after 10 s`);
      await Bun.sleep(5);
    }
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

try {
  // --- Idle RSS after warm-up ---
  const h = await startHeimdall({ HEIMDALL_TRUSTED_PROXIES: "127.0.0.1" }, { pinned: false });
  const app = await createApp(h, SLUG);
  await signUpUsers(h, SLUG, 50);
  const created = await fetch(`${h.url}/v1/apps/${app.id}/credentials`, {
    method: "POST",
    headers: { authorization: `Bearer ${BENCH_PAK}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "bench", scopes: SCOPE.split(" ") }),
  });
  const client = (await created.json()) as { client_id: string; client_secret: string };
  const heimdallGrant = await postScript(
    "rss-grant",
    new URLSearchParams({
      grant_type: "client_credentials",
      client_id: client.client_id,
      client_secret: client.client_secret,
    }).toString(),
  );
  const load = { seconds: warmup, connections: 16 };
  await wrk(`${h.url}/${SLUG}/v1/.well-known/jwks.json`, load);
  await wrk(`${h.url}/${SLUG}/v1/oauth/token`, { ...load, script: heimdallGrant });
  await wrk(`${h.url}/`, { ...load, connections: 8, script: await signinScript(SLUG, 50) });

  const peerClient = { id: "bench-peer", secret: `peer-${"s".repeat(40)}`, scope: SCOPE };
  const op = await startOidcProvider(peerClient, { pinned: false });
  await wrk(`${op.url}/jwks`, load);
  await wrk(`${op.url}/token`, {
    ...load,
    script: await postScript("rss-peer-grant", oidcProviderGrantForm(peerClient)),
  });

  const ba = await startBetterAuth(50, { pinned: false });
  await wrk(`${ba.url}/`, { ...load, connections: 8, script: await betterAuthSigninScript(50) });
  await wrk(`${ba.url}/api/auth/get-session`, { ...load, headers: [`Cookie: ${ba.cookie}`] });

  await Bun.sleep(settle * 1000);
  const rss = {
    heimdall: await rssMiB(h.proc.pid),
    oidcProvider: await rssMiB(op.proc.pid),
    betterAuth: await rssMiB(ba.proc.pid),
  };
  for (const p of [h.proc, op.proc, ba.proc]) p.kill();

  // --- Cold start on an existing data dir ---
  const dataDir = h.dataDir; // initialised, one app with keys, 50 users, tokens issued
  await h.proc.exited;
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const serve = [binary(), "serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir];
  const env: Record<string, string> = {
    HEIMDALL_PUBLIC_URL: url,
    HEIMDALL_LOG_LEVEL: "warn",
    // On PostgreSQL the store is the same database again, not a file in the data dir.
    ...(h.store.startsWith("postgres") ? { HEIMDALL_DATABASE_URL: h.store } : {}),
  };
  await timeToReady(serve, `${url}/readyz`, env); // the page cache now holds the binary and the database
  const coldStarts: number[] = [];
  for (let i = 0; i < starts; i++) coldStarts.push(await timeToReady(serve, `${url}/readyz`, env));
  const versions: number[] = [];
  for (let i = 0; i < starts; i++) {
    const t0 = performance.now();
    Bun.spawnSync([binary(), "version"], { stdout: "ignore" });
    versions.push(performance.now() - t0);
  }
  const bareFile = join(work, "bare-start.ts");
  await Bun.write(
    bareFile,
    `Bun.serve({ port: Number(process.argv[2]), hostname: "127.0.0.1", fetch: () => new Response("ok") });`,
  );
  const bareStarts: number[] = [];
  for (let i = 0; i < starts; i++)
    bareStarts.push(await timeToReady([process.execPath, bareFile, String(port)], `${url}/`, {}));

  const mib = (x: number | null) => (x === null ? "?" : `${x.toFixed(1)} MiB`);
  const ms = (xs: number[]) =>
    `${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
  console.log("");
  console.log("| | |");
  console.log("|---|---|");
  console.log(
    `| machine | ${machineLine()}; load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")} |`,
  );
  console.log(
    `| idle RSS after warm-up (${warmup} s per route, then ${settle} s idle), Heimdall | ${mib(rss.heimdall)} (target ≤ 110 MiB: ${rss.heimdall !== null && rss.heimdall <= 110 ? "met" : "NOT met"}) |`,
  );
  console.log(`| oidc-provider (${peerRuntime}) | ${mib(rss.oidcProvider)} |`);
  console.log(`| better-auth (bun ${Bun.version}, bun:sqlite) | ${mib(rss.betterAuth)} |`);
  if (rss.heimdall && rss.oidcProvider && rss.betterAuth)
    console.log(
      `| Heimdall / oidc-provider, / better-auth | ${(rss.heimdall / rss.oidcProvider).toFixed(2)}, ${(rss.heimdall / rss.betterAuth).toFixed(2)} |`,
    );
  console.log(
    `| cold start, \`serve\` on an existing data dir → /readyz 200, median of ${starts} | ${ms(coldStarts)} (target ≤ 150 ms: ${median(coldStarts) <= 150 ? "met" : "NOT met"}) |`,
  );
  console.log(`| \`heimdall version\` (load the binary and exit) | ${ms(versions)} |`);
  console.log(`| bare \`Bun.serve\` script → first 200 | ${ms(bareStarts)} |`);
} finally {
  cleanup();
}
