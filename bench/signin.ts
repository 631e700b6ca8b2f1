/**
 * @module Sign-in throughput on the compiled binary, once per `--hash-threads` value (HEIMDALL_HASH_THREADS;
 * default: the `auto` count and every core), against raw argon2id verifications at the same parameters and
 * concurrency (target ≥ 0.85) and against better-auth doing the same argon2id work per sign-in, in the same
 * run (target ≥ 1.0 with every core). Run by hand:
 * `node_modules/.bin/bun bench/signin.ts [--duration 10] [--connections 8] [--hash-threads auto,2] [--hash-priority idle|low|normal]`.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { autoHashThreads } from "../src/passwords/argon2-params.ts";
import { signinScript, signUpUsers } from "./end-users.ts";
import { cleanup, createApp, machineLine, startHeimdall, verdict, wrk } from "./lib.ts";
import { betterAuthSigninScript, startBetterAuth } from "./peers.ts";

const cores = availableParallelism();
const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "8" },
    "hash-threads": { type: "string", default: `auto,${cores}` },
    // HEIMDALL_HASH_PRIORITY of the hashing threads: idle (the default, SCHED_IDLE), low (nice 19), normal.
    "hash-priority": { type: "string", default: "idle" },
  },
});
const seconds = Number(opts.duration);
const connections = Number(opts.connections);
const SLUG = "bench-signin";
const USERS = 200;
const threadCounts = [
  ...new Set(opts["hash-threads"].split(",").map((t) => (t === "auto" ? autoHashThreads(cores) : Number(t)))),
];

const rawAt = (concurrency: number) => {
  const raw = Bun.spawnSync(
    [process.execPath, join(import.meta.dir, "argon2-raw.ts"), String(seconds), String(concurrency)],
    { stdout: "pipe", stderr: "inherit" },
  );
  return JSON.parse(raw.stdout.toString()) as { perSecond: number; concurrency: number };
};

try {
  // Not pinned (nor the peer): the point is how much of the machine each uses.
  const peer = await startBetterAuth(USERS, { pinned: false });
  const peerScript = await betterAuthSigninScript(USERS);
  const peerUrl = `${peer.url}/`;
  await wrk(peerUrl, { seconds: 2, connections, script: peerScript });

  const rows: string[] = [];
  const peerRates: number[] = [];
  for (const threads of threadCounts) {
    const h = await startHeimdall(
      {
        HEIMDALL_TRUSTED_PROXIES: "127.0.0.1",
        HEIMDALL_HASH_THREADS: String(threads),
        HEIMDALL_HASH_PRIORITY: opts["hash-priority"],
      },
      { pinned: false },
    );
    await createApp(h, SLUG);
    await signUpUsers(h, SLUG, USERS);
    const script = await signinScript(SLUG, USERS);
    await wrk(`${h.url}/`, { seconds: 2, connections, script });
    const signin = await wrk(`${h.url}/`, { seconds, connections, script, pid: h.proc.pid });
    h.proc.kill();
    await h.proc.exited;
    // The peer right after, with the same load, so each ratio is minutes apart at most.
    const other = await wrk(peerUrl, { seconds, connections, script: peerScript, pid: peer.proc.pid });
    const raw = rawAt(threads);
    const perSecond = (signin.requests - signin.non2xx) / seconds;
    const peerPerSecond = (other.requests - other.non2xx) / seconds;
    peerRates.push(peerPerSecond);
    console.log(
      `  HEIMDALL_HASH_THREADS=${threads}: ${perSecond.toFixed(1)}/s (${signin.non2xx} non-2xx, p99 ${signin.p99ms?.toFixed(0)} ms); better-auth ${peerPerSecond.toFixed(1)}/s (${other.non2xx} non-2xx, p99 ${other.p99ms?.toFixed(0)} ms); raw argon2id × ${threads} ${raw.perSecond.toFixed(1)}/s`,
    );
    rows.push(
      `| HEIMDALL_HASH_THREADS=${threads}${threads === autoHashThreads(cores) ? " (auto)" : ""} | ${perSecond.toFixed(1)}/s, p99 ${signin.p99ms?.toFixed(0)} ms | ${peerPerSecond.toFixed(1)}/s, p99 ${other.p99ms?.toFixed(0)} ms | ${verdict(perSecond / peerPerSecond, 1.0)} | ${raw.perSecond.toFixed(1)}/s: ${verdict(perSecond / raw.perSecond, 0.85)} |`,
    );
  }
  const rawAll = rawAt(cores);
  console.log("");
  console.log(`machine: ${machineLine()}; better-auth ${peer.runtime}, bun:sqlite, argon2id m=19456 t=2 p=1`);
  console.log(
    `load: wrk -c${connections}, ${seconds} s after 2 s warm-up, correct passwords over ${USERS} accounts; HEIMDALL_HASH_PRIORITY=${opts["hash-priority"]}`,
  );
  console.log("");
  console.log(
    "| Heimdall | sign-ins | better-auth (hash-matched) | Heimdall / better-auth | raw argon2id, same threads; ratio |",
  );
  console.log("|---|---:|---:|---:|---:|");
  for (const r of rows) console.log(r);
  console.log(
    `| raw argon2id with every core (${cores} in flight) | ${rawAll.perSecond.toFixed(1)}/s | | | |`,
  );
} finally {
  cleanup();
}
