/**
 * @module Code emails over a real SMTP conversation: an `smtp-server` on 127.0.0.1 receives the reset
 * email, its code resets the password and the new password signs in; a server answering 4yz leaves the
 * message to the outbox's retries (201), one answering 5yz fails it and the request (503 ENVOI_DISPATCH_FAILED).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { SMTPServer } from "smtp-server";
import { MINUTE } from "../../../src/core/clock.ts";
import { auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import {
  type CodesApp,
  codeIn,
  codeRows,
  enableEmail,
  freshWindows,
  insertUser,
  NEW_PASSWORD,
  outboxRows,
  PASSWORD,
  submitReset,
} from "./codes-fixtures.ts";

interface Received {
  from: string;
  to: string[];
  raw: string;
}

const received: Received[] = [];
/** What the server answers to RCPT TO; null accepts. */
let rcptReply: { code: number; message: string } | null = null;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS", "AUTH"],
  logger: false,
  onRcptTo(_address, _session, callback) {
    if (!rcptReply) return callback();
    const err = Object.assign(new Error(rcptReply.message), { responseCode: rcptReply.code });
    callback(err);
  },
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      received.push({
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
        to: session.envelope.rcptTo.map((a) => a.address),
        raw: Buffer.concat(chunks).toString("utf8"),
      });
      callback();
    });
  },
});

let ctx: TestContext;
let app: CodesApp;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as { port: number };
  ctx = await createTestContext({
    HEIMDALL_EMAIL_MODE: "smtp",
    HEIMDALL_SMTP_URL: `smtp://127.0.0.1:${port}`,
    HEIMDALL_EMAIL_FROM: "Heimdall <no-reply@heimdall.test>",
  });
  app = await createApp(ctx, "smtp-app", { display_name: "Acme" });
  // The config's sender stands in for the app's own.
  await enableEmail(ctx, app.id, { default_sender_address: null });
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  rcptReply = null;
  freshWindows(ctx);
});

const sendReset = (email: string) =>
  ctx.call("POST", "/{app_slug}/v1/auth/send-password-reset-email", {
    params: { app_slug: app.slug },
    body: { email },
  });

const signin = (identifier: string, password: string) =>
  ctx.call("POST", "/{app_slug}/v1/auth/signin", {
    params: { app_slug: app.slug },
    body: { identifier, password },
    auth: null,
  });

describe("a server that accepts", () => {
  test("the reset email reaches the user; its code resets the password; the new one signs in", async () => {
    await insertUser(ctx, app, "erin", { emailVerified: true, password: PASSWORD });
    const res = await sendReset("erin@example.test");
    expect(res.status).toBe(201);
    expect(Object.keys(res.body)).toEqual(["expires_at"]);

    // The request made the first attempt itself; the delivery job finds nothing left to do.
    expect(await ctx.deps.email.deliverDue()).toEqual({ sent: 0, queued: 0, failed: 0 });
    const mail = received.at(-1)!;
    expect(mail.to).toEqual(["erin@example.test"]);
    expect(mail.from).toBe("no-reply@heimdall.test");
    expect(mail.raw).toMatch(/^Subject: Reset your Acme password\r?$/m);
    const code = codeIn(mail.raw);
    expect((await outboxRows(ctx, app.id)).at(-1)).toMatchObject({ status: "sent", attempts: 1 });

    expect((await submitReset(ctx, app, code)).status).toBe(204);
    expect((await signin("erin@example.test", NEW_PASSWORD)).status).toBe(200);
    expect((await signin("erin@example.test", PASSWORD)).status).toBe(401);

    // The owner is told of the new password by the delivery job, without any code.
    expect(await ctx.deps.email.deliverDue()).toEqual({ sent: 1, queued: 0, failed: 0 });
    const notice = received.at(-1)!;
    expect(notice.to).toEqual(["erin@example.test"]);
    expect(notice.raw).toMatch(/^Subject: Your Acme password was changed\r?$/m);
    expect(notice.raw).not.toContain(code);
  });
});

describe("a server that refuses", () => {
  test("temporarily (451): 201, the outbox retries after a minute and the code arrives", async () => {
    await insertUser(ctx, app, "frank", { emailVerified: true });
    rcptReply = { code: 451, message: "Try again later" };
    const before = received.length;
    const res = await sendReset("frank@example.test");
    expect(res.status).toBe(201);
    const row = (await outboxRows(ctx, app.id)).at(-1)!;
    expect(row).toMatchObject({ to: "frank@example.test", status: "pending", attempts: 1 });
    expect(row.nextAttemptAt).toBe(ctx.clock.now() + MINUTE);
    expect(row.lastError).toContain("451");
    expect(received.length).toBe(before);

    rcptReply = null;
    expect(await ctx.deps.email.deliverDue()).toEqual({ sent: 0, queued: 0, failed: 0 });
    ctx.clock.advance(MINUTE);
    await ctx.deps.scheduler.runOnce("email.deliver");
    expect((await outboxRows(ctx, app.id)).find((r) => r.id === row.id)).toMatchObject({
      status: "sent",
      attempts: 2,
    });
    const mail = received.at(-1)!;
    expect(mail.to).toEqual(["frank@example.test"]);
    expect((await submitReset(ctx, app, codeIn(mail.raw))).status).toBe(204);
  });

  test("for good (550): 503 ENVOI_DISPATCH_FAILED, the row failed, the code withdrawn", async () => {
    const gina = await insertUser(ctx, app, "gina", { emailVerified: true });
    rcptReply = { code: 550, message: "No such mailbox" };
    const res = await sendReset("gina@example.test");
    expect(res.status).toBe(503);
    expect(res.body.code).toBe("ENVOI_DISPATCH_FAILED");
    const row = (await outboxRows(ctx, app.id)).at(-1)!;
    expect(row).toMatchObject({ to: "gina@example.test", status: "failed", attempts: 1 });
    expect(row.lastError).toContain("550");
    const codes = (await codeRows(ctx, app.id)).filter((c) => c.contactId === gina.emailContactId);
    expect(codes).toHaveLength(1);
    expect(codes[0]!.consumedAt).not.toBeNull();
    expect((await auditRows(ctx, { app_id: app.id, action: "email.failed" })).at(-1)!.resource_id).toBe(
      row.id,
    );
    expect((await auditRows(ctx, { app_id: app.id, action: "code.voided" })).at(-1)!.details).toMatchObject({
      reason: "dispatch_failed",
      outbox_id: row.id,
    });
    expect((await ctx.deps.audit.verify()).ok).toBe(true);

    // Once the server accepts again, a retry of the call goes through.
    rcptReply = null;
    const retry = await sendReset("gina@example.test");
    expect(retry.status).toBe(201);
    expect(received.at(-1)!.to).toEqual(["gina@example.test"]);
  });

  test("no server at all: 201 and the message waits in the outbox", async () => {
    const closed = await createTestContext({
      HEIMDALL_EMAIL_MODE: "smtp",
      HEIMDALL_SMTP_URL: "smtp://127.0.0.1:1",
      HEIMDALL_EMAIL_FROM: "no-reply@heimdall.test",
    });
    const a = await createApp(closed, "smtp-down");
    await enableEmail(closed, a.id);
    await insertUser(closed, a, "hank", { emailVerified: true });
    const res = await closed.call("POST", "/{app_slug}/v1/auth/send-password-reset-email", {
      params: { app_slug: a.slug },
      body: { email: "hank@example.test" },
    });
    expect(res.status).toBe(201);
    expect((await outboxRows(closed, a.id))[0]).toMatchObject({ status: "pending", attempts: 1 });
    expect((await outboxRows(closed, a.id))[0]!.lastError).toBeTruthy();
  });
});
