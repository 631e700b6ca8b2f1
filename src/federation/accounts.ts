/**
 * @module Which account a provider identity signs in to (docs/federation.md, "Accounts and linking"): the linked
 * one; else, on a verified email that an account holds verified, the app's `oauth_link_policy` decides (link,
 * ask to confirm, refuse); else a new account. Also opens the session, or the MFA challenge when the account
 * has a factor or the app requires one (the provider proved the first factor only). Call inside one transaction.
 */
import type { AuthConfig } from "../apps/auth-config.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { MfaChallengeResponse } from "../auth/mfa-model.ts";
import type { MfaChecks, MfaSigninService } from "../auth/mfa-service.ts";
import type { AppRef } from "../core/app-ref.ts";
import type { Clock } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { CallMeta } from "../core/principal.ts";
import type { Db } from "../db/client.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { SessionService } from "../sessions/service.ts";
import type { SessionRow } from "../sessions/store.ts";
import { createUserEvents } from "../users/events.ts";
import { isEmail, normalizeEmail, USERNAME_PATTERN } from "../users/normalize.ts";
import { freeUsernameFor, usernameFromEmail } from "../users/service.ts";
import { createUserStore, type EndUserRow } from "../users/store.ts";
import type { ProviderId } from "./model.ts";
import { createFederationStore } from "./store.ts";

/** What a provider asserted about the person, after its token was verified. */
export interface ProviderFacts {
  subject: string;
  /** Normalised; null when absent or not an email. */
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  /** GitHub's login, for a username when there is no email. */
  login: string | null;
}

export type AccountOutcome =
  | { kind: "user"; user: EndUserRow }
  /** `confirm` policy: an account holds the email; the identity waits in a `link` grant for the owner. */
  | { kind: "link_required"; userId: string };

export interface AccountDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  events: Pick<EventEmitter, "emit">;
  sessions: Pick<SessionService, "create">;
  mfa: Pick<MfaChecks, "enabledFactors">;
  mfaSignin: Pick<MfaSigninService, "challenge">;
}

/** A federated sign-in's end: a session, or the MFA challenge to complete at `auth/mfa/verify` (or enrol). */
export type SigninOutcome =
  | { kind: "session"; session: SessionRow; refreshToken: string; role: string }
  | { kind: "challenge"; challenge: MfaChallengeResponse };

const self = (userId: string) => ({ type: "end_user" as const, id: userId });

export function factsOf(claims: Record<string, unknown>, login: string | null = null): ProviderFacts {
  const rawEmail = typeof claims.email === "string" ? normalizeEmail(claims.email) : null;
  const email = rawEmail && isEmail(rawEmail) ? rawEmail : null;
  // Apple sends `"true"` as a string; anything but true is unverified.
  const verified = claims.email_verified === true || claims.email_verified === "true";
  const name = typeof claims.name === "string" ? claims.name.slice(0, 128) : null;
  return { subject: String(claims.sub), email, emailVerified: email !== null && verified, name, login };
}

export function createFederatedAccounts(deps: AccountDeps) {
  const { db, clock, audit, sessions, mfa, mfaSignin } = deps;
  const users = createUserStore(db);
  const store = createFederationStore(db);
  const userEvents = createUserEvents(deps.events);

  async function refused(
    app: AppRef,
    userId: string | null,
    provider: ProviderId,
    reason: string,
    meta: CallMeta,
  ) {
    await audit.record({
      appId: app.id,
      action: "user.signin_failed",
      resourceType: "end_user",
      resourceId: userId,
      actor: userId ? self(userId) : { type: "system", id: null },
      details: { reason, provider },
      meta,
    });
  }

  async function active(
    app: AppRef,
    user: EndUserRow | undefined,
    provider: ProviderId,
    meta: CallMeta,
  ): Promise<EndUserRow> {
    if (user?.status !== "active") {
      await refused(app, user?.id ?? null, provider, "account_suspended", meta);
      throw fail("ACCOUNT_SUSPENDED");
    }
    return user;
  }

  async function attach(
    app: AppRef,
    userId: string,
    provider: ProviderId,
    facts: ProviderFacts,
    via: string,
    meta: CallMeta,
  ) {
    const now = clock.now();
    await store.insertIdentity({
      id: newId(clock),
      appId: app.id,
      userId,
      provider,
      subject: facts.subject,
      email: facts.email,
      emailVerified: facts.emailVerified,
      createdAt: now,
      lastUsedAt: now,
    });
    await audit.record({
      appId: app.id,
      action: "user.identity_linked",
      resourceType: "end_user",
      resourceId: userId,
      actor: self(userId),
      details: { provider, subject: facts.subject, via },
      meta,
    });
  }

  async function usernameFor(appId: string, provider: ProviderId, facts: ProviderFacts): Promise<string> {
    const login = facts.login
      ?.toLowerCase()
      .replace(/[^a-z0-9._-]+/g, "-")
      .replace(/^[._-]+/, "");
    const base = facts.email
      ? usernameFromEmail(facts.email)
      : login && USERNAME_PATTERN.test(login)
        ? login
        : `${provider}-user`;
    return await freeUsernameFor(base, async (u) => (await users.byUsername(appId, u)) !== undefined);
  }

  return {
    /** The account for these facts, linking or creating one as the policy says; refusals throw. */
    async resolve(
      app: AppRef,
      provider: ProviderId,
      facts: ProviderFacts,
      config: AuthConfig,
      meta: CallMeta,
    ): Promise<AccountOutcome> {
      const linked = await store.identity(app.id, provider, facts.subject);
      if (linked) {
        const user = await active(app, await users.byId(app.id, linked.userId), provider, meta);
        await store.touchIdentity(linked.id, facts.email, facts.emailVerified, clock.now());
        return { kind: "user", user };
      }
      const holder = facts.email ? await users.contactByValue(app.id, "email", facts.email) : undefined;
      if (holder) {
        // Linking needs both sides verified: the provider's claim and the account's own proof of the address.
        // Otherwise whoever registered the address first (or a provider that does not check it) takes over.
        const linkable = facts.emailVerified && holder.verifiedAt !== null;
        const policy = config.oauth_link_policy;
        if (!linkable || policy === "reject") {
          await refused(
            app,
            holder.userId,
            provider,
            linkable ? "link_policy_reject" : "email_unverified",
            meta,
          );
          throw fail("ACCOUNT_EXISTS_WITH_DIFFERENT_PROVIDER");
        }
        const user = await active(app, await users.byId(app.id, holder.userId), provider, meta);
        if (policy === "confirm") return { kind: "link_required", userId: user.id };
        await attach(app, user.id, provider, facts, "auto", meta);
        return { kind: "user", user };
      }

      if (!config.signup_enabled || config.signup_requires_pak) {
        await refused(app, null, provider, "signup_disabled", meta);
        throw fail("SIGNUP_DISABLED", {
          ...(config.signup_requires_pak && {
            message: "Sign-up on this app needs an API key; federated sign-up is off",
          }),
        });
      }
      const domains = config.signup_allowed_email_domains;
      if (domains.length > 0 && !(facts.emailVerified && domains.includes(facts.email!.split("@")[1]!))) {
        throw fail("SIGNUP_EMAIL_DOMAIN_NOT_ALLOWED");
      }
      const now = clock.now();
      const userId = newId(clock);
      const role = config.signup_default_role;
      const username = await usernameFor(app.id, provider, facts);
      await users.insertUser({
        id: userId,
        appId: app.id,
        username,
        displayName: facts.name,
        passwordHash: null,
        status: "active",
        role,
        failedLoginCount: 0,
        lockedUntil: null,
        passwordChangedAt: null,
        lastUsedAt: now,
        createdAt: now,
        updatedAt: now,
      });
      // Only a verified address becomes a contact: an unverified one could be anyone's, and holding it would
      // keep its real owner from signing up (the identity row still records what the provider said).
      if (facts.email && facts.emailVerified) {
        await users.insertContact({
          id: newId(clock),
          appId: app.id,
          userId,
          type: "email",
          value: facts.email,
          isPrimary: true,
          verifiedAt: now,
          createdAt: now,
        });
      }
      await attach(app, userId, provider, facts, "signup", meta);
      await audit.record({
        appId: app.id,
        action: "user.signed_up",
        resourceType: "end_user",
        resourceId: userId,
        actor: self(userId),
        details: { username, role, provider },
        meta,
      });
      await userEvents.signedUp(
        app.id,
        // The account's email, not the provider's claim: an unverified address was not kept as a contact.
        { id: userId, username, email: facts.email && facts.emailVerified ? facts.email : null, role },
        "self",
        self(userId),
        {
          provider,
        },
      );
      return { kind: "user", user: (await users.byId(app.id, userId))! };
    },

    /**
     * Opens the session of a federated sign-in (`amr: ["oauth", provider]`), audited and announced; or, as a
     * password sign-in does, the MFA challenge (an enrolment one when the app requires MFA of an account
     * without a factor), whose completion adds the factor to that `amr`.
     */
    async signIn(
      app: AppRef,
      userId: string,
      provider: ProviderId,
      config: AuthConfig,
      meta: CallMeta,
    ): Promise<SigninOutcome> {
      const user = await active(app, await users.byId(app.id, userId), provider, meta);
      const amr = ["oauth", provider];
      const factors = await mfa.enabledFactors(app.id, user.id);
      const mustEnroll =
        factors.length === 0 && (config.mfa_required || config.mfa_required_roles.includes(user.role));
      if (factors.length > 0 || mustEnroll) {
        const purpose = mustEnroll ? "enroll" : "signin";
        const challenge = await mfaSignin.challenge(app, user.id, factors, purpose, null, amr);
        await audit.record({
          appId: app.id,
          action: "user.signin_mfa_challenged",
          resourceType: "end_user",
          resourceId: user.id,
          actor: self(user.id),
          details: { factors: factors.length, purpose, expires_at: challenge.expires_at, provider },
          meta,
        });
        return { kind: "challenge", challenge };
      }
      const opened = await sessions.create({
        appId: app.id,
        userId: user.id,
        amr,
        durationMinutes: config.session_duration_minutes,
        maxSessions: config.max_sessions,
        meta,
      });
      await audit.record({
        appId: app.id,
        action: "user.signed_in",
        resourceType: "end_user",
        resourceId: user.id,
        actor: self(user.id),
        details: { session_id: opened.session.id, amr, provider },
        meta,
      });
      await userEvents.signedIn(app.id, user.id, opened.session, { provider });
      return { kind: "session", ...opened, role: user.role };
    },

    /** Attaches a pending identity to the account that proved it owns the email (the `confirm` policy's end). */
    async link(
      app: AppRef,
      userId: string,
      provider: ProviderId,
      facts: ProviderFacts,
      meta: CallMeta,
    ): Promise<void> {
      const linked = await store.identity(app.id, provider, facts.subject);
      if (linked && linked.userId !== userId) throw fail("IDENTITY_LINKED_ELSEWHERE");
      if (linked) return;
      await attach(app, userId, provider, facts, "confirm", meta);
    },
  };
}

export type FederatedAccounts = ReturnType<typeof createFederatedAccounts>;
