/**
 * @module Step-up on a live session: a TOTP or recovery code adds its method to the session's `amr` and
 * stamps `mfa_at`; five wrong codes in a row lock the session's step-up for 15 minutes. Part of the MFA
 * sign-in service (`mfa-service.ts` composes it).
 */
import { iso } from "../core/clock.ts";
import { tx } from "../db/client.ts";
import {
  AMR_RECOVERY,
  AMR_TOTP,
  endUserActor,
  locked,
  MFA_LIMITS,
  type MfaContext,
  type MfaSigninService,
  seconds,
  wrongCode,
} from "./mfa-context.ts";

export function createMfaStepUp({ deps, store }: MfaContext): Pick<MfaSigninService, "stepUp"> {
  const { db, clock, audit, events, rateLimiter, mfa } = deps;
  const stepUpKey = (sessionId: string) => `mfa-stepup-fail:${sessionId}`;

  return {
    async stepUp(app, who, code, meta) {
      const now = clock.now();
      const key = stepUpKey(who.sessionId);
      const strikes = await rateLimiter.strikes(key, MFA_LIMITS.stepUpLock);
      if (strikes.count >= MFA_LIMITS.stepUpFailures) {
        const until = strikes.last + MFA_LIMITS.stepUpLock;
        if (until > now) throw locked(seconds(until - now));
        await rateLimiter.reset(key);
      }
      const method = /^[0-9]{6}$/.test(code) ? AMR_TOTP : AMR_RECOVERY;
      // A success's check and its session update commit together; a failure's check wrote nothing.
      const amr = await tx(db, async () => {
        const ok =
          method === AMR_TOTP
            ? (await mfa.verifyTotp(app.id, who.userId, code)) !== null
            : await mfa.useRecoveryCode(app.id, who.userId, code, meta);
        if (!ok) return null;
        const merged = [...new Set([...((await store.sessionAmr(who.sessionId)) ?? ["pwd"]), method])];
        await store.stepUp(who.sessionId, merged, now);
        await audit.record({
          appId: app.id,
          action: "user.mfa.step_up_succeeded",
          resourceType: "session",
          resourceId: who.sessionId,
          actor: endUserActor(who.userId),
          details: { method, amr: merged },
          meta,
        });
        await events.emit({
          type: "user.mfa.step_up_succeeded",
          appId: app.id,
          data: { user_id: who.userId, session_id: who.sessionId, method },
        });
        return merged;
      });
      if (amr) {
        await rateLimiter.reset(key);
        return { amr, mfa_at: iso(now) };
      }
      const { count } = await rateLimiter.strike(key, MFA_LIMITS.stepUpLock);
      const lockedNow = count >= MFA_LIMITS.stepUpFailures;
      await tx(db, async () => {
        await audit.record({
          appId: app.id,
          action: "user.mfa.step_up_failed",
          resourceType: "session",
          resourceId: who.sessionId,
          actor: endUserActor(who.userId),
          details: { method, failures: count, locked: lockedNow },
          meta,
        });
        if (lockedNow) {
          const lockedUntil = iso(now + MFA_LIMITS.stepUpLock);
          await audit.record({
            appId: app.id,
            action: "user.mfa.step_up_locked",
            resourceType: "session",
            resourceId: who.sessionId,
            actor: { type: "system", id: null },
            details: { user_id: who.userId, failures: count, locked_until: lockedUntil },
            meta,
          });
          await events.emit({
            type: "user.mfa.step_up_locked",
            appId: app.id,
            data: { user_id: who.userId, session_id: who.sessionId, locked_until: lockedUntil },
          });
        }
      });
      if (lockedNow) throw locked(seconds(MFA_LIMITS.stepUpLock));
      throw wrongCode();
    },
  };
}
