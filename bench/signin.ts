/**
 * @module Sign-in throughput on the compiled binary, once per `--hash-threads` value (HEIMDALL_HASH_THREADS;
 * default: the `auto` count and every core), against raw argon2id verifications at the same parameters and
 * concurrency (target ≥ 0.85) and against better-auth doing the same argon2id work per sign-in, in the same
 * run (target ≥ 1.0 with every core). Each thread count runs `--rounds` rounds, Heimdall and the peer
 * alternating which goes first, each measurement after its own 2 s warm-up; the ratio reported is the median
 * of the rounds' ratios, so a host that speeds up or slows down during the run moves both sides. Run by hand:
 * `node_modules/.bin/bun bench/signin.ts [--duration 10] [--rounds 3] [--connections 8] [--hash-threads auto,2] [--hash-priority idle|low|normal]`.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { autoHashThreads } from "../src/passwords/argon2-params.ts";
import { signinScript, signUpUsers } from "./end-users.ts";
import {
  cleanup,
  createApp,
  machineLine,
  median,
  startHeimdall,
  useSigningAlg,
  verdict,
  wrk,
} from "./lib.ts";
import { betterAuthSigninScript, startBetterAuth } from "./peers.ts";

const cores = availableParallelism();
const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    // The app's signing algorithm: the access token each sign-in returns is signed with it.
    alg: { type: "string", default: "RS256" },
    connections: { type: "string", default: "8" },
    "hash-threads": { type: "string", default: `auto,${cores}` },
    // HEIMDALL_HASH_PRIORITY of the hashing threads: idle (the default, SCHED_IDLE), low (nice 19), normal.
    "hash-priority": { type: "string", default: "idle" },
  },
});
const seconds = Number(opts.duration);
const rounds = Number(opts.rounds);
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
  for (const threads of threadCounts) {
    const h = await startHeimdall(
      {
        HEIMDALL_TRUSTED_PROXIES: "127.0.0.1",
        HEIMDALL_HASH_THREADS: String(threads),
        HEIMDALL_HASH_PRIORITY: opts["hash-priority"],
      },
      { pinned: false },
    );
    const app = await createApp(h, SLUG);
    if (opts.alg !== "RS256") await useSigningAlg(h, app.id, opts.alg);
    await signUpUsers(h, SLUG, USERS);
    const script = await signinScript(SLUG, USERS);
    const measureHeimdall = async () => {
      await wrk(`${h.url}/`, { seconds: 2, connections, script });
      const r = await wrk(`${h.url}/`, { seconds, connections, script, pid: h.proc.pid });
      return { perSecond: (r.requests - r.non2xx) / seconds, non2xx: r.non2xx, p99ms: r.p99ms };
    };
    const measurePeer = async () => {
      await wrk(peerUrl, { seconds: 2, connections, script: peerScript });
      const r = await wrk(peerUrl, { seconds, connections, script: peerScript, pid: peer.proc.pid });
      return { perSecond: (r.requests - r.non2xx) / seconds, non2xx: r.non2xx, p99ms: r.p99ms };
    };
    const ours: Awaited<ReturnType<typeof measureHeimdall>>[] = [];
    const theirs: typeof ours = [];
    for (let round = 0; round < rounds; round++) {
      // Alternating who goes first, so a drift of the host's speed during a round favours neither side.
      if (round % 2 === 0) {
        ours.push(await measureHeimdall());
        theirs.push(await measurePeer());
      } else {
        theirs.push(await measurePeer());
        ours.push(await measureHeimdall());
      }
      console.log(
        `  HEIMDALL_HASH_THREADS=${threads}, round ${round + 1}: ${ours[round]!.perSecond.toFixed(1)}/s (${ours[round]!.non2xx} non-2xx, p99 ${ours[round]!.p99ms?.toFixed(0)} ms); better-auth ${theirs[round]!.perSecond.toFixed(1)}/s (${theirs[round]!.non2xx} non-2xx, p99 ${theirs[round]!.p99ms?.toFixed(0)} ms); ratio ${(ours[round]!.perSecond / theirs[round]!.perSecond).toFixed(3)}`,
      );
    }
    h.proc.kill();
    await h.proc.exited;
    const raw = rawAt(threads);
    const ratios = ours.map((o, i) => o.perSecond / theirs[i]!.perSecond);
    const ratio = median(ratios);
    const perSecond = median(ours.map((o) => o.perSecond));
    const peerPerSecond = median(theirs.map((o) => o.perSecond));
    const p99 = median(ours.map((o) => o.p99ms ?? 0));
    const peerP99 = median(theirs.map((o) => o.p99ms ?? 0));
    console.log(`  raw argon2id × ${threads} ${raw.perSecond.toFixed(1)}/s`);
    rows.push(
      `| HEIMDALL_HASH_THREADS=${threads}${threads === autoHashThreads(cores) ? " (auto)" : ""} | ${perSecond.toFixed(1)}/s, p99 ${p99.toFixed(0)} ms | ${peerPerSecond.toFixed(1)}/s, p99 ${peerP99.toFixed(0)} ms | ${verdict(ratio, 1.0)} (rounds: ${ratios.map((r) => r.toFixed(2)).join(", ")}) | ${raw.perSecond.toFixed(1)}/s: ${verdict(perSecond / raw.perSecond, 0.85)} |`,
    );
  }
  const rawAll = rawAt(cores);
  console.log("");
  console.log(`machine: ${machineLine()}; better-auth ${peer.runtime}, bun:sqlite, argon2id m=19456 t=2 p=1`);
  console.log(
    `load: wrk -c${connections}, ${seconds} s after 2 s warm-up, ${rounds} alternated round(s), medians; correct passwords over ${USERS} accounts; HEIMDALL_HASH_PRIORITY=${opts["hash-priority"]}; access tokens ${opts.alg}`,
  );
  console.log("");
  console.log(
    "| Heimdall | sign-ins | better-auth (hash-matched) | Heimdall / better-auth, median of the rounds' | raw argon2id, same threads; ratio |",
  );
  console.log("|---|---:|---:|---:|---:|");
  for (const r of rows) console.log(r);
  console.log(
    `| raw argon2id with every core (${cores} in flight) | ${rawAll.perSecond.toFixed(1)}/s | | | |`,
  );
} finally {
  cleanup();
}
