/**
 * @module send-verification-email and send-password-reset-email in `EMAIL_MODE=log`: the 412 preconditions
 * (checked before any contact lookup), the `{}` branches, lanes, the outbox row written with the code, the
 * per-address cap, the portal link, the welcome email, and 503 ENVOI_NOT_WIRED.
 */

import { beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { ConfigError } from "../../../src/config/index.ts";
import { exec } from "../../../src/db/query.ts";
import { queryRows } from "../../support/end-users.ts";
import { auditRows, createApp } from "../../support/fixtures.ts";
import { type Auth, createTestContext, type TestContext } from "../../support/harness.ts";
import {
  allow,
  type CodesApp,
  codeIn,
  codeRows,
  deliveredMail,
  enableEmail,
  freshWindows,
  insertPak,
  insertUser,
  outboxRows,
  sentMail,
  submitReset,
  submitVerify,
} from "./codes-fixtures.ts";

let ctx: TestContext;
let app: CodesApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "mail-app", { display_name: `Acme <b>"Portal"</b>` });
  await insertUser(ctx, app, "unverified");
  await insertUser(ctx, app, "verified", { emailVerified: true });
});

beforeEach(() => freshWindows(ctx));

const send = (
  kind: "verification" | "password-reset",
  email: unknown,
  opts: { auth?: Auth; unchecked?: boolean; slug?: string } = {},
) =>
  ctx.call("POST", `/{app_slug}/v1/auth/send-${kind}-email`, {
    params: { app_slug: opts.slug ?? app.slug },
    body: email === undefined ? undefined : { email },
    auth: opts.auth,
    unchecked: opts.unchecked,
  });

const settings = (body: Record<string, unknown>) =>
  ctx.call("PATCH", "/v1/apps/{app_id}/notification-settings", { params: { app_id: app.id }, body });

describe("preconditions, in order, whatever the contact; each refusal names its fix", () => {
  const contacts = ["unverified@example.test", "verified@example.test", "nobody@example.test"];

  test("notifications off (the default) → 412 ENVOI_NOT_ENABLED with the PATCH that switches them on", async () => {
    for (const email of contacts) {
      for (const kind of ["verification", "password-reset"] as const) {
        const res = await send(kind, email);
        expect(res.status).toBe(412);
        expect(res.body.code).toBe("ENVOI_NOT_ENABLED");
        expect(res.body.message).toBe(
          `Email notifications are off for this app: PATCH /v1/apps/${app.id}/notification-settings {"notifications_via_envoi": true}`,
        );
      }
    }
  });

  test("in log mode, switching notifications on is the one step: the sender is heimdall@localhost, the templates the built-in ones", async () => {
    sentMail(ctx); // taps the transport before anything is sent
    const fresh = await createApp(ctx, "one-step-app", { display_name: "One Step" });
    await insertUser(ctx, fresh, "newcomer");
    await insertUser(ctx, fresh, "resetter", { emailVerified: true });
    const sendFor = (kind: "verification" | "password-reset", email: string) =>
      ctx.call("POST", `/{app_slug}/v1/auth/send-${kind}-email`, {
        params: { app_slug: fresh.slug },
        body: { email },
      });
    expect((await sendFor("verification", "newcomer@example.test")).body.code).toBe("ENVOI_NOT_ENABLED");
    const on = await ctx.call("PATCH", "/v1/apps/{app_id}/notification-settings", {
      params: { app_id: fresh.id },
      body: { notifications_via_envoi: true },
    });
    expect(on.status).toBe(200);
    // The settings still read as stored: an empty slot means the built-in template.
    expect(on.body).toMatchObject({
      default_sender_address: null,
      verification_template_name: null,
      password_reset_template_name: null,
    });

    const verification = await sendFor("verification", "newcomer@example.test");
    expect(verification.status).toBe(201);
    const reset = await sendFor("password-reset", "resetter@example.test");
    expect(reset.status).toBe(201);
    const rows = await outboxRows(ctx, fresh.id);
    expect(rows.map((r) => ({ to: r.to, from: r.from, subject: r.subject, status: r.status }))).toEqual([
      {
        to: "newcomer@example.test",
        from: "heimdall@localhost",
        subject: "Verify your email for One Step",
        status: "sent",
      },
      {
        to: "resetter@example.test",
        from: "heimdall@localhost",
        subject: expect.stringContaining("One Step"),
        status: "sent",
      },
    ]);
    // The code in the first email verifies the address.
    const code = codeIn(deliveredMail(ctx, rows[0]!.id).text);
    expect((await submitVerify(ctx, fresh, code)).status).toBe(200);
    expect(await codeRows(ctx, fresh.id)).toHaveLength(2);
  });

  test("a slot naming a template this server does not ship → 412 ENVOI_TEMPLATE_NOT_CONFIGURED naming the slot and the fix", async () => {
    expect((await settings({ notifications_via_envoi: true })).status).toBe(200);
    // Only a row written by another version (or by hand) can hold such a name: the PATCH refuses it.
    await exec(
      ctx.deps.db,
      sql`UPDATE notification_settings SET password_reset_template_name = 'acme-reset-v0' WHERE app_id = ${app.id}`,
    );
    for (const email of contacts) {
      const res = await send("password-reset", email);
      expect(res.status).toBe(412);
      expect(res.body.code).toBe("ENVOI_TEMPLATE_NOT_CONFIGURED");
      expect(res.body.message).toBe(
        `The app's password_reset_template_name "acme-reset-v0" is not a built-in template: ` +
          `PATCH /v1/apps/${app.id}/notification-settings {"password_reset_template_name": null} to use heimdall-password-reset`,
      );
    }
    expect(await outboxRows(ctx, app.id)).toHaveLength(0);
    expect(await codeRows(ctx, app.id)).toHaveLength(0);
    // The fix the message gives works.
    expect((await settings({ password_reset_template_name: null })).status).toBe(200);
    expect((await send("password-reset", "verified@example.test")).status).toBe(201);
    expect((await settings({ notifications_via_envoi: false })).status).toBe(200);
  });
});

describe("EMAIL_MODE=smtp without HEIMDALL_EMAIL_FROM", () => {
  test("→ 412 ENVOI_SENDER_NOT_CONFIGURED naming both places a sender can be set, until one is", async () => {
    // Port 9 (discard): nothing is sent, since the refusal comes before any delivery.
    const smtp = await createTestContext({ HEIMDALL_SMTP_URL: "smtp://127.0.0.1:9" });
    const a = await createApp(smtp, "no-sender-app");
    await insertUser(smtp, a, "someone");
    const call = () =>
      smtp.call("POST", "/{app_slug}/v1/auth/send-verification-email", {
        params: { app_slug: a.slug },
        body: { email: "someone@example.test" },
      });
    await enableEmail(smtp, a.id, { default_sender_address: null });
    const res = await call();
    expect(res.status).toBe(412);
    expect(res.body.code).toBe("ENVOI_SENDER_NOT_CONFIGURED");
    expect(res.body.message).toBe(
      "No sender address: set HEIMDALL_EMAIL_FROM on the server (email_from in the config file), " +
        `or PATCH /v1/apps/${a.id}/notification-settings {"default_sender_address": "no-reply@example.com"}`,
    );
    expect(await outboxRows(smtp, a.id)).toHaveLength(0);
    expect(await codeRows(smtp, a.id)).toHaveLength(0);
  });
});

describe("sending", () => {
  beforeAll(async () => {
    await enableEmail(ctx, app.id);
  });

  test("verification: 201 {expires_at}, no code in the response; the delivered email carries it (the row a masked copy) and it verifies", async () => {
    const res = await send("verification", "Unverified@Example.test");
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ expires_at: new Date(ctx.clock.now() + 10 * 60_000).toISOString() });

    const row = (await outboxRows(ctx, app.id)).at(-1)!;
    expect(row).toMatchObject({
      to: "unverified@example.test",
      from: "no-reply@acme.test",
      status: "sent",
      attempts: 1,
    });
    expect(row.sentAt).toBe(ctx.clock.now());
    // The display name is escaped in the HTML part and stripped of nothing in the text.
    expect(row.subject).toBe(`Verify your email for Acme <b>"Portal"</b>`);
    expect(row.html).toContain("Acme &lt;b&gt;&quot;Portal&quot;&lt;/b&gt;");
    expect(row.html).not.toContain("<b>");
    const sent = deliveredMail(ctx, row.id);
    const code = codeIn(sent.text);
    expect(sent.text).not.toContain("http");
    // The stored copy has the message's shape, not its code; the sealed original is gone with delivery.
    expect(row.text).toBe(sent.text.replace(code, "******"));
    expect(row.bodySecretId).toBeNull();
    const stored = [
      JSON.stringify(await queryRows(ctx, "SELECT * FROM email_outbox")),
      JSON.stringify(await queryRows(ctx, "SELECT * FROM vault_secrets")),
    ];
    for (const dump of stored) expect(dump).not.toContain(code);
    expect(stored[1]).not.toContain(`email_outbox:${row.id}`);

    const audit = (await auditRows(ctx, { app_id: app.id, action: "code.issued" })).at(-1)!;
    expect(audit.details).toMatchObject({ purpose: "verification", delivery: "email", outbox_id: row.id });
    expect(JSON.stringify(audit).includes(code)).toBe(false);

    const verified = await submitVerify(ctx, app, code);
    expect(verified.status).toBe(200);
    expect(verified.body.value).toBe("unverified@example.test");
  });

  test("password reset: 201; the emailed code resets the password", async () => {
    const res = await send("password-reset", "verified@example.test");
    expect(res.status).toBe(201);
    expect(Object.keys(res.body)).toEqual(["expires_at"]);
    const row = (await outboxRows(ctx, app.id)).at(-1)!;
    expect(row.subject).toBe(`Reset your Acme <b>"Portal"</b> password`);
    expect((await submitReset(ctx, app, codeIn(deliveredMail(ctx, row.id).text))).status).toBe(204);
    // The owner is told, by a notice without any code, queued with the change; the job delivers it.
    const notice = (await outboxRows(ctx, app.id)).at(-1)!;
    expect(notice).toMatchObject({
      to: "verified@example.test",
      status: "pending",
      subject: `Your Acme <b>"Portal"</b> password was changed`,
    });
    expect(await ctx.deps.email.deliverDue()).toEqual({ sent: 1, queued: 0, failed: 0 });
    expect(deliveredMail(ctx, notice.id).text).not.toMatch(/\d{6}/);
  });

  test.each([
    ["verification", "nobody@example.test", "unknown"],
    ["verification", "verified@example.test", "already verified"],
    ["password-reset", "nobody@example.test", "unknown"],
    ["password-reset", "fresh-unverified@example.test", "unverified"],
  ] as const)("%s to %s (%s) → {} and nothing queued", async (kind, email) => {
    if (email.startsWith("fresh")) await insertUser(ctx, app, "fresh-unverified");
    const before = (await outboxRows(ctx, app.id)).length;
    const res = await send(kind, email, { unchecked: true });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({});
    expect(await outboxRows(ctx, app.id)).toHaveLength(before);
  });

  test("with a web_origin the email links to the portal's /verify and /reset-password", async () => {
    expect((await settings({ web_origin: "https://portal.acme.test/" })).status).toBe(200);
    await insertUser(ctx, app, "linked", { emailVerified: false });
    await send("verification", "linked@example.test");
    const verifyRow = (await outboxRows(ctx, app.id)).at(-1)!;
    const verifyMail = deliveredMail(ctx, verifyRow.id);
    const code = codeIn(verifyMail.text);
    expect(verifyMail.text).toContain(`https://portal.acme.test/verify?code=${code}`);
    expect(verifyMail.html).toContain(`href="https://portal.acme.test/verify?code=${code}"`);
    expect(verifyRow.text).toContain("https://portal.acme.test/verify?code=******");
    await send("password-reset", "verified@example.test");
    const resetRow = (await outboxRows(ctx, app.id)).at(-1)!;
    const resetText = deliveredMail(ctx, resetRow.id).text;
    expect(resetText).toContain(`https://portal.acme.test/reset-password?code=${codeIn(resetText)}`);
    expect((await settings({ web_origin: null })).status).toBe(200);
  });

  test("a welcome template sends a welcome email after the first verification", async () => {
    expect((await settings({ welcome_template_name: "heimdall-welcome" })).status).toBe(200);
    await insertUser(ctx, app, "welcomed");
    await send("verification", "welcomed@example.test");
    const code = codeIn(deliveredMail(ctx, (await outboxRows(ctx, app.id)).at(-1)!.id).text);
    expect((await submitVerify(ctx, app, code)).status).toBe(200);
    const welcome = (await outboxRows(ctx, app.id)).at(-1)!;
    expect(welcome).toMatchObject({
      to: "welcomed@example.test",
      status: "pending",
      subject: `Welcome to Acme <b>"Portal"</b>`,
    });
    expect(
      (await auditRows(ctx, { app_id: app.id, action: "contact.verified" })).at(-1)!.details
        ?.welcome_outbox_id,
    ).toBe(welcome.id);
    // The delivery job sends it.
    expect(await ctx.deps.email.deliverDue()).toEqual({ sent: 1, queued: 0, failed: 0 });
    expect((await outboxRows(ctx, app.id)).find((r) => r.id === welcome.id)?.status).toBe("sent");
    expect((await settings({ welcome_template_name: null })).status).toBe(200);
  });

  test("a phone verification never sends a welcome email", async () => {
    expect((await settings({ welcome_template_name: "heimdall-welcome" })).status).toBe(200);
    await insertUser(ctx, app, "phoneonly", { email: null, phone: "+15553334444" });
    const mint = await ctx.call("POST", "/{app_slug}/v1/auth/request-verification", {
      params: { app_slug: app.slug },
      body: { phone: "+15553334444" },
    });
    const before = (await outboxRows(ctx, app.id)).length;
    expect((await submitVerify(ctx, app, mint.body.code)).status).toBe(200);
    expect(await outboxRows(ctx, app.id)).toHaveLength(before);
    expect((await settings({ welcome_template_name: null })).status).toBe(200);
  });

  test("at most 5 code emails per address per 15 minutes → then 429 RATE_LIMITED, known address or not", async () => {
    for (const email of ["verified@example.test", "ghost@example.test"]) {
      for (let i = 0; i < 5; i++) {
        const res = await send("password-reset", email, { unchecked: true });
        expect(res.status).toBe(201);
      }
      const capped = await send("password-reset", email);
      expect(capped.status).toBe(429);
      expect(capped.body.code).toBe("RATE_LIMITED");
      expect(capped.headers.get("retry-after")).toBeTruthy();
    }
  });

  test("validation: a missing or malformed email → 400", async () => {
    for (const email of [undefined, "not-an-email", 7]) {
      const res = await send("verification", email);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
    }
  });
});

describe("lanes", () => {
  test("no PAK → 401", async () => {
    for (const kind of ["verification", "password-reset"] as const) {
      const res = await send(kind, "verified@example.test", { auth: null });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("UNAUTHORIZED");
    }
  });

  test.each([
    ["verification", ["heimdall.user.verify.create"]],
    ["password-reset", ["heimdall.user.password-reset.create"]],
    ["verification", ["heimdall.user.password-reset.send-email"]],
    ["password-reset", ["heimdall.user.verify.send-email"]],
  ] as const)("send-%s-email with a PAK allowed only %p → 403 POLICY_DENIED", async (kind, actions) => {
    const pak = await insertPak(ctx, [allow([...actions])]);
    const res = await send(kind, "verified@example.test", { auth: { pak: pak.token } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("POLICY_DENIED");
  });

  test("a PAK allowed exactly the send action passes", async () => {
    const pak = await insertPak(ctx, [
      allow(["heimdall.user.verify.send-email"], [`pcft:heimdall:app/${app.id}`]),
    ]);
    await insertUser(ctx, app, "narrow");
    const res = await send("verification", "narrow@example.test", { auth: { pak: pak.token } });
    expect(res.status).toBe(201);
    expect((await auditRows(ctx, { app_id: app.id, action: "code.issued" })).at(-1)!.actor_id).toBe(pak.id);
  });
});

describe("EMAIL_MODE=smtp without an SMTP URL", () => {
  test("is refused at start-up, naming the setting, instead of answering 503 ENVOI_NOT_WIRED at the first send", async () => {
    await expect(
      createTestContext({ HEIMDALL_EMAIL_MODE: "smtp", HEIMDALL_EMAIL_FROM: "no-reply@heimdall.test" }),
    ).rejects.toThrow(
      new ConfigError(
        "HEIMDALL_EMAIL_MODE (env): email mode smtp needs an SMTP URL: set HEIMDALL_SMTP_URL (smtp_url in the config file), or use email mode log",
      ),
    );
  });
});
