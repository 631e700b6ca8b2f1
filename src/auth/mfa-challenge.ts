/**
 * @module The life of an MFA sign-in challenge, as the other parts of the MFA sign-in service use it: opening
 * one, finding it live, counting its wrong codes (per challenge and per account), and spending it into a
 * session. Part of the MFA sign-in service (`mfa-service.ts` composes it).
 */
import type { AppRef } from "../core/app-ref.ts";
import { iso, SECOND } from "../core/clock.ts";
import { sha256Hex } from "../core/crypto.ts";
import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { CallMeta } from "../core/principal.ts";
import { tx } from "../db/client.ts";
import { headersOf, type Limit } from "../ratelimit/limiter.ts";
import type { SessionRow } from "../sessions/store.ts";
import {
  deadToken,
  endUserActor,
  locked,
  MFA_LIMITS,
  type MfaContext,
  seconds,
  wrongCode,
} from "./mfa-context.ts";
import type { MfaChallengeFactor, MfaChallengeResponse } from "./mfa-model.ts";
import type { MfaChallengeRow } from "./mfa-store.ts";
import type { TenantScope } from "./tenant-scope.ts";

export type ChallengeSteps = ReturnType<typeof createChallengeSteps>;

export function createChallengeSteps({ deps, store, users, userEvents }: MfaContext) {
  const { db, clock, audit, apps, sessions, tokens, rateLimiter, tenantScope } = deps;

  const accountFailures = (appId: string, userId: string): Limit => ({
    key: `mfa-fail:${appId}:${userId}`,
    ...MFA_LIMITS.failuresPerAccount,
  });
  /** The completed sign-in's `amr`: the first factor's (the password unless the challenge says otherwise), then the method. */
  const amrOf = (challenge: MfaChallengeRow, method: string) => [
    ...(challenge.firstFactorAmr ?? ["pwd"]),
    method,
  ];

  /** The live challenge of `purpose` behind `mfaToken` on this app, or the one dead-token answer. */
  async function liveChallenge(
    app: AppRef,
    mfaToken: string,
    purpose: "signin" | "enroll",
    now: number,
  ): Promise<MfaChallengeRow> {
    const challenge = await store.byTokenHash(sha256Hex(mfaToken));
    if (
      !challenge ||
      challenge.appId !== app.id ||
      challenge.purpose !== purpose ||
      challenge.consumedAt !== null ||
      challenge.expiresAt <= now
    ) {
      throw deadToken();
    }
    if (challenge.attempts >= MFA_LIMITS.attemptsPerChallenge) {
      throw locked(
        seconds(challenge.expiresAt - now),
        "Too many wrong codes for this sign-in; sign in again",
      );
    }
    return challenge;
  }

  /** The challenge's account if still active; otherwise the challenge is spent and the answer is a dead token. */
  async function activeUser(app: AppRef, challenge: MfaChallengeRow, now: number, meta: CallMeta) {
    const user = await users.byId(app.id, challenge.userId);
    if (user?.status === "active") return user;
    await tx(db, async () => {
      await store.consume(challenge.id, now);
      await audit.record({
        appId: app.id,
        action: "user.signin_failed",
        resourceType: "end_user",
        resourceId: challenge.userId,
        actor: endUserActor(challenge.userId),
        details: { reason: "account_suspended", stage: "mfa", status: user?.status ?? "deleted" },
        meta,
      });
    });
    throw deadToken();
  }

  /**
   * Opens the session a completed challenge earns; null when a racing request consumed it first. The
   * challenge is spent either way, also when its tenant refuses the account now (`denied`, audited).
   */
  async function openSession(
    app: AppRef,
    challenge: MfaChallengeRow,
    role: string,
    amr: string[],
    now: number,
    meta: CallMeta,
  ) {
    if (!(await store.consume(challenge.id, now))) return null;
    const tenant = await tenantScope.atChallengeEnd(challenge, meta);
    if (tenant === "denied") return tenant;
    const config = await apps.authConfigOf(app.id);
    const result = await sessions.create({
      appId: app.id,
      userId: challenge.userId,
      amr,
      mfaAt: now,
      tenantId: tenant?.id ?? null,
      durationMinutes: config.session_duration_minutes,
      maxSessions: config.max_sessions,
      meta,
    });
    await audit.record({
      appId: app.id,
      action: "user.signed_in",
      resourceType: "end_user",
      resourceId: challenge.userId,
      actor: endUserActor(challenge.userId),
      details: {
        session_id: result.session.id,
        amr,
        ...(challenge.purpose === "enroll" ? { enrolled: true } : {}),
        ...(tenant ? { tenant_id: tenant.id, tenant_role: tenant.role } : {}),
      },
      meta,
    });
    await userEvents.signedIn(app.id, challenge.userId, result.session);
    return { ...result, role, tenant };
  }

  /** Counts a wrong code on the challenge (audited; the fifth kills it); call inside a transaction. */
  async function recordWrongCode(
    app: AppRef,
    challenge: MfaChallengeRow,
    method: string,
    meta: CallMeta,
  ): Promise<number> {
    const n = await store.addAttempt(challenge.id);
    const dead = n >= MFA_LIMITS.attemptsPerChallenge;
    await audit.record({
      appId: app.id,
      action: "user.signin_failed",
      resourceType: "end_user",
      resourceId: challenge.userId,
      actor: endUserActor(challenge.userId),
      details: { reason: "wrong_mfa_code", method, attempts: n, locked: dead },
      meta,
    });
    if (dead) {
      await audit.record({
        appId: app.id,
        action: "user.mfa.challenge_locked",
        resourceType: "end_user",
        resourceId: challenge.userId,
        actor: { type: "system", id: null },
        details: { attempts: n },
        meta,
      });
    }
    return n;
  }

  /** After a wrong code: counts it for the account too and answers 401, or 429 once the challenge is dead. */
  async function refuseWrongCode(
    app: AppRef,
    challenge: MfaChallengeRow,
    attempts: number,
    now: number,
  ): Promise<never> {
    await rateLimiter.hit(accountFailures(app.id, challenge.userId));
    if (attempts >= MFA_LIMITS.attemptsPerChallenge) {
      throw locked(
        seconds(challenge.expiresAt - now),
        "Too many wrong codes for this sign-in; sign in again",
      );
    }
    throw wrongCode();
  }

  /** Wrong codes per account across challenges: past the limit even a right code waits (429). */
  async function assertAccountNotLocked(appId: string, userId: string): Promise<void> {
    const perAccount = await rateLimiter.peek(accountFailures(appId, userId));
    if (perAccount.remaining === 0) {
      throw fail("MFA_LOCKED", {
        headers: { ...headersOf(perAccount), "retry-after": String(perAccount.resetSeconds) },
      });
    }
  }

  const accessFor = (app: AppRef, session: SessionRow, role: string, tenant: TenantScope | null) =>
    tokens.issueEndUser(
      app,
      { sub: session.userId, sid: session.id, role, amr: session.amr, mfaAt: session.mfaAt, tenant },
      Math.floor(session.expiresAt / SECOND),
    );

  /** Opens a challenge for an account whose password was just proved (`MfaSigninService.challenge`). */
  async function open(
    app: AppRef,
    userId: string,
    factors: MfaChallengeFactor[],
    purpose: "signin" | "enroll" = "signin",
    tenantId: string | null = null,
    firstFactorAmr: readonly string[] | null = null,
  ): Promise<MfaChallengeResponse> {
    const now = clock.now();
    const token = crypto.randomUUID();
    const expiresAt = now + MFA_LIMITS.challengeTtl;
    await store.insert({
      id: newId(clock),
      appId: app.id,
      userId,
      tokenHash: sha256Hex(token),
      purpose,
      tenantId,
      firstFactorAmr: firstFactorAmr ? [...firstFactorAmr] : null,
      attempts: 0,
      expiresAt,
      consumedAt: null,
      createdAt: now,
    });
    return {
      mfa_required: true,
      mfa_token: token,
      expires_at: iso(expiresAt),
      factors: factors.map(({ id, type, label }) => ({ id, type, label })),
      ...(purpose === "enroll" ? { enrollment_required: true as const } : {}),
    };
  }

  return {
    open,
    liveChallenge,
    activeUser,
    openSession,
    recordWrongCode,
    refuseWrongCode,
    assertAccountNotLocked,
    accountFailures,
    amrOf,
    accessFor,
  };
}
