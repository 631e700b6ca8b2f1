/**
 * @module The TOTP enrolment a required-MFA sign-in allows: an `enroll` challenge stands in for a session
 * while the account enrols its first factor, and confirming it completes the sign-in. Part of the MFA
 * sign-in service (`mfa-service.ts` composes it).
 */
import { HeimdallError } from "../core/errors.ts";
import { tx } from "../db/client.ts";
import type { ConfirmEnrollmentResponseDto } from "../mfa/model.ts";
import type { ChallengeSteps } from "./mfa-challenge.ts";
import {
  AMR_TOTP,
  deadToken,
  locked,
  MFA_LIMITS,
  type MfaContext,
  type MfaSigninService,
  seconds,
} from "./mfa-context.ts";
import { tokenResponse } from "./model.ts";
import { tenantAccessDenied } from "./tenant-scope.ts";

export function createMfaEnrollment(
  { deps }: MfaContext,
  steps: ChallengeSteps,
): Pick<MfaSigninService, "enrollStart" | "enrollConfirm"> {
  const { db, clock, rateLimiter, mfa } = deps;
  const {
    liveChallenge,
    activeUser,
    assertAccountNotLocked,
    recordWrongCode,
    openSession,
    amrOf,
    accountFailures,
    accessFor,
  } = steps;

  return {
    async enrollStart(app, input, meta) {
      const now = clock.now();
      const challenge = await liveChallenge(app, input.mfa_token, "enroll", now);
      const user = await activeUser(app, challenge, now, meta);
      // The challenge stands in for a session: it is the proof of the password a moment ago.
      const caller = { appId: app.id, userId: user.id, sessionId: challenge.id };
      return await mfa.startEnrollment(
        caller,
        { type: "totp", ...(input.label ? { label: input.label } : {}) },
        meta,
      );
    },

    async enrollConfirm(app, input, meta) {
      const now = clock.now();
      const challenge = await liveChallenge(app, input.mfa_token, "enroll", now);
      const user = await activeUser(app, challenge, now, meta);
      await assertAccountNotLocked(app.id, user.id);
      const caller = { appId: app.id, userId: user.id, sessionId: challenge.id };
      let confirmed: ConfirmEnrollmentResponseDto;
      try {
        confirmed = await mfa.confirmEnrollment(caller, input.factor_id, { codes: input.codes }, meta);
      } catch (err) {
        if (err instanceof HeimdallError && err.code === "MFA_ENROLLMENT_CODES_INVALID") {
          const attempts = await tx(db, async () => await recordWrongCode(app, challenge, AMR_TOTP, meta));
          await rateLimiter.hit(accountFailures(app.id, user.id));
          if (attempts >= MFA_LIMITS.attemptsPerChallenge) {
            throw locked(
              seconds(challenge.expiresAt - now),
              "Too many wrong codes for this sign-in; sign in again",
            );
          }
        }
        throw err;
      }
      // The factor is enabled now; should a racing request have spent the challenge, a normal sign-in works.
      const opened = await tx(
        db,
        async () => await openSession(app, challenge, user.role, amrOf(challenge, AMR_TOTP), now, meta),
      );
      if (!opened) throw deadToken();
      if (opened === "denied") throw tenantAccessDenied();
      const access = await accessFor(app, opened.session, opened.role, opened.tenant);
      return { ...tokenResponse(access, opened.refreshToken), recovery_codes: confirmed.recovery_codes };
    },
  };
}
