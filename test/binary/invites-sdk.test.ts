/**
 * @module End-user invites through the compiled binary with the official SDK (`@productcraft/heimdall`):
 * `app.invites.create/list/revoke` and `consumer.auth.acceptInvite`, the invitation arriving at a real SMTP
 * server (`smtp-server` on 127.0.0.1) with a code that works, and a revoked invite's code refused with 410.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Heimdall, HeimdallHttpError } from "@productcraft/heimdall";
import { SMTPServer } from "smtp-server";
import { type Appliance, startAppliance } from "./support.ts";

const PAK = `pcft_live_${"V".repeat(43)}`;
const SLUG = "invites-sdk";
const PASSWORD = "Analytical-Engine-1837";
const CODE = /inv_[A-Za-z0-9_-]{43}/;

interface Received {
  to: string[];
  raw: string;
}
const received: Received[] = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS", "AUTH"],
  logger: false,
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      received.push({
        to: session.envelope.rcptTo.map((a) => a.address),
        raw: Buffer.concat(chunks).toString("utf8"),
      });
      callback();
    });
  },
});

let appliance: Appliance;

beforeAll(async () => {
  await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
  const { port } = smtp.server.address() as { port: number };
  appliance = await startAppliance("invites-sdk", PAK, {
    HEIMDALL_EMAIL_MODE: "smtp",
    HEIMDALL_SMTP_URL: `smtp://127.0.0.1:${port}`,
    HEIMDALL_EMAIL_FROM: "Heimdall <no-reply@heimdall.test>",
  });
}, 60_000);

afterAll(async () => {
  if (appliance) expect(await appliance.dispose()).toBe(0);
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

/** The message to `to`, quoted-printable decoded (ASCII is all it holds), once it has arrived. */
async function mailTo(to: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const m = received.find((r) => r.to.includes(to));
    if (m)
      return m.raw
        .replace(/=\r?\n/g, "")
        .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    await Bun.sleep(50);
  }
  throw new Error(`no mail to ${to}`);
}

describe("invites with @productcraft/heimdall against the appliance", () => {
  test("create → the email arrives over SMTP → acceptInvite signs the invitee in; list and revoke", async () => {
    const { baseUrl } = appliance;
    // biome-ignore lint/suspicious/noExplicitAny: the SDK's generated types are not what this test checks.
    const sdk: any = new Heimdall({ baseUrl, auth: { type: "apiKey", key: PAK } });
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    const anonymous: any = new Heimdall({ baseUrl });
    const app = await sdk.apps.create({ slug: SLUG, display_name: "Invites SDK" });
    const settings = await fetch(`${baseUrl}/v1/apps/${app.id}/notification-settings`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
      body: JSON.stringify({ notifications_via_envoi: true, web_origin: "https://portal.example.test" }),
    });
    expect(settings.status).toBe(200);
    const admin = sdk.app(app.id);
    const consumer = anonymous.consumer(SLUG);

    const invite = await admin.invites.create({ email: "ada@example.test", role_name: "admin", name: "Ada" });
    expect(invite).toMatchObject({
      email: "ada@example.test",
      role_name: "admin",
      use_count: 0,
      max_uses: 1,
    });
    expect(invite.code).toMatch(CODE);

    const mail = await mailTo("ada@example.test");
    expect(mail).toContain("Subject: You're invited to Invites SDK");
    expect(mail).toContain(`https://portal.example.test/accept-invite?code=${invite.code}`);
    const code = CODE.exec(mail)![0];
    expect(code).toBe(invite.code);

    const tokens = await consumer.auth.acceptInvite({ code, password: PASSWORD, username: "ada" });
    expect(tokens.token_type).toBe("Bearer");
    const claims = await sdk.consumer(SLUG).verifyToken(tokens.access_token);
    expect(claims).toMatchObject({ role: "admin" });
    // The email was proven by the invitation: it signs in at once.
    const signedIn = await consumer.auth.signin({ identifier: "ada@example.test", password: PASSWORD });
    expect(signedIn.access_token).toBeString();

    const page = await admin.invites.list();
    expect(page.data).toHaveLength(1);
    expect(page.data[0]).toMatchObject({
      id: invite.id,
      use_count: 1,
      code: `inv_…${invite.code.slice(-4)}`,
    });

    const second = await admin.invites.create({ email: "babbage@example.test" });
    await admin.invites.revoke(second.id);
    const listed = await admin.invites.list();
    expect(listed.data.find((i: { id: string }) => i.id === second.id).revoked_at).toBeString();
    const secondCode = CODE.exec(await mailTo("babbage@example.test"))![0];
    expect(secondCode).toBe(second.code);
    const error = await consumer.auth
      .acceptInvite({ code: secondCode, password: PASSWORD })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeimdallHttpError);
    expect(error.status).toBe(410);
    expect(error.data).toMatchObject({ code: "INVITE_EXPIRED" });
  }, 60_000);
});
