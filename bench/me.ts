/**
 * @module `GET /me` on the compiled binary: throughput against a bare Bun.serve doing jose verify + one
 * prepared SQLite lookup (target ≥ 0.75), and `/me` p99 idle versus under a concurrent sign-in flood
 * (target ≤ 2×). Run by hand: `node_modules/.bin/bun bench/me.ts [--duration 10] [--rounds 3]`.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { signinScript, signUpUsers } from "./end-users.ts";
import {
  cleanup,
  createApp,
  freePort,
  machineLine,
  median,
  serverCpu,
  startHeimdall,
  track,
  verdict,
  waitFor,
  wrk,
} from "./lib.ts";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
  },
});
const seconds = Number(opts.duration);
const rounds = Number(opts.rounds);
const connections = Number(opts.connections);
const SLUG = "bench-me";

try {
  const h = await startHeimdall({ HEIMDALL_TRUSTED_PROXIES: "127.0.0.1" });
  await createApp(h, SLUG);
  const users = await signUpUsers(h, SLUG, 100);
  const token = users[0]!.accessToken;
  const auth = `Authorization: Bearer ${token}`;
  const meUrl = `${h.url}/${SLUG}/v1/me`;
  const check = await fetch(meUrl, { headers: { authorization: `Bearer ${token}` } });
  if (check.status !== 200) throw new Error(`GET /me: ${check.status} ${await check.text()}`);

  const barePort = freePort();
  const bareUrl = `http://127.0.0.1:${barePort}/me`;
  const bare = track(
    Bun.spawn(
      [
        ...serverCpu,
        process.execPath,
        join(import.meta.dir, "bare-me.ts"),
        String(barePort),
        `${h.url}/${SLUG}/v1/.well-known/jwks.json`,
        `${h.url}/${SLUG}`,
        SLUG,
        join(h.dataDir, "heimdall.db"),
      ],
      { stdout: "inherit", stderr: "inherit" },
    ),
  );
  await Bun.sleep(300);
  await waitFor(`${bareUrl}`).catch(() => undefined);

  const heimdallRps: number[] = [];
  const bareRps: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = await wrk(meUrl, { seconds, connections, headers: [auth], pid: h.proc.pid });
    const b = await wrk(bareUrl, { seconds, connections, headers: [auth], pid: bare.pid });
    if (a.non2xx || b.non2xx) throw new Error(`non-2xx responses: heimdall ${a.non2xx}, bare ${b.non2xx}`);
    heimdallRps.push(a.rps);
    bareRps.push(b.rps);
    console.log(
      `  round ${r + 1}: heimdall ${a.rps.toFixed(0)} req/s (${a.cpuUs?.toFixed(1)} µs CPU/req), bare ${b.rps.toFixed(0)} req/s (${b.cpuUs?.toFixed(1)} µs CPU/req)`,
    );
  }

  // p99 of a light /me load, alone and then beside a sign-in flood. This server is not pinned: the
  // design gives argon2 all cores but one, and that only means something when the process has them.
  const free = await startHeimdall({ HEIMDALL_TRUSTED_PROXIES: "127.0.0.1" }, { pinned: false });
  await createApp(free, SLUG);
  const freeUsers = await signUpUsers(free, SLUG, 100);
  const freeMe = `${free.url}/${SLUG}/v1/me`;
  const light = { seconds, connections: 4, headers: [`Authorization: Bearer ${freeUsers[0]!.accessToken}`] };
  await wrk(freeMe, { ...light, seconds: 2 });
  const idle = await wrk(freeMe, light);
  const script = await signinScript(SLUG, 100);
  const flood = wrk(`${free.url}/`, { seconds: seconds + 2, connections: 64, script });
  await Bun.sleep(1000);
  const busy = await wrk(freeMe, light);
  const floodResult = await flood;

  const ratio = median(heimdallRps) / median(bareRps);
  console.log("");
  console.log("| | |");
  console.log("|---|---|");
  console.log(`| machine | ${machineLine()} |`);
  console.log(
    `| GET /me, Heimdall | ${median(heimdallRps).toFixed(0)} req/s (wrk -c${connections}, ${seconds} s × ${rounds}, median) |`,
  );
  console.log(`| bare Bun.serve + jose verify + 1 SQLite lookup | ${median(bareRps).toFixed(0)} req/s |`);
  console.log(`| throughput ratio | ${verdict(ratio, 0.75)} |`);
  console.log(`| /me p99 idle (wrk -c4) | ${idle.p99ms?.toFixed(2)} ms |`);
  console.log(
    `| /me p99 during sign-in flood (wrk -c64 sign-ins: ${floodResult.rps.toFixed(0)} req/s, ${floodResult.non2xx} non-2xx) | ${busy.p99ms?.toFixed(2)} ms |`,
  );
  const slowdown = (busy.p99ms ?? 0) / (idle.p99ms ?? 1);
  console.log(
    `| p99 busy / idle | ${slowdown.toFixed(2)} (target ≤ 2: ${slowdown <= 2 ? "met" : "NOT met"}) |`,
  );
} finally {
  cleanup();
}
