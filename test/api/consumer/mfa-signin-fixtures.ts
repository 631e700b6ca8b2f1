/** @module Helpers for the MFA sign-in and step-up tests: enrol a TOTP factor and compute codes independently of the server. */
import { expect } from "bun:test";
import { decodeJwt } from "jose";
import { Secret, TOTP } from "otpauth";
import { SECOND } from "../../../src/core/clock.ts";
import { type EndUserTokens, GOOD_PASSWORD, signUp } from "../../support/end-users.ts";
import type { TestApp } from "../../support/fixtures.ts";
import type { TestContext } from "../../support/harness.ts";

export const STEP = 30 * SECOND;
const META = { requestId: "test-enrol", ip: null, userAgent: null };

/** The RFC 6238 code of `secret` at `timestamp`, computed by the test with otpauth's generator. */
export function codeAt(secret: Secret, timestamp: number): string {
  return new TOTP({ secret, algorithm: "SHA1", digits: 6, period: 30 }).generate({ timestamp });
}

export interface MfaUser extends EndUserTokens {
  username: string;
  email: string;
  secret: Secret;
  factorId: string;
  recoveryCodes: string[];
}

/**
 * Signs a user up and enrols a confirmed TOTP factor through the MFA service (two consecutive codes),
 * then moves the clock one step on: the enrolment spent the current step, so its codes would be replays.
 */
export async function userWithFactor(ctx: TestContext, app: TestApp, username: string): Promise<MfaUser> {
  const email = `${username}@example.test`;
  const tokens = await signUp(ctx, app.slug, { username, email, password: GOOD_PASSWORD });
  const caller = { appId: app.id, userId: tokens.userId, sessionId: tokens.sessionId };
  const started = await ctx.deps.mfa.startEnrollment(caller, { type: "totp" }, META);
  const secret = Secret.fromBase32(started.enrollment.secret);
  const now = ctx.clock.now();
  const confirmed = await ctx.deps.mfa.confirmEnrollment(
    caller,
    started.factor.id,
    { codes: [codeAt(secret, now - STEP), codeAt(secret, now)] },
    META,
  );
  expect(confirmed.recovery_codes).toHaveLength(10);
  ctx.clock.advance(STEP);
  return {
    ...tokens,
    username,
    email,
    secret,
    factorId: started.factor.id,
    recoveryCodes: confirmed.recovery_codes,
  };
}

export function signinRaw(ctx: TestContext, app: TestApp, identifier: string, password = GOOD_PASSWORD) {
  return ctx.call("POST", "/{app_slug}/v1/auth/signin", {
    params: { app_slug: app.slug },
    body: { identifier, password },
    auth: null,
  });
}

/** Signs in with the password and returns the challenge's `mfa_token`; fails unless a challenge came back. */
export async function challenge(ctx: TestContext, app: TestApp, identifier: string): Promise<string> {
  const res = await signinRaw(ctx, app, identifier);
  expect(res.status).toBe(200);
  expect(res.body.mfa_required).toBe(true);
  return res.body.mfa_token as string;
}

export function verify(ctx: TestContext, app: TestApp, mfaToken: string, code: unknown) {
  return ctx.call("POST", "/{app_slug}/v1/auth/mfa/verify", {
    params: { app_slug: app.slug },
    body: { mfa_token: mfaToken, code },
    auth: null,
  });
}

export function recover(ctx: TestContext, app: TestApp, mfaToken: string, recoveryCode: unknown) {
  return ctx.call("POST", "/{app_slug}/v1/auth/mfa/recover", {
    params: { app_slug: app.slug },
    body: { mfa_token: mfaToken, recovery_code: recoveryCode },
    auth: null,
  });
}

export function stepUp(ctx: TestContext, app: TestApp, accessToken: string, code: unknown) {
  return ctx.call("POST", "/{app_slug}/v1/me/mfa/step-up", {
    params: { app_slug: app.slug },
    body: { code },
    auth: { bearer: accessToken },
  });
}

export function refresh(ctx: TestContext, app: TestApp, refreshToken: string) {
  return ctx.call("POST", "/{app_slug}/v1/auth/refresh", {
    params: { app_slug: app.slug },
    body: { refresh_token: refreshToken },
    auth: null,
  });
}

export const claimsOf = (accessToken: string) => decodeJwt(accessToken);

/** A code that is well-formed but not the current one (nor a neighbouring step's). */
export function wrongCode(secret: Secret, now: number): string {
  const near = new Set([-1, 0, 1].map((d) => codeAt(secret, now + d * STEP)));
  for (let i = 0; ; i++) {
    const c = String(123456 + i).padStart(6, "0");
    if (!near.has(c)) return c;
  }
}
