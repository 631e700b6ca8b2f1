/**
 * @module Shared benchmark plumbing: build or reuse the binary, start it on a temp data dir, run wrk
 * (optionally with a Lua script for POST bodies), read server CPU time, and print a machine line.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { SQL, type Subprocess } from "bun";
import { buildBinary } from "../scripts/build.ts";
import { type PostgresCluster, startPostgresCluster } from "../test/support/postgres.ts";

export const ROOT = join(import.meta.dir, "..");
export const BENCH_PAK = `pcft_live_${"B".repeat(43)}`;

export const work = mkdtempSync(join(tmpdir(), "heimdall-bench-"));
const children: Subprocess[] = [];
export function track<T extends Subprocess>(p: T): T {
  children.push(p);
  return p;
}
export function cleanup(): void {
  for (const c of children) c.kill("SIGTERM");
  cluster?.stop();
  rmSync(work, { recursive: true, force: true });
}
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * `HEIMDALL_BENCH_BINARY` when set (a build of your own, e.g. `bun scripts/build.ts /tmp/x/heimdall`); else
 * ./heimdall when it is newer than every source file, else a fresh build in the temp dir.
 */
export function binary(): string {
  if (process.env.HEIMDALL_BENCH_BINARY) return process.env.HEIMDALL_BENCH_BINARY;
  const local = join(ROOT, "heimdall");
  try {
    if (
      statSync(local).mtimeMs >
      Math.max(newestMtime(join(ROOT, "src")), newestMtime(join(ROOT, "migrations")))
    )
      return local;
  } catch {
    // no ./heimdall yet
  }
  // Built once per run: callers ask for the binary each time they start or time it.
  if (!built) {
    built = join(work, "heimdall");
    buildBinary(built);
  }
  return built;
}
let built: string | undefined;

export function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

export async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await Bun.sleep(50);
  }
  throw new Error(`${url} did not come up`);
}

/** On a 2-vCPU VM, pin servers to CPU 0 and load generators to the rest, so runs are comparable. */
export const pin = Bun.which("taskset") !== null && cpus().length >= 2;
export const serverCpu = pin ? ["taskset", "-c", "0"] : [];
export const loadCpu = pin ? ["taskset", "-c", `1-${cpus().length - 1}`] : [];
const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** utime + stime of a process, in microseconds (Linux /proc); null elsewhere. */
export async function cpuMicros(pid: number): Promise<number | null> {
  try {
    const fields = (await Bun.file(`/proc/${pid}/stat`).text()).split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
  } catch {
    return null;
  }
}

export interface Heimdall {
  url: string;
  dataDir: string;
  /** Where its store is: the SQLite file in `dataDir`, or its PostgreSQL database's URL. */
  store: string;
  proc: Subprocess;
}

/**
 * `HEIMDALL_BENCH_DB=postgres`: every Heimdall the bench starts stores in its own database on one PostgreSQL
 * cluster the bench starts with durable settings (fsync on, the defaults of a real deployment), pinned to the
 * server's CPU like Heimdall; the default is each Heimdall's SQLite file.
 */
export const benchEngine = process.env.HEIMDALL_BENCH_DB === "postgres" ? "postgres" : "sqlite";
let cluster: PostgresCluster | undefined;
let databases = 0;

/** A fresh database on the bench's PostgreSQL cluster when `HEIMDALL_BENCH_DB=postgres`, else undefined. */
export async function benchDatabaseUrl(): Promise<string | undefined> {
  if (benchEngine !== "postgres") return undefined;
  cluster ??= await startPostgresCluster({ max_connections: "200" }, { cpu: serverCpu });
  const name = `bench_${process.pid}_${++databases}`;
  const admin = new SQL(cluster.url("postgres"), { max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.close();
  return cluster.url(name);
}

export async function startHeimdall(
  env: Record<string, string> = {},
  { pinned = true } = {},
): Promise<Heimdall> {
  const databaseUrl = await benchDatabaseUrl();
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = join(work, `data-${port}`);
  const proc = track(
    Bun.spawn(
      [
        ...(pinned ? serverCpu : []),
        binary(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--data-dir",
        dataDir,
      ],
      {
        env: {
          PATH: process.env.PATH ?? "",
          HEIMDALL_BOOTSTRAP_PAK: BENCH_PAK,
          HEIMDALL_PUBLIC_URL: url,
          HEIMDALL_LOG_LEVEL: "info",
          ...(databaseUrl ? { HEIMDALL_DATABASE_URL: databaseUrl } : {}),
          ...env,
        },
        stdout: "ignore",
        stderr: "inherit",
      },
    ),
  );
  await waitFor(`${url}/healthz`);
  return { url, dataDir, store: databaseUrl ?? join(dataDir, "heimdall.db"), proc };
}

export async function createApp(h: Heimdall, slug: string): Promise<{ id: string }> {
  const res = await fetch(`${h.url}/v1/apps`, {
    method: "POST",
    headers: { authorization: `Bearer ${BENCH_PAK}`, "content-type": "application/json" },
    body: JSON.stringify({ slug, display_name: slug }),
  });
  if (res.status !== 201) throw new Error(`app creation failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string };
}

/**
 * Switches the app's `signing_alg` and promotes the new key at once (it would sign 2 h from now; nothing
 * verifies a bench app's tokens yet, so an emergency rotation is safe here).
 */
export async function useSigningAlg(h: Heimdall, appId: string, alg: string): Promise<void> {
  const admin = { authorization: `Bearer ${BENCH_PAK}`, "content-type": "application/json" };
  const set = await fetch(`${h.url}/v1/apps/${appId}/auth-config`, {
    method: "PATCH",
    headers: admin,
    body: JSON.stringify({ signing_alg: alg }),
  });
  if (set.status !== 200) throw new Error(`signing_alg: ${set.status} ${await set.text()}`);
  const rotated = await fetch(`${h.url}/v1/apps/${appId}/keys/rotate`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ emergency: true }),
  });
  if (rotated.status !== 200) throw new Error(`rotate: ${rotated.status} ${await rotated.text()}`);
}

export interface WrkResult {
  rps: number;
  requests: number;
  p50ms: number | null;
  p99ms: number | null;
  non2xx: number;
  cpuUs: number | null;
}

export const hasWrk = Bun.which("wrk") !== null;

/** Runs wrk against `url`; `script` is a Lua file (for POST bodies or per-request headers). */
export async function wrk(
  url: string,
  o: {
    seconds: number;
    connections: number;
    threads?: number;
    script?: string;
    headers?: string[];
    pid?: number;
  },
): Promise<WrkResult> {
  if (!hasWrk) throw new Error("wrk is not installed (apt install wrk)");
  const cpu0 = o.pid ? await cpuMicros(o.pid) : null;
  const args = [
    ...loadCpu,
    "wrk",
    `-t${o.threads ?? 1}`,
    `-c${o.connections}`,
    `-d${o.seconds}s`,
    "--latency",
  ];
  for (const h of o.headers ?? []) args.push("-H", h);
  if (o.script) args.push("-s", o.script);
  args.push(url);
  const proc = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
  const text = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`wrk failed: ${await new Response(proc.stderr).text()}`);
  const cpu1 = o.pid ? await cpuMicros(o.pid) : null;
  const latency = (p: string) => {
    const m = text.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m"));
    if (!m) return null;
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as "us" | "ms" | "s"];
  };
  const requests = Number(text.match(/(\d+) requests in/)?.[1]);
  return {
    rps: Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1]),
    requests,
    p50ms: latency("50"),
    p99ms: latency("99"),
    non2xx: Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0),
    cpuUs: cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / requests,
  };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function machineLine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? "?"} × ${cpu.length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Bun ${Bun.version}, store: ${benchEngine}`;
}

export const verdict = (x: number, target: number) =>
  `${x.toFixed(3)} (target ≥ ${target}: ${x >= target ? "met" : "NOT met"})`;
