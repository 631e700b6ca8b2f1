/**
 * @module client_credentials on the compiled binary against a bare Bun.serve doing the same SHA-256 secret
 * check and signing with the same algorithm (target ≥ 0.70), plus introspection and /verify throughput of the
 * issued token. `--alg ES256|EdDSA` switches the app's `signing_alg` (and promotes the new key at once)
 * before measuring; the default is the app default, RS256.
 * Run by hand: `node_modules/.bin/bun bench/oauth-token.ts [--alg RS256|ES256|EdDSA] [--duration 10] [--rounds 3] [--connections 32]`.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sha256Hex } from "../src/core/crypto.ts";
import {
  BENCH_PAK,
  cleanup,
  createApp,
  freePort,
  machineLine,
  median,
  serverCpu,
  startHeimdall,
  track,
  verdict,
  type WrkResult,
  work,
  wrk,
} from "./lib.ts";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
    warmup: { type: "string", default: "2" },
    alg: { type: "string", default: "RS256" },
  },
});
const alg = opts.alg;
if (!["RS256", "ES256", "EdDSA"].includes(alg)) throw new Error(`--alg: RS256, ES256 or EdDSA, not ${alg}`);
const seconds = Number(opts.duration);
const rounds = Number(opts.rounds);
const connections = Number(opts.connections);
const warmup = Number(opts.warmup);
const SLUG = "bench-m2m";
const SCOPE = "user.read user.list";

/** A wrk script sending one fixed POST (form or JSON body, optional bearer). */
async function postScript(name: string, body: string, contentType: string, bearer?: string): Promise<string> {
  const file = join(work, `${name}.lua`);
  const auth = bearer ? `wrk.headers["Authorization"] = "Bearer ${bearer}"\n` : "";
  await Bun.write(
    file,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "${contentType}"\n${auth}`,
  );
  return file;
}

const fmt = (r: WrkResult) =>
  `${r.rps.toFixed(0)} req/s, ${r.cpuUs?.toFixed(0) ?? "?"} µs server CPU/req, p50 ${r.p50ms?.toFixed(2)} ms, p99 ${r.p99ms?.toFixed(2)} ms`;

try {
  const h = await startHeimdall();
  const app = await createApp(h, SLUG);
  if (alg !== "RS256") {
    const admin = { authorization: `Bearer ${BENCH_PAK}`, "content-type": "application/json" };
    const set = await fetch(`${h.url}/v1/apps/${app.id}/auth-config`, {
      method: "PATCH",
      headers: admin,
      body: JSON.stringify({ signing_alg: alg }),
    });
    if (set.status !== 200) throw new Error(`signing_alg: ${set.status} ${await set.text()}`);
    // The new key would sign 2 h from now; nothing verifies this app yet, so promote it at once.
    const rotated = await fetch(`${h.url}/v1/apps/${app.id}/keys/rotate`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ emergency: true }),
    });
    if (rotated.status !== 200) throw new Error(`rotate: ${rotated.status} ${await rotated.text()}`);
  }
  const created = await fetch(`${h.url}/v1/apps/${app.id}/credentials`, {
    method: "POST",
    headers: { authorization: `Bearer ${BENCH_PAK}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "bench", scopes: SCOPE.split(" ") }),
  });
  if (created.status !== 201)
    throw new Error(`client creation failed: ${created.status} ${await created.text()}`);
  const client = (await created.json()) as { client_id: string; client_secret: string };
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: client.client_id,
    client_secret: client.client_secret,
  }).toString();
  const tokenUrl = `${h.url}/${SLUG}/v1/oauth/token`;
  const first = await fetch(tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form,
  });
  if (first.status !== 200) throw new Error(`token: ${first.status} ${await first.text()}`);
  const accessToken = ((await first.json()) as { access_token: string }).access_token;
  const signedWith = JSON.parse(atob(accessToken.split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/"))).alg;
  if (signedWith !== alg) throw new Error(`tokens are signed ${signedWith}, not ${alg}`);

  const barePort = freePort();
  const bareUrl = `http://127.0.0.1:${barePort}/token`;
  const bare = track(
    Bun.spawn(
      [
        ...serverCpu,
        process.execPath,
        join(import.meta.dir, "bare-oauth-token.ts"),
        String(barePort),
        client.client_id,
        sha256Hex(client.client_secret),
        `${h.url}/${SLUG}`,
        SLUG,
        SCOPE,
        alg,
      ],
      { stdout: "inherit", stderr: "inherit" },
    ),
  );
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(bareUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form,
    })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) break;
    await Bun.sleep(50);
  }

  const grant = await postScript("grant", form, "application/x-www-form-urlencoded");
  if (warmup > 0) {
    await wrk(tokenUrl, { seconds: warmup, connections, script: grant });
    await wrk(bareUrl, { seconds: warmup, connections, script: grant });
  }
  const heimdall: WrkResult[] = [];
  const baseline: WrkResult[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = await wrk(tokenUrl, { seconds, connections, script: grant, pid: h.proc.pid });
    const b = await wrk(bareUrl, { seconds, connections, script: grant, pid: bare.pid });
    if (a.non2xx || b.non2xx) throw new Error(`non-2xx responses: heimdall ${a.non2xx}, bare ${b.non2xx}`);
    heimdall.push(a);
    baseline.push(b);
    console.log(`  round ${r + 1}: heimdall ${fmt(a)} | bare ${fmt(b)}`);
  }

  // The issued token checked by the two read paths (owned by the verify module); reported, no target.
  const extra: [string, WrkResult | string][] = [];
  for (const path of ["oauth/introspect", "verify"]) {
    const url = `${h.url}/${SLUG}/v1/${path}`;
    const probe = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
      body: "{}",
    });
    if (probe.status !== 200) {
      extra.push([path, `not measured: ${probe.status}`]);
      continue;
    }
    const script = await postScript(path.replace("/", "-"), "{}", "application/json", accessToken);
    const runs: WrkResult[] = [];
    for (let r = 0; r < rounds; r++)
      runs.push(await wrk(url, { seconds, connections, script, pid: h.proc.pid }));
    extra.push([path, runs.sort((x, y) => x.rps - y.rps)[Math.floor(runs.length / 2)]!]);
  }

  const mid = (xs: WrkResult[]) => xs.find((x) => x.rps === median(xs.map((y) => y.rps)))!;
  const hm = mid(heimdall);
  const bm = mid(baseline);
  const ratio = hm.rps / bm.rps;
  console.log("");
  console.log("| | |");
  console.log("|---|---|");
  console.log(`| machine | ${machineLine()} |`);
  console.log(
    `| load | \`wrk -t1 -c${connections}\`, ${seconds} s × ${rounds} rounds after ${warmup} s warm-up, medians; client_secret_post form body |`,
  );
  console.log(`| Heimdall \`POST /{slug}/v1/oauth/token\`, ${alg} | ${fmt(hm)} |`);
  console.log(`| bare \`Bun.serve\` (SHA-256 check + jose ${alg}) | ${fmt(bm)} |`);
  console.log(
    `| ratio | ${verdict(ratio, 0.7)} by throughput; ${hm.cpuUs && bm.cpuUs ? (bm.cpuUs / hm.cpuUs).toFixed(3) : "?"} by CPU cost |`,
  );
  for (const [path, r] of extra) {
    console.log(
      `| Heimdall \`POST /{slug}/v1/${path}\` (M2M token) | ${typeof r === "string" ? r : fmt(r)} |`,
    );
  }
} finally {
  cleanup();
}
