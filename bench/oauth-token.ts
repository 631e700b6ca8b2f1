/**
 * @module client_credentials on the compiled binary against a bare Bun.serve doing the same SHA-256 secret
 * check and signing with the same algorithm (target ≥ 0.70), plus introspection and /verify throughput of the
 * issued token. `--alg ES256|EdDSA` switches the app's `signing_alg` (and promotes the new key at once)
 * before measuring; the default is the app default, RS256.
 * In the same run, oidc-provider (under Node when it is installed) issues RS256 JWT access tokens for the same
 * grant: the peer ratio (issue 18: ES256 and EdDSA ≥ 5×, RS256 ≥ 0.9×), beside the raw RSA-2048 signing
 * ceilings of both runtimes.
 * `--unpinned` lets the three servers use every core (the load generator keeps its own): Bun signs WebCrypto
 * signatures on its thread pool, Node's jose signs on the event loop.
 * Run by hand: `node_modules/.bin/bun bench/oauth-token.ts [--alg RS256|ES256|EdDSA] [--unpinned] [--duration 10] [--rounds 3] [--connections 32]`.
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
  useSigningAlg,
  verdict,
  type WrkResult,
  work,
  wrk,
} from "./lib.ts";
import { oidcProviderGrantForm, peerRuntime, startOidcProvider } from "./peers.ts";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
    warmup: { type: "string", default: "2" },
    alg: { type: "string", default: "RS256" },
    // Servers free to use every core (wrk keeps its own): Bun runs WebCrypto signatures on its thread pool.
    unpinned: { type: "boolean", default: false },
  },
});
const alg = opts.alg;
const pinned = !opts.unpinned;
const onServerCpu = pinned ? serverCpu : [];
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
  const h = await startHeimdall({}, { pinned });
  const app = await createApp(h, SLUG);
  if (alg !== "RS256") await useSigningAlg(h, app.id, alg);
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
        ...onServerCpu,
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

  // The peer: oidc-provider, the same grant (client_secret_post, the two scopes), RS256 JWT access tokens.
  const peerClient = { id: "bench-peer", secret: `peer-${"s".repeat(40)}`, scope: SCOPE };
  const peer = await startOidcProvider(peerClient, { pinned });
  const peerUrl = `${peer.url}/token`;
  const peerForm = oidcProviderGrantForm(peerClient);
  const peerFirst = await fetch(peerUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: peerForm,
  });
  const peerToken = ((await peerFirst.json()) as { access_token?: string }).access_token ?? "";
  if (peerFirst.status !== 200 || !peerToken.startsWith("eyJhbGciOiJSUzI1NiIs"))
    throw new Error(`oidc-provider token: ${peerFirst.status} ${peerToken}`);

  const grant = await postScript("grant", form, "application/x-www-form-urlencoded");
  const peerGrant = await postScript("peer-grant", peerForm, "application/x-www-form-urlencoded");
  if (warmup > 0) {
    await wrk(tokenUrl, { seconds: warmup, connections, script: grant });
    await wrk(bareUrl, { seconds: warmup, connections, script: grant });
    await wrk(peerUrl, { seconds: warmup, connections, script: peerGrant });
  }
  const heimdall: WrkResult[] = [];
  const baseline: WrkResult[] = [];
  const peers: WrkResult[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = await wrk(tokenUrl, { seconds, connections, script: grant, pid: h.proc.pid });
    const b = await wrk(bareUrl, { seconds, connections, script: grant, pid: bare.pid });
    const c = await wrk(peerUrl, { seconds, connections, script: peerGrant, pid: peer.proc.pid });
    if (a.non2xx || b.non2xx || c.non2xx)
      throw new Error(`non-2xx responses: heimdall ${a.non2xx}, bare ${b.non2xx}, oidc-provider ${c.non2xx}`);
    heimdall.push(a);
    baseline.push(b);
    peers.push(c);
    console.log(`  round ${r + 1}: heimdall ${fmt(a)} | bare ${fmt(b)} | oidc-provider RS256 ${fmt(c)}`);
  }
  // The raw RSA-2048 ceilings of both runtimes, one thread each, on the server's core.
  const ceiling = (runtime: string) => {
    const out = Bun.spawnSync(
      [...serverCpu, runtime, join(import.meta.dir, "peers", "rsa-ceiling.mjs"), "3"],
      {
        stdout: "pipe",
        stderr: "inherit",
      },
    );
    return JSON.parse(out.stdout.toString()) as { runtime: string; nodeCrypto: number; webCrypto: number };
  };
  const ceilings = [ceiling(process.execPath), ...(Bun.which("node") ? [ceiling(Bun.which("node")!)] : [])];

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

  // The peer's introspection, of an opaque token of its own (its JWT access tokens are not introspectable),
  // authenticated with client_secret_post as RFC 7662 asks.
  const opaque = await fetch(peerUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `${peerForm}&resource=${encodeURIComponent("urn:bench:opaque")}`,
  });
  const opaqueToken = ((await opaque.json()) as { access_token?: string }).access_token ?? "";
  const introspectForm = new URLSearchParams({
    token: opaqueToken,
    client_id: peerClient.id,
    client_secret: peerClient.secret,
  }).toString();
  const probe = await fetch(`${peer.url}/token/introspection`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: introspectForm,
  });
  const active = ((await probe.json()) as { active?: boolean }).active;
  let peerIntrospection: WrkResult | string = `not measured: ${probe.status}, active ${active}`;
  if (probe.status === 200 && active === true) {
    const script = await postScript("peer-introspect", introspectForm, "application/x-www-form-urlencoded");
    const runs: WrkResult[] = [];
    for (let r = 0; r < rounds; r++)
      runs.push(
        await wrk(`${peer.url}/token/introspection`, { seconds, connections, script, pid: peer.proc.pid }),
      );
    peerIntrospection = runs.sort((x, y) => x.rps - y.rps)[Math.floor(runs.length / 2)]!;
  }
  peer.proc.kill();

  const mid = (xs: WrkResult[]) => xs.find((x) => x.rps === median(xs.map((y) => y.rps)))!;
  const hm = mid(heimdall);
  const bm = mid(baseline);
  const ratio = hm.rps / bm.rps;
  console.log("");
  console.log("| | |");
  console.log("|---|---|");
  console.log(`| machine | ${machineLine()} |`);
  console.log(
    `| load | \`wrk -t1 -c${connections}\`, ${seconds} s × ${rounds} rounds after ${warmup} s warm-up, medians; client_secret_post form body; servers ${pinned ? "pinned to one core" : "on every core"} |`,
  );
  console.log(`| Heimdall \`POST /{slug}/v1/oauth/token\`, ${alg} | ${fmt(hm)} |`);
  console.log(`| bare \`Bun.serve\` (SHA-256 check + jose ${alg}) | ${fmt(bm)} |`);
  console.log(
    `| ratio | ${verdict(ratio, 0.7)} by throughput; ${hm.cpuUs && bm.cpuUs ? (bm.cpuUs / hm.cpuUs).toFixed(3) : "?"} by CPU cost |`,
  );
  const pm = mid(peers);
  const peerRatio = hm.rps / pm.rps;
  console.log(`| oidc-provider \`POST /token\`, RS256 JWT (${peerRuntime}) | ${fmt(pm)} |`);
  console.log(
    `| Heimdall ${alg} / oidc-provider RS256 | ${verdict(peerRatio, alg === "RS256" ? 0.9 : 5)} by throughput; ${hm.cpuUs && pm.cpuUs ? (pm.cpuUs / hm.cpuUs).toFixed(3) : "?"} by CPU cost |`,
  );
  for (const c of ceilings) {
    console.log(
      `| raw RSA-2048 RS256 signatures/s, one thread, ${c.runtime} | node:crypto ${c.nodeCrypto.toFixed(0)}, WebCrypto ${c.webCrypto.toFixed(0)} |`,
    );
  }
  for (const [path, r] of extra) {
    console.log(
      `| Heimdall \`POST /{slug}/v1/${path}\` (M2M token) | ${typeof r === "string" ? r : fmt(r)} |`,
    );
  }
  const introspect = extra.find(([path]) => path === "oauth/introspect")?.[1];
  console.log(
    `| oidc-provider \`POST /token/introspection\` (its opaque token, ${peerRuntime}) | ${typeof peerIntrospection === "string" ? peerIntrospection : fmt(peerIntrospection)} |`,
  );
  if (introspect && typeof introspect !== "string" && typeof peerIntrospection !== "string")
    console.log(
      `| introspection, Heimdall / oidc-provider | ${(introspect.rps / peerIntrospection.rps).toFixed(2)} |`,
    );
} finally {
  cleanup();
}
