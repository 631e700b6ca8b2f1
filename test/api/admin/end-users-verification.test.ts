/**
 * @module One verification-email flow behind two surfaces: the Admin API's resend-verification and the
 * Consumer's `auth/send-verification-email` spend one per-address email allowance and write the same rows.
 */
import { beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { EMAILS_PER_ADDRESS } from "../../../src/codes/service.ts";
import { queryRow } from "../../support/end-users.ts";
import { auditRows, createApp, type TestApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import {
  codeIn,
  codeRows,
  deliveredMail,
  enableEmail,
  freshWindows,
  insertUser,
  outboxRows,
  submitVerify,
} from "../consumer/codes-fixtures.ts";

const RESEND = "/v1/apps/{app_id}/end-users/{user_id}/resend-verification";

let ctx: TestContext;
let app: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "one-flow");
  await enableEmail(ctx, app.id);
});

beforeEach(() => freshWindows(ctx));

const workspaceOf = async (appId: string) =>
  String((await queryRow(ctx, "SELECT workspace_id FROM apps WHERE id = ?", appId))!.workspace_id);

const resend = (userId: string) =>
  ctx.call("POST", RESEND, { params: { app_id: app.id, user_id: userId }, unchecked: true });
const consumerSend = (email: string) =>
  ctx.call("POST", "/{app_slug}/v1/auth/send-verification-email", {
    params: { app_slug: app.slug },
    body: { email },
    unchecked: true,
  });

describe("one allowance per address", () => {
  test("operator resends count against the address's code emails, and the Consumer route then answers 429", async () => {
    const u = await insertUser(ctx, app, "shared-cap");
    for (let i = 0; i < EMAILS_PER_ADDRESS; i++) expect((await resend(u.id)).status).toBe(201);
    const capped = await consumerSend("shared-cap@example.test");
    expect(capped.status).toBe(429);
    expect(capped.body.code).toBe("RATE_LIMITED");
    expect(capped.headers.get("retry-after")).toBeTruthy();
  });

  test("Consumer sends count against the operator's resend too: 429, and no code is minted for it", async () => {
    const u = await insertUser(ctx, app, "shared-cap-2");
    for (let i = 0; i < EMAILS_PER_ADDRESS; i++) {
      expect((await consumerSend("shared-cap-2@example.test")).status).toBe(201);
    }
    const before = (await codeRows(ctx, app.id)).length;
    const capped = await resend(u.id);
    expect(capped.status).toBe(429);
    expect(capped.body.code).toBe("RATE_LIMITED");
    expect(await codeRows(ctx, app.id)).toHaveLength(before);
  });

  test("a phone contact is never emailed, so its resends spend no email allowance", async () => {
    const u = await insertUser(ctx, app, "phone-only", { phone: "+14155550199", emailVerified: true });
    const params = { app_id: app.id, user_id: u.id, contact_id: u.phoneContactId! };
    const outbox = (await outboxRows(ctx, app.id)).length;
    for (let i = 0; i <= EMAILS_PER_ADDRESS; i++) {
      const res = await ctx.call(
        "POST",
        "/v1/apps/{app_id}/end-users/{user_id}/contacts/{contact_id}/resend-verification",
        { params },
      );
      expect(res.status).toBe(201);
      expect(res.body.code).toMatch(/^\d{6}$/);
    }
    expect(await outboxRows(ctx, app.id)).toHaveLength(outbox);
    expect(
      await auditRows(ctx, {
        app_id: app.id,
        action: "contact.verification_sent",
        resource_id: u.phoneContactId,
      }),
    ).toHaveLength(0);
  });
});

describe("the rows of an operator's emailed code", () => {
  test("one code: issued into the response, queued for the inbox, audited on the app's chain naming the workspace", async () => {
    const u = await insertUser(ctx, app, "rows");
    const res = await resend(u.id);
    expect(res.status).toBe(201);
    const issued = (await auditRows(ctx, { app_id: app.id, action: "code.issued" })).at(-1)!;
    const sent = (await auditRows(ctx, { app_id: app.id, action: "contact.verification_sent" })).at(-1)!;
    const mail = (await outboxRows(ctx, app.id)).at(-1)!;
    expect(issued).toMatchObject({
      actor_type: "pak",
      resource_id: u.emailContactId,
      details: { purpose: "verification", contact_type: "email", user_id: u.id, delivery: "response" },
    });
    expect(sent).toMatchObject({
      chain: app.id,
      workspace_id: await workspaceOf(app.id),
      actor_type: "pak",
      actor_id: issued.actor_id,
      resource_id: u.emailContactId,
      details: { user_id: u.id, outbox_id: mail.id },
    });
    // The issuance comes first, in the same request.
    expect(sent.seq).toBeGreaterThan(issued.seq);
    expect(sent.request_id).toBe(issued.request_id);
    expect(codeIn(deliveredMail(ctx, mail.id).text)).toBe(res.body.code);
    expect((await submitVerify(ctx, app, res.body.code)).status).toBe(200);
  });
});
