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
 */
import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { AppRef } from "../core/app-ref.ts";
import { type Clock, iso, MINUTE, SECOND } from "../core/clock.ts";
import { sha256Hex } from "../core/crypto.ts";
import { fail, HeimdallError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { ConfirmEnrollmentResponseDto, StartEnrollmentResponseDto } from "../mfa/model.ts";
import type { MfaService } from "../mfa/service.ts";
import { headersOf, type Limit, type RateLimiter } from "../ratelimit/limiter.ts";
import type { SessionService } from "../sessions/service.ts";
import type { SessionRow } from "../sessions/store.ts";
import type { TokenService } from "../tokens/service.ts";
import { createUserEvents } from "../users/events.ts";
import { createUserStore } from "../users/store.ts";
import type {
  MfaChallengeFactor,
  MfaChallengeResponse,
  MfaEnrollConfirmInput,
  MfaEnrollInput,
  MfaRecoverInput,
  MfaVerifyInput,
  StepUpResponse,
} from "./mfa-model.ts";
import { createMfaChallengeStore, type MfaChallengeRow } from "./mfa-store.ts";
import { type TokenResponse, tokenResponse } from "./model.ts";
import { type TenantScope, type TenantScopeService, tenantAccessDenied } from "./tenant-scope.ts";

export const MFA_LIMITS = {
  /** How long an `mfa_token` is good for. */
  challengeTtl: 5 * MINUTE,
  /** Wrong codes one challenge survives; the last one kills it. */
  attemptsPerChallenge: 5,
  /** Wrong codes per account across every challenge, per fixed window. */
  failuresPerAccount: { max: 10, windowMs: 15 * MINUTE },
  /** Consecutive wrong step-up codes before a session's step-up is locked, and for how long. */
  stepUpFailures: 5,
  stepUpLock: 15 * MINUTE,
} as const;

/** `amr` values as the contract writes them (`["pwd","totp"]`, `["pwd","recovery_code"]`). */
export const AMR_TOTP = "totp";
export const AMR_RECOVERY = "recovery_code";

/** What this module needs from the MFA core (`src/mfa/`); each check may write (replay step, used code). */
export interface MfaChecks {
  enabledFactors(appId: string, userId: string): MfaChallengeFactor[];
  /** A current, unused TOTP code of an enabled factor (stores its step); call inside a transaction. */
  verifyTotp(appId: string, userId: string, code: string): { factorId: string } | null;
  /** Spends an unused recovery code (audits and emits `user.mfa.recovery_code_used`); inside a transaction. */
  useRecoveryCode(appId: string, userId: string, code: string, meta?: Partial<CallMeta>): boolean;
}

export interface MfaSigninServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  events: EventEmitter;
  apps: Pick<AppService, "authConfigOf">;
  sessions: SessionService;
  tokens: Pick<TokenService, "issueEndUser">;
  rateLimiter: RateLimiter;
  mfa: MfaChecks & Pick<MfaService, "startEnrollment" | "confirmEnrollment">;
  /** The tenant a challenge's sign-in asked for is checked again when it completes. */
  tenantScope: Pick<TenantScopeService, "atChallengeEnd">;
}

export interface MfaSigninService {
  /**
   * Opens a challenge for an account whose password was just proved; call inside the sign-in's tx.
   * `enroll`: the app requires MFA and the account has no factor; the token only allows enrolment.
   * `tenantId`: the tenant the sign-in asked for (already checked), applied when the challenge completes.
   * `firstFactorAmr`: what proved the first factor when it was not the password (a federated sign-in's
   * `["oauth", provider]`); the session's `amr` is it plus the second factor's method.
   */
  challenge(
    app: AppRef,
    userId: string,
    factors: MfaChallengeFactor[],
    purpose?: "signin" | "enroll",
    tenantId?: string | null,
    firstFactorAmr?: readonly string[] | null,
  ): MfaChallengeResponse;
  /** Starts a TOTP enrolment with an enrolment challenge's token. */
  enrollStart(app: AppRef, input: MfaEnrollInput, meta: CallMeta): Promise<StartEnrollmentResponseDto>;
  /** Confirms it with two consecutive codes: the factor is enabled and the sign-in completes. */
  enrollConfirm(
    app: AppRef,
    input: MfaEnrollConfirmInput,
    meta: CallMeta,
  ): Promise<TokenResponse & Pick<ConfirmEnrollmentResponseDto, "recovery_codes">>;
  verify(app: AppRef, input: MfaVerifyInput, meta: CallMeta): Promise<TokenResponse>;
  recover(app: AppRef, input: MfaRecoverInput, meta: CallMeta): Promise<TokenResponse>;
  stepUp(
    app: AppRef,
    who: { userId: string; sessionId: string },
    code: string,
    meta: CallMeta,
  ): StepUpResponse;
}

/** One answer for a token that is wrong, expired, used, of another app or of an account now suspended. */
const deadToken = () => fail("MFA_TOKEN_INVALID");
const wrongCode = () => fail("MFA_CODE_INVALID");
const locked = (retryAfter: number, message?: string) =>
  fail("MFA_LOCKED", { ...(message ? { message } : {}), headers: { "retry-after": String(retryAfter) } });

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / SECOND));

export function createMfaSigninService(deps: MfaSigninServiceDeps): MfaSigninService {
  const { db, clock, audit, events, apps, sessions, tokens, rateLimiter, mfa, tenantScope } = deps;
  const store = createMfaChallengeStore(db);
  const users = createUserStore(db);
  const userEvents = createUserEvents(events);

  const accountFailures = (appId: string, userId: string): Limit => ({
    key: `mfa-fail:${appId}:${userId}`,
    ...MFA_LIMITS.failuresPerAccount,
  });
  const stepUpKey = (sessionId: string) => `mfa-stepup-fail:${sessionId}`;
  const actor = (userId: string) => ({ type: "end_user" as const, id: userId });
  /** The completed sign-in's `amr`: the first factor's (the password unless the challenge says otherwise), then the method. */
  const amrOf = (challenge: MfaChallengeRow, method: string) => [
    ...(challenge.firstFactorAmr ?? ["pwd"]),
    method,
  ];

  /** The live challenge of `purpose` behind `mfaToken` on this app, or the one dead-token answer. */
  function liveChallenge(
    app: AppRef,
    mfaToken: string,
    purpose: "signin" | "enroll",
    now: number,
  ): MfaChallengeRow {
    const challenge = store.byTokenHash(sha256Hex(mfaToken));
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
  function activeUser(app: AppRef, challenge: MfaChallengeRow, now: number, meta: CallMeta) {
    const user = users.byId(app.id, challenge.userId);
    if (user?.status === "active") return user;
    tx(db, () => {
      store.consume(challenge.id, now);
      audit.record({
        appId: app.id,
        action: "user.signin_failed",
        resourceType: "end_user",
        resourceId: challenge.userId,
        actor: actor(challenge.userId),
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
  function openSession(
    app: AppRef,
    challenge: MfaChallengeRow,
    role: string,
    amr: string[],
    now: number,
    meta: CallMeta,
  ) {
    if (!store.consume(challenge.id, now)) return null;
    const tenant = tenantScope.atChallengeEnd(challenge, meta);
    if (tenant === "denied") return tenant;
    const config = apps.authConfigOf(app.id);
    const result = sessions.create({
      appId: app.id,
      userId: challenge.userId,
      amr,
      mfaAt: now,
      tenantId: tenant?.id ?? null,
      durationMinutes: config.session_duration_minutes,
      maxSessions: config.max_sessions,
      meta,
    });
    audit.record({
      appId: app.id,
      action: "user.signed_in",
      resourceType: "end_user",
      resourceId: challenge.userId,
      actor: actor(challenge.userId),
      details: {
        session_id: result.session.id,
        amr,
        ...(challenge.purpose === "enroll" ? { enrolled: true } : {}),
        ...(tenant ? { tenant_id: tenant.id, tenant_role: tenant.role } : {}),
      },
      meta,
    });
    userEvents.signedIn(app.id, challenge.userId, result.session);
    return { ...result, role, tenant };
  }

  /** Counts a wrong code on the challenge (audited; the fifth kills it); call inside a transaction. */
  function recordWrongCode(app: AppRef, challenge: MfaChallengeRow, method: string, meta: CallMeta): number {
    const n = store.addAttempt(challenge.id);
    const dead = n >= MFA_LIMITS.attemptsPerChallenge;
    audit.record({
      appId: app.id,
      action: "user.signin_failed",
      resourceType: "end_user",
      resourceId: challenge.userId,
      actor: actor(challenge.userId),
      details: { reason: "wrong_mfa_code", method, attempts: n, locked: dead },
      meta,
    });
    if (dead) {
      audit.record({
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
  function refuseWrongCode(app: AppRef, challenge: MfaChallengeRow, attempts: number, now: number): never {
    rateLimiter.hit(accountFailures(app.id, challenge.userId));
    if (attempts >= MFA_LIMITS.attemptsPerChallenge) {
      throw locked(
        seconds(challenge.expiresAt - now),
        "Too many wrong codes for this sign-in; sign in again",
      );
    }
    throw wrongCode();
  }

  /** Wrong codes per account across challenges: past the limit even a right code waits (429). */
  function assertAccountNotLocked(appId: string, userId: string): void {
    const perAccount = rateLimiter.peek(accountFailures(appId, userId));
    if (perAccount.remaining === 0) {
      throw fail("MFA_LOCKED", {
        headers: { ...headersOf(perAccount), "retry-after": String(perAccount.resetSeconds) },
      });
    }
  }

  async function complete(
    app: AppRef,
    mfaToken: string,
    method: typeof AMR_TOTP | typeof AMR_RECOVERY,
    check: (userId: string) => boolean,
    meta: CallMeta,
  ): Promise<TokenResponse> {
    const now = clock.now();
    const challenge = liveChallenge(app, mfaToken, "signin", now);
    const user = activeUser(app, challenge, now, meta);
    assertAccountNotLocked(app.id, user.id);
    // The check, its write (replay step, spent code) and the session commit together.
    const outcome = tx(db, () => {
      if (!check(user.id)) return { failed: recordWrongCode(app, challenge, method, meta) };
      // A racing request with the same token may have won; then this one gets the dead-token answer.
      return { opened: openSession(app, challenge, user.role, amrOf(challenge, method), now, meta) };
    });
    if (outcome.failed !== undefined) refuseWrongCode(app, challenge, outcome.failed, now);
    const opened = outcome.opened;
    if (!opened) throw deadToken();
    rateLimiter.reset(accountFailures(app.id, user.id).key);
    // The second factor was right: the refusal is the tenant's, as at a sign-in without MFA.
    if (opened === "denied") throw tenantAccessDenied();
    const access = await accessFor(app, opened.session, opened.role, opened.tenant);
    return tokenResponse(access, opened.refreshToken);
  }

  const accessFor = (app: AppRef, session: SessionRow, role: string, tenant: TenantScope | null) =>
    tokens.issueEndUser(
      app,
      { sub: session.userId, sid: session.id, role, amr: session.amr, mfaAt: session.mfaAt, tenant },
      Math.floor(session.expiresAt / SECOND),
    );

  return {
    challenge(app, userId, factors, purpose = "signin", tenantId = null, firstFactorAmr = null) {
      const now = clock.now();
      const token = crypto.randomUUID();
      const expiresAt = now + MFA_LIMITS.challengeTtl;
      store.insert({
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
    },

    enrollStart(app, input, meta) {
      const now = clock.now();
      const challenge = liveChallenge(app, input.mfa_token, "enroll", now);
      const user = activeUser(app, challenge, now, meta);
      // The challenge stands in for a session: it is the proof of the password a moment ago.
      const caller = { appId: app.id, userId: user.id, sessionId: challenge.id };
      return mfa.startEnrollment(
        caller,
        { type: "totp", ...(input.label ? { label: input.label } : {}) },
        meta,
      );
    },

    async enrollConfirm(app, input, meta) {
      const now = clock.now();
      const challenge = liveChallenge(app, input.mfa_token, "enroll", now);
      const user = activeUser(app, challenge, now, meta);
      assertAccountNotLocked(app.id, user.id);
      const caller = { appId: app.id, userId: user.id, sessionId: challenge.id };
      let confirmed: ConfirmEnrollmentResponseDto;
      try {
        confirmed = mfa.confirmEnrollment(caller, input.factor_id, { codes: input.codes }, meta);
      } catch (err) {
        if (err instanceof HeimdallError && err.code === "MFA_ENROLLMENT_CODES_INVALID") {
          const attempts = tx(db, () => recordWrongCode(app, challenge, AMR_TOTP, meta));
          rateLimiter.hit(accountFailures(app.id, user.id));
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
      const opened = tx(db, () =>
        openSession(app, challenge, user.role, amrOf(challenge, AMR_TOTP), now, meta),
      );
      if (!opened) throw deadToken();
      if (opened === "denied") throw tenantAccessDenied();
      const access = await accessFor(app, opened.session, opened.role, opened.tenant);
      return { ...tokenResponse(access, opened.refreshToken), recovery_codes: confirmed.recovery_codes };
    },

    verify(app, input, meta) {
      return complete(
        app,
        input.mfa_token,
        AMR_TOTP,
        (userId) => mfa.verifyTotp(app.id, userId, input.code) !== null,
        meta,
      );
    },

    recover(app, input, meta) {
      return complete(
        app,
        input.mfa_token,
        AMR_RECOVERY,
        (userId) => mfa.useRecoveryCode(app.id, userId, input.recovery_code, meta),
        meta,
      );
    },

    stepUp(app, who, code, meta) {
      const now = clock.now();
      const key = stepUpKey(who.sessionId);
      const strikes = rateLimiter.strikes(key, MFA_LIMITS.stepUpLock);
      if (strikes.count >= MFA_LIMITS.stepUpFailures) {
        const until = strikes.last + MFA_LIMITS.stepUpLock;
        if (until > now) throw locked(seconds(until - now));
        rateLimiter.reset(key);
      }
      const method = /^[0-9]{6}$/.test(code) ? AMR_TOTP : AMR_RECOVERY;
      // A success's check and its session update commit together; a failure's check wrote nothing.
      const amr = tx(db, () => {
        const ok =
          method === AMR_TOTP
            ? mfa.verifyTotp(app.id, who.userId, code) !== null
            : mfa.useRecoveryCode(app.id, who.userId, code, meta);
        if (!ok) return null;
        const merged = [...new Set([...(store.sessionAmr(who.sessionId) ?? ["pwd"]), method])];
        store.stepUp(who.sessionId, merged, now);
        audit.record({
          appId: app.id,
          action: "user.mfa.step_up_succeeded",
          resourceType: "session",
          resourceId: who.sessionId,
          actor: actor(who.userId),
          details: { method, amr: merged },
          meta,
        });
        events.emit({
          type: "user.mfa.step_up_succeeded",
          appId: app.id,
          data: { user_id: who.userId, session_id: who.sessionId, method },
        });
        return merged;
      });
      if (amr) {
        rateLimiter.reset(key);
        return { amr, mfa_at: iso(now) };
      }
      const { count } = rateLimiter.strike(key, MFA_LIMITS.stepUpLock);
      const lockedNow = count >= MFA_LIMITS.stepUpFailures;
      tx(db, () => {
        audit.record({
          appId: app.id,
          action: "user.mfa.step_up_failed",
          resourceType: "session",
          resourceId: who.sessionId,
          actor: actor(who.userId),
          details: { method, failures: count, locked: lockedNow },
          meta,
        });
        if (lockedNow) {
          const lockedUntil = iso(now + MFA_LIMITS.stepUpLock);
          audit.record({
            appId: app.id,
            action: "user.mfa.step_up_locked",
            resourceType: "session",
            resourceId: who.sessionId,
            actor: { type: "system", id: null },
            details: { user_id: who.userId, failures: count, locked_until: lockedUntil },
            meta,
          });
          events.emit({
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
