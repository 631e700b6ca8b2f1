/**
 * @module Webhook delivery from two instances on one PostgreSQL database: every instance runs the delivery job,
 * and concurrent runs send each delivery exactly once (the claim in `webhooks/delivery.ts`). PostgreSQL only:
 * on SQLite one process owns the database.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { sql } from "drizzle-orm";
import { tx } from "../../../src/db/client.ts";
import { closePostgres, openPostgresDatabase } from "../../../src/db/postgres.ts";
import { row } from "../../../src/db/query.ts";
import { buildDeps, type Deps } from "../../../src/deps.ts";
import { createWebhookDelivery, type WebhookDelivery } from "../../../src/webhooks/delivery.ts";
import { type AppBody, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { postgresServer } from "../../support/postgres.ts";

const onPostgres = process.env.HEIMDALL_TEST_DB === "postgres";

describe.skipIf(!onPostgres)("two instances deliver webhooks from one database", () => {
  let ctx: TestContext;
  let other: Deps;
  let receiver: Server<undefined>;
  const received: string[] = [];
  let instances: WebhookDelivery[];

  beforeAll(async () => {
    ctx = await createTestContext({
      HEIMDALL_WEBHOOK_ALLOW_HTTP: "true",
      HEIMDALL_WEBHOOK_ALLOW_PRIVATE: "true",
    });
    // The second instance: its own pool on the same database, its own graph.
    const { name } = (await row<{ name: string }>(ctx.deps.db, sql`SELECT current_database() AS "name"`))!;
    const db = openPostgresDatabase((await postgresServer()).url(name), { max: 4 });
    other = await buildDeps(ctx.deps.config, { clock: ctx.clock, log: ctx.log, db });
    receiver = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        received.push(req.headers.get("webhook-id") ?? "");
        // A little latency, so the two runs overlap.
        await Bun.sleep(Math.random() * 5);
        return new Response(null, { status: 204 });
      },
    });
    const policy = {
      allowHttp: true,
      allowPrivate: true,
      publicUrl: ctx.deps.config.publicUrl,
      listenPort: ctx.deps.config.port,
    };
    instances = [ctx.deps, other].map((d) =>
      createWebhookDelivery({
        db: d.db,
        clock: ctx.clock,
        vault: d.vault,
        audit: d.audit,
        log: ctx.log,
        policy,
        timeoutMs: 2_000,
      }),
    );
  });

  afterAll(async () => {
    receiver?.stop(true);
    if (other) await closePostgres(other.db);
  });

  test("concurrent runs on two instances send each delivery exactly once", async () => {
    const apps: AppBody[] = [];
    for (const slug of ["hooks-a", "hooks-b", "hooks-c"]) {
      const app = await createApp(ctx, slug);
      const res = await ctx.call("PUT", "/v1/apps/{app_id}/webhook", {
        params: { app_id: app.id },
        body: { url: `http://127.0.0.1:${receiver.port}/hook`, event_types: [] },
      });
      expect(res.status).toBe(200);
      apps.push(app);
    }
    const emitted: string[] = [];
    for (let i = 0; i < 15; i++)
      for (const app of apps)
        emitted.push(
          await tx(
            ctx.deps.db,
            async () => await ctx.deps.events.emit({ type: "user.updated", appId: app.id, data: { i } }),
          ),
        );

    // Two instances' ticks at once, again and again until nothing is due.
    for (let round = 0; round < 10; round++) {
      await Promise.all([instances[0]!.deliverDue(), instances[1]!.deliverDue(), instances[0]!.deliverDue()]);
      if ((await instances[0]!.pending()) === 0) break;
    }
    const mine = received.filter((id) => emitted.includes(id));
    expect(mine.length).toBe(emitted.length);
    expect(new Set(mine).size).toBe(emitted.length);
    expect(await instances[1]!.pending()).toBe(0);
  });
});
