/**
 * @module Completing an MFA sign-in challenge with a TOTP code or a recovery code: the check, its write and
 * the session commit together. Part of the MFA sign-in service (`mfa-service.ts` composes it).
 */
import type { AppRef } from "../core/app-ref.ts";
import type { CallMeta } from "../core/principal.ts";
import { tx } from "../db/client.ts";
import type { ChallengeSteps } from "./mfa-challenge.ts";
import { AMR_RECOVERY, AMR_TOTP, deadToken, type MfaContext, type MfaSigninService } from "./mfa-context.ts";
import { type TokenResponse, tokenResponse } from "./model.ts";
import { tenantAccessDenied } from "./tenant-scope.ts";

export function createMfaCompletion(
  { deps }: MfaContext,
  steps: ChallengeSteps,
): Pick<MfaSigninService, "verify" | "recover"> {
  const { db, clock, rateLimiter, mfa } = deps;
  const {
    liveChallenge,
    activeUser,
    assertAccountNotLocked,
    recordWrongCode,
    openSession,
    amrOf,
    refuseWrongCode,
    accountFailures,
    accessFor,
  } = steps;

  async function complete(
    app: AppRef,
    mfaToken: string,
    method: typeof AMR_TOTP | typeof AMR_RECOVERY,
    check: (userId: string) => Promise<boolean>,
    meta: CallMeta,
  ): Promise<TokenResponse> {
    const now = clock.now();
    const challenge = await liveChallenge(app, mfaToken, "signin", now);
    const user = await activeUser(app, challenge, now, meta);
    await assertAccountNotLocked(app.id, user.id);
    // The check, its write (replay step, spent code) and the session commit together.
    const outcome = await tx(db, async () => {
      if (!(await check(user.id))) return { failed: await recordWrongCode(app, challenge, method, meta) };
      // A racing request with the same token may have won; then this one gets the dead-token answer.
      return { opened: await openSession(app, challenge, user.role, amrOf(challenge, method), now, meta) };
    });
    if (outcome.failed !== undefined) await refuseWrongCode(app, challenge, outcome.failed, now);
    const opened = outcome.opened;
    if (!opened) throw deadToken();
    await rateLimiter.reset(accountFailures(app.id, user.id).key);
    // The second factor was right: the refusal is the tenant's, as at a sign-in without MFA.
    if (opened === "denied") throw tenantAccessDenied();
    const access = await accessFor(app, opened.session, opened.role, opened.tenant);
    return tokenResponse(access, opened.refreshToken);
  }

  return {
    async verify(app, input, meta) {
      return await complete(
        app,
        input.mfa_token,
        AMR_TOTP,
        async (userId) => (await mfa.verifyTotp(app.id, userId, input.code)) !== null,
        meta,
      );
    },

    async recover(app, input, meta) {
      return await complete(
        app,
        input.mfa_token,
        AMR_RECOVERY,
        async (userId) => await mfa.useRecoveryCode(app.id, userId, input.recovery_code, meta),
        meta,
      );
    },
  };
}
