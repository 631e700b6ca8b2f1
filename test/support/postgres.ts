/**
 * @module A throwaway PostgreSQL server for the test process: started on first use from the machine's own
 * binaries (Debian's `postgresql`, installed by .ci/run), one fresh database per caller, stopped and removed
 * when the process exits. `HEIMDALL_TEST_POSTGRES_URL` (an admin URL of an existing server) skips the start.
 */
import { type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import type { Db } from "../../src/db/client.ts";
import { closePostgres, migratePostgres, openPostgresDatabase } from "../../src/db/postgres.ts";

export interface PostgresServer {
  /** The URL of database `db` on this server, as the `heimdall` superuser. */
  url(db: string): string;
  port: number;
}

export interface PostgresCluster extends PostgresServer {
  /** The temp dir holding the data dir, the socket and `postgres.log`. */
  dir: string;
  /** Stops the server at once and removes its temp dir; safe to call twice. */
  stop(): void;
}

/** What the tests trade for speed: nothing here must survive a crash. */
export const THROWAWAY_SETTINGS: Readonly<Record<string, string>> = {
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
  max_connections: "300",
};

const SUPERUSER = "heimdall";

/** The newest `/usr/lib/postgresql/<ver>/bin` with `initdb`, else the directory of `initdb` on PATH. */
export function postgresBinDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (versions.length > 0) return join(root, versions[0]!, "bin");
  const onPath = Bun.which("initdb");
  if (onPath) return join(onPath, "..");
  throw new Error("PostgreSQL is not installed: no initdb (Debian: apt-get install postgresql)");
}

/** PostgreSQL refuses to run as root: then it runs as the `postgres` user that Debian's package creates. */
function runAs(): { prefix: string[]; uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("running as root, and there is no postgres user to run PostgreSQL as");
  const [, , uid, gid] = line.split(":");
  return { prefix: ["runuser", "-u", "postgres", "--"], uid: Number(uid), gid: Number(gid) };
}

function run(argv: string[]): SpawnSyncReturns<string> {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Initialises and starts a new cluster in a fresh temp dir, on a free port of 127.0.0.1, with `settings`
 * appended to its postgresql.conf (the tests pass THROWAWAY_SETTINGS; the benchmarks durable ones). The
 * caller owns it: `stop()` it. A watchdog stops it too if this process dies without running its exit handlers.
 */
export async function startPostgresCluster(
  settings: Readonly<Record<string, string>> = THROWAWAY_SETTINGS,
  { cpu = [] as string[] } = {},
): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  const user = runAs();
  const prefix = [...(user?.prefix ?? []), ...cpu];
  const dir = mkdtempSync(join(tmpdir(), "heimdall-pg-"));
  const data = join(dir, "data");
  const socket = join(dir, "socket");
  mkdirSync(socket);
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(socket, user.uid, user.gid);
  }
  const pgCtl = [...prefix, join(bin, "pg_ctl"), "-D", data];
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    spawnSync(pgCtl[0]!, [...pgCtl.slice(1), "stop", "-m", "immediate", "-w"], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The C collation sorts text bytewise, as SQLite's default BINARY collation does, and exists everywhere.
    run([
      ...prefix,
      join(bin, "initdb"),
      "-D",
      data,
      "--auth=trust",
      "-U",
      SUPERUSER,
      "--no-sync",
      "-E",
      "UTF8",
      "--locale=C",
    ]);
    const conf = {
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: `'${socket}'`,
      logging_collector: "off",
      ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, /^[\w.]+$/.test(v) ? v : `'${v}'`])),
    };
    appendFileSync(
      join(data, "postgresql.conf"),
      `\n${Object.entries(conf)
        .map(([k, v]) => `${k} = ${v}`)
        .join("\n")}\n`,
    );
    // Another process may take the probed port before the server binds it: then try another.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const started = spawnSync(
        pgCtl[0]!,
        [...pgCtl.slice(1), "start", "-w", "-t", "60", "-l", join(dir, "postgres.log"), "-o", `-p ${port}`],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
      if (started.status === 0) {
        const watchdog = spawn(
          "sh",
          [
            "-c",
            'while kill -0 "$0" 2>/dev/null; do sleep 1; done; "$@" stop -m immediate >/dev/null 2>&1; rm -rf "$DIR"',
            String(process.pid),
            ...pgCtl,
          ],
          { detached: true, stdio: "ignore", env: { PATH: process.env.PATH ?? "", DIR: dir } },
        );
        watchdog.unref();
        const stopAll = () => {
          stop();
          if (watchdog.pid) process.kill(watchdog.pid, "SIGKILL");
        };
        return { dir, port, url: (db) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${db}`, stop: stopAll };
      }
      if (attempt === 3) {
        const log = existsSync(join(dir, "postgres.log"))
          ? readFileSync(join(dir, "postgres.log"), "utf8")
          : "";
        throw new Error(`pg_ctl start failed: ${started.stderr}\n${log.slice(-2000)}`);
      }
    }
  } catch (err) {
    stop();
    throw err;
  }
}

function existingServer(adminUrl: string): PostgresServer {
  const admin = new URL(adminUrl);
  return {
    port: Number(admin.port || 5432),
    url(db: string) {
      const u = new URL(admin);
      u.pathname = `/${db}`;
      return u.toString();
    },
  };
}

let shared: Promise<PostgresServer> | null = null;

/** The test process's one server: started by the first call (concurrent first calls share the start). */
export function postgresServer(): Promise<PostgresServer> {
  shared ??= (async () => {
    const given = process.env.HEIMDALL_TEST_POSTGRES_URL;
    if (given) return existingServer(given);
    const cluster = await startPostgresCluster(THROWAWAY_SETTINGS);
    process.once("exit", cluster.stop);
    for (const [signal, code] of [
      ["SIGINT", 130],
      ["SIGTERM", 143],
      ["SIGHUP", 129],
    ] as const) {
      process.once(signal, () => {
        cluster.stop();
        process.exit(code);
      });
    }
    return cluster;
  })();
  // A failed start is not cached: the next caller gets the error again, freshly.
  shared.catch(() => {
    shared = null;
  });
  return shared;
}

/** A new, empty database on the test server (a random name); returns its URL. */
export async function freshPostgresDatabase(): Promise<string> {
  const server = await postgresServer();
  const name = `heimdall_test_${crypto.randomUUID().replaceAll("-", "")}`;
  const admin = new SQL(server.url("postgres"), { max: 1 });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.close();
  }
  return server.url(name);
}

/**
 * Two instances' connection pools on one fresh, migrated database, as two processes behind a load balancer
 * would have; `close` ends both.
 */
export async function twoInstances(max: number): Promise<{ a: Db; b: Db; close(): Promise<void> }> {
  const url = await freshPostgresDatabase();
  const a = openPostgresDatabase(url, { max });
  const b = openPostgresDatabase(url, { max });
  await migratePostgres(a);
  return {
    a,
    b,
    async close() {
      await closePostgres(a);
      await closePostgres(b);
    },
  };
}
