/**
 * @module JWKS throughput: the compiled Heimdall against a bare Bun.serve sending the same bytes and headers.
 * Run by hand: `node_modules/.bin/bun bench/jwks.ts [--duration 10] [--connections 32] [--rounds 1]`.
 * Uses `wrk` when installed (apt install wrk), else an in-process fetch loader (which flatters the ratio:
 * the client, not the server, is then the bottleneck). Target: Heimdall ≥ 0.85 × bare. oidc-provider's
 * `/jwks` (one RSA-2048 key, under Node when it is installed) is measured in the same rounds, as the peer.
 */
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  cleanup,
  cpuMicros,
  freePort,
  hasWrk,
  loadCpu,
  BENCH_PAK as PAK,
  pin,
  serverCpu,
  startHeimdall,
  track,
  waitFor,
  work,
} from "./lib.ts";
import { peerRuntime, startOidcProvider } from "./peers.ts";

const SLUG = "bench";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "32" },
    threads: { type: "string", default: "1" },
    rounds: { type: "string", default: "1" },
    "log-level": { type: "string", default: "info" },
  },
});
const duration = Number(opts.duration);
const warmup = Number(opts.warmup);
const connections = Number(opts.connections);
const rounds = Number(opts.rounds);

interface Result {
  rps: number;
  requests: number;
  p50ms: number | null;
  p99ms: number | null;
  /** Server CPU time per request, when /proc is there. */
  cpuUs: number | null;
  tool: string;
}

async function measure(url: string, seconds: number, pid: number): Promise<Result> {
  const cpu0 = await cpuMicros(pid);
  const res = await load(url, seconds);
  const cpu1 = await cpuMicros(pid);
  return { ...res, cpuUs: cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / res.requests };
}

async function load(url: string, seconds: number): Promise<Omit<Result, "cpuUs">> {
  if (hasWrk) {
    const proc = Bun.spawn(
      [...loadCpu, "wrk", `-t${opts.threads}`, `-c${connections}`, `-d${seconds}s`, "--latency", url],
      { stdout: "pipe", stderr: "pipe" },
    );
    const text = await new Response(proc.stdout).text();
    if ((await proc.exited) !== 0) throw new Error(`wrk failed: ${await new Response(proc.stderr).text()}`);
    const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
    const requests = Number(text.match(/(\d+) requests in/)?.[1]);
    const latency = (p: string) => {
      const m = text.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m"));
      if (!m) return null;
      const scale = { us: 0.001, ms: 1, s: 1000 }[m[2] as "us" | "ms" | "s"];
      return Number(m[1]) * scale;
    };
    const errors = text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1];
    if (errors) throw new Error(`${errors} non-2xx responses from ${url}`);
    return {
      rps,
      requests,
      p50ms: latency("50"),
      p99ms: latency("99"),
      tool: `wrk -t${opts.threads} -c${connections}`,
    };
  }
  // Fallback: N keep-alive loops in this process.
  let count = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const res = await fetch(url);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`status ${res.status} from ${url}`);
        count++;
      }
    }),
  );
  return {
    rps: count / seconds,
    requests: count,
    p50ms: null,
    p99ms: null,
    tool: `fetch loader, ${connections} loops`,
  };
}

try {
  const started = await startHeimdall({ HEIMDALL_LOG_LEVEL: opts["log-level"] });
  const heimdall = started.proc;
  const heimdallUrl = started.url;
  const created = await fetch(`${heimdallUrl}/v1/apps`, {
    method: "POST",
    headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
    body: JSON.stringify({ slug: SLUG, display_name: "Bench" }),
  });
  if (created.status !== 201)
    throw new Error(`app creation failed: ${created.status} ${await created.text()}`);

  const jwksUrl = `${heimdallUrl}/${SLUG}/v1/.well-known/jwks.json`;
  const sample = await fetch(jwksUrl);
  const body = await sample.arrayBuffer();
  const headers: Record<string, string> = {};
  for (const [k, v] of sample.headers)
    if (!["date", "content-length", "x-request-id"].includes(k)) headers[k] = v;
  const bodyFile = join(work, "jwks.json");
  await Bun.write(bodyFile, body);

  const barePort = freePort();
  const bareUrl = `http://127.0.0.1:${barePort}/${SLUG}/v1/.well-known/jwks.json`;
  const bare = track(
    Bun.spawn(
      [
        ...serverCpu,
        process.execPath,
        join(import.meta.dir, "bare-server.ts"),
        String(barePort),
        bodyFile,
        JSON.stringify(headers),
      ],
      {
        stdout: "inherit",
        stderr: "inherit",
      },
    ),
  );
  await waitFor(bareUrl);
  const bareSample = await fetch(bareUrl);
  if (Buffer.compare(Buffer.from(await bareSample.arrayBuffer()), Buffer.from(body)) !== 0)
    throw new Error("bare server bytes differ");

  const peer = await startOidcProvider({ id: "bench-peer", secret: `peer-${"s".repeat(40)}`, scope: "api" });
  const peerUrl = `${peer.url}/jwks`;

  console.log(`JWKS body ${body.byteLength} bytes; headers ${JSON.stringify(headers)}`);
  console.log(
    `load: ${hasWrk ? "wrk" : "in-process fetch loader (wrk not installed)"}, ${duration} s per run, ${warmup} s warm-up, ` +
      `${rounds} round(s), ${pin ? "server pinned to CPU 0, load to the others" : "no CPU pinning"}`,
  );
  const results = { heimdall: [] as Result[], bare: [] as Result[], "oidc-provider": [] as Result[] };
  for (let r = 0; r < rounds; r++) {
    for (const [name, url, pid] of [
      ["heimdall", jwksUrl, heimdall.pid],
      ["bare", bareUrl, bare.pid],
      ["oidc-provider", peerUrl, peer.proc.pid],
    ] as const) {
      if (warmup > 0) await load(url, warmup);
      const res = await measure(url, duration, pid);
      results[name].push(res);
      console.log(
        `  round ${r + 1} ${name.padEnd(8)} ${res.rps.toFixed(0).padStart(8)} req/s  p50 ${res.p50ms?.toFixed(3) ?? "-"} ms  ` +
          `p99 ${res.p99ms?.toFixed(3) ?? "-"} ms  server CPU ${res.cpuUs?.toFixed(2) ?? "-"} µs/req`,
      );
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const h = median(results.heimdall.map((x) => x.rps));
  const b = median(results.bare.map((x) => x.rps));
  // Each round's Heimdall run against the bare run minutes apart, then the median of those pairs: a host
  // whose speed drifts during the script moves both sides of a pair, not one side of a median.
  const ratios = results.heimdall.map((x, i) => x.rps / results.bare[i]!.rps);
  const ratio = median(ratios);
  const hCpu = results.heimdall.every((x) => x.cpuUs !== null)
    ? median(results.heimdall.map((x) => x.cpuUs!))
    : null;
  const bCpu = results.bare.every((x) => x.cpuUs !== null) ? median(results.bare.map((x) => x.cpuUs!)) : null;
  const cpu = cpus();
  const verdict = (x: number) => `${x.toFixed(3)} (target ≥ 0.85: ${x >= 0.85 ? "met" : "NOT met"})`;
  console.log("");
  console.log("| | |");
  console.log("|---|---|");
  console.log(
    `| machine | ${cpu[0]?.model ?? "?"} × ${cpu.length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Bun ${Bun.version} |`,
  );
  console.log(`| load | ${results.heimdall[0]!.tool}, ${duration} s × ${rounds}, medians |`);
  console.log(
    `| Heimdall JWKS | ${h.toFixed(0)} req/s${hCpu === null ? "" : `, ${hCpu.toFixed(2)} µs CPU/req`} |`,
  );
  console.log(
    `| bare Bun.serve | ${b.toFixed(0)} req/s${bCpu === null ? "" : `, ${bCpu.toFixed(2)} µs CPU/req`} |`,
  );
  console.log(
    `| throughput ratio, median of the rounds' | ${verdict(ratio)} (rounds: ${ratios.map((r) => r.toFixed(3)).join(", ")}) |`,
  );
  if (hCpu !== null && bCpu !== null) {
    const cpuRatios = results.heimdall.map((x, i) => results.bare[i]!.cpuUs! / x.cpuUs!);
    console.log(
      `| CPU-cost ratio (bare/Heimdall), median of the rounds' | ${verdict(median(cpuRatios))} (rounds: ${cpuRatios.map((r) => r.toFixed(3)).join(", ")}) |`,
    );
  }
  const p = median(results["oidc-provider"].map((x) => x.rps));
  console.log(`| oidc-provider /jwks (${peerRuntime}) | ${p.toFixed(0)} req/s |`);
  console.log(`| Heimdall / oidc-provider | ${(h / p).toFixed(2)} |`);
} finally {
  cleanup();
}
