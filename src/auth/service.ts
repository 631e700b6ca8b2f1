/**
 * @module End-user sign-up, sign-in, refresh and logout on the Consumer API (docs/architecture.md, "Tokens and sessions"; docs/decisions.md, "End users").
 *
 * Sign-in never tells an unknown account from a wrong password: same 401, same body, same argon2 cost,
 * and the throttling (`signin-throttle.ts`) counts by the identifier typed, so its 429 ACCOUNT_LOCKED comes
 * at the same attempt for an identifier nobody holds. Only sign-up shows that an account exists, on purpose
 * and as every mainstream IdP does (409 USERNAME_TAKEN / EMAIL_TAKEN — a sign-up form cannot work otherwise).
 *
 * This file composes the parts: `signup.ts`, `signin.ts` (with `rehash.ts`), and keeps refresh and logout;
 * what they share is in `context.ts`.
 */

import { SECOND } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import type { CallMeta } from "../core/principal.ts";
import { tx } from "../db/client.ts";
import type { SessionRow } from "../sessions/store.ts";
import { createUserEvents } from "../users/events.ts";
import { createUserStore } from "../users/store.ts";
import {
  AUTH_LIMITS,
  type AuthContext,
  type AuthService,
  type AuthServiceDeps,
  endUserActor,
} from "./context.ts";
import { tokenResponse } from "./model.ts";
import { createPasswordRehash } from "./rehash.ts";
import { createSignin } from "./signin.ts";
import { createSignup } from "./signup.ts";
import { createAuthStore } from "./store.ts";
import type { TenantScope } from "./tenant-scope.ts";

export type { AuthService, AuthServiceDeps, SignupPak } from "./context.ts";
export { AUTH_LIMITS } from "./context.ts";
export type { SigninFailure } from "./signin.ts";

export function createAuthService(deps: AuthServiceDeps): AuthService {
  const { db, audit, sessions, tokens, rateLimiter, tenantScope } = deps;
  const ctx: AuthContext = {
    deps,
    users: createUserStore(db),
    store: createAuthStore(db),
    userEvents: createUserEvents(deps.events),
    ipOf: (meta: CallMeta) => meta.ip ?? "unknown",
    limit: (name, appId, who, l) => ({ key: `${name}:${appId}:${who}`, ...l }),
    accessFor: (app, session: SessionRow, role, tenant: TenantScope | null = null) =>
      tokens.issueEndUser(
        app,
        { sub: session.userId, sid: session.id, role, amr: session.amr, mfaAt: session.mfaAt, tenant },
        Math.floor(session.expiresAt / SECOND),
      ),
  };
  const { limit, ipOf, accessFor } = ctx;

  return {
    ...createSignup(ctx),
    ...createSignin(ctx, createPasswordRehash(ctx)),

    async refresh(app, refreshToken, meta) {
      await rateLimiter.consume([limit("refresh:ip", app.id, ipOf(meta), AUTH_LIMITS.refreshPerIp)]);
      const { session, refreshToken: successor } = await sessions.rotate(app.id, refreshToken, meta);
      // The role is read afresh, so a role change shows in the very next access token.
      const facts = await sessions.facts(session.id);
      if (facts?.status !== "active") throw fail("ACCOUNT_SUSPENDED");
      // So is the tenant: the current membership role, or app scope once the membership or tenant is gone.
      const tenant = await tenantScope.atRefresh(app.id, session, facts, meta);
      return tokenResponse(await accessFor(app, session, facts.role, tenant), successor);
    },

    async logout(app, refreshToken, meta) {
      await tx(db, async () => {
        const ended = await sessions.revokeByRefreshToken(app.id, refreshToken, "logout");
        if (!ended) return;
        await audit.record({
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
