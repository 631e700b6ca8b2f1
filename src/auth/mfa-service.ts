/**
 * @module The second stage of an end-user sign-in (the `mfa_token` challenge and its completion with a TOTP
 * or recovery code) and step-up on a live session (docs/decisions.md, "MFA at sign-in, step-up and required MFA"), and the enrolment a required-MFA sign-in
 * allows.
 *
 * A challenge is the proof that the password was right a moment ago: single-use, five minutes, bound to
 * the app and the account, stored as SHA-256. Guessing is bounded three ways: five wrong codes kill one
 * challenge; wrong codes per account are counted across challenges (10 per 15 minutes), so a fresh
 * challenge (which itself costs a correct password, under the sign-in throttle) buys no extra guesses;
 * and step-up locks a session for 15 minutes after five wrong codes in a row.
 *
 * This file composes the parts: `mfa-challenge.ts` (a challenge's life), `mfa-verify.ts`, `mfa-enroll.ts` and
 * `mfa-step-up.ts`; what they share is in `mfa-context.ts`.
 */
import { createUserEvents } from "../users/events.ts";
import { createUserStore } from "../users/store.ts";
import { createChallengeSteps } from "./mfa-challenge.ts";
import type { MfaContext, MfaSigninService, MfaSigninServiceDeps } from "./mfa-context.ts";
import { createMfaEnrollment } from "./mfa-enroll.ts";
import { createMfaStepUp } from "./mfa-step-up.ts";
import { createMfaChallengeStore } from "./mfa-store.ts";
import { createMfaCompletion } from "./mfa-verify.ts";

export type { MfaChecks, MfaSigninService, MfaSigninServiceDeps } from "./mfa-context.ts";
export { AMR_RECOVERY, AMR_TOTP, MFA_LIMITS } from "./mfa-context.ts";

export function createMfaSigninService(deps: MfaSigninServiceDeps): MfaSigninService {
  const ctx: MfaContext = {
    deps,
    store: createMfaChallengeStore(deps.db),
    users: createUserStore(deps.db),
    userEvents: createUserEvents(deps.events),
  };
  const steps = createChallengeSteps(ctx);
  return {
    challenge: steps.open,
    ...createMfaEnrollment(ctx, steps),
    ...createMfaCompletion(ctx, steps),
    ...createMfaStepUp(ctx),
  };
}
