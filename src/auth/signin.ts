/**
 * @module End-user sign-in on the Consumer API: the password stage, its throttle and audit rows, the tenant a
 * sign-in asks for, and the hand-over to the MFA challenge. Part of the auth service (`service.ts` composes it).
 *
 * Sign-in never tells an unknown account from a wrong password: same 401, same body, same argon2 cost,
 * and the throttling (`signin-throttle.ts`) counts by the identifier typed, so its 429 ACCOUNT_LOCKED comes
 * at the same attempt for an identifier nobody holds.
 */

import { fail } from "../core/errors.ts";
import type { CallMeta } from "../core/principal.ts";
import { tx } from "../db/client.ts";
import { createSigninThrottle, type ThrottleScope, type ThrottleTrip } from "../ratelimit/signin-throttle.ts";
import { normalizeEmail, normalizeUsername } from "../users/normalize.ts";
import type { EndUserRow } from "../users/store.ts";
import { AUTH_LIMITS, type AuthContext, type AuthService, endUserActor, PASSWORD_AMR } from "./context.ts";
import { tokenResponse } from "./model.ts";
import type { PasswordRehash } from "./rehash.ts";

/** Why a sign-in failed, as the audit row records it (never shown to the caller). */
export type SigninFailure =
  | "unknown_identifier"
  | "wrong_password"
  | "account_suspended"
  | "account_locked"
  | "signin_disabled"
  | "tenant_access_denied";

/** One message for every credential failure, so the body cannot tell them apart either. */
const invalidCredentials = () => fail("INVALID_CREDENTIALS");

export function createSignin(ctx: AuthContext, rehashIfNeeded: PasswordRehash): Pick<AuthService, "signin"> {
  const { deps, users, store, userEvents, limit, ipOf, accessFor } = ctx;
  const { db, clock, audit, apps, passwords, sessions, rateLimiter, mfa, mfaSignin, tenantScope } = deps;
  const throttle = createSigninThrottle({ rateLimiter, clock });

  async function signinFailed(
    appId: string,
    user: EndUserRow | undefined,
    reason: SigninFailure,
    meta: CallMeta,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    await audit.record({
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
  async function lockedAudit(
    appId: string,
    user: EndUserRow | undefined,
    trip: ThrottleTrip,
    maxFailures: number,
    meta: CallMeta,
  ): Promise<void> {
    await audit.record({
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

  return {
    async signin(app, input, meta) {
      const config = await apps.authConfigOf(app.id);
      // A username never contains `@`, so the identifier's kind is unambiguous.
      const byEmail = input.identifier.includes("@");
      const identifier = byEmail ? normalizeEmail(input.identifier) : normalizeUsername(input.identifier);
      await rateLimiter.consume([limit("signin:ip", app.id, ipOf(meta), AUTH_LIMITS.signinPerIp)]);
      if (!config.signin_enabled) {
        await tx(db, async () => await signinFailed(app.id, undefined, "signin_disabled", meta));
        throw fail("SIGNIN_DISABLED");
      }

      const throttled: ThrottleScope = {
        scope: `app:${app.id}`,
        identifier,
        ip: ipOf(meta),
        maxFailures: config.max_failed_login_attempts,
      };
      // Secondary and unverified emails do not authenticate: they may not even belong to the account holder.
      const lookup = async () =>
        byEmail
          ? await users.byVerifiedPrimaryEmail(app.id, identifier)
          : await users.byUsername(app.id, identifier);
      const refused = await throttle.begin(throttled);
      if (refused) {
        // Decided before the account is read; the lookup is for the operator's audit row only.
        const user = await lookup();
        await tx(
          db,
          async () => await signinFailed(app.id, user, "account_locked", meta, { throttle: refused.kind }),
        );
        throw refused.error;
      }

      const user = await lookup();
      // The same argon2 work whether or not the account exists (or has a password at all).
      const ok = user?.passwordHash
        ? await passwords.verify(user.passwordHash, input.password, meta.signal)
        : await passwords.dummyVerify(input.password, meta.signal);

      if (!user || !ok) {
        const trips = await throttle.failed(throttled);
        await tx(db, async () => {
          if (!user) await signinFailed(app.id, undefined, "unknown_identifier", meta);
          else await signinFailed(app.id, user, "wrong_password", meta, { locked: trips.length > 0 });
          for (const trip of trips)
            await lockedAudit(app.id, user, trip, config.max_failed_login_attempts, meta);
        });
        throw invalidCredentials();
      }

      const result = await tx(db, async () => {
        // Re-read under the write lock: a suspension that landed while argon2 ran must win.
        const current = await users.byId(app.id, user.id);
        if (current?.status !== "active") {
          await signinFailed(app.id, user, "account_suspended", meta, {
            status: current?.status ?? "deleted",
          });
          return null;
        }
        // The password stage succeeded, for the throttle too; the second factor has its own limits.
        await throttle.succeeded(throttled);
        await store.recordSuccess(user.id, clock.now());
        // Asked for a tenant: the account must be a member of it, and it active (one 403 for every other case).
        const tenant =
          input.tenant_id === undefined ? null : await tenantScope.enter(app.id, user.id, input.tenant_id);
        if (input.tenant_id !== undefined && !tenant) {
          await signinFailed(app.id, user, "tenant_access_denied", meta, {
            requested_tenant: input.tenant_id,
          });
          return { kind: "tenant_denied" as const };
        }
        const factors = await mfa.enabledFactors(app.id, user.id);
        // An account the app requires MFA of, with no factor yet, may only enrol (docs/decisions.md).
        const mustEnroll =
          factors.length === 0 && (config.mfa_required || config.mfa_required_roles.includes(current.role));
        if (factors.length > 0 || mustEnroll) {
          const challenge = await mfaSignin.challenge(
            app,
            user.id,
            factors,
            mustEnroll ? "enroll" : "signin",
            tenant?.id ?? null,
          );
          await audit.record({
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
        const opened = await sessions.create({
          appId: app.id,
          userId: user.id,
          amr: PASSWORD_AMR,
          durationMinutes: config.session_duration_minutes,
          maxSessions: config.max_sessions,
          tenantId: tenant?.id ?? null,
          meta,
        });
        await audit.record({
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
        await userEvents.signedIn(app.id, user.id, opened.session);
        return { kind: "tokens" as const, ...opened, role: current.role, tenant };
      });
      if (!result) {
        // Counted like a wrong password, so the right password of a suspended account shows nothing either.
        const trips = await throttle.failed(throttled);
        await tx(db, async () => {
          for (const trip of trips)
            await lockedAudit(app.id, user, trip, config.max_failed_login_attempts, meta);
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
  };
}
