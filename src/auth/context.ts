/**
 * @module What the end-user auth service's parts (`signup.ts`, `signin.ts`, `rehash.ts`, composed by
 * `service.ts`) share: its interface, deps, per-address limits and context.
 */
import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { AppRef } from "../core/app-ref.ts";
import { type Clock, MINUTE } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { AuditActor, CallMeta } from "../core/principal.ts";
import type { Db } from "../db/client.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { PasswordHasher } from "../passwords/hasher.ts";
import type { Limit, RateLimiter } from "../ratelimit/limiter.ts";
import type { SessionService } from "../sessions/service.ts";
import type { SessionRow } from "../sessions/store.ts";
import type { TokenService } from "../tokens/service.ts";
import type { UserEvents } from "../users/events.ts";
import type { UserStore } from "../users/store.ts";
import type { MfaChallengeResponse } from "./mfa-model.ts";
import type { MfaChecks, MfaSigninService } from "./mfa-service.ts";
import type { SigninInput, SignupInput, TokenResponse } from "./model.ts";
import type { AuthStore } from "./store.ts";
import type { TenantScope, TenantScopeService } from "./tenant-scope.ts";

/**
 * Per-app limits, counted per client IP. Generous enough for people behind one NAT; guessing one account is
 * slowed by the sign-in throttle, not here. There is deliberately no per-identifier limit on attempts: one
 * that counted every address would let anyone keep an account's holder out. Sign-ups authorised by a PAK
 * skip the per-IP limit (a trusted backend signs up from one address).
 */
export const AUTH_LIMITS = {
  signupPerIp: { max: 30, windowMs: 10 * MINUTE },
  signinPerIp: { max: 30, windowMs: MINUTE },
  refreshPerIp: { max: 150, windowMs: 5 * MINUTE },
} as const;

export interface AuthServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  apps: Pick<AppService, "authConfigOf">;
  passwords: PasswordHasher;
  sessions: SessionService;
  tokens: Pick<TokenService, "issueEndUser">;
  rateLimiter: RateLimiter;
  /** The second stage: an account with an enabled factor gets a challenge instead of tokens. */
  mfa: Pick<MfaChecks, "enabledFactors">;
  mfaSignin: Pick<MfaSigninService, "challenge">;
  /** Sign-in with `tenant_id`, and refresh's re-check of the session's tenant. */
  tenantScope: Pick<TenantScopeService, "enter" | "atRefresh">;
  /** A re-hash that fails is logged, never the sign-in's failure. */
  log: Pick<Logger, "warn">;
  /** `user.signup` and `user.signin`, in the transaction that opens the session (docs/webhooks.md). */
  events: Pick<EventEmitter, "emit">;
}

/** The platform API key a sign-up request carries, if any. */
export interface SignupPak {
  /** The request presents a PAK (a `pcft_live_` bearer token); other credentials are not PAKs. */
  presented: boolean;
  /** Proves the PAK is allowed `heimdall.signup.create` on the app: 401/403 otherwise, or when there is none. */
  check(): Promise<{ pakId: string }>;
}

export interface AuthService {
  signup(app: AppRef, input: SignupInput, meta: CallMeta, pak: SignupPak): Promise<TokenResponse>;
  /** Tokens, or the MFA challenge when the account has an enabled factor (no session yet then). */
  signin(app: AppRef, input: SigninInput, meta: CallMeta): Promise<TokenResponse | MfaChallengeResponse>;
  refresh(app: AppRef, refreshToken: string, meta: CallMeta): Promise<TokenResponse>;
  /** Ends the session owning the token; silently does nothing when there is none (logout is idempotent). */
  logout(app: AppRef, refreshToken: string, meta: CallMeta): Promise<void>;
}

export const PASSWORD_AMR = ["pwd"];

export const endUserActor = (userId: string): AuditActor => ({ type: "end_user", id: userId });

/** What `service.ts` builds once and hands to each part. */
export interface AuthContext {
  deps: AuthServiceDeps;
  users: UserStore;
  store: AuthStore;
  userEvents: UserEvents;
  ipOf(meta: CallMeta): string;
  limit(name: string, appId: string, who: string, l: { max: number; windowMs: number }): Limit;
  /** The access token lives no longer than its session; `tenant` adds the `tid`/`trole` claims. */
  accessFor(
    app: AppRef,
    session: SessionRow,
    role: string,
    tenant?: TenantScope | null,
  ): ReturnType<TokenService["issueEndUser"]>;
}
