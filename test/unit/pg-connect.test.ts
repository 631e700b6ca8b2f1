/** @module The PostgreSQL client as Heimdall opens it, its reachability probe and URL redaction, on a real server. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import {
  openPostgresClient,
  type PgClient,
  pgReachable,
  redactDatabaseUrl,
} from "../../src/db/pg-connect.ts";
import { freshPostgresDatabase } from "../support/postgres.ts";

let url: string;
const clients: PgClient[] = [];
function open(u: string, opts?: Parameters<typeof openPostgresClient>[1]): PgClient {
  const client = openPostgresClient(u, opts);
  clients.push(client);
  return client;
}
beforeAll(async () => {
  url = await freshPostgresDatabase();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

function withSearch(u: string, params: Record<string, string>): string {
  const next = new URL(u);
  for (const [k, v] of Object.entries(params)) next.searchParams.set(k, v);
  return next.toString();
}

/** A TCP port on 127.0.0.1 that nothing listens on (taken, read, released). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe("openPostgresClient", () => {
  test("connects with Heimdall's session settings", async () => {
    const client = open(url);
    expect(await pgReachable(client)).toBeNull();
    const [row] = await client`select current_database() as db, current_setting('application_name') as app,
      current_setting('statement_timeout') as timeout, current_setting('client_min_messages') as notices`;
    expect(row.db).toBe(new URL(url).pathname.slice(1));
    expect(row.app).toBe("heimdall");
    expect(row.timeout).toBe("30s");
    expect(row.notices).toBe("warning");
  });

  test("application name and pool size are the caller's to set; the pool never exceeds its size", async () => {
    const client = open(url, { max: 2, applicationName: "heimdall-test-pool" });
    const rows = await Promise.all(
      Array.from({ length: 6 }, () => client`select pg_backend_pid() as pid, pg_sleep(0.05)`),
    );
    const pids = new Set(rows.map(([r]) => r.pid));
    expect(pids.size).toBeGreaterThanOrEqual(1);
    expect(pids.size).toBeLessThanOrEqual(2);
    const [seen] = await client`select count(*)::int as n from pg_stat_activity
      where application_name = 'heimdall-test-pool'`;
    expect(seen.n).toBe(pids.size);
  });

  test("the default pool holds at most 10 connections", async () => {
    const client = open(url);
    const rows = await Promise.all(
      Array.from({ length: 25 }, () => client`select pg_backend_pid() as pid, pg_sleep(0.05)`),
    );
    const pids = new Set(rows.map(([r]) => r.pid));
    expect(pids.size).toBeGreaterThan(1);
    expect(pids.size).toBeLessThanOrEqual(10);
  });

  test("the URL's database wins over PGDATABASE in the environment", async () => {
    const before = process.env.PGDATABASE;
    process.env.PGDATABASE = "postgres";
    try {
      const client = open(url);
      const [row] = await client`select current_database() as db`;
      expect(row.db).toBe(new URL(url).pathname.slice(1));
    } finally {
      if (before === undefined) delete process.env.PGDATABASE;
      else process.env.PGDATABASE = before;
    }
  });

  test("sslmode is read as libpq reads it (this server has no TLS)", async () => {
    for (const mode of ["disable", "allow", "prefer"])
      expect(await pgReachable(open(withSearch(url, { sslmode: mode })))).toBeNull();
    for (const mode of ["require", "verify-ca", "verify-full"]) {
      const reason = await pgReachable(open(withSearch(url, { sslmode: mode })));
      expect(reason).toContain("tls not available");
    }
    expect(() => openPostgresClient(withSearch(url, { sslmode: "sometimes" }))).toThrow(/sslmode/);
  });

  test("refuses a URL that is not PostgreSQL's, without echoing its password", () => {
    expect(() => openPostgresClient("mysql://root:hunter2-secret@db/x")).toThrow(/not a PostgreSQL URL/);
    try {
      openPostgresClient("mysql://root:hunter2-secret@db/x");
    } catch (err) {
      expect(String(err)).not.toContain("hunter2-secret");
    }
  });
});

describe("pgReachable", () => {
  test("an unreachable port: the reason in words, without the password", async () => {
    const port = await closedPort();
    const client = open(`postgres://heimdall:Sup3r-Secret-pw@127.0.0.1:${port}/heimdall`);
    const reason = await pgReachable(client);
    expect(reason).toStartWith(`127.0.0.1:${port}: connection refused`);
    expect(reason).not.toContain("Sup3r-Secret-pw");
  });

  test("a database that does not exist: the server's reason", async () => {
    const missing = new URL(url);
    missing.pathname = "/no_such_database_here";
    const reason = await pgReachable(open(missing.toString()));
    expect(reason).toBe(`127.0.0.1:${missing.port}: database "no_such_database_here" does not exist`);
  });

  test("a server that accepts the connection and never answers: no answer within 2 s", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = silent.address() as { port: number };
      const reason = await pgReachable(open(`postgres://heimdall:pw-never-shown@127.0.0.1:${port}/x`));
      expect(reason).toBe(`127.0.0.1:${port}: the database did not answer within 2 s`);
      expect(reason).not.toContain("pw-never-shown");
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});

describe("redactDatabaseUrl", () => {
  test.each([
    [
      "postgres://heimdall:s3cret@db.internal:5432/heimdall",
      "postgres://heimdall:***@db.internal:5432/heimdall",
    ],
    ["postgresql://u:p%40ss%2Fw0rd@db/x?sslmode=require", "postgresql://u:***@db/x?sslmode=require"],
    [
      "postgres://u@db/x?password=s3cret&sslmode=verify-full",
      "postgres://u@db/x?password=***&sslmode=verify-full",
    ],
    ["postgres://heimdall@127.0.0.1:5432/heimdall", "postgres://heimdall@127.0.0.1:5432/heimdall"],
    ["not a url, but postgres://u:s3cret@db/x inside", "not a url, but postgres://u:***@db/x inside"],
  ])("%s", (input, expected) => {
    expect(redactDatabaseUrl(input)).toBe(expected);
  });
});
