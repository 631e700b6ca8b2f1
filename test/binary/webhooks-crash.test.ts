/**
 * @module Webhooks through the compiled binary: `kill -9` while 200 events are being produced and delivered,
 * restart on the same data dir, and every committed event reaches the receiver at least once with nothing
 * invented (receiver ids against the `events` outbox); then `heimdall webhooks replay` beside the running
 * server sends them again.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { Webhook } from "standardwebhooks";
import {
  buildBinary,
  freePort,
  type RunningServer,
  startServer,
  stopServer,
  waitHealthy,
} from "./support.ts";

const PAK = `pcft_live_${"W".repeat(40)}`;
const EVENTS = 200;
const TIMEOUT = 60_000;

let work = "";
let runDir = "";
let binary = "";
let receiver: Server<undefined>;
let secret = "";
/** Every delivery the receiver accepted (ids repeat on a re-send), in arrival order. */
const received: string[] = [];
let forged = 0;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "heimdall-webhooks-crash-"));
  runDir = join(work, "run");
  binary = buildBinary(work, runDir);
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = await req.text();
      try {
        const event = new Webhook(secret).verify(body, Object.fromEntries(req.headers.entries())) as {
          id: string;
        };
        received.push(event.id);
      } catch {
        forged++;
        return new Response(null, { status: 400 });
      }
      // A little latency, so that the kill finds requests in flight.
      await Bun.sleep(5);
      return new Response(null, { status: 204 });
    },
  });
});

afterAll(() => {
  receiver?.stop(true);
  rmSync(work, { recursive: true, force: true });
});

function start(port: number): RunningServer {
  return startServer({
    binary,
    cwd: runDir,
    port,
    env: {
      HEIMDALL_PUBLIC_URL: `http://127.0.0.1:${port}`,
      HEIMDALL_BOOTSTRAP_PAK: PAK,
      HEIMDALL_LOG_LEVEL: "warn",
      // An operator's widening of the targets is said at every start (checked at the end).
      HEIMDALL_WEBHOOK_ALLOW_PRIVATE: "true",
    },
  });
}

async function call(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function pending(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = text.match(/^heimdall_webhook_deliveries_pending(?:\{\})? (\d+)$/m);
  if (!m) throw new Error("no heimdall_webhook_deliveries_pending in /metrics");
  return Number(m[1]);
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function outbox(appId: string): string[] {
  const db = new Database(join(runDir, "data", "heimdall.db"), { readonly: true });
  try {
    return db
      .query<{ id: string }, [string]>("SELECT id FROM events WHERE app_id = ? ORDER BY created_at, id")
      .all(appId)
      .map((r) => r.id);
  } finally {
    db.close();
  }
}

test(
  "kill -9 mid-stream: after the restart every committed event is delivered at least once, none invented; replay beside the server re-sends",
  async () => {
    let port = freePort();
    let base = `http://127.0.0.1:${port}`;
    let server = start(port);
    await waitHealthy(base, server);
    const app = await call(base, "POST", "/v1/apps", { slug: "crashy", display_name: "Crashy" });
    expect(app.status).toBe(201);
    const appId: string = app.body.id;
    const hook = await call(base, "PUT", `/v1/apps/${appId}/webhook`, {
      url: `http://127.0.0.1:${receiver.port}/hook`,
      event_types: [],
    });
    expect(hook.status).toBe(200);
    secret = hook.body.signing_secret;
    const since = new Date(Date.now() - 1000).toISOString();

    // Producers: tenant creations (each emits tenant.created in its transaction), four at a time, until the
    // server dies under them; a request the kill cuts off may or may not have committed.
    let made = 0;
    let serial = 0;
    let alive = true;
    // Paced before the kill (about 100 a second), so that the kill lands while production is still going.
    const produce = async (target: string, paceMs = 0) => {
      while (alive && made < EVENTS) {
        if (paceMs) await Bun.sleep(paceMs);
        const n = serial++;
        try {
          const res = await call(target, "POST", `/v1/apps/${appId}/tenants`, {
            display_name: `Tenant ${n}`,
          });
          if (res.status === 201) made++;
        } catch {
          return;
        }
      }
    };
    const producers = Array.from({ length: 4 }, () => produce(base, 40));
    // Killed once deliveries are flowing and production is still going.
    await until("the first deliveries", () => received.length >= 20);
    expect(made).toBeLessThan(EVENTS);
    server.proc.kill(9);
    await server.proc.exited;
    alive = false;
    await Promise.all(producers);

    // Restart on the same data dir (another port: the receiver does not care), then produce the rest.
    port = freePort();
    base = `http://127.0.0.1:${port}`;
    server = start(port);
    await waitHealthy(base, server);
    const committed = outbox(appId).length;
    alive = true;
    made = committed;
    await Promise.all(Array.from({ length: 4 }, () => produce(base)));
    await until("the outbox to drain", async () => (await pending(base)) === 0 && received.length >= EVENTS);

    const ids = outbox(appId);
    expect(ids.length).toBeGreaterThanOrEqual(EVENTS);
    const got = new Set(received);
    // Every committed event arrived; nothing arrived that was not committed; nothing was forged.
    expect(ids.filter((id) => !got.has(id))).toEqual([]);
    expect([...got].filter((id) => !ids.includes(id))).toEqual([]);
    expect(forged).toBe(0);

    // Replay beside the running server: the command only queues, the server's worker sends.
    const before = received.length;
    const cli = Bun.spawnSync(
      [
        binary,
        "webhooks",
        "replay",
        "--app",
        "crashy",
        "--since",
        since,
        "--event-type",
        "tenant.created",
        "--data-dir",
        "./data",
      ],
      {
        cwd: runDir,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: runDir, HEIMDALL_LOG_LEVEL: "warn" },
      },
    );
    const out = cli.stdout.toString();
    expect(cli.exitCode, cli.stderr.toString()).toBe(0);
    const tenantEvents = new Database(join(runDir, "data", "heimdall.db"), { readonly: true });
    const tenantIds = tenantEvents
      .query<{ id: string }, [string]>("SELECT id FROM events WHERE app_id = ? AND type = 'tenant.created'")
      .all(appId)
      .map((r) => r.id);
    tenantEvents.close();
    expect(out).toContain(`${tenantIds.length} events since ${since} queued`);
    await until("the replay", () => received.length - before >= tenantIds.length);
    expect(new Set(received.slice(before))).toEqual(new Set(tenantIds));

    // A --workspace that is not the app's is refused, changing nothing.
    const wrong = Bun.spawnSync(
      [
        binary,
        "webhooks",
        "replay",
        "--app",
        "crashy",
        "--since",
        since,
        "--workspace",
        "nowhere",
        "--data-dir",
        "./data",
      ],
      { cwd: runDir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: runDir } },
    );
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr.toString()).toContain('no workspace "nowhere"');

    expect(await stopServer(server)).toBe(0);
    const log = `${await server.stdout}${await server.stderr}`;
    expect(log).toContain("webhook targets widened by configuration");
    expect(log).toMatch(/webhook_allow_private"?[:=]\s*true/);
    expect(log).not.toContain(secret);
  },
  TIMEOUT,
);
