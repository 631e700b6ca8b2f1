/**
 * @module What the MFA sign-in service's parts (`mfa-challenge.ts`, `mfa-verify.ts`, `mfa-enroll.ts`,
 * `mfa-step-up.ts`, composed by `mfa-service.ts`) share: its interface, deps, limits, answers and context.
 */
import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { AppRef } from "../core/app-ref.ts";
import { type Clock, MINUTE, SECOND } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import type { CallMeta } from "../core/principal.ts";
import type { Db } from "../db/client.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { ConfirmEnrollmentResponseDto, StartEnrollmentResponseDto } from "../mfa/model.ts";
import type { MfaService } from "../mfa/service.ts";
import type { RateLimiter } from "../ratelimit/limiter.ts";
import type { SessionService } from "../sessions/service.ts";
import type { TokenService } from "../tokens/service.ts";
import type { UserEvents } from "../users/events.ts";
import type { UserStore } from "../users/store.ts";
import type {
  MfaChallengeFactor,
  MfaChallengeResponse,
  MfaEnrollConfirmInput,
  MfaEnrollInput,
  MfaRecoverInput,
  MfaVerifyInput,
  StepUpResponse,
} from "./mfa-model.ts";
import type { MfaChallengeStore } from "./mfa-store.ts";
import type { TokenResponse } from "./model.ts";
import type { TenantScopeService } from "./tenant-scope.ts";

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
  enabledFactors(appId: string, userId: string): Promise<MfaChallengeFactor[]>;
  /** A current, unused TOTP code of an enabled factor (stores its step); call inside a transaction. */
  verifyTotp(appId: string, userId: string, code: string): Promise<{ factorId: string } | null>;
  /** Spends an unused recovery code (audits and emits `user.mfa.recovery_code_used`); inside a transaction. */
  useRecoveryCode(appId: string, userId: string, code: string, meta?: Partial<CallMeta>): Promise<boolean>;
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
  ): Promise<MfaChallengeResponse>;
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
  ): Promise<StepUpResponse>;
}

/** What `mfa-service.ts` builds once and hands to each part. */
export interface MfaContext {
  deps: MfaSigninServiceDeps;
  store: MfaChallengeStore;
  users: UserStore;
  userEvents: UserEvents;
}

/** One answer for a token that is wrong, expired, used, of another app or of an account now suspended. */
export const deadToken = () => fail("MFA_TOKEN_INVALID");
export const wrongCode = () => fail("MFA_CODE_INVALID");
export const locked = (retryAfter: number, message?: string) =>
  fail("MFA_LOCKED", { ...(message ? { message } : {}), headers: { "retry-after": String(retryAfter) } });

export const seconds = (ms: number) => Math.max(1, Math.ceil(ms / SECOND));
export const endUserActor = (userId: string) => ({ type: "end_user" as const, id: userId });
