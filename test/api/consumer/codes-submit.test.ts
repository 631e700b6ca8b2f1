/** @module verify and reset-password: single use, expiry, supersession, app and purpose binding, the IP lock, session revocation. */
import { beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { MINUTE } from "../../../src/core/clock.ts";
import { exec } from "../../../src/db/query.ts";
import { auditRows, contactRow, createApp, userRow } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import {
  type CodesApp,
  codeRows,
  freshWindows,
  insertUser,
  mintCode,
  NEW_PASSWORD,
  PASSWORD,
  submitReset,
  submitVerify,
} from "./codes-fixtures.ts";

let ctx: TestContext;
let app: CodesApp;
let other: CodesApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "submit-app");
  other = await createApp(ctx, "submit-other");
});

// Wrong codes in one test must not lock the next one out.
beforeEach(() => freshWindows(ctx));

let n = 0;
/** A fresh account with an unverified email and a verified phone. */
async function freshUser(target: CodesApp = app, opts: { password?: string } = {}) {
  n++;
  return await insertUser(ctx, target, `user${n}`, {
    phone: `+1555100${String(n).padStart(4, "0")}`,
    phoneVerified: true,
    ...opts,
  });
}

describe("verify", () => {
  test("a valid code verifies its contact once; audit contact.verified by the end user", async () => {
    const u = await freshUser();
    const code = await mintCode(ctx, app, "verification", { email: `${u.username}@example.test` });
    const res = await submitVerify(ctx, app, code);
    expect(res.status).toBe(200);
    const now = new Date(ctx.clock.now()).toISOString();
    expect(res.body).toEqual({
      account_id: u.id,
      contact_id: u.emailContactId,
      type: "email",
      value: `${u.username}@example.test`,
      verified_at: now,
    });
    expect((await contactRow(ctx, u.emailContactId!))!.verifiedAt).toBe(ctx.clock.now());
    expect((await codeRows(ctx, app.id)).find((r) => r.contactId === u.emailContactId)?.consumedAt).toBe(
      ctx.clock.now(),
    );
    const audit = (await auditRows(ctx, { app_id: app.id, action: "contact.verified" })).at(-1)!;
    expect(audit.actor_type).toBe("end_user");
    expect(audit.actor_id).toBe(u.id);
    expect(audit.resource_id).toBe(u.emailContactId);

    const again = await submitVerify(ctx, app, code);
    expect(again.status).toBe(410);
    expect(again.body.code).toBe("CODE_INVALID");
  });

  test("a phone code verifies the phone", async () => {
    const u = await insertUser(ctx, app, "phoney", { email: null, phone: "+15557770000" });
    const code = await mintCode(ctx, app, "verification", { phone: "+15557770000" });
    const res = await submitVerify(ctx, app, code);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ type: "phone", value: "+15557770000", contact_id: u.phoneContactId });
  });

  test("an expired code (10 min + 1 ms) → 410 and the contact stays unverified", async () => {
    const u = await freshUser();
    const code = await mintCode(ctx, app, "verification", { email: `${u.username}@example.test` });
    ctx.clock.advance(10 * MINUTE + 1);
    const res = await submitVerify(ctx, app, code);
    expect(res.status).toBe(410);
    expect(res.body.code).toBe("CODE_INVALID");
    expect((await contactRow(ctx, u.emailContactId!))!.verifiedAt).toBeNull();
  });

  test("a code used just before its expiry still works", async () => {
    const u = await freshUser();
    const code = await mintCode(ctx, app, "verification", { email: `${u.username}@example.test` });
    ctx.clock.advance(10 * MINUTE - 1);
    expect((await submitVerify(ctx, app, code)).status).toBe(200);
  });

  test("a superseded code → 410; its successor works", async () => {
    const u = await freshUser();
    const first = await mintCode(ctx, app, "verification", { email: `${u.username}@example.test` });
    let second = await mintCode(ctx, app, "verification", { email: `${u.username}@example.test` });
    // The two draws may coincide (1 in a million); then the old code is the live one, so draw again.
    while (second === first)
      second = await mintCode(ctx, app, "verification", { email: `${u.username}@example.test` });
    const old = await submitVerify(ctx, app, first);
    expect(old.status).toBe(410);
    expect(old.body.code).toBe("CODE_INVALID");
    expect((await submitVerify(ctx, app, second)).status).toBe(200);
  });

  test("another app's code → 410 here, and still valid in its own app", async () => {
    const u = await freshUser(other);
    const code = await mintCode(ctx, other, "verification", { email: `${u.username}@example.test` });
    const res = await submitVerify(ctx, app, code);
    expect(res.status).toBe(410);
    expect(res.body.code).toBe("CODE_INVALID");
    expect((await submitVerify(ctx, other, code)).status).toBe(200);
  });

  test("a reset code does not verify (purpose is bound in the MAC)", async () => {
    const u = await freshUser();
    const code = await mintCode(ctx, app, "password-reset", { phone: await contactPhone(u.phoneContactId!) });
    const res = await submitVerify(ctx, app, code);
    expect(res.status).toBe(410);
    // ...and the reset code is still usable for its purpose.
    expect((await submitReset(ctx, app, code)).status).toBe(204);
  });

  test.each([
    ["five digits", "12345"],
    ["letters", "abcdef"],
    ["seven digits", "1234567"],
    ["padded", " 123456"],
    ["empty", ""],
  ])("a malformed code (%s) is a wrong code → 410", async (_name, code) => {
    const res = await submitVerify(ctx, app, code);
    expect(res.status).toBe(410);
    expect(res.body.code).toBe("CODE_INVALID");
  });

  test.each([
    ["no body", undefined],
    ["no code", {}],
    ["a numeric code", { code: 123456 }],
    ["an overlong code", { code: "1".repeat(100) }],
  ])("%s → 400 VALIDATION_ERROR", async (_name, body) => {
    const res = await ctx.call("POST", "/{app_slug}/v1/auth/verify", {
      params: { app_slug: app.slug },
      body,
      auth: null,
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
  });

  test("an unknown app → 404 APP_NOT_FOUND", async () => {
    const res = await submitVerify(ctx, { id: "x", slug: "no-such-app" }, "123456");
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("APP_NOT_FOUND");
  });
});

async function contactPhone(contactId: string): Promise<string> {
  return (await contactRow(ctx, contactId))!.value;
}

describe("lock after 5 wrong codes", () => {
  test("the 6th submission from the address → 429 with Retry-After, even with the right code; it lifts after 15 min", async () => {
    const u = await freshUser();
    const code = await mintCode(ctx, app, "verification", { email: `${u.username}@example.test` });
    const wrong = code === "000000" ? "000001" : "000000";
    for (let i = 0; i < 5; i++) {
      const res = await submitVerify(ctx, app, wrong);
      expect(res.status).toBe(410);
    }
    const locked = await submitVerify(ctx, app, code);
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe("RATE_LIMITED");
    expect(Number(locked.headers.get("retry-after"))).toBe(15 * 60);
    // The lock covers both submission routes of the app...
    const reset = await submitReset(ctx, app, code);
    expect(reset.status).toBe(429);
    // ...but not other apps.
    const elsewhere = await submitVerify(ctx, other, "000000");
    expect(elsewhere.status).toBe(410);

    ctx.clock.advance(5 * MINUTE);
    const stillLocked = await submitVerify(ctx, app, code);
    expect(stillLocked.status).toBe(429);
    expect(Number(stillLocked.headers.get("retry-after"))).toBe(10 * 60);
    ctx.clock.advance(10 * MINUTE);
    // The code has expired meanwhile; a fresh one goes through.
    const fresh = await mintCode(ctx, app, "verification", { email: `${u.username}@example.test` });
    expect((await submitVerify(ctx, app, fresh)).status).toBe(200);
  });

  test("four wrong codes then the right one: no lock", async () => {
    const u = await freshUser();
    const code = await mintCode(ctx, app, "verification", { email: `${u.username}@example.test` });
    const wrong = code === "000000" ? "000001" : "000000";
    for (let i = 0; i < 4; i++) expect((await submitVerify(ctx, app, wrong)).status).toBe(410);
    expect((await submitVerify(ctx, app, code)).status).toBe(200);
  });

  test("more than 20 submissions a minute from one address → 429", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) {
      const u = await freshUser();
      const code = await mintCode(ctx, app, "verification", { email: `${u.username}@example.test` });
      statuses.push((await submitVerify(ctx, app, code)).status);
    }
    expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true);
    expect(statuses[20]).toBe(429);
  });
});

describe("reset-password", () => {
  test("resets the password, clears the lockout, revokes every session; the new password signs in", async () => {
    const u = await freshUser(app, { password: PASSWORD });
    const phone = await contactPhone(u.phoneContactId!);
    // Two live sessions, through the real sign-in.
    const signin = (password: string) =>
      ctx.call("POST", "/{app_slug}/v1/auth/signin", {
        params: { app_slug: app.slug },
        body: { identifier: u.username, password },
        auth: null,
      });
    const s1 = await signin(PASSWORD);
    const s2 = await signin(PASSWORD);
    expect(s1.status).toBe(200);
    expect(s2.status).toBe(200);
    await exec(
      ctx.deps.db,
      sql`UPDATE end_users SET failed_login_count = 3, locked_until = ${ctx.clock.now() + 10 * MINUTE} WHERE id = ${u.id}`,
    );

    const code = await mintCode(ctx, app, "password-reset", { phone });
    const res = await submitReset(ctx, app, code);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");

    const row = (await userRow(ctx, u.id))!;
    expect(row.passwordChangedAt).toBe(ctx.clock.now());
    expect(row.failedLoginCount).toBe(0);
    expect(row.lockedUntil).toBeNull();
    expect(await ctx.deps.passwords.verify(row.passwordHash!, NEW_PASSWORD)).toBe(true);
    expect(await ctx.deps.sessions.liveOfUser(u.id)).toHaveLength(0);
    for (const s of [s1, s2]) {
      const refresh = await ctx.call("POST", "/{app_slug}/v1/auth/refresh", {
        params: { app_slug: app.slug },
        body: { refresh_token: s.body.refresh_token },
        auth: null,
      });
      expect(refresh.status).toBe(401);
      expect(refresh.body.code).toBe("INVALID_REFRESH_TOKEN");
      const me = await ctx.call("GET", "/{app_slug}/v1/me", {
        params: { app_slug: app.slug },
        auth: { bearer: s.body.access_token },
      });
      expect(me.status).toBe(401);
    }
    const audit = (await auditRows(ctx, { app_id: app.id, action: "user.password_reset" })).at(-1)!;
    expect(audit.actor_type).toBe("end_user");
    expect(audit.resource_id).toBe(u.id);
    expect(audit.details).toMatchObject({ sessions_revoked: 2, contact_id: u.phoneContactId });
    expect((await ctx.deps.audit.verify()).ok).toBe(true);

    expect((await signin(NEW_PASSWORD)).status).toBe(200);
    const old = await signin(PASSWORD);
    expect(old.status).toBe(401);
    expect(old.body.code).toBe("INVALID_CREDENTIALS");

    const twice = await submitReset(ctx, app, code, "Another-Good-Passphrase-99");
    expect(twice.status).toBe(410);
    expect(twice.body.code).toBe("CODE_INVALID");
  });

  test("a weak password → 400 WEAK_PASSWORD and the code stays usable", async () => {
    const u = await freshUser();
    const code = await mintCode(ctx, app, "password-reset", { phone: await contactPhone(u.phoneContactId!) });
    const weak = await submitReset(ctx, app, code, "short");
    expect(weak.status).toBe(400);
    expect(weak.body.code).toBe("WEAK_PASSWORD");
    expect(weak.body.details).toContainEqual({ field: "password", reason: "too_short" });
    const common = await submitReset(ctx, app, code, "Administrator");
    expect(common.status).toBe(400);
    expect(common.body.details).toContainEqual({ field: "password", reason: "common_password" });
    expect((await submitReset(ctx, app, code)).status).toBe(204);
  });

  test("a reset ends the account's other outstanding reset codes", async () => {
    const u = await insertUser(ctx, app, "tworeset", {
      emailVerified: true,
      phone: "+15558880000",
      phoneVerified: true,
    });
    const byEmail = await mintCode(ctx, app, "password-reset", { email: "tworeset@example.test" });
    const byPhone = await mintCode(ctx, app, "password-reset", { phone: "+15558880000" });
    expect((await submitReset(ctx, app, byEmail)).status).toBe(204);
    const res = await submitReset(ctx, app, byPhone, "Yet-Another-Passphrase-77");
    expect(res.status).toBe(410);
    expect(
      (await codeRows(ctx, app.id)).filter((r) => r.userId === u.id && r.consumedAt === null),
    ).toHaveLength(0);
  });

  test("an account suspended after the mint → 410 and the password is unchanged", async () => {
    const u = await freshUser();
    const code = await mintCode(ctx, app, "password-reset", { phone: await contactPhone(u.phoneContactId!) });
    await exec(ctx.deps.db, sql`UPDATE end_users SET status = 'suspended' WHERE id = ${u.id}`);
    const res = await submitReset(ctx, app, code);
    expect(res.status).toBe(410);
    expect((await userRow(ctx, u.id))!.passwordHash).toBeNull();
  });

  test.each([
    ["wrong", async () => "999999"],
    [
      "expired",
      async (phone: string) => {
        const code = await mintCode(ctx, app, "password-reset", { phone });
        ctx.clock.advance(10 * MINUTE + 1);
        return code;
      },
    ],
    [
      "a verification code",
      async () => {
        const u = await freshUser();
        return mintCode(ctx, app, "verification", { email: `${u.username}@example.test` });
      },
    ],
    [
      "another app's code",
      async () => {
        const u = await freshUser(other);
        return mintCode(ctx, other, "password-reset", { phone: await contactPhone(u.phoneContactId!) });
      },
    ],
  ])("%s → 410 CODE_INVALID", async (_name, make) => {
    const u = await freshUser();
    const code = await make(await contactPhone(u.phoneContactId!));
    const res = await submitReset(ctx, app, code);
    expect(res.status).toBe(410);
    expect(res.body.code).toBe("CODE_INVALID");
  });

  test.each([
    ["no body", undefined],
    ["no new_password", { code: "123456" }],
    ["no code", { new_password: NEW_PASSWORD }],
    ["a non-string password", { code: "123456", new_password: 12345678901234 }],
  ])("%s → 400 VALIDATION_ERROR", async (_name, body) => {
    const res = await ctx.call("POST", "/{app_slug}/v1/auth/reset-password", {
      params: { app_slug: app.slug },
      body,
      auth: null,
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
  });
});
