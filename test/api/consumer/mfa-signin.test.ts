/**
 * @module Sign-in with MFA: a correct password on an account with an enabled factor answers the
 * contract's challenge (no session yet); `auth/mfa/verify` (TOTP) and `auth/mfa/recover` complete it with
 * tokens carrying `amr` and `mfa_at`. The `mfa_token` is single-use, five minutes, bound to its app,
 * stored hashed; five wrong codes kill a challenge, ten per account in 15 minutes stop fresh ones too.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { asc, eq, sql } from "drizzle-orm";
import { Secret } from "otpauth";
import { MINUTE, SECOND } from "../../../src/core/clock.ts";
import { sha256Hex } from "../../../src/core/crypto.ts";
import { exec, first } from "../../../src/db/query.ts";
import {
  GOOD_PASSWORD,
  queryRows,
  setAuthConfig,
  signUp,
  verifyPrimaryEmail,
} from "../../support/end-users.ts";
import { auditRows, createApp, type TestApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { expectErrorShape } from "../../support/openapi.ts";
import { mintCode, submitReset } from "./codes-fixtures.ts";
import {
  challenge,
  claimsOf,
  codeAt,
  type MfaUser,
  recover,
  refresh,
  STEP,
  signinRaw,
  userWithFactor,
  verify,
  wrongCode,
} from "./mfa-signin-fixtures.ts";

let ctx: TestContext;
let app: TestApp;
let other: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "mfa-signin");
  other = await createApp(ctx, "mfa-signin-other");
});

const sessionsOf = async (userId: string) => {
  const { endUserSessions } = ctx.deps.db.tables;
  return await ctx.deps.db.select().from(endUserSessions).where(eq(endUserSessions.userId, userId));
};
const challengeRow = async (token: string) => {
  const { mfaChallenges } = ctx.deps.db.tables;
  return await first(
    ctx.deps.db
      .select()
      .from(mfaChallenges)
      .where(eq(mfaChallenges.tokenHash, sha256Hex(token)))
      .limit(1),
  );
};
const eventsOf = async (type: string) => {
  const { events } = ctx.deps.db.tables;
  return await ctx.deps.db
    .select()
    .from(events)
    .where(eq(events.type, type))
    .orderBy(asc(events.createdAt), asc(events.id));
};

describe("the challenge", () => {
  test("an account without a factor still gets tokens, without mfa_at", async () => {
    await signUp(ctx, app.slug, { username: "plain", email: "plain@example.test", password: GOOD_PASSWORD });
    const res = await signinRaw(ctx, app, "plain");
    expect(res.status).toBe(200);
    expect(res.body.mfa_required).toBeUndefined();
    const claims = claimsOf(res.body.access_token);
    expect(claims.amr).toEqual(["pwd"]);
    expect(claims.mfa_at).toBeUndefined();
  });

  test("a correct password on an account with a factor answers the challenge, and opens no session", async () => {
    const u = await userWithFactor(ctx, app, "chal");
    const before = (await sessionsOf(u.userId)).length;
    const res = await signinRaw(ctx, app, "chal");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body.access_token).toBeUndefined();
    expect(res.body.mfa_required).toBe(true);
    expect(res.body.mfa_token).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.expires_at).toBe(new Date(ctx.clock.now() + 5 * MINUTE).toISOString());
    expect(res.body.factors).toEqual([{ id: u.factorId, type: "totp", label: null }]);
    expect(await sessionsOf(u.userId)).toHaveLength(before);

    // Stored hashed, bound to the app and account.
    const row = await challengeRow(res.body.mfa_token);
    expect(row).toMatchObject({
      appId: app.id,
      userId: u.userId,
      purpose: "signin",
      attempts: 0,
      consumedAt: null,
    });
    const raw = await queryRows(ctx, "SELECT * FROM mfa_challenges");
    expect(JSON.stringify(raw)).not.toContain(res.body.mfa_token);

    const audit = await auditRows(ctx, {
      app_id: app.id,
      action: "user.signin_mfa_challenged",
      resource_id: u.userId,
    });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit[0]!.details)).not.toContain(res.body.mfa_token);
  });

  test("the password stage is a success for the sign-in throttle: it clears the address's failures", async () => {
    await userWithFactor(ctx, app, "throttled");
    // Four wrong, the right one (a challenge), four wrong again: without the reset the pair would be at
    // eight failures, past the default five, and the right password would be refused (429).
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 4; i++) {
        const res = await signinRaw(ctx, app, "throttled", "a wrong password entirely");
        expect(res.status).toBe(401);
      }
      const right = await signinRaw(ctx, app, "throttled");
      expect(right.status).toBe(200);
      expect(right.body.mfa_required).toBe(true);
    }
  });

  test("a wrong password is still INVALID_CREDENTIALS, with no challenge", async () => {
    await userWithFactor(ctx, app, "wrongpw");
    const res = await signinRaw(ctx, app, "wrongpw", "not the password at all");
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_CREDENTIALS");
  });
});

describe("auth/mfa/verify", () => {
  let u: MfaUser;
  beforeAll(async () => {
    u = await userWithFactor(ctx, app, "verifier");
  });

  test("a current code completes the sign-in: a session with amr pwd+totp and mfa_at, in the token too", async () => {
    const token = await challenge(ctx, app, "verifier");
    const now = ctx.clock.now();
    const res = await verify(ctx, app, token, codeAt(u.secret, now));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const claims = claimsOf(res.body.access_token);
    expect(claims.sub).toBe(u.userId);
    expect(claims.amr).toEqual(["pwd", "totp"]);
    expect(claims.mfa_at).toBe(Math.floor(now / SECOND));
    const session = (await sessionsOf(u.userId)).find((s) => s.id === claims.sid)!;
    expect(session.amr).toEqual(["pwd", "totp"]);
    expect(session.mfaAt).toBe(now);
    expect((await challengeRow(token))!.consumedAt).toBe(now);
    const signedIn = await auditRows(ctx, {
      app_id: app.id,
      action: "user.signed_in",
      resource_id: u.userId,
    });
    expect(signedIn.at(-1)!.details).toMatchObject({ session_id: claims.sid, amr: ["pwd", "totp"] });

    // Single use.
    ctx.clock.advance(STEP);
    const again = await verify(ctx, app, token, codeAt(u.secret, ctx.clock.now()));
    expect(again.status).toBe(401);
    expect(again.body.code).toBe("MFA_TOKEN_INVALID");
    expectErrorShape(again.body);
  });

  test("refresh keeps the session's amr and mfa_at", async () => {
    ctx.clock.advance(STEP);
    const token = await challenge(ctx, app, "verifier");
    const at = ctx.clock.now();
    const signed = await verify(ctx, app, token, codeAt(u.secret, at));
    expect(signed.status).toBe(200);
    ctx.clock.advance(10 * MINUTE);
    const res = await refresh(ctx, app, signed.body.refresh_token);
    expect(res.status).toBe(200);
    const claims = claimsOf(res.body.access_token);
    expect(claims.amr).toEqual(["pwd", "totp"]);
    expect(claims.mfa_at).toBe(Math.floor(at / SECOND));
  });

  test("a code already used in its window is refused at the next challenge (replay)", async () => {
    ctx.clock.advance(STEP);
    const code = codeAt(u.secret, ctx.clock.now());
    const first = await verify(ctx, app, await challenge(ctx, app, "verifier"), code);
    expect(first.status).toBe(200);
    const second = await verify(ctx, app, await challenge(ctx, app, "verifier"), code);
    expect(second.status).toBe(401);
    expect(second.body.code).toBe("MFA_CODE_INVALID");
  });

  test("one step of drift either way is accepted, two are not", async () => {
    ctx.clock.advance(3 * STEP);
    const now = ctx.clock.now();
    const token = await challenge(ctx, app, "verifier");
    const tooOld = await verify(ctx, app, token, codeAt(u.secret, now - 2 * STEP));
    expect(tooOld.status).toBe(401);
    expect(tooOld.body.code).toBe("MFA_CODE_INVALID");
    const behind = await verify(ctx, app, token, codeAt(u.secret, now - STEP));
    expect(behind.status).toBe(200);

    ctx.clock.advance(3 * STEP);
    const ahead = await verify(
      ctx,
      app,
      await challenge(ctx, app, "verifier"),
      codeAt(u.secret, ctx.clock.now() + STEP),
    );
    expect(ahead.status).toBe(200);
  });

  test("the mfa_token lives five minutes", async () => {
    ctx.clock.advance(3 * STEP);
    const live = await challenge(ctx, app, "verifier");
    ctx.clock.advance(5 * MINUTE - SECOND);
    expect((await verify(ctx, app, live, codeAt(u.secret, ctx.clock.now()))).status).toBe(200);

    ctx.clock.advance(STEP);
    const stale = await challenge(ctx, app, "verifier");
    ctx.clock.advance(5 * MINUTE);
    const res = await verify(ctx, app, stale, codeAt(u.secret, ctx.clock.now()));
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("MFA_TOKEN_INVALID");
  });

  test("an unknown token, or one of another app, is the same 401", async () => {
    ctx.clock.advance(STEP);
    const code = codeAt(u.secret, ctx.clock.now());
    const unknown = await verify(ctx, app, crypto.randomUUID(), code);
    expect(unknown.status).toBe(401);
    expect(unknown.body.code).toBe("MFA_TOKEN_INVALID");
    const token = await challenge(ctx, app, "verifier");
    const foreign = await verify(ctx, other, token, code);
    expect(foreign.status).toBe(401);
    expect(foreign.body.code).toBe("MFA_TOKEN_INVALID");
    expect(foreign.body.message).toBe(unknown.body.message);
    expect((await challengeRow(token))!.consumedAt).toBeNull();
  });

  test("a malformed code or a missing token is 400", async () => {
    const token = await challenge(ctx, app, "verifier");
    for (const code of ["12345", "1234567", "abcdef", 123456]) {
      const res = await verify(ctx, app, token, code);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
    }
    const missing = await ctx.call("POST", "/{app_slug}/v1/auth/mfa/verify", {
      params: { app_slug: app.slug },
      body: { code: "123456" },
      auth: null,
    });
    expect(missing.status).toBe(400);
    // Malformed input is not a guess.
    expect((await challengeRow(token))!.attempts).toBe(0);
  });
});

describe("guessing", () => {
  test("five wrong codes lock the challenge (429); it stays dead for the right code", async () => {
    const u = await userWithFactor(ctx, app, "guesser");
    const token = await challenge(ctx, app, "guesser");
    const bad = wrongCode(u.secret, ctx.clock.now());
    for (let i = 1; i <= 4; i++) {
      const res = await verify(ctx, app, token, bad);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("MFA_CODE_INVALID");
    }
    const fifth = await verify(ctx, app, token, bad);
    expect(fifth.status).toBe(429);
    expect(fifth.body.code).toBe("MFA_LOCKED");
    expect(Number(fifth.headers.get("retry-after"))).toBeGreaterThan(0);
    const right = await verify(ctx, app, token, codeAt(u.secret, ctx.clock.now()));
    expect(right.status).toBe(429);
    expect(right.body.code).toBe("MFA_LOCKED");
    expect((await challengeRow(token))!.attempts).toBe(5);
    expect(
      await auditRows(ctx, { app_id: app.id, action: "user.mfa.challenge_locked", resource_id: u.userId }),
    ).toHaveLength(1);
    const failed = await auditRows(ctx, {
      app_id: app.id,
      action: "user.signin_failed",
      resource_id: u.userId,
    });
    expect(failed).toHaveLength(5);
    expect(failed[0]!.details).toMatchObject({ reason: "wrong_mfa_code", method: "totp" });
    expect(JSON.stringify(failed)).not.toContain(bad);
  });

  test("fresh challenges buy no extra guesses: ten wrong codes per account in 15 minutes stop the next", async () => {
    const u = await userWithFactor(ctx, app, "patient");
    const bad = wrongCode(u.secret, ctx.clock.now());
    for (let round = 0; round < 2; round++) {
      const token = await challenge(ctx, app, "patient");
      for (let i = 0; i < 5; i++) await verify(ctx, app, token, bad);
    }
    const token = await challenge(ctx, app, "patient");
    const res = await verify(ctx, app, token, codeAt(u.secret, ctx.clock.now()));
    expect(res.status).toBe(429);
    expect(res.body.code).toBe("MFA_LOCKED");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    // The refusal spent nothing: the challenge still has all its attempts once the window has passed.
    expect((await challengeRow(token))!.attempts).toBe(0);

    ctx.clock.advance(15 * MINUTE);
    const later = await challenge(ctx, app, "patient");
    const ok = await verify(ctx, app, later, codeAt(u.secret, ctx.clock.now()));
    expect(ok.status).toBe(200);
  });
});

describe("auth/mfa/recover", () => {
  test("a recovery code completes the sign-in once, hyphenated or not", async () => {
    const u = await userWithFactor(ctx, app, "recoverer");
    const [first, second] = u.recoveryCodes as [string, string];
    const token = await challenge(ctx, app, "recoverer");
    const now = ctx.clock.now();
    const res = await recover(ctx, app, token, first.replaceAll("-", "").toUpperCase());
    expect(res.status).toBe(200);
    const claims = claimsOf(res.body.access_token);
    expect(claims.amr).toEqual(["pwd", "recovery_code"]);
    expect(claims.mfa_at).toBe(Math.floor(now / SECOND));
    const { mfaRecoveryCodes } = ctx.deps.db.tables;
    const used = (
      await ctx.deps.db.select().from(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, u.userId))
    ).filter((r) => r.usedAt !== null);
    expect(used).toHaveLength(1);
    const emitted = (await eventsOf("user.mfa.recovery_code_used")).filter(
      (e) => e.data.user_id === u.userId,
    );
    expect(emitted).toHaveLength(1);
    expect(JSON.stringify(emitted[0]!.data)).not.toContain(first.replaceAll("-", ""));

    // Spent: the same code fails at the next challenge; another one works (with hyphens).
    const again = await recover(ctx, app, await challenge(ctx, app, "recoverer"), first);
    expect(again.status).toBe(401);
    expect(again.body.code).toBe("MFA_CODE_INVALID");
    const hyphenated = second.replaceAll("-", "").replace(/(.{4})(?!$)/g, "$1-");
    const next = await recover(ctx, app, await challenge(ctx, app, "recoverer"), hyphenated);
    expect(next.status).toBe(200);
  });

  test("a malformed recovery code is 400; a wrong token 401", async () => {
    const u = await userWithFactor(ctx, app, "recover-bad");
    const token = await challenge(ctx, app, "recover-bad");
    for (const code of ["123456", "zzzzzzzzzzzzzzzz", "0123456789abcdef0"]) {
      const res = await recover(ctx, app, token, code);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
    }
    const res = await recover(ctx, app, crypto.randomUUID(), u.recoveryCodes[0]);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("MFA_TOKEN_INVALID");
  });
});

describe("no bypass", () => {
  test("a password reset leaves the factor: the next sign-in is still challenged", async () => {
    const u = await userWithFactor(ctx, app, "resetter");
    await verifyPrimaryEmail(ctx, u.userId);
    const code = await mintCode(ctx, app, "password-reset", { email: u.email });
    const reset = await submitReset(ctx, app, code, "A-brand-new-Passphrase-93");
    expect(reset.status).toBeLessThan(300);
    const res = await signinRaw(ctx, app, "resetter", "A-brand-new-Passphrase-93");
    expect(res.status).toBe(200);
    expect(res.body.mfa_required).toBe(true);
    expect(res.body.access_token).toBeUndefined();
  });

  test("an account suspended after its challenge gets nothing at verify", async () => {
    const u = await userWithFactor(ctx, app, "suspendee");
    const token = await challenge(ctx, app, "suspendee");
    const before = (await sessionsOf(u.userId)).length;
    await exec(ctx.deps.db, sql`UPDATE end_users SET status = 'suspended' WHERE id = ${u.userId}`);
    const res = await verify(ctx, app, token, codeAt(u.secret, ctx.clock.now()));
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("MFA_TOKEN_INVALID");
    expect(await sessionsOf(u.userId)).toHaveLength(before);
    const failed = await auditRows(ctx, {
      app_id: app.id,
      action: "user.signin_failed",
      resource_id: u.userId,
    });
    expect(failed.at(-1)!.details).toMatchObject({ reason: "account_suspended", stage: "mfa" });
  });
});

describe("MFA required by the app (mfa_required, mfa_required_roles)", () => {
  let strict: TestApp;
  beforeAll(async () => {
    strict = await createApp(ctx, "mfa-required");
  });

  const enroll = (body: Record<string, unknown>) =>
    ctx.call("POST", "/{app_slug}/v1/auth/mfa/enroll", {
      params: { app_slug: strict.slug },
      body,
      auth: null,
      unchecked: true,
    });
  const confirm = (body: Record<string, unknown>) =>
    ctx.call("POST", "/{app_slug}/v1/auth/mfa/enroll/confirm", {
      params: { app_slug: strict.slug },
      body,
      auth: null,
      unchecked: true,
    });

  test("the config fields default off, and read back once set", async () => {
    const before = await ctx.call("GET", "/v1/apps/{app_id}/auth-config", { params: { app_id: strict.id } });
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ mfa_required: false, mfa_required_roles: [] });
    await setAuthConfig(ctx, strict.id, { mfa_required_roles: ["admin"] });
    const after = await ctx.call("GET", "/v1/apps/{app_id}/auth-config", { params: { app_id: strict.id } });
    expect(after.body).toMatchObject({ mfa_required: false, mfa_required_roles: ["admin"] });
    const bad = await ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", {
      params: { app_id: strict.id },
      body: { mfa_required_roles: ["Not A Role"] },
    });
    expect(bad.status).toBe(400);
  });

  test("a role in mfa_required_roles gets an enrolment challenge; other roles sign in as before", async () => {
    await signUp(ctx, strict.slug, {
      username: "member1",
      email: "member1@example.test",
      password: GOOD_PASSWORD,
    });
    const member = await signinRaw(ctx, strict, "member1");
    expect(member.status).toBe(200);
    expect(member.body.access_token).toBeString();

    const boss = await signUp(ctx, strict.slug, {
      username: "boss",
      email: "boss@example.test",
      password: GOOD_PASSWORD,
    });
    await exec(ctx.deps.db, sql`UPDATE end_users SET role = 'admin' WHERE id = ${boss.userId}`);
    const res = await signinRaw(ctx, strict, "boss");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ mfa_required: true, factors: [], enrollment_required: true });
    expect((await challengeRow(res.body.mfa_token))!.purpose).toBe("enroll");
  });

  test("mfa_required: enrol with the challenge, confirm with two codes, get tokens and recovery codes", async () => {
    await setAuthConfig(ctx, strict.id, { mfa_required: true });
    const u = await signUp(ctx, strict.slug, {
      username: "newbie",
      email: "newbie@example.test",
      password: GOOD_PASSWORD,
    });
    const sessionsBefore = (await sessionsOf(u.userId)).length;
    const signin = await signinRaw(ctx, strict, "newbie");
    expect(signin.body).toMatchObject({ mfa_required: true, factors: [], enrollment_required: true });
    const token = signin.body.mfa_token as string;

    // The enrolment token does not complete a sign-in by itself.
    const asSignin = await verify(ctx, strict, token, "123456");
    expect(asSignin.status).toBe(401);
    expect(asSignin.body.code).toBe("MFA_TOKEN_INVALID");

    const started = await enroll({ mfa_token: token, label: "phone" });
    expect(started.status).toBe(201);
    expect(started.body.factor).toMatchObject({ type: "totp", label: "phone", enabled: false });
    expect(started.body.enrollment.otpauth_uri).toStartWith("otpauth://totp/");
    const secret = Secret.fromBase32(started.body.enrollment.secret);

    const now = ctx.clock.now();
    const wrong = await confirm({
      mfa_token: token,
      factor_id: started.body.factor.id,
      codes: ["000000", "111111"],
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.code).toBe("MFA_ENROLLMENT_CODES_INVALID");
    expect((await challengeRow(token))!.attempts).toBe(1);

    const done = await confirm({
      mfa_token: token,
      factor_id: started.body.factor.id,
      codes: [codeAt(secret, now - STEP), codeAt(secret, now)],
    });
    expect(done.status).toBe(200);
    expect(done.body.recovery_codes).toHaveLength(10);
    const claims = claimsOf(done.body.access_token);
    expect(claims.sub).toBe(u.userId);
    expect(claims.amr).toEqual(["pwd", "totp"]);
    expect(claims.mfa_at).toBe(Math.floor(now / SECOND));
    expect(await sessionsOf(u.userId)).toHaveLength(sessionsBefore + 1);

    // Spent; and the next sign-in is an ordinary challenge against the new factor.
    const reuse = await enroll({ mfa_token: token });
    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe("MFA_TOKEN_INVALID");
    ctx.clock.advance(STEP);
    const next = await signinRaw(ctx, strict, "newbie");
    expect(next.body.enrollment_required).toBeUndefined();
    expect(next.body.factors).toEqual([{ id: started.body.factor.id, type: "totp", label: "phone" }]);
    expect((await verify(ctx, strict, next.body.mfa_token, codeAt(secret, ctx.clock.now()))).status).toBe(
      200,
    );
  });

  test("a sign-in challenge cannot enrol, and an expired enrolment challenge is dead", async () => {
    await setAuthConfig(ctx, strict.id, { mfa_required: true });
    const u = await userWithFactor(ctx, strict, "enrolled");
    const signinToken = await challenge(ctx, strict, u.username);
    const res = await enroll({ mfa_token: signinToken });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("MFA_TOKEN_INVALID");

    await signUp(ctx, strict.slug, { username: "late", email: "late@example.test", password: GOOD_PASSWORD });
    const late = await signinRaw(ctx, strict, "late");
    ctx.clock.advance(5 * MINUTE);
    const expired = await enroll({ mfa_token: late.body.mfa_token });
    expect(expired.status).toBe(401);
    expect(expired.body.code).toBe("MFA_TOKEN_INVALID");
  });
});
