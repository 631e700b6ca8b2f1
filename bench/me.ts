/**
 * @module `GET /me` on the compiled binary: throughput against a bare Bun.serve doing jose verify + one
 * prepared SQLite lookup (target ≥ 0.75), and `/me` p99 idle versus under a concurrent sign-in flood
 * (target ≤ 2×), each flood round followed by a control round beside a same-core SCHED_IDLE CPU spinner.
 * The throughput rounds also load better-auth's `GET /api/auth/get-session` (bun:sqlite, a session cookie)
 * in the same run. `--hash-threads N` starts the flood servers with HEIMDALL_HASH_THREADS=N; the unpinned
 * flood rounds (`--unpinned-rounds`, where more than one hashing thread can matter) are each followed by a
 * control round beside one SCHED_IDLE spinner per core.
 * Run by hand: `node_modules/.bin/bun bench/me.ts [--duration 10] [--rounds 3] [--flood-rounds 5]
 * [--unpinned-rounds 3] [--hash-threads auto|N]`.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { signinScript, signUpUsers } from "./end-users.ts";
import {
  benchEngine,
  cleanup,
  createApp,
  freePort,
  type Heimdall,
  machineLine,
  median,
  pin,
  serverCpu,
  startHeimdall,
  track,
  verdict,
  waitFor,
  wrk,
} from "./lib.ts";
import { startBetterAuth } from "./peers.ts";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    "flood-rounds": { type: "string", default: "5" },
    connections: { type: "string", default: "32" },
    "unpinned-rounds": { type: "string", default: "3" },
    "hash-threads": { type: "string", default: "auto" },
  },
});
const seconds = Number(opts.duration);
const rounds = Number(opts.rounds);
const floodRounds = Number(opts["flood-rounds"]);
const connections = Number(opts.connections);
const unpinnedRounds = Number(opts["unpinned-rounds"]);
const floodEnv = { HEIMDALL_TRUSTED_PROXIES: "127.0.0.1", HEIMDALL_HASH_THREADS: opts["hash-threads"] };
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
        h.store,
      ],
      { stdout: "inherit", stderr: "inherit" },
    ),
  );
  await Bun.sleep(300);
  await waitFor(`${bareUrl}`).catch(() => undefined);

  // The peer: better-auth's session check with a session cookie, pinned like the others.
  const peer = await startBetterAuth(2);
  const peerUrl = `${peer.url}/api/auth/get-session`;
  const peerCheck = await fetch(peerUrl, { headers: { cookie: peer.cookie } });
  if (peerCheck.status !== 200 || !((await peerCheck.json()) as { session?: unknown } | null)?.session)
    throw new Error(`better-auth get-session: ${peerCheck.status}`);

  const heimdallRps: number[] = [];
  const bareRps: number[] = [];
  const peerRps: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = await wrk(meUrl, { seconds, connections, headers: [auth], pid: h.proc.pid });
    const b = await wrk(bareUrl, { seconds, connections, headers: [auth], pid: bare.pid });
    const c = await wrk(peerUrl, {
      seconds,
      connections,
      headers: [`Cookie: ${peer.cookie}`],
      pid: peer.proc.pid,
    });
    if (a.non2xx || b.non2xx || c.non2xx)
      throw new Error(`non-2xx responses: heimdall ${a.non2xx}, bare ${b.non2xx}, better-auth ${c.non2xx}`);
    heimdallRps.push(a.rps);
    bareRps.push(b.rps);
    peerRps.push(c.rps);
    console.log(
      `  round ${r + 1}: heimdall ${a.rps.toFixed(0)} req/s (${a.cpuUs?.toFixed(1)} µs CPU/req), bare ${b.rps.toFixed(0)} req/s (${b.cpuUs?.toFixed(1)} µs CPU/req), better-auth get-session ${c.rps.toFixed(0)} req/s (${c.cpuUs?.toFixed(1)} µs CPU/req)`,
    );
  }
  peer.proc.kill();

  // p99 of a light /me load, alone and then beside a sign-in flood. On two vCPUs the load generators must
  // not share the server's core, or their own scheduling shows up as server latency: the server is pinned to
  // CPU 0 and wrk to the others, as for the throughput rounds. argon2 runs at SCHED_IDLE, so it takes what the
  // request handling leaves of that core.
  //
  // Each flood round is followed by a control round: the same /me load beside a plain CPU spinner at
  // SCHED_IDLE on the server's core, with no sign-ins at all. It measures what merely keeping that core busy
  // at the lowest priority costs /me on this machine (on a VM, a vCPU that never idles is preempted by the
  // host), so the part of the flood ratio that Heimdall's own sign-in work adds can be read off. One unpinned
  // flood round follows for reference.
  const floodUsers = 200; // × 10 sign-ins/min per identifier: the flood never meets the per-identifier limit
  // The /me caller is the last account signed up; the flood signs in the others (benchuser0 …), so it never
  // evicts the /me session (max_sessions) and never meets the per-identifier limit.
  const busyRound = async (
    h: Heimdall,
    users: { accessToken: string }[],
    load: () => { done: Promise<{ rps: number; non2xx: number }> },
  ) => {
    const meUrl = `${h.url}/${SLUG}/v1/me`;
    const light = {
      seconds,
      connections: 4,
      headers: [`Authorization: Bearer ${users.at(-1)!.accessToken}`],
    };
    await wrk(meUrl, { ...light, seconds: 2 });
    const idle = await wrk(meUrl, light);
    const background = load();
    await Bun.sleep(1000);
    const busy = await wrk(meUrl, light);
    const f = await background.done;
    if (idle.non2xx || busy.non2xx)
      throw new Error(`/me answered non-2xx: ${idle.non2xx} idle, ${busy.non2xx} busy`);
    // The flood's abandoned sign-ins leave the hasher's queue when wrk closes its connections.
    await Bun.sleep(1000);
    const ratio = (busy.p99ms ?? 0) / (idle.p99ms ?? 1);
    return { idle, busy, flood: f, ratio };
  };
  const script = await signinScript(SLUG, floodUsers);
  const signinFlood = (h: Heimdall) => () => ({
    done: wrk(`${h.url}/`, { seconds: seconds + 2, connections: 64, script }),
  });
  const chrt = Bun.which("chrt");
  /** SCHED_IDLE spinners: one on the server's core, or (unpinned) one per core wherever the OS puts them. */
  const idleSpinner =
    (pinned = true) =>
    () => {
      const spinners = Array.from({ length: pinned ? 1 : availableParallelism() }, () =>
        track(
          Bun.spawn(
            [
              ...(pinned ? serverCpu : []),
              chrt!,
              "--idle",
              "0",
              process.execPath,
              join(import.meta.dir, "spin.ts"),
            ],
            { stdout: "ignore", stderr: "inherit" },
          ),
        ),
      );
      return {
        done: Bun.sleep((seconds + 2) * 1000).then(() => {
          for (const s of spinners) s.kill();
          return { rps: 0, non2xx: 0 };
        }),
      };
    };
  const pinnedServer = await startHeimdall(floodEnv);
  await createApp(pinnedServer, SLUG);
  const pinnedUsers = await signUpUsers(pinnedServer, SLUG, floodUsers + 1);
  const floods: Awaited<ReturnType<typeof busyRound>>[] = [];
  const controls: Awaited<ReturnType<typeof busyRound>>[] = [];
  for (let r = 0; r < floodRounds; r++) {
    const round = await busyRound(pinnedServer, pinnedUsers, signinFlood(pinnedServer));
    floods.push(round);
    console.log(
      `  flood round ${r + 1}: /me p99 idle ${round.idle.p99ms?.toFixed(2)} ms, under flood ${round.busy.p99ms?.toFixed(2)} ms (${round.ratio.toFixed(2)}×); /me ${round.idle.rps.toFixed(0)} → ${round.busy.rps.toFixed(0)} req/s; sign-ins ${round.flood.rps.toFixed(0)}/s, ${round.flood.non2xx} non-2xx`,
    );
    if (!pin || !chrt) continue;
    const control = await busyRound(pinnedServer, pinnedUsers, idleSpinner());
    controls.push(control);
    console.log(
      `  control round ${r + 1}: /me p99 idle ${control.idle.p99ms?.toFixed(2)} ms, beside a SCHED_IDLE spinner ${control.busy.p99ms?.toFixed(2)} ms (${control.ratio.toFixed(2)}×); /me ${control.idle.rps.toFixed(0)} → ${control.busy.rps.toFixed(0)} req/s`,
    );
  }
  pinnedServer.proc.kill();
  // Unpinned: the hashing threads may use every core (HEIMDALL_HASH_THREADS decides how many do), and so
  // may the load generators; the control spinners are unpinned too, one per core.
  const freeServer = await startHeimdall(floodEnv, { pinned: false });
  await createApp(freeServer, SLUG);
  const freeUsers = await signUpUsers(freeServer, SLUG, floodUsers + 1);
  const unpinnedFloods: Awaited<ReturnType<typeof busyRound>>[] = [];
  const unpinnedControls: Awaited<ReturnType<typeof busyRound>>[] = [];
  for (let r = 0; r < Math.max(1, unpinnedRounds); r++) {
    const round = await busyRound(freeServer, freeUsers, signinFlood(freeServer));
    unpinnedFloods.push(round);
    console.log(
      `  unpinned flood round ${r + 1}: /me p99 idle ${round.idle.p99ms?.toFixed(2)} ms, under flood ${round.busy.p99ms?.toFixed(2)} ms (${round.ratio.toFixed(2)}×); sign-ins ${round.flood.rps.toFixed(0)}/s, ${round.flood.non2xx} non-2xx`,
    );
    if (!chrt) continue;
    const control = await busyRound(freeServer, freeUsers, idleSpinner(false));
    unpinnedControls.push(control);
    console.log(
      `  unpinned control round ${r + 1}: /me p99 idle ${control.idle.p99ms?.toFixed(2)} ms, beside ${availableParallelism()} SCHED_IDLE spinners ${control.busy.p99ms?.toFixed(2)} ms (${control.ratio.toFixed(2)}×)`,
    );
  }
  const unpinned = {
    ratio: median(unpinnedFloods.map((f) => f.ratio)),
    control: unpinnedControls.length ? median(unpinnedControls.map((c) => c.ratio)) : null,
    signins: median(unpinnedFloods.map((f) => f.flood.rps)),
  };

  const ratio = median(heimdallRps) / median(bareRps);
  console.log("");
  console.log("| | |");
  console.log("|---|---|");
  console.log(`| machine | ${machineLine()} |`);
  console.log(
    `| GET /me, Heimdall | ${median(heimdallRps).toFixed(0)} req/s (wrk -c${connections}, ${seconds} s × ${rounds}, median) |`,
  );
  console.log(
    `| bare Bun.serve + jose verify + 1 ${benchEngine === "postgres" ? "PostgreSQL" : "SQLite"} lookup | ${median(bareRps).toFixed(0)} req/s |`,
  );
  console.log(`| throughput ratio | ${verdict(ratio, 0.75)} |`);
  console.log(
    `| better-auth GET /api/auth/get-session (${peer.runtime}, bun:sqlite) | ${median(peerRps).toFixed(0)} req/s; Heimdall / better-auth ${(median(heimdallRps) / median(peerRps)).toFixed(2)} |`,
  );
  console.log(`| flood servers | HEIMDALL_HASH_THREADS=${opts["hash-threads"]} |`);
  // `--flood-rounds 0` measures throughput and the unpinned rounds only.
  if (floods.length > 0) {
    const idleP99 = median(floods.map((f) => f.idle.p99ms ?? 0));
    const busyP99 = median(floods.map((f) => f.busy.p99ms ?? 0));
    console.log(
      `| /me p99 idle (wrk -c4, pinned server, median of ${floodRounds}) | ${idleP99.toFixed(2)} ms |`,
    );
    console.log(
      `| /me p99 during a sign-in flood (wrk -c64 valid sign-ins over ${floodUsers} accounts; median of ${floodRounds}) | ${busyP99.toFixed(2)} ms |`,
    );
    // Each round's idle and busy windows are seconds apart, so its ratio cancels the host's slower drift;
    // the verdict is the median of those. The ratio of the two medians is printed too.
    const slowdown = median(floods.map((f) => f.ratio));
    console.log(
      `| p99 busy / idle, median of the rounds' ratios | ${slowdown.toFixed(2)} (target ≤ 2: ${slowdown <= 2 ? "met" : "NOT met"}); per round ${floods.map((f) => f.ratio.toFixed(2)).join(", ")}; ratio of the medians ${(busyP99 / idleP99).toFixed(2)} |`,
    );
  }
  if (controls.length > 0) {
    console.log(
      `| control: p99 beside a SCHED_IDLE CPU spinner on the server's core, no sign-ins / idle | ${median(controls.map((c) => c.ratio)).toFixed(2)} (median of ${controls.length}); per round ${controls.map((c) => c.ratio.toFixed(2)).join(", ")} |`,
    );
  }
  if (controls.length > 0 && floods.length > 0) {
    const over = median(floods.map((f) => f.ratio)) - median(controls.map((c) => c.ratio));
    console.log(
      `| pinned: flood − control | ${over.toFixed(2)} (target ≤ 0.5: ${over <= 0.5 ? "met" : "NOT met"}) |`,
    );
  }
  console.log(
    `| unpinned: p99 busy / idle, median of ${unpinnedFloods.length} | ${unpinned.ratio.toFixed(2)}; per round ${unpinnedFloods.map((f) => f.ratio.toFixed(2)).join(", ")}; sign-ins ${unpinned.signins.toFixed(0)}/s |`,
  );
  if (unpinned.control !== null) {
    const over = unpinned.ratio - unpinned.control;
    console.log(
      `| unpinned control: ${availableParallelism()} SCHED_IDLE spinners / idle | ${unpinned.control.toFixed(2)}; per round ${unpinnedControls.map((c) => c.ratio.toFixed(2)).join(", ")}; flood − control ${over.toFixed(2)} (target ≤ 0.5: ${over <= 0.5 ? "met" : "NOT met"}) |`,
    );
  }
} finally {
  cleanup();
}
