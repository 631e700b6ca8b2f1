/**
 * @module The Admin API additions behind the console's pages: `GET /v1/apps/{app_id}/audit-logs/verify`
 * (the app's hash chain, intact or broken, authorised as audit reading) and the dev inbox's
 * `delivered_text` on the outbox (log mode only, in memory, bounded in age and count); and the webhook
 * page's event-type checkboxes staying the server's list.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { WEBHOOK_EVENT_TYPES } from "../../../src/console/ui/webhook-events.ts";
import { MINUTE } from "../../../src/core/clock.ts";
import { exec, rows } from "../../../src/db/query.ts";
import { createDevInbox, DEV_INBOX_MAX } from "../../../src/email/dev-inbox.ts";
import contract from "../../../src/http/openapi-contract.json" with { type: "json" };
import { auditChainStatusSchema } from "../../../src/http/openapi-schemas.ts";
import { type AppBody, createApp, insertEndUser } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { expectErrorShape } from "../../support/openapi.ts";
import { allow, errCode, insertPak } from "./fixtures.ts";

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});

describe("GET /v1/apps/{app_id}/audit-logs/verify", () => {
  let app: AppBody;
  let other: AppBody;

  beforeAll(async () => {
    app = await createApp(ctx, "chained");
    other = await createApp(ctx, "bystander");
    for (const name of ["One", "Two", "Three"])
      expect(
        (
          await ctx.call("PATCH", "/v1/apps/{app_id}", {
            params: { app_id: app.id },
            body: { display_name: name },
          })
        ).status,
      ).toBe(200);
  });

  const verify = (appId: string, auth?: { pak: string }) =>
    ctx
      .call("GET", "/v1/apps/{app_id}/audit-logs/verify", {
        params: { app_id: appId },
        auth,
        unchecked: true,
      })
      .then((res) => {
        // Not in the vendored contract: successes match the documented schema, errors the wire error shape.
        if (res.status === 200) auditChainStatusSchema.parse(res.body);
        else expectErrorShape(res.body);
        return res;
      });

  // seq is a bigint: a string on PostgreSQL.
  const rowsOf = async (appId: string) =>
    (
      await rows<{ seq: number | string }>(
        ctx.deps.db,
        sql`SELECT seq FROM audit_log WHERE app_id = ${appId} ORDER BY seq`,
      )
    ).map((r) => ({ seq: Number(r.seq) }));

  test("an intact chain: ok with the number of the app's rows walked, and no audit row for the read", async () => {
    const before = (await rowsOf(app.id)).length;
    const res = await verify(app.id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, rows: before, pruned: 0, first_break: null });
    expect((await rowsOf(app.id)).length).toBe(before);
  });

  test("an edited row breaks the chain at that row; another app's chain stays intact", async () => {
    const victim = (await rowsOf(app.id))[1]!.seq;
    await exec(
      ctx.deps.db,
      sql`UPDATE audit_log SET details = '{"display_name":"forged"}' WHERE seq = ${victim}`,
    );
    const res = await verify(app.id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ok: false,
      rows: null,
      pruned: null,
      first_break: { seq: victim, reason: "hash mismatch" },
    });
    const bystander = await verify(other.id);
    expect(bystander.body).toMatchObject({ ok: true, first_break: null });
  });

  test("needs heimdall.audit.read, as reading the log does", async () => {
    const reader = await insertPak(ctx, [allow(["heimdall.read"])]);
    const refused = await verify(other.id, { pak: reader.token });
    expect(refused.status).toBe(403);
    const list = await ctx.call("GET", "/v1/apps/{app_id}/audit-logs", {
      params: { app_id: other.id },
      auth: { pak: reader.token },
    });
    expect(list.status).toBe(403);
    expect(errCode(refused)).toBe(errCode(list));
    const auditor = await insertPak(ctx, [allow(["heimdall.read", "heimdall.audit.read"])]);
    expect((await verify(other.id, { pak: auditor.token })).status).toBe(200);
  });

  test("an unknown app is 404 APP_NOT_FOUND", async () => {
    const res = await verify("01900000-0000-7000-8000-000000000000");
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe("APP_NOT_FOUND");
  });
});

describe("the dev inbox: the outbox's delivered_text", () => {
  async function mailingApp(c: TestContext, slug: string): Promise<AppBody> {
    const app = await createApp(c, slug);
    const res = await c.call("PATCH", "/v1/apps/{app_id}/notification-settings", {
      params: { app_id: app.id },
      body: { notifications_via_envoi: true, default_sender_address: "no-reply@acme.test" },
    });
    expect(res.status).toBe(200);
    await insertEndUser(c, app, "dora", { emailVerified: false });
    const sent = await c.call("POST", "/{app_slug}/v1/auth/send-verification-email", {
      params: { app_slug: app.slug },
      body: { email: "dora@example.test" },
    });
    expect(sent.status).toBe(201);
    return app;
  }
  const outbox = (c: TestContext, appId: string) =>
    c.call("GET", "/v1/apps/{app_id}/outbox", { params: { app_id: appId }, unchecked: true });

  test("log mode: the delivered text carries the code; the stored copy stays masked; gone after an hour", async () => {
    const app = await mailingApp(ctx, "inbox-app");
    const res = await outbox(ctx, app.id);
    expect(res.status).toBe(200);
    const m = res.body.data[0];
    expect(m.status).toBe("sent");
    expect(m.text).toContain("******");
    expect(m.delivered_text).toMatch(/\b\d{6}\b/);
    expect(m.delivered_text).not.toContain("******");
    // The row in the database never had the code.
    const stored = await rows<{ text: string }>(
      ctx.deps.db,
      sql`SELECT text FROM email_outbox WHERE id = ${m.id}`,
    );
    expect(stored[0]!.text).not.toMatch(/\b\d{6}\b/);
    ctx.clock.advance(61 * MINUTE);
    const later = await outbox(ctx, app.id);
    expect(later.body.data[0].delivered_text).toBeNull();
    expect(later.body.data[0].text).toBe(m.text);
  });

  test("SMTP mode keeps no delivered text", async () => {
    const smtp = await createTestContext({
      HEIMDALL_EMAIL_MODE: "smtp",
      HEIMDALL_SMTP_URL: "smtp://127.0.0.1:9",
    });
    const app = await mailingApp(smtp, "smtp-app");
    const res = await outbox(smtp, app.id);
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.data[0].delivered_text).toBeNull();
    expect(res.body.data[0].text).toContain("******");
  });

  test("the in-memory inbox is bounded in count (the oldest goes first)", () => {
    let now = 0;
    const inbox = createDevInbox({ clock: { now: () => now } });
    for (let i = 0; i <= DEV_INBOX_MAX; i++) {
      now++;
      inbox.keep({ id: `m${i}`, text: `code ${i}` });
    }
    expect(inbox.textOf("m0")).toBeUndefined();
    expect(inbox.textOf("m1")).toBe("code 1");
    expect(inbox.textOf(`m${DEV_INBOX_MAX}`)).toBe(`code ${DEV_INBOX_MAX}`);
  });
});

test("the webhook page offers every event type of the contract, and the server takes each one it offers", async () => {
  // biome-ignore lint/suspicious/noExplicitAny: the vendored contract is untyped JSON.
  const upsert = (contract as { heimdall: { schemas: Record<string, any> } }).heimdall.schemas
    .UpsertAppWebhookDto;
  const contractTypes: string[] = upsert.properties.event_types.items.enum;
  expect(contractTypes.filter((t) => !WEBHOOK_EVENT_TYPES.includes(t))).toEqual([]);
  const app = await createApp(ctx, "hook-types");
  const put = await ctx.call("PUT", "/v1/apps/{app_id}/webhook", {
    params: { app_id: app.id },
    body: { url: "http://127.0.0.1:9/hook", event_types: [...WEBHOOK_EVENT_TYPES] },
  });
  expect(put.status).toBe(200);
  expect([...put.body.event_types].sort()).toEqual([...WEBHOOK_EVENT_TYPES].sort());
});
