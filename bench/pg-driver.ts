/**
 * @module PostgreSQL driver choice: Bun's built-in SQL client against the `postgres` package, each through its
 * drizzle adapter, on a cluster this script starts with durable default settings (fsync on). With 32 concurrent
 * callers for `--duration` seconds each: a prepared point SELECT of a 10-column row by primary key; a short
 * transaction (SELECT … FOR UPDATE, UPDATE, INSERT, COMMIT); and the LISTEN/NOTIFY round trip (pg_notify
 * sent through drizzle, received by the driver's own listener). Prints each figure and the ratios of the two
 * drivers from the same run. Run by hand: `node_modules/.bin/bun bench/pg-driver.ts [--duration 5]
 * [--callers 32] [--pool 10] [--rounds 1]`.
 */
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { SQL } from "bun";
import { eq, sql } from "drizzle-orm";
import { drizzle as drizzleBun } from "drizzle-orm/bun-sql";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { bigint, boolean, integer, jsonb, pgTable, serial, text, timestamp } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { startPostgresCluster } from "../test/support/postgres.ts";
import { cleanup, machineLine, median, pin, serverCpu } from "./lib.ts";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    callers: { type: "string", default: "32" },
    pool: { type: "string", default: "10" },
    rounds: { type: "string", default: "1" },
  },
});
const DURATION = Number(opts.duration);
const WARMUP = Number(opts.warmup);
const CALLERS = Number(opts.callers);
const POOL = Number(opts.pool);
const ROUNDS = Number(opts.rounds);
const ROWS = 10_000;
const COUNTERS = 1_000;
const CHANNEL = "bench_round_trip";

const benchRows = pgTable("bench_rows", {
  id: text("id").primaryKey(),
  appId: text("app_id").notNull(),
  email: text("email").notNull(),
  displayName: text("display_name"),
  status: text("status").notNull(),
  signInCount: integer("sign_in_count").notNull(),
  verified: boolean("verified").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
  metadata: jsonb("metadata"),
});
const counters = pgTable("bench_counters", {
  id: integer("id").primaryKey(),
  value: bigint("value", { mode: "number" }).notNull(),
});
const ledger = pgTable("bench_ledger", {
  id: serial("id").primaryKey(),
  counterId: integer("counter_id").notNull(),
  delta: integer("delta").notNull(),
  at: timestamp("at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

type Db = PgDatabase<PgQueryResultHKT>;

interface Driver {
  name: string;
  db: Db;
  listen(channel: string, onNotify: (payload: string) => void): Promise<void>;
  close(): Promise<void>;
}

function bunSql(url: string): Driver {
  const client = new SQL(url, { max: POOL, prepare: true });
  return {
    name: "bun-sql",
    db: drizzleBun({ client }) as unknown as Db,
    async listen(channel, onNotify) {
      await client.listen(channel, onNotify);
    },
    close: () => client.close(),
  };
}

function postgresJs(url: string): Driver {
  const client = postgres(url, { max: POOL, prepare: true, onnotice: () => {} });
  return {
    name: "postgres",
    db: drizzlePostgresJs({ client }) as unknown as Db,
    async listen(channel, onNotify) {
      await client.listen(channel, onNotify);
    },
    close: () => client.end({ timeout: 5 }),
  };
}

interface Figure {
  perSec: number;
  p50ms: number;
  p99ms: number;
  /** This process's CPU time per operation: the driver's own cost, with drizzle's. */
  clientCpuUs: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** `CALLERS` loops calling `op` back to back for `seconds`; each op's latency is what `op` returns, in ms. */
async function drive(seconds: number, op: () => Promise<number>): Promise<Figure> {
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < end) latencies.push(await op());
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  return {
    perSec: latencies.length / elapsed,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
    clientCpuUs: (cpu.user + cpu.system) / latencies.length,
  };
}

const timed = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};
const randomInt = (n: number) => Math.floor(Math.random() * n);

interface Workload {
  name: string;
  prepare(d: Driver): Promise<() => Promise<number>>;
}

const WORKLOADS: Workload[] = [
  {
    name: "point SELECT by primary key (prepared)",
    async prepare(d) {
      const query = d.db
        .select()
        .from(benchRows)
        .where(eq(benchRows.id, sql.placeholder("id")))
        .prepare(`point_${d.name.replace("-", "_")}`);
      return () =>
        timed(async () => {
          const [row] = await query.execute({ id: `row-${randomInt(ROWS)}` });
          if (!row) throw new Error("row missing");
        });
    },
  },
  {
    name: "transaction: SELECT … FOR UPDATE, UPDATE, INSERT, COMMIT",
    async prepare(d) {
      return () =>
        timed(() =>
          d.db.transaction(async (tx) => {
            const id = randomInt(COUNTERS);
            const [c] = await tx.select().from(counters).where(eq(counters.id, id)).for("update");
            await tx
              .update(counters)
              .set({ value: c!.value + 1 })
              .where(eq(counters.id, id));
            await tx.insert(ledger).values({ counterId: id, delta: 1 });
          }),
        );
    },
  },
  {
    name: "LISTEN/NOTIFY round trip",
    async prepare(d) {
      const waiting = new Map<string, () => void>();
      await d.listen(CHANNEL, (payload) => waiting.get(payload)?.());
      let seq = 0;
      return async () => {
        const payload = `${d.name}:${seq++}`;
        const t0 = performance.now();
        const arrived = new Promise<void>((resolve) => waiting.set(payload, resolve));
        await d.db.execute(sql`select pg_notify(${CHANNEL}, ${payload})`);
        await arrived;
        waiting.delete(payload);
        return performance.now() - t0;
      };
    },
  },
];

async function seed(url: string): Promise<void> {
  const admin = new SQL(url, { max: 1 });
  await admin.unsafe(`
    create table bench_rows (
      id text primary key, app_id text not null, email text not null, display_name text,
      status text not null, sign_in_count integer not null, verified boolean not null,
      created_at timestamptz not null, updated_at timestamptz not null, metadata jsonb);
    insert into bench_rows
      select 'row-' || i, 'app-' || (i % 10), 'user' || i || '@example.test', 'User ' || i, 'active',
             i % 100, i % 2 = 0, now(), now(), jsonb_build_object('plan', 'free', 'n', i)
      from generate_series(0, ${ROWS - 1}) i;
    create table bench_counters (id integer primary key, value bigint not null);
    insert into bench_counters select i, 0 from generate_series(0, ${COUNTERS - 1}) i;
    create table bench_ledger (id serial primary key, counter_id integer not null, delta integer not null,
      at timestamptz not null default now());`);
  await admin.unsafe("vacuum analyze");
  await admin.close();
}

const cluster = await startPostgresCluster({}, { cpu: serverCpu });
try {
  // The server on CPU 0 (as bench/lib.ts pins servers), this process on the others.
  if (pin) Bun.spawnSync(["taskset", "-pc", `1-${cpus().length - 1}`, String(process.pid)]);
  const url = cluster.url("postgres");
  await seed(url);
  const drivers = [bunSql(url), postgresJs(url)];
  console.log(`# PostgreSQL driver — ${machineLine()}`);
  const version = await new SQL(url, {
    max: 1,
  })`select current_setting('server_version') as v, current_setting('fsync') as f`;
  console.log(
    `# PostgreSQL ${version[0].v} (fsync ${version[0].f}); ${CALLERS} callers, pool ${POOL}, ${DURATION} s each, ${ROUNDS} round(s)${pin ? ", server pinned to CPU 0" : ""}`,
  );
  const results = new Map<string, Figure[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const w of WORKLOADS) {
      // Alternate which driver goes first, so neither always runs on the warmer server.
      const order = round % 2 === 0 ? drivers : [...drivers].reverse();
      for (const d of order) {
        const op = await w.prepare(d);
        await drive(WARMUP, op);
        const f = await drive(DURATION, op);
        const key = `${w.name}|${d.name}`;
        results.set(key, [...(results.get(key) ?? []), f]);
      }
    }
  }
  const med = (key: string, k: keyof Figure) => median(results.get(key)!.map((f) => f[k]));
  console.log(
    "\n| workload | driver | ops/s | p50 ms | p99 ms | client CPU µs/op |\n|---|---|---:|---:|---:|---:|",
  );
  for (const w of WORKLOADS)
    for (const d of drivers) {
      const key = `${w.name}|${d.name}`;
      console.log(
        `| ${w.name} | ${d.name} | ${med(key, "perSec").toFixed(0)} | ${med(key, "p50ms").toFixed(2)} | ${med(key, "p99ms").toFixed(2)} | ${med(key, "clientCpuUs").toFixed(0)} |`,
      );
    }
  console.log("\nratios, bun-sql / postgres (throughput above 1 and latency below 1 favour bun-sql):");
  for (const w of WORKLOADS) {
    const [b, p] = [`${w.name}|bun-sql`, `${w.name}|postgres`];
    console.log(
      `  ${w.name}: ops/s ${(med(b, "perSec") / med(p, "perSec")).toFixed(3)}, p50 ${(med(b, "p50ms") / med(p, "p50ms")).toFixed(3)}, p99 ${(med(b, "p99ms") / med(p, "p99ms")).toFixed(3)}, client CPU ${(med(b, "clientCpuUs") / med(p, "clientCpuUs")).toFixed(3)}`,
    );
  }
  await Promise.all(drivers.map((d) => d.close()));
} finally {
  cluster.stop();
  cleanup();
}
process.exit(0);
