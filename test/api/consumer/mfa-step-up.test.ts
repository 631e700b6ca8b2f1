/**
 * @module `POST /me/mfa/step-up`: a TOTP or recovery code bumps the session's `mfa_at` and `amr`
 * (StepUpResponseDto; the next refresh carries them in the token); five wrong codes in a row lock step-up
 * on the session for 15 minutes (429 with Retry-After). Audited, with `user.mfa.step_up_*` events.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { asc, eq } from "drizzle-orm";
import { MINUTE, SECOND } from "../../../src/core/clock.ts";
import { first } from "../../../src/db/query.ts";
import { GOOD_PASSWORD, signUp } from "../../support/end-users.ts";
import { auditRows, createApp, type TestApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { expectErrorShape } from "../../support/openapi.ts";
import { claimsOf, codeAt, refresh, STEP, stepUp, userWithFactor, wrongCode } from "./mfa-signin-fixtures.ts";

let ctx: TestContext;
let app: TestApp;
let other: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "mfa-stepup");
  other = await createApp(ctx, "mfa-stepup-other");
});

const session = async (id: string) => {
  const { endUserSessions } = ctx.deps.db.tables;
  return (await first(
    ctx.deps.db.select().from(endUserSessions).where(eq(endUserSessions.id, id)).limit(1),
  ))!;
};
const eventsFor = async (type: string, sessionId: string) => {
  const { events } = ctx.deps.db.tables;
  const rows = await ctx.deps.db
    .select()
    .from(events)
    .where(eq(events.type, type))
    .orderBy(asc(events.createdAt), asc(events.id));
  return rows.filter((e) => e.data.session_id === sessionId);
};

describe("step-up", () => {
  test("a current TOTP code bumps the session's mfa_at and amr; refresh puts them in the token", async () => {
    const u = await userWithFactor(ctx, app, "stepper");
    expect((await session(u.sessionId)).mfaAt).toBeNull();
    const now = ctx.clock.now();
    const res = await stepUp(ctx, app, u.access_token, codeAt(u.secret, now));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ amr: ["pwd", "totp"], mfa_at: new Date(now).toISOString() });
    expect(await session(u.sessionId)).toMatchObject({ amr: ["pwd", "totp"], mfaAt: now });

    const audit = await auditRows(ctx, {
      app_id: app.id,
      action: "user.mfa.step_up_succeeded",
      resource_id: u.sessionId,
    });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.details).toMatchObject({ method: "totp" });
    const emitted = await eventsFor("user.mfa.step_up_succeeded", u.sessionId);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]!.data).toEqual({ user_id: u.userId, session_id: u.sessionId, method: "totp" });

    ctx.clock.advance(MINUTE);
    const refreshed = await refresh(ctx, app, u.refresh_token);
    expect(refreshed.status).toBe(200);
    const claims = claimsOf(refreshed.body.access_token);
    expect(claims.mfa_at).toBe(Math.floor(now / SECOND));
    expect(claims.amr).toEqual(["pwd", "totp"]);

    // The same code again is a replay.
    const replay = await stepUp(ctx, app, refreshed.body.access_token, codeAt(u.secret, now));
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe("MFA_CODE_INVALID");
  });

  test("a recovery code steps up too, once", async () => {
    const u = await userWithFactor(ctx, app, "stepper-rc");
    const code = u.recoveryCodes[0]!;
    const res = await stepUp(ctx, app, u.access_token, code);
    expect(res.status).toBe(200);
    expect(res.body.amr).toEqual(["pwd", "recovery_code"]);
    const again = await stepUp(ctx, app, u.access_token, code);
    expect(again.status).toBe(401);
    expect(again.body.code).toBe("MFA_CODE_INVALID");
  });

  test("an account without a factor cannot step up; malformed codes are 400; no token is 401", async () => {
    const plain = await signUp(ctx, app.slug, {
      username: "nofactor",
      email: "nofactor@example.test",
      password: GOOD_PASSWORD,
    });
    const res = await stepUp(ctx, app, plain.access_token, "123456");
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("MFA_CODE_INVALID");
    expectErrorShape(res.body);
    expect((await session(plain.sessionId)).mfaAt).toBeNull();

    for (const bad of ["12345", "abc", "0123456789abcdeg", 123456]) {
      const r = await stepUp(ctx, app, plain.access_token, bad);
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("VALIDATION_ERROR");
    }
    const anon = await ctx.call("POST", "/{app_slug}/v1/me/mfa/step-up", {
      params: { app_slug: app.slug },
      body: { code: "123456" },
      auth: null,
    });
    expect(anon.status).toBe(401);
    const foreign = await stepUp(ctx, other, plain.access_token, "123456");
    expect(foreign.status).toBe(401);
  });

  test("five wrong codes in a row lock step-up on the session for 15 minutes", async () => {
    const u = await userWithFactor(ctx, app, "stepper-lock");
    const bad = wrongCode(u.secret, ctx.clock.now());
    for (let i = 0; i < 4; i++) {
      const r = await stepUp(ctx, app, u.access_token, bad);
      expect(r.status).toBe(401);
      expect(r.body.code).toBe("MFA_CODE_INVALID");
    }
    const fifth = await stepUp(ctx, app, u.access_token, bad);
    expect(fifth.status).toBe(429);
    expect(fifth.body.code).toBe("MFA_LOCKED");
    expect(fifth.headers.get("retry-after")).toBe(String(15 * 60));

    ctx.clock.advance(10 * MINUTE);
    const right = await stepUp(ctx, app, u.access_token, codeAt(u.secret, ctx.clock.now()));
    expect(right.status).toBe(429);
    expect(right.body.code).toBe("MFA_LOCKED");
    expect(Number(right.headers.get("retry-after"))).toBe(5 * 60);
    expect((await session(u.sessionId)).mfaAt).toBeNull();

    const locked = await auditRows(ctx, {
      app_id: app.id,
      action: "user.mfa.step_up_locked",
      resource_id: u.sessionId,
    });
    expect(locked).toHaveLength(1);
    expect(
      await auditRows(ctx, { app_id: app.id, action: "user.mfa.step_up_failed", resource_id: u.sessionId }),
    ).toHaveLength(5);
    const emitted = await eventsFor("user.mfa.step_up_locked", u.sessionId);
    expect(emitted).toHaveLength(1);
    expect(JSON.stringify(emitted[0]!.data)).not.toContain(bad);

    ctx.clock.advance(5 * MINUTE);
    const after = await stepUp(ctx, app, u.access_token, codeAt(u.secret, ctx.clock.now()));
    expect(after.status).toBe(200);
  });

  test("a success resets the count: four wrong, one right, four wrong is not a lock", async () => {
    const u = await userWithFactor(ctx, app, "stepper-reset");
    const bad = wrongCode(u.secret, ctx.clock.now());
    for (let i = 0; i < 4; i++) expect((await stepUp(ctx, app, u.access_token, bad)).status).toBe(401);
    expect((await stepUp(ctx, app, u.access_token, codeAt(u.secret, ctx.clock.now()))).status).toBe(200);
    ctx.clock.advance(STEP);
    const bad2 = wrongCode(u.secret, ctx.clock.now());
    for (let i = 0; i < 4; i++) expect((await stepUp(ctx, app, u.access_token, bad2)).status).toBe(401);
    expect((await stepUp(ctx, app, u.access_token, codeAt(u.secret, ctx.clock.now()))).status).toBe(200);
  });

  test("the lock is per session: another session of the account steps up", async () => {
    const u = await userWithFactor(ctx, app, "stepper-two");
    const bad = wrongCode(u.secret, ctx.clock.now());
    for (let i = 0; i < 5; i++) await stepUp(ctx, app, u.access_token, bad);
    const otherSession = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
      params: { app_slug: app.slug },
      body: { identifier: "stepper-two", password: GOOD_PASSWORD },
      auth: null,
    });
    const token = otherSession.body.mfa_token as string;
    const signed = await ctx.call("POST", "/{app_slug}/v1/auth/mfa/verify", {
      params: { app_slug: app.slug },
      body: { mfa_token: token, code: codeAt(u.secret, ctx.clock.now()) },
      auth: null,
    });
    expect(signed.status).toBe(200);
    ctx.clock.advance(STEP);
    const res = await stepUp(ctx, app, signed.body.access_token, codeAt(u.secret, ctx.clock.now()));
    expect(res.status).toBe(200);
  });
});
