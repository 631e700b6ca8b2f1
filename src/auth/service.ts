/**
 * @module End-user sign-up, sign-in, refresh and logout on the Consumer API (docs/architecture.md, "Tokens and sessions"; docs/decisions.md, "End users").
 *
 * Sign-in never tells an unknown account from a wrong password: same 401, same body, same argon2 cost,
 * and the throttling (`signin-throttle.ts`) counts by the identifier typed, so its 429 ACCOUNT_LOCKED comes
 * at the same attempt for an identifier nobody holds. Only sign-up shows that an account exists, on purpose
 * and as every mainstream IdP does (409 USERNAME_TAKEN / EMAIL_TAKEN — a sign-up form cannot work otherwise).
 */

import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { AppRef } from "../core/app-ref.ts";
import { type Clock, MINUTE, SECOND } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Logger } from "../core/logger.ts";
import type { AuditActor, CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { PasswordHasher } from "../passwords/hasher.ts";
import { importedHashFormat } from "../passwords/imported.ts";
import { checkPassword } from "../passwords/password-policy.ts";
import type { Limit, RateLimiter } from "../ratelimit/limiter.ts";
import { createSigninThrottle, type ThrottleScope, type ThrottleTrip } from "../ratelimit/signin-throttle.ts";
import type { SessionService } from "../sessions/service.ts";
import type { SessionRow } from "../sessions/store.ts";
import type { TokenService } from "../tokens/service.ts";
import { createUserEvents } from "../users/events.ts";
import { emailDomain, normalizeEmail, normalizeUsername } from "../users/normalize.ts";
import { createUserStore, type EndUserRow } from "../users/store.ts";
import type { MfaChallengeResponse } from "./mfa-model.ts";
import type { MfaChecks, MfaSigninService } from "./mfa-service.ts";
import { type SigninInput, type SignupInput, type TokenResponse, tokenResponse } from "./model.ts";
import { createAuthStore } from "./store.ts";
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

/** Why a sign-in failed, as the audit row records it (never shown to the caller). */
export type SigninFailure =
  | "unknown_identifier"
  | "wrong_password"
  | "account_suspended"
  | "account_locked"
  | "signin_disabled"
  | "tenant_access_denied";

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
  logout(app: AppRef, refreshToken: string, meta: CallMeta): void;
}

const PASSWORD_AMR = ["pwd"];

/** One message for every credential failure, so the body cannot tell them apart either. */
const invalidCredentials = () => fail("INVALID_CREDENTIALS");

const endUserActor = (userId: string): AuditActor => ({ type: "end_user", id: userId });

export function createAuthService(deps: AuthServiceDeps): AuthService {
  const { db, clock, audit, apps, passwords, sessions, tokens, rateLimiter, mfa, mfaSignin, log } = deps;
  const { tenantScope } = deps;
  const users = createUserStore(db);
  const store = createAuthStore(db);
  const userEvents = createUserEvents(deps.events);
  const throttle = createSigninThrottle({ rateLimiter, clock });

  const ipOf = (meta: CallMeta) => meta.ip ?? "unknown";
  const limit = (name: string, appId: string, who: string, l: { max: number; windowMs: number }): Limit => ({
    key: `${name}:${appId}:${who}`,
    ...l,
  });

  /** The access token lives no longer than its session; `tenant` adds the `tid`/`trole` claims. */
  const accessFor = (app: AppRef, session: SessionRow, role: string, tenant: TenantScope | null = null) =>
    tokens.issueEndUser(
      app,
      { sub: session.userId, sid: session.id, role, amr: session.amr, mfaAt: session.mfaAt, tenant },
      Math.floor(session.expiresAt / SECOND),
    );

  function signinFailed(
    appId: string,
    user: EndUserRow | undefined,
    reason: SigninFailure,
    meta: CallMeta,
    extra: Record<string, unknown> = {},
  ): void {
    audit.record({
      appId,
      action: "user.signin_failed",
      resourceType: "end_user",
      resourceId: user?.id ?? null,
      actor: user ? endUserActor(user.id) : { type: "system", id: null },
      details: { reason, ...extra },
      meta,
    });
  }

  /** A back-off or ceiling started: one row, with or without an account behind the identifier. */
  function lockedAudit(
    appId: string,
    user: EndUserRow | undefined,
    trip: ThrottleTrip,
    maxFailures: number,
    meta: CallMeta,
  ): void {
    audit.record({
      appId,
      action: "user.locked",
      resourceType: "end_user",
      resourceId: user?.id ?? null,
      actor: { type: "system", id: null },
      details: {
        throttle: trip.kind,
        failures: trip.failures,
        locked_until: new Date(trip.until).toISOString(),
        max_failed_login_attempts: maxFailures,
      },
      meta,
    });
  }

  /**
   * The password was just proven against a hash Heimdall did not write (imported, or older parameters): it is
   * hashed again with today's argon2id and stored if the row still holds the old hash. `password_changed_at`
   * stays, since the password itself did not change (docs/decisions.md, "Imported password hashes").
   */
  async function rehashIfNeeded(
    appId: string,
    user: EndUserRow,
    oldHash: string,
    password: string,
    meta: CallMeta,
  ) {
    if (!passwords.needsRehash(oldHash)) return;
    try {
      const newHash = await passwords.hash(password, meta.signal);
      tx(db, () => {
        if (!store.replacePasswordHash(user.id, oldHash, newHash)) return;
        audit.record({
          appId,
          action: "user.password_rehashed",
          resourceType: "end_user",
          resourceId: user.id,
          actor: endUserActor(user.id),
          // The formats only, never a hash.
          details: { previous_format: importedHashFormat(oldHash) ?? "unknown", algorithm: "argon2id" },
          meta,
        });
      });
    } catch (err) {
      log.warn("sign-in: re-hashing the password failed; the old hash stays", {
        app_id: appId,
        user_id: user.id,
        // The error's code or class is enough to act on; its message is not logged.
        reason: (err as { code?: string }).code ?? (err instanceof Error ? err.name : "unknown"),
      });
    }
  }

  function assertAvailable(appId: string, username: string, email: string): void {
    if (users.byUsername(appId, username)) throw fail("USERNAME_TAKEN");
    if (users.contactByValue(appId, "email", email)) {
      throw fail("EMAIL_TAKEN");
    }
  }

  return {
    async signup(app, input, meta, pak) {
      const config = apps.authConfigOf(app.id);
      if (!config.signup_enabled) throw fail("SIGNUP_DISABLED");
      // A PAK that is presented is checked even where none is required: a bad one is refused (401/403), not
      // quietly demoted to an anonymous sign-up. A good one exempts the sign-up from the per-address limit.
      let pakId: string | null = null;
      if (config.signup_requires_pak || pak.presented) pakId = (await pak.check()).pakId;
      else rateLimiter.consume([limit("signup:ip", app.id, ipOf(meta), AUTH_LIMITS.signupPerIp)]);

      const allowed = config.signup_allowed_email_domains;
      if (allowed.length > 0 && !allowed.includes(emailDomain(input.email))) {
        throw fail("SIGNUP_EMAIL_DOMAIN_NOT_ALLOWED");
      }
      checkPassword(input.password, config, { username: input.username, email: input.email });
      // Checked before hashing so a taken name costs no argon2 work, and again under the write lock below.
      assertAvailable(app.id, input.username, input.email);
      const passwordHash = await passwords.hash(input.password, meta.signal);

      const { session, refreshToken, role } = tx(db, () => {
        assertAvailable(app.id, input.username, input.email);
        const now = clock.now();
        const userId = newId(clock);
        const role = config.signup_default_role;
        users.insertUser({
          id: userId,
          appId: app.id,
          username: input.username,
          displayName: input.display_name ?? null,
          passwordHash,
          status: "active",
          role,
          failedLoginCount: 0,
          lockedUntil: null,
          passwordChangedAt: now,
          lastUsedAt: now,
          createdAt: now,
          updatedAt: now,
        });
        users.insertContact({
          id: newId(clock),
          appId: app.id,
          userId,
          type: "email",
          value: input.email,
          isPrimary: true,
          verifiedAt: null,
          createdAt: now,
        });
        const opened = sessions.create({
          appId: app.id,
          userId,
          amr: PASSWORD_AMR,
          durationMinutes: config.session_duration_minutes,
          maxSessions: config.max_sessions,
          meta,
        });
        audit.record({
          appId: app.id,
          action: "user.signed_up",
          resourceType: "end_user",
          resourceId: userId,
          actor: endUserActor(userId),
          details: {
            username: input.username,
            role,
            session_id: opened.session.id,
            ...(pakId ? { pak_id: pakId } : {}),
          },
          meta,
        });
        userEvents.signedUp(
          app.id,
          { id: userId, username: input.username, email: input.email, role },
          pakId ? "pak" : "self",
          endUserActor(userId),
        );
        return { ...opened, role };
      });
      return tokenResponse(await accessFor(app, session, role), refreshToken);
    },

    async signin(app, input, meta) {
      const config = apps.authConfigOf(app.id);
      // A username never contains `@`, so the identifier's kind is unambiguous.
      const byEmail = input.identifier.includes("@");
      const identifier = byEmail ? normalizeEmail(input.identifier) : normalizeUsername(input.identifier);
      rateLimiter.consume([limit("signin:ip", app.id, ipOf(meta), AUTH_LIMITS.signinPerIp)]);
      if (!config.signin_enabled) {
        tx(db, () => signinFailed(app.id, undefined, "signin_disabled", meta));
        throw fail("SIGNIN_DISABLED");
      }

      const throttled: ThrottleScope = {
        scope: `app:${app.id}`,
        identifier,
        ip: ipOf(meta),
        maxFailures: config.max_failed_login_attempts,
      };
      // Secondary and unverified emails do not authenticate: they may not even belong to the account holder.
      const lookup = () =>
        byEmail ? users.byVerifiedPrimaryEmail(app.id, identifier) : users.byUsername(app.id, identifier);
      const refused = throttle.begin(throttled);
      if (refused) {
        // Decided before the account is read; the lookup is for the operator's audit row only.
        const user = lookup();
        tx(db, () => signinFailed(app.id, user, "account_locked", meta, { throttle: refused.kind }));
        throw refused.error;
      }

      const user = lookup();
      // The same argon2 work whether or not the account exists (or has a password at all).
      const ok = user?.passwordHash
        ? await passwords.verify(user.passwordHash, input.password, meta.signal)
        : await passwords.dummyVerify(input.password, meta.signal);

      if (!user || !ok) {
        const trips = throttle.failed(throttled);
        tx(db, () => {
          if (!user) signinFailed(app.id, undefined, "unknown_identifier", meta);
          else signinFailed(app.id, user, "wrong_password", meta, { locked: trips.length > 0 });
          for (const trip of trips) lockedAudit(app.id, user, trip, config.max_failed_login_attempts, meta);
        });
        throw invalidCredentials();
      }

      const result = tx(db, () => {
        // Re-read under the write lock: a suspension that landed while argon2 ran must win.
        const current = users.byId(app.id, user.id);
        if (current?.status !== "active") {
          signinFailed(app.id, user, "account_suspended", meta, { status: current?.status ?? "deleted" });
          return null;
        }
        // The password stage succeeded, for the throttle too; the second factor has its own limits.
        throttle.succeeded(throttled);
        store.recordSuccess(user.id, clock.now());
        // Asked for a tenant: the account must be a member of it, and it active (one 403 for every other case).
        const tenant =
          input.tenant_id === undefined ? null : tenantScope.enter(app.id, user.id, input.tenant_id);
        if (input.tenant_id !== undefined && !tenant) {
          signinFailed(app.id, user, "tenant_access_denied", meta, { requested_tenant: input.tenant_id });
          return { kind: "tenant_denied" as const };
        }
        const factors = mfa.enabledFactors(app.id, user.id);
        // An account the app requires MFA of, with no factor yet, may only enrol (docs/decisions.md).
        const mustEnroll =
          factors.length === 0 && (config.mfa_required || config.mfa_required_roles.includes(current.role));
        if (factors.length > 0 || mustEnroll) {
          const challenge = mfaSignin.challenge(
            app,
            user.id,
            factors,
            mustEnroll ? "enroll" : "signin",
            tenant?.id ?? null,
          );
          audit.record({
            appId: app.id,
            action: "user.signin_mfa_challenged",
            resourceType: "end_user",
            resourceId: user.id,
            actor: endUserActor(user.id),
            details: {
              factors: factors.length,
              purpose: mustEnroll ? "enroll" : "signin",
              expires_at: challenge.expires_at,
              identifier_type: byEmail ? "email" : "username",
            },
            meta,
          });
          return { kind: "challenge" as const, challenge };
        }
        const opened = sessions.create({
          appId: app.id,
          userId: user.id,
          amr: PASSWORD_AMR,
          durationMinutes: config.session_duration_minutes,
          maxSessions: config.max_sessions,
          tenantId: tenant?.id ?? null,
          meta,
        });
        audit.record({
          appId: app.id,
          action: "user.signed_in",
          resourceType: "end_user",
          resourceId: user.id,
          actor: endUserActor(user.id),
          details: {
            session_id: opened.session.id,
            amr: PASSWORD_AMR,
            identifier_type: byEmail ? "email" : "username",
            ...(tenant ? { tenant_id: tenant.id, tenant_role: tenant.role } : {}),
          },
          meta,
        });
        userEvents.signedIn(app.id, user.id, opened.session);
        return { kind: "tokens" as const, ...opened, role: current.role, tenant };
      });
      if (!result) {
        // Counted like a wrong password, so the right password of a suspended account shows nothing either.
        const trips = throttle.failed(throttled);
        tx(db, () => {
          for (const trip of trips) lockedAudit(app.id, user, trip, config.max_failed_login_attempts, meta);
        });
        throw invalidCredentials();
      }
      // The password is proven whether tokens or an MFA challenge follow.
      if (user.passwordHash) await rehashIfNeeded(app.id, user, user.passwordHash, input.password, meta);
      if (result.kind === "tenant_denied") throw fail("TENANT_ACCESS_DENIED");
      if (result.kind === "challenge") return result.challenge;
      return tokenResponse(
        await accessFor(app, result.session, result.role, result.tenant),
        result.refreshToken,
      );
    },

    async refresh(app, refreshToken, meta) {
      rateLimiter.consume([limit("refresh:ip", app.id, ipOf(meta), AUTH_LIMITS.refreshPerIp)]);
      const { session, refreshToken: successor } = sessions.rotate(app.id, refreshToken, meta);
      // The role is read afresh, so a role change shows in the very next access token.
      const facts = sessions.facts(session.id);
      if (facts?.status !== "active") throw fail("ACCOUNT_SUSPENDED");
      // So is the tenant: the current membership role, or app scope once the membership or tenant is gone.
      const tenant = tenantScope.atRefresh(app.id, session, facts, meta);
      return tokenResponse(await accessFor(app, session, facts.role, tenant), successor);
    },

    logout(app, refreshToken, meta) {
      tx(db, () => {
        const ended = sessions.revokeByRefreshToken(app.id, refreshToken, "logout");
        if (!ended) return;
        audit.record({
          appId: app.id,
          action: "session.revoked",
          resourceType: "session",
          resourceId: ended.id,
          actor: endUserActor(ended.userId),
          details: { reason: "logout", user_id: ended.userId },
          meta,
        });
      });
    },
  };
}
