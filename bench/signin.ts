/**
 * @module Sign-in throughput on the compiled binary against raw argon2id verifications at the same
 * parameters and the same CPU (target ≥ 0.85). Run by hand: `node_modules/.bin/bun bench/signin.ts`.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_HASH_CONCURRENCY } from "../src/passwords/hasher.ts";
import { signinScript, signUpUsers } from "./end-users.ts";
import { cleanup, createApp, machineLine, startHeimdall, verdict, wrk } from "./lib.ts";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "8" },
  },
});
const seconds = Number(opts.duration);
const SLUG = "bench-signin";

try {
  // Not pinned: the hasher sizes itself from the cores the process may use.
  const h = await startHeimdall({ HEIMDALL_TRUSTED_PROXIES: "127.0.0.1" }, { pinned: false });
  await createApp(h, SLUG);
  await signUpUsers(h, SLUG, 200);
  const script = await signinScript(SLUG, 200);
  await wrk(`${h.url}/`, { seconds: 2, connections: Number(opts.connections), script });
  const signin = await wrk(`${h.url}/`, {
    seconds,
    connections: Number(opts.connections),
    script,
    pid: h.proc.pid,
  });
  const ok = signin.requests - signin.non2xx;

  // Raw verifications with as many in flight as the server's hasher allows, and with every core.
  const rawAt = (concurrency: number) => {
    const raw = Bun.spawnSync(
      [process.execPath, join(import.meta.dir, "argon2-raw.ts"), String(seconds), String(concurrency)],
      { stdout: "pipe", stderr: "inherit" },
    );
    return JSON.parse(raw.stdout.toString()) as { perSecond: number; concurrency: number };
  };
  const rawResult = rawAt(DEFAULT_HASH_CONCURRENCY);
  const rawAll = rawAt(availableParallelism());
  const signinPerSecond = ok / seconds;
  console.log("");
  console.log("| | |");
  console.log("|---|---|");
  console.log(`| machine | ${machineLine()} |`);
  console.log(
    `| sign-ins (wrk -c${opts.connections}, ${seconds} s) | ${signinPerSecond.toFixed(1)}/s (${signin.non2xx} non-2xx), p99 ${signin.p99ms?.toFixed(0)} ms |`,
  );
  console.log(
    `| raw argon2id verify (${rawResult.concurrency} in flight) | ${rawResult.perSecond.toFixed(1)}/s |`,
  );
  console.log(`| ratio | ${verdict(signinPerSecond / rawResult.perSecond, 0.85)} |`);
  console.log(
    `| for reference: raw argon2id with every core (${rawAll.concurrency} in flight) | ${rawAll.perSecond.toFixed(1)}/s; ratio ${(signinPerSecond / rawAll.perSecond).toFixed(3)} |`,
  );
} finally {
  cleanup();
}
