/**
 * @module Two compiled binaries on one PostgreSQL database, as behind a load balancer (issue 20): an account
 * made on one signs in on the other, a key rotation on one shows in the other's JWKS within about a second,
 * concurrent refreshes of one token split across both get one successor, a rate limit counts on both, and
 * killing the scheduler leader with SIGKILL hands the leader-only jobs to the other within the lease's TTL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshPostgresDatabase } from "../support/postgres.ts";
import {
  buildBinary,
  freePort,
  type RunningServer,
  startServer,
  stopServer,
  waitHealthy,
} from "./support.ts";

const PAK = `pcft_live_${"M".repeat(43)}`;
const SLUG = "shared";
const PUBLIC_URL = "http://heimdall.test";
const LEASE_SECONDS = 3;

interface Instance {
  name: string;
  baseUrl: string;
  server: RunningServer;
}

let work = "";
let binary = "";
let env: Record<string, string> = {};
const instances: Instance[] = [];

async function start(name: string): Promise<Instance> {
  const runDir = join(work, name);
  const port = freePort();
  const server = startServer({ binary, cwd: runDir, port, env });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitHealthy(baseUrl, server);
  const instance = { name, baseUrl, server };
  instances.push(instance);
  return instance;
}

const json = (body: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});
const consumer = (i: Instance, path: string, body: unknown) =>
  fetch(`${i.baseUrl}/${SLUG}/v1${path}`, json(body));
const kids = async (i: Instance) =>
  (
    (await (await fetch(`${i.baseUrl}/${SLUG}/v1/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    }
  ).keys.map((k) => k.kid);
const leads = async (i: Instance) =>
  /^heimdall_scheduler_leader\{\} 1$/m.test(await (await fetch(`${i.baseUrl}/metrics`)).text());

let a: Instance;
let b: Instance;
let appId = "";

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "heimdall-multi-"));
  binary = buildBinary(work, join(work, "bin"));
  env = {
    HEIMDALL_DATABASE_URL: await freshPostgresDatabase(),
    HEIMDALL_PUBLIC_URL: PUBLIC_URL,
    HEIMDALL_BOOTSTRAP_PAK: PAK,
    HEIMDALL_LOG_LEVEL: "warn",
    HEIMDALL_SCHEDULER_LEASE_SECONDS: String(LEASE_SECONDS),
  };
  for (const dir of ["a", "b"]) mkdirSync(join(work, dir, "data"), { recursive: true, mode: 0o700 });
  // The first instance initialises the empty database and writes the master key; every other instance is
  // given the same key file (a mounted secret in a real deployment).
  a = await start("a");
  copyFileSync(join(work, "a", "data", "master.key"), join(work, "b", "data", "master.key"));
  b = await start("b");
  const app = await fetch(`${a.baseUrl}/v1/apps`, {
    ...json({ slug: SLUG, display_name: "Shared" }),
    headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
  });
  expect(app.status).toBe(201);
  appId = ((await app.json()) as { id: string }).id;
}, 90_000);

afterAll(async () => {
  for (const i of instances) if (i.server.proc.exitCode === null) await stopServer(i.server);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("two instances on one PostgreSQL", () => {
  test("an account made on A signs in on B; B knows the app A created", async () => {
    const signup = await consumer(a, "/auth/signup", {
      username: "grace",
      email: "grace@example.test",
      password: "Compiler-Pioneer-1952",
    });
    expect(signup.status).toBe(200);
    const signin = await consumer(b, "/auth/signin", {
      identifier: "grace",
      password: "Compiler-Pioneer-1952",
    });
    expect(signin.status).toBe(200);
    const { access_token } = (await signin.json()) as { access_token: string };
    const me = await fetch(`${a.baseUrl}/${SLUG}/v1/me`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(me.status).toBe(200);
  });

  test("a key rotation on A shows in B's JWKS within about a second", async () => {
    expect(await kids(b)).toEqual(await kids(a));
    const rotate = await fetch(`${a.baseUrl}/v1/apps/${appId}/keys/rotate`, {
      ...json({ emergency: true }),
      headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
    });
    expect(rotate.status).toBe(200);
    const r = (await rotate.json()) as { old_kid: string; new_kid: string; next_kid: string };
    const rotatedAt = performance.now();
    let seen = await kids(b);
    while (seen.includes(r.old_kid) && performance.now() - rotatedAt < 5_000) {
      await Bun.sleep(20);
      seen = await kids(b);
    }
    const elapsed = performance.now() - rotatedAt;
    expect(seen).toEqual([r.new_kid, r.next_kid]);
    // The notification arrives at commit; the one-second epoch check is the fallback.
    expect(elapsed).toBeLessThan(1_500);
  });

  test("concurrent refreshes of one token, one on each instance, get the same successor", async () => {
    const signin = await consumer(a, "/auth/signin", {
      identifier: "grace",
      password: "Compiler-Pioneer-1952",
    });
    const { refresh_token } = (await signin.json()) as { refresh_token: string };
    const [ra, rb] = await Promise.all([
      consumer(a, "/auth/refresh", { refresh_token }),
      consumer(b, "/auth/refresh", { refresh_token }),
    ]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    const [ta, tb] = (await Promise.all([ra.json(), rb.json()])) as { refresh_token: string }[];
    expect(ta!.refresh_token).toBe(tb!.refresh_token);
    // The successor works once more on either instance; the session is alive.
    expect((await consumer(b, "/auth/refresh", { refresh_token: ta!.refresh_token })).status).toBe(200);
  });

  test("a rate limit counts on both instances: 30 sign-ups per address, the 31st refused wherever it lands", async () => {
    const statuses: number[] = [];
    for (let n = 0; n < 31; n++) {
      const res = await consumer(n % 2 ? a : b, "/auth/signup", {
        username: `burst${n}`,
        email: `burst${n}@example.test`,
        password: "Compiler-Pioneer-1952",
      });
      statuses.push(res.status);
    }
    // Grace's sign-up above counted too: 29 more pass, then 429 on both instances.
    expect(statuses.filter((s) => s === 200)).toHaveLength(29);
    expect(statuses.slice(29)).toEqual([429, 429]);
  });

  test("SIGKILL of the scheduler leader: the other instance leads within the lease's TTL", async () => {
    const aLeads = await leads(a);
    const bLeads = await leads(b);
    expect([aLeads, bLeads].filter(Boolean)).toHaveLength(1);
    const [leader, follower] = aLeads ? [a, b] : [b, a];
    leader.server.proc.kill("SIGKILL");
    await leader.server.proc.exited;
    const killedAt = performance.now();
    while (!(await leads(follower)) && performance.now() - killedAt < (LEASE_SECONDS + 5) * 1000)
      await Bun.sleep(100);
    expect(await leads(follower)).toBe(true);
    // Within the TTL plus one renewal beat of the follower.
    expect(performance.now() - killedAt).toBeLessThan((LEASE_SECONDS + LEASE_SECONDS / 3 + 1) * 1000);
  }, 30_000);
});
