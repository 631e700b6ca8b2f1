/**
 * @module Webhook delivery against a real HTTP receiver started here, which verifies every request with the
 * `standardwebhooks` package and the `X-Heimdall-Signature` form with node:crypto: signatures, filters,
 * payload, retries on 500s, timeouts and redirects (stepping the fake clock), auto-disable, re-enable,
 * replay, the 24 h window, rolled-back events, order, metrics, and docs/webhooks.md's receiver recipes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { and, eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { DAY, HOUR, SECOND } from "../../../src/core/clock.ts";
import type { Tables } from "../../../src/db/client.ts";
import { tx } from "../../../src/db/client.ts";
import {
  createWebhookDelivery,
  RESPONSE_BODY_LIMIT,
  RETRY_SCHEDULE_MS,
  type WebhookDelivery,
} from "../../../src/webhooks/delivery.ts";
import type { TargetPolicy } from "../../../src/webhooks/targets.ts";
import { type AppBody, auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";

const ROOT = join(import.meta.dir, "../../..");
const HOOK = "/v1/apps/{app_id}/webhook";

interface Received {
  path: string;
  id: string | null;
  body: string;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
  /** Secrets (by their hint) that verify this request in both forms. */
  verifiedBy: string[];
}

/** What the receiver answers for one request; a promise that never settles is a receiver that never answers. */
type Behaviour = (r: Received) => Response | Promise<Response>;

let ctx: TestContext;
// The context's tables (PostgreSQL's twins on a PostgreSQL run), taken once the context exists.
let { events, webhookConfigs, webhookDeliveries } = {} as Tables;
let receiver: Server<undefined>;
let received: Received[] = [];
let behaviour: Behaviour = () => new Response(null, { status: 204 });
/** Secrets the receiver tries, newest last. */
let secrets: string[] = [];
let delivery: WebhookDelivery;

/** `X-Heimdall-Signature: t=…,v1=<hex>`, checked with a few lines of node:crypto. */
function heimdallVerifies(secret: string, header: string, body: string): boolean {
  const parts = Object.fromEntries(header.split(",").map((kv) => kv.split("=", 2) as [string, string]));
  if (Math.abs(Date.now() / 1000 - Number(parts.t)) > 300) return false;
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const expected = createHmac("sha256", key).update(`${parts.t}.${body}`).digest();
  const given = Buffer.from(parts.v1 ?? "", "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function standardVerifies(secret: string, body: string, headers: Record<string, string>): boolean {
  try {
    new Webhook(secret).verify(body, headers);
    return true;
  } catch {
    return false;
  }
}

/** The fake clock and the process's Date move together, so the libraries' 5-minute window is exact. */
function advance(ms: number) {
  ctx.clock.advance(ms);
  setSystemTime(new Date(ctx.clock.now()));
}

const policyOf = (c: TestContext): TargetPolicy => ({
  allowHttp: c.deps.config.webhookAllowHttp,
  allowPrivate: c.deps.config.webhookAllowPrivate,
  publicUrl: c.deps.config.publicUrl,
  listenPort: c.deps.config.port,
});

beforeAll(async () => {
  ctx = await createTestContext();
  ({ events, webhookConfigs, webhookDeliveries } = ctx.deps.db.tables);
  setSystemTime(new Date(ctx.clock.now()));
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = await req.text();
      const headers = Object.fromEntries(req.headers.entries());
      const r: Received = {
        path: new URL(req.url).pathname,
        id: headers["webhook-id"] ?? null,
        body,
        payload: body ? JSON.parse(body) : {},
        headers,
        verifiedBy: secrets.filter(
          (s) =>
            standardVerifies(s, body, headers) &&
            heimdallVerifies(s, headers["x-heimdall-signature"] ?? "", body),
        ),
      };
      received.push(r);
      return behaviour(r);
    },
  });
  delivery = createWebhookDelivery({
    db: ctx.deps.db,
    clock: ctx.clock,
    vault: ctx.deps.vault,
    audit: ctx.deps.audit,
    log: ctx.log,
    policy: policyOf(ctx),
    timeoutMs: 300,
    random: () => 0.5,
  });
});

afterAll(() => {
  receiver.stop(true);
  setSystemTime();
});

afterEach(async () => {
  behaviour = () => new Response(null, { status: 204 });
  received = [];
  // A test's deliveries still owed end with it, so the next test's receiver sees only its own.
  await ctx.deps.db
    .update(webhookDeliveries)
    .set({ status: "failed" })
    .where(eq(webhookDeliveries.status, "pending"));
});

/** What the receiver got for one app (other tests' receivers may still be retrying). */
const receivedFor = (app: AppBody) => received.filter((r) => r.payload.app_id === app.id);

const hookUrl = (path = "/hook") => `http://127.0.0.1:${receiver.port}${path}`;

async function configure(app: AppBody, eventTypes: string[] = [], path = "/hook") {
  const res = await ctx.call("PUT", HOOK, {
    params: { app_id: app.id },
    body: { url: hookUrl(path), event_types: eventTypes },
  });
  expect(res.status).toBe(200);
  secrets = [...secrets, res.body.signing_secret];
  return res.body as { id: string; signing_secret: string };
}

/** Emits an event the way features do: inside a transaction, through the one emit function. */
async function emit(app: AppBody, type: string, data: Record<string, unknown> = {}): Promise<string> {
  return await tx(ctx.deps.db, async () => await ctx.deps.events.emit({ type, appId: app.id, data }));
}

/** Moves the clock to the app's next due delivery (a failed receiver gets one attempt per tick). */
async function advanceToNextAttempt(app: AppBody) {
  const next = (
    await ctx.deps.db
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.appId, app.id), eq(webhookDeliveries.status, "pending")))
  )
    .map((d) => d.nextAttemptAt)
    .sort((x, y) => x - y)[0];
  if (next !== undefined && next > ctx.clock.now()) advance(next - ctx.clock.now());
}

const config = async (app: AppBody) =>
  (await ctx.deps.db.select().from(webhookConfigs).where(eq(webhookConfigs.appId, app.id)).limit(1))[0];
const deliveryOf = async (eventId: string) =>
  (
    await ctx.deps.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.eventId, eventId)).limit(1)
  )[0];
const attempts = async (app: AppBody) => {
  const res = await ctx.call("GET", `${HOOK}/attempts`, { params: { app_id: app.id } });
  expect(res.status).toBe(200);
  return res.body as {
    event_id: string;
    attempt_number: number;
    status_code: number | null;
    latency_ms: number | null;
    error_message: string | null;
    response_body: string | null;
    url: string;
  }[];
};

describe("a healthy receiver", () => {
  let app: AppBody;
  let secret: string;
  beforeAll(async () => {
    app = await createApp(ctx, "deliver-ok");
    secret = (await configure(app, ["user.signup", "tenant.created"])).signing_secret;
  });

  test("gets each subscribed event once, signed in both forms, with the documented payload and headers", async () => {
    const signup = await emit(app, "user.signup", { user: { id: "u1" } });
    await emit(app, "user.deleted", { user_id: "u1" }); // not subscribed
    const tenant = await emit(app, "tenant.created", { tenant: { id: "t1" } });
    const row = (await ctx.deps.db.select().from(events).where(eq(events.id, signup)).limit(1))[0]!;

    expect(await delivery.deliverDue()).toEqual({ delivered: 2, failed: 0 });
    expect(received.map((r) => r.id)).toEqual([signup, tenant]);
    const [first] = received;
    expect(first!.verifiedBy).toEqual([secret]);
    expect(first!.payload).toEqual({
      id: signup,
      type: "user.signup",
      created_at: new Date(row.createdAt).toISOString(),
      app_id: app.id,
      data: { user: { id: "u1" } },
    });
    expect(first!.headers["content-type"]).toBe("application/json");
    expect(first!.headers["webhook-timestamp"]).toBe(String(Math.floor(ctx.clock.now() / 1000)));
    expect(first!.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(first!.headers["x-heimdall-signature"]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(first!.headers["user-agent"]).toBe("Heimdall-Webhooks/1");

    // Nothing is sent twice.
    expect(await delivery.deliverDue()).toEqual({ delivered: 0, failed: 0 });
    expect((await deliveryOf(signup))!.status).toBe("delivered");

    const list = await attempts(app);
    expect(list.map((a) => [a.event_id, a.attempt_number, a.status_code, a.error_message])).toEqual([
      [tenant, 1, 204, null],
      [signup, 1, 204, null],
    ]);
    expect(list[0]!.latency_ms).toBeGreaterThanOrEqual(0);
    expect(list[0]!.url).toBe(hookUrl());
  });

  test("events arrive in the order they happened", async () => {
    const ids: (string | null)[] = [];
    for (let i = 0; i < 25; i++) {
      advance(1);
      ids.push(await emit(app, i % 2 ? "user.signup" : "tenant.created", { n: i }));
    }
    await delivery.deliverDue();
    expect(received.map((r) => r.id)).toEqual(ids);
  });

  test("one app's backlog does not hold another app's events back: each app takes its own batch per tick", async () => {
    const busy = await createApp(ctx, "deliver-backlog");
    const quiet = await createApp(ctx, "deliver-quiet");
    await configure(busy);
    await configure(quiet);
    const backlog: (string | null)[] = [];
    for (let i = 0; i < 150; i++) backlog.push(await emit(busy, "user.signup"));
    advance(1);
    const prompt = await emit(quiet, "user.signup");
    await delivery.deliverDue();
    expect(receivedFor(quiet).map((r) => r.id)).toEqual([prompt]);
    expect(receivedFor(busy).map((r) => r.id)).toEqual(backlog.slice(0, 100));
    await delivery.deliverDue();
    expect(receivedFor(busy).map((r) => r.id)).toEqual(backlog);
  });

  test("a signing secret rotation takes effect on the next delivery; the old secret no longer verifies", async () => {
    const rotated = await ctx.call("POST", `${HOOK}/rotate-secret`, { params: { app_id: app.id } });
    expect(rotated.status).toBe(200);
    const fresh: string = rotated.body.signing_secret;
    secrets = [...secrets, fresh];
    const id = await emit(app, "user.signup");
    await delivery.deliverDue();
    expect(received.map((r) => r.id)).toEqual([id]);
    expect(received[0]!.verifiedBy).toEqual([fresh]);
    expect(standardVerifies(secret, received[0]!.body, received[0]!.headers)).toBe(false);
    secret = fresh;
  });

  test("a rolled-back transaction's event is never stored nor delivered", async () => {
    let id = "";
    expect(
      async () =>
        await tx(ctx.deps.db, async () => {
          id = await ctx.deps.events.emit({ type: "user.signup", appId: app.id, data: {} });
          throw new Error("the change failed");
        }),
    ).toThrow("the change failed");
    expect(id).not.toBe("");
    expect((await ctx.deps.db.select().from(events).where(eq(events.id, id)).limit(1))[0]).toBeUndefined();
    expect(await deliveryOf(id)).toBeUndefined();
    await delivery.deliverDue();
    expect(received).toEqual([]);
  });

  test("after DELETE nothing more is sent, also what was still queued", async () => {
    const other = await createApp(ctx, "deliver-deleted");
    await configure(other);
    const queued = await emit(other, "user.signup");
    expect((await ctx.call("DELETE", HOOK, { params: { app_id: other.id } })).status).toBe(204);
    await emit(other, "user.signup");
    await delivery.deliverDue();
    expect(received).toEqual([]);
    expect(await deliveryOf(queued)).toBeUndefined();
  });

  test("/metrics shows the pending gauge and the attempts by outcome", async () => {
    const metricsApp = await createApp(ctx, "deliver-metrics");
    await configure(metricsApp);
    await emit(metricsApp, "user.signup");
    await emit(metricsApp, "user.signup");
    const before = (await ctx.call("GET", "/metrics", { auth: null, unchecked: true })).text;
    expect(before).toMatch(/^heimdall_webhook_deliveries_pending(\{\})? 2$/m);
    // The server's own worker (10 s timeout, real jitter) this time.
    await ctx.deps.webhookDelivery.deliverDue();
    expect(received.length).toBe(2);
    const after = (await ctx.call("GET", "/metrics", { auth: null, unchecked: true })).text;
    expect(after).toMatch(/^heimdall_webhook_deliveries_pending(\{\})? 0$/m);
    expect(after).toMatch(/^heimdall_webhook_attempts\{outcome="succeeded"\} 2$/m);
    expect(after).toMatch(/^heimdall_webhook_attempts\{outcome="failed"\} 0$/m);
    expect(after).toContain("# TYPE heimdall_webhook_attempts");
  });
});

describe("failures", () => {
  test("500s are retried on the schedule, then a success; every attempt is listed with its 1 KiB of answer", async () => {
    const app = await createApp(ctx, "deliver-retry");
    await configure(app);
    let calls = 0;
    behaviour = () =>
      ++calls <= 3
        ? new Response("x".repeat(5 * 1024), { status: 500 })
        : new Response("ok", { status: 200 });
    const id = await emit(app, "user.signup");

    expect(await delivery.deliverDue()).toEqual({ delivered: 0, failed: 1 });
    for (const wait of RETRY_SCHEDULE_MS.slice(0, 3)) {
      // Not before its time (random = 0.5: no jitter).
      advance(wait - SECOND);
      expect(await delivery.deliverDue()).toEqual({ delivered: 0, failed: 0 });
      advance(SECOND);
      await delivery.deliverDue();
    }
    expect(received.map((r) => r.id)).toEqual([id, id, id, id]);
    expect(await deliveryOf(id)).toMatchObject({ status: "delivered", attempts: 4 });
    const list = (await attempts(app)).reverse();
    expect(list.map((a) => [a.attempt_number, a.status_code, a.error_message])).toEqual([
      [1, 500, "HTTP 500"],
      [2, 500, "HTTP 500"],
      [3, 500, "HTTP 500"],
      [4, 200, null],
    ]);
    expect(list[0]!.response_body).toBe("x".repeat(RESPONSE_BODY_LIMIT));
    expect(list[3]!.response_body).toBe("ok");
    for (const a of list) expect(a.latency_ms).toBeGreaterThanOrEqual(0);
    // Failures in a row reset on the success.
    expect((await config(app))!.consecutiveFailures).toBe(0);
  });

  test("a receiver that never answers is a timed-out attempt, retried", async () => {
    const app = await createApp(ctx, "deliver-timeout");
    await configure(app);
    behaviour = () => new Promise<Response>(() => {});
    const id = await emit(app, "user.signup");
    expect(await delivery.deliverDue()).toEqual({ delivered: 0, failed: 1 });
    const [first] = await attempts(app);
    expect(first).toMatchObject({
      attempt_number: 1,
      status_code: null,
      error_message: "timed out after 300 ms",
    });
    expect((await deliveryOf(id))!.status).toBe("pending");
    behaviour = () => new Response(null, { status: 202 });
    advance(RETRY_SCHEDULE_MS[0]);
    expect(await delivery.deliverDue()).toEqual({ delivered: 1, failed: 0 });
    expect(await deliveryOf(id)).toMatchObject({ status: "delivered", attempts: 2 });
  });

  test("a redirect is a failure and is not followed", async () => {
    const app = await createApp(ctx, "deliver-redirect");
    await configure(app);
    behaviour = (r) =>
      r.path === "/hook"
        ? new Response(null, { status: 302, headers: { location: hookUrl("/elsewhere") } })
        : new Response(null, { status: 204 });
    const id = await emit(app, "user.signup");
    expect(await delivery.deliverDue()).toEqual({ delivered: 0, failed: 1 });
    expect(received.map((r) => r.path)).toEqual(["/hook"]);
    expect((await attempts(app))[0]).toMatchObject({ status_code: 302, error_message: "HTTP 302" });
    expect((await deliveryOf(id))!.status).toBe("pending");
  });

  test("10 events in a row that fail disable the destination; nothing more is sent or queued until a PUT, then replay re-sends with the same ids", async () => {
    const app = await createApp(ctx, "deliver-disable");
    const { id: configId } = await configure(app);
    behaviour = () => new Response("down", { status: 503 });
    const since = new Date(ctx.clock.now() - 1).toISOString();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push(await emit(app, i % 2 ? "tenant.created" : "user.signup"));
      advance(1);
    }
    const second = ids[1]!;

    // One attempt per tick: each tick sends the next event whose time has come (the failed ones back off).
    for (let i = 0; i < 20 && (await config(app))!.disabledAt === null; i++) await delivery.deliverDue();
    expect(receivedFor(app).length).toBe(10);
    const disabled = (await config(app))!;
    expect(disabled.consecutiveFailures).toBe(10);
    expect(disabled.disabledReason).toContain("10 consecutive events could not be delivered");
    const read = await ctx.call("GET", HOOK, { params: { app_id: app.id } });
    expect(read.body.disabled_at).toBe(new Date(disabled.disabledAt!).toISOString());
    expect(read.body.disabled_reason).toBe(disabled.disabledReason);
    const audit = await auditRows(ctx, { app_id: app.id, action: "webhook.disabled" });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor_type: "system", resource_id: configId });
    expect(ctx.log.lines.some((l) => l.includes("webhook disabled after consecutive failures"))).toBe(true);

    // Disabled: nothing is sent, and an event meanwhile is not queued for it.
    const during = await emit(app, "user.signup");
    expect(await deliveryOf(during)).toBeUndefined();
    advance(HOUR);
    expect(await delivery.deliverDue()).toEqual({ delivered: 0, failed: 0 });
    expect(receivedFor(app).length).toBe(10);
    const refused = await ctx.call("POST", `${HOOK}/replay`, {
      params: { app_id: app.id },
      body: { since },
      unchecked: true,
    });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("WEBHOOK_DISABLED");

    // PUT re-enables; replay sends what was missed, with the original ids and attempt numbers from 1.
    behaviour = () => new Response(null, { status: 204 });
    const put = await ctx.call("PUT", HOOK, {
      params: { app_id: app.id },
      body: { url: hookUrl(), event_types: [] },
    });
    expect(put.body).toMatchObject({ disabled_at: null, disabled_reason: null, consecutive_failures: 0 });
    received = [];
    const replay = await ctx.call("POST", `${HOOK}/replay`, {
      params: { app_id: app.id },
      body: { since },
      unchecked: true,
    });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ queued: 11 });
    const replayed = await auditRows(ctx, { app_id: app.id, action: "webhook.replayed" });
    expect(replayed.at(-1)!.details).toMatchObject({ since, queued: 11 });
    for (let i = 0; i < 11; i++) await delivery.deliverDue();
    const got = new Set(receivedFor(app).map((r) => r.id));
    expect(got).toEqual(new Set([...ids, during]));
    expect(receivedFor(app).every((r) => r.verifiedBy.length === 1)).toBe(true);
    expect(await deliveryOf(second)).toMatchObject({ status: "delivered", attempts: 1 });
  });

  test("one event failing all its retries counts once: the destination stays enabled", async () => {
    const app = await createApp(ctx, "deliver-poison");
    await configure(app);
    behaviour = () => new Response("no", { status: 500 });
    const id = await emit(app, "user.signup");
    for (let i = 0; i < 12; i++) {
      await delivery.deliverDue();
      await advanceToNextAttempt(app);
    }
    expect((await deliveryOf(id))!.attempts).toBeGreaterThanOrEqual(9);
    expect(await config(app)).toMatchObject({ disabledAt: null, consecutiveFailures: 1 });
  });

  test("a delivery still failing 24 h after it was queued is marked failed and not retried", async () => {
    const app = await createApp(ctx, "deliver-window");
    await configure(app);
    const doomed = await emit(app, "user.signup", { doomed: true });
    // Other events succeed in between, so the destination is never disabled: only the window ends it.
    behaviour = (r) =>
      (r.payload.data as { doomed?: boolean }).doomed
        ? new Response(null, { status: 500 })
        : new Response(null, { status: 204 });
    for (let i = 0; i < 20 && (await deliveryOf(doomed))!.status === "pending"; i++) {
      await delivery.deliverDue();
      await emit(app, "tenant.created");
      await delivery.deliverDue();
      await advanceToNextAttempt(app);
    }
    const row = (await deliveryOf(doomed))!;
    expect(row.status).toBe("failed");
    expect(row.lastAttemptAt! - row.createdAt).toBeLessThan(24 * HOUR);
    expect((await config(app))!.disabledAt).toBeNull();
    const tries = received.filter((r) => r.id === doomed).length;
    expect(tries).toBe(row.attempts);
    advance(24 * HOUR);
    await delivery.deliverDue();
    expect(received.filter((r) => r.id === doomed).length).toBe(tries);
  });

  test("replay narrows to the subscribed types and the requested ones", async () => {
    const app = await createApp(ctx, "deliver-replay");
    await configure(app, ["user.signup", "tenant.created"]);
    const since = new Date(ctx.clock.now()).toISOString();
    const signup = await emit(app, "user.signup");
    await emit(app, "tenant.created");
    await emit(app, "user.deleted");
    await delivery.deliverDue();
    expect(received.length).toBe(2);
    received = [];
    const res = await ctx.call("POST", `${HOOK}/replay`, {
      params: { app_id: app.id },
      body: { since, event_types: ["user.signup", "user.deleted"] },
      unchecked: true,
    });
    expect(res.body).toEqual({ queued: 1 });
    await delivery.deliverDue();
    expect(received.map((r) => r.id)).toEqual([signup]);
    const again = await ctx.deps.db
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.eventId, signup), eq(webhookDeliveries.status, "delivered")));
    expect(again).toHaveLength(1);
  });
});

describe("retention", () => {
  test("after 30 days attempts, finished deliveries and events nothing needs are pruned; an event still owed stays", async () => {
    const app = await createApp(ctx, "deliver-retention");
    await configure(app, ["user.signup"]);
    const done = await emit(app, "user.signup");
    const unsubscribed = await emit(app, "user.deleted");
    await delivery.deliverDue();
    expect((await deliveryOf(done))!.status).toBe("delivered");
    const eventIds = async () =>
      new Set((await ctx.deps.db.select({ id: events.id }).from(events)).map((e) => e.id));
    advance(29 * DAY);
    await delivery.prune();
    expect((await eventIds()).has(done)).toBe(true);
    expect(await deliveryOf(done)).toBeDefined();
    expect(await attempts(app)).toHaveLength(1);
    advance(2 * DAY);
    // Owed (pending, as a disabled or backing-off destination's would be) when retention runs.
    const owed = await emit(app, "user.signup");
    await ctx.deps.db
      .update(events)
      .set({ createdAt: ctx.clock.now() - 31 * DAY })
      .where(eq(events.id, owed));
    const pruned = await delivery.prune();
    expect(pruned.attempts).toBeGreaterThanOrEqual(1);
    expect(pruned.deliveries).toBeGreaterThanOrEqual(1);
    expect(pruned.events).toBeGreaterThanOrEqual(2);
    const left = await eventIds();
    expect(left.has(done)).toBe(false);
    expect(left.has(unsubscribed)).toBe(false);
    expect(left.has(owed)).toBe(true);
    expect(await deliveryOf(done)).toBeUndefined();
    expect((await deliveryOf(owed))!.status).toBe("pending");
    expect(await attempts(app)).toEqual([]);
  });
});

describe("docs/webhooks.md receiver recipes", () => {
  const PAGE = readFileSync(join(ROOT, "docs/webhooks.md"), "utf8");
  const recipe = (name: string) => {
    const m = PAGE.match(new RegExp(`^\`\`\`\\w+ recipe=${name}\\n([\\s\\S]*?)^\`\`\`$`, "m"));
    if (!m) throw new Error(`docs/webhooks.md has no recipe=${name} block`);
    return m[1]!;
  };
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "heimdall-webhook-recipes-"));
    symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** Starts the recipe as a receiver on a free port, points an app's webhook at it, and delivers to it. */
  async function runRecipe(name: string, file: string, cmd: string[]) {
    writeFileSync(join(work, file), recipe(name));
    // The recipes check the timestamp against the real time: sign with it.
    const real = await createTestContext();
    setSystemTime();
    real.clock.set(Date.now());
    const app = await createApp(real, `recipe-${name}`);
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const port = probe.port!;
    probe.stop(true);
    const put = await real.call("PUT", HOOK, {
      params: { app_id: app.id },
      body: { url: `http://127.0.0.1:${port}/hook`, event_types: [] },
    });
    const proc = Bun.spawn(cmd, {
      cwd: work,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        WEBHOOK_SECRET: put.body.signing_secret,
        PORT: String(port),
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const good = await tx(
        real.deps.db,
        async () => await real.deps.events.emit({ type: "user.signup", appId: app.id, data: {} }),
      );
      const worker = createWebhookDelivery({ ...real.deps, policy: policyOf(real), timeoutMs: 2_000 });
      // Until the receiver listens: a refused connection is a failed attempt; the next one goes at once.
      for (let i = 0; i < 100 && (await worker.deliverDue()).delivered === 0; i++) {
        await real.deps.db.update(webhookDeliveries).set({ nextAttemptAt: real.clock.now() });
        await real.deps.db.update(webhookConfigs).set({ consecutiveFailures: 0 });
        await Bun.sleep(50);
      }
      expect(
        (
          await real.deps.db
            .select()
            .from(webhookDeliveries)
            .where(eq(webhookDeliveries.eventId, good))
            .limit(1)
        )[0]!.status,
      ).toBe("delivered");
      // A forged delivery (signed with another secret) is refused with 400.
      const body = JSON.stringify({
        id: "forged",
        type: "user.deleted",
        created_at: "",
        app_id: app.id,
        data: {},
      });
      const ts = Math.floor(Date.now() / 1000);
      const forged = await fetch(`http://127.0.0.1:${port}/hook`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "webhook-id": "forged",
          "webhook-timestamp": String(ts),
          "webhook-signature": new Webhook(`whsec_${Buffer.alloc(32, 7).toString("base64")}`).sign(
            "forged",
            new Date(ts * 1000),
            body,
          ),
        },
        body,
      });
      expect(forged.status).toBe(400);
      // So is a request without the signature headers.
      const unsigned = await fetch(`http://127.0.0.1:${port}/hook`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      expect(unsigned.status).toBe(400);
      // A second delivery of the same event (a replay) is acknowledged and not printed twice.
      const replay = await real.call("POST", `${HOOK}/replay`, {
        params: { app_id: app.id },
        body: { since: "2000-01-01T00:00:00Z" },
        unchecked: true,
      });
      expect(replay.body).toEqual({ queued: 1 });
      expect(await worker.deliverDue()).toEqual({ delivered: 1, failed: 0 });
      proc.kill();
      await proc.exited;
      const out = await new Response(proc.stdout).text();
      expect(out.trim().split("\n")).toEqual([`user.signup ${good}`]);
    } finally {
      proc.kill();
      real.deps.db.$client.close();
      setSystemTime(new Date(ctx.clock.now()));
    }
  }

  test("Node with standardwebhooks: verifies a real delivery, refuses a forged one, prints each event once", async () => {
    await runRecipe("verify-node", "receiver.mjs", ["node", "receiver.mjs"]);
  }, 20_000);

  test("Python with the standard library: the same", async () => {
    await runRecipe("verify-python", "receiver.py", ["/usr/bin/python3", "receiver.py"]);
  }, 20_000);
});
