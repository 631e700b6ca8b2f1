/** @module Wrong-code throttling by source address: a distributed guesser cannot lock out valid codes; a busy app only shrinks each address's allowance; IPv6 counts by /64. */
import { beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { APP_FAILURES_PER_WINDOW } from "../../../src/codes/service.ts";
import { MINUTE } from "../../../src/core/clock.ts";
import { auditRows, contactRow, createApp, userRow } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import {
  type CodesApp,
  freshWindows,
  insertUser,
  mintCode,
  NEW_PASSWORD,
  PASSWORD,
} from "./codes-fixtures.ts";

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  // `app.handle` has no socket: a stand-in server reports the peer address the test names in a header,
  // so the real client-address path (request-state) runs for every request.
  (ctx.app as unknown as { server: unknown }).server = {
    requestIP: (r: Request) => ({
      address: r.headers.get("x-test-peer") ?? "192.0.2.1",
      family: "IPv4",
      port: 1,
    }),
  };
});

beforeEach(() => freshWindows(ctx));

let n = 0;
/** A fresh app per test: the app-wide count must start from zero. */
async function freshApp(): Promise<CodesApp> {
  n++;
  return createApp(ctx, `throttle-${n}`);
}

function verifyFrom(app: CodesApp, ip: string, code: string) {
  return ctx.call("POST", "/{app_slug}/v1/auth/verify", {
    params: { app_slug: app.slug },
    body: { code },
    headers: { "x-test-peer": ip },
    auth: null,
  });
}

function resetFrom(app: CodesApp, ip: string, code: string, newPassword = NEW_PASSWORD) {
  return ctx.call("POST", "/{app_slug}/v1/auth/reset-password", {
    params: { app_slug: app.slug },
    body: { code, new_password: newPassword },
    headers: { "x-test-peer": ip },
    auth: null,
  });
}

/** Six-digit codes in order, skipping the ones that are live. */
function* wrongCodes(live: readonly string[]): Generator<string> {
  for (let i = 0; ; i++) {
    const c = String(i).padStart(6, "0");
    if (!live.includes(c)) yield c;
  }
}

/** A user with an unverified email (for a verification code) and a verified phone (for a reset code). */
async function victim(app: CodesApp, name: string) {
  const u = await insertUser(ctx, app, name, {
    phone: `+1555300${String(n).padStart(4, "0")}`,
    phoneVerified: true,
    password: PASSWORD,
  });
  const verifyCode = await mintCode(ctx, app, "verification", { email: `${name}@example.test` });
  const resetCode = await mintCode(ctx, app, "password-reset", {
    phone: `+1555300${String(n).padStart(4, "0")}`,
  });
  return { u, verifyCode, resetCode };
}

/** Who did it, to what, from where: the columns these tests compare whole. */
async function auditOf(appId: string, action: string) {
  return (await auditRows(ctx, { app_id: appId, action })).map(({ actor_id, resource_id, ip }) => ({
    actor_id,
    resource_id,
    ip,
  }));
}

describe("a guesser spread over many addresses", () => {
  test(`${APP_FAILURES_PER_WINDOW} wrong codes from ${APP_FAILURES_PER_WINDOW} addresses, then the user's valid codes from fresh addresses work`, async () => {
    const app = await freshApp();
    const { u, verifyCode, resetCode } = await victim(app, "target");
    const guesses = wrongCodes([verifyCode, resetCode]);
    const first = await verifyFrom(app, "198.51.100.0", guesses.next().value!);
    for (let i = 1; i < APP_FAILURES_PER_WINDOW; i++) {
      // Alternate routes and addresses: both routes share the app's count.
      const ip = `198.51.${100 + (i >> 8)}.${i & 255}`;
      const code = guesses.next().value!;
      const res = i % 2 ? await resetFrom(app, ip, code) : await verifyFrom(app, ip, code);
      expect(res.status).toBe(410);
      expect(res.body.code).toBe("CODE_INVALID");
    }

    const verified = await verifyFrom(app, "203.0.113.10", verifyCode);
    expect(verified.status).toBe(200);
    expect(verified.body).toMatchObject({ account_id: u.id, contact_id: u.emailContactId, type: "email" });
    expect((await contactRow(ctx, u.emailContactId!))!.verifiedAt).toBe(ctx.clock.now());
    expect(await auditOf(app.id, "contact.verified")).toEqual([
      { actor_id: u.id, resource_id: u.emailContactId!, ip: "203.0.113.10" },
    ]);

    const reset = await resetFrom(app, "203.0.113.11", resetCode);
    expect(reset.status).toBe(204);
    expect(await ctx.deps.passwords.verify((await userRow(ctx, u.id))!.passwordHash!, NEW_PASSWORD)).toBe(
      true,
    );
    expect((await userRow(ctx, u.id))!.passwordChangedAt).toBe(ctx.clock.now());
    expect(await auditOf(app.id, "user.password_reset")).toEqual([
      { actor_id: u.id, resource_id: u.id, ip: "203.0.113.11" },
    ]);

    // A wrong code is answered exactly as before the ceiling: nothing tells the guesser the app's state.
    const late = await verifyFrom(app, "203.0.113.12", guesses.next().value!);
    expect(late.status).toBe(first.status);
    expect({ ...late.body, request_id: "" }).toEqual({ ...first.body, request_id: "" });
    expect(late.headers.get("retry-after")).toBeNull();
  });

  test("past the ceiling an address is locked at its second wrong code, not its fifth; the allowance returns with the window", async () => {
    const app = await freshApp();
    const { u, verifyCode } = await victim(app, "busy");
    const guesses = wrongCodes([verifyCode]);
    for (let i = 0; i < APP_FAILURES_PER_WINDOW; i++) {
      expect((await verifyFrom(app, `198.18.${i >> 8}.${i & 255}`, guesses.next().value!)).status).toBe(410);
    }
    const ip = "203.0.113.20";
    expect((await verifyFrom(app, ip, guesses.next().value!)).status).toBe(410);
    expect((await verifyFrom(app, ip, guesses.next().value!)).status).toBe(410);
    const locked = await verifyFrom(app, ip, verifyCode);
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe("RATE_LIMITED");
    expect(Number(locked.headers.get("retry-after"))).toBe(15 * 60);
    expect((await contactRow(ctx, u.emailContactId!))!.verifiedAt).toBeNull();
    // One wrong code (a typo) is still forgiven under attack.
    const typo = "203.0.113.21";
    expect((await verifyFrom(app, typo, guesses.next().value!)).status).toBe(410);
    expect((await verifyFrom(app, typo, verifyCode)).status).toBe(200);

    // Once the app's window has passed quietly, an address has five wrong codes again.
    ctx.clock.advance(16 * MINUTE);
    const later = "203.0.113.22";
    for (let i = 0; i < 4; i++)
      expect((await verifyFrom(app, later, guesses.next().value!)).status).toBe(410);
    expect((await verifyFrom(app, later, guesses.next().value!)).status).toBe(410);
    expect((await verifyFrom(app, later, guesses.next().value!)).status).toBe(429);
  });
});

describe("one address", () => {
  test("five wrong codes lock that address (429, Retry-After) on both routes; another address still verifies and resets", async () => {
    const app = await freshApp();
    const { u, verifyCode, resetCode } = await victim(app, "bystander");
    const guesses = wrongCodes([verifyCode, resetCode]);
    const bad = "198.51.100.66";
    for (let i = 0; i < 5; i++) expect((await verifyFrom(app, bad, guesses.next().value!)).status).toBe(410);
    for (const res of [await verifyFrom(app, bad, verifyCode), await resetFrom(app, bad, resetCode)]) {
      expect(res.status).toBe(429);
      expect(res.body.code).toBe("RATE_LIMITED");
      expect(Number(res.headers.get("retry-after"))).toBe(15 * 60);
    }
    // Another address's wrong code is an ordinary wrong code, and its right codes work.
    const good = "198.51.100.67";
    expect((await verifyFrom(app, good, guesses.next().value!)).status).toBe(410);
    expect((await verifyFrom(app, good, verifyCode)).status).toBe(200);
    expect((await contactRow(ctx, u.emailContactId!))!.verifiedAt).toBe(ctx.clock.now());
    expect((await resetFrom(app, good, resetCode)).status).toBe(204);
    expect(await ctx.deps.passwords.verify((await userRow(ctx, u.id))!.passwordHash!, NEW_PASSWORD)).toBe(
      true,
    );
    expect((await auditOf(app.id, "contact.verified")).map((r) => r.ip)).toEqual([good]);
    expect((await auditOf(app.id, "user.password_reset")).map((r) => r.ip)).toEqual([good]);
  });

  test("IPv6 addresses count by /64: five addresses of one network lock the network, not its neighbour", async () => {
    const app = await freshApp();
    const { verifyCode } = await victim(app, "six");
    const guesses = wrongCodes([verifyCode]);
    for (let i = 1; i <= 5; i++) {
      expect((await verifyFrom(app, `2001:db8:1:2::${i.toString(16)}`, guesses.next().value!)).status).toBe(
        410,
      );
    }
    const sameNetwork = await verifyFrom(app, "2001:db8:1:2:ffff:ffff:ffff:ffff", verifyCode);
    expect(sameNetwork.status).toBe(429);
    expect(sameNetwork.body.code).toBe("RATE_LIMITED");
    expect((await verifyFrom(app, "2001:db8:1:3::1", verifyCode)).status).toBe(200);
  });

  test("an IPv4-mapped IPv6 peer counts as its IPv4 address", async () => {
    const app = await freshApp();
    const { verifyCode } = await victim(app, "mapped");
    const guesses = wrongCodes([verifyCode]);
    for (let i = 0; i < 5; i++) {
      const ip = i % 2 ? "::ffff:192.0.2.99" : "192.0.2.99";
      expect((await verifyFrom(app, ip, guesses.next().value!)).status).toBe(410);
    }
    expect((await verifyFrom(app, "192.0.2.99", verifyCode)).status).toBe(429);
  });
});
