/**
 * @module End-user sign-up on the Consumer API: the app's sign-up rules, the PAK check, the account, its
 * email contact and first session in one transaction. Part of the auth service (`service.ts` composes it).
 *
 * Sign-up is the one place that shows an account exists, on purpose and as every mainstream IdP does
 * (409 USERNAME_TAKEN / EMAIL_TAKEN — a sign-up form cannot work otherwise).
 */
import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { tx } from "../db/client.ts";
import { checkPassword } from "../passwords/password-policy.ts";
import { emailDomain } from "../users/normalize.ts";
import { takenError } from "../users/scope.ts";
import { AUTH_LIMITS, type AuthContext, type AuthService, endUserActor, PASSWORD_AMR } from "./context.ts";
import { tokenResponse } from "./model.ts";

export function createSignup(ctx: AuthContext): Pick<AuthService, "signup"> {
  const { deps, users, userEvents, limit, ipOf, accessFor } = ctx;
  const { db, clock, audit, apps, passwords, sessions, rateLimiter } = deps;

  async function assertAvailable(appId: string, username: string, email: string): Promise<void> {
    if (await users.byUsername(appId, username)) throw fail("USERNAME_TAKEN");
    if (await users.contactByValue(appId, "email", email)) {
      throw fail("EMAIL_TAKEN");
    }
  }

  return {
    async signup(app, input, meta, pak) {
      const config = await apps.authConfigOf(app.id);
      if (!config.signup_enabled) throw fail("SIGNUP_DISABLED");
      // A PAK that is presented is checked even where none is required: a bad one is refused (401/403), not
      // quietly demoted to an anonymous sign-up. A good one exempts the sign-up from the per-address limit.
      let pakId: string | null = null;
      if (config.signup_requires_pak || pak.presented) pakId = (await pak.check()).pakId;
      else await rateLimiter.consume([limit("signup:ip", app.id, ipOf(meta), AUTH_LIMITS.signupPerIp)]);

      const allowed = config.signup_allowed_email_domains;
      if (allowed.length > 0 && !allowed.includes(emailDomain(input.email))) {
        throw fail("SIGNUP_EMAIL_DOMAIN_NOT_ALLOWED");
      }
      checkPassword(input.password, config, { username: input.username, email: input.email });
      // Checked before hashing so a taken name costs no argon2 work, and again under the write lock below.
      await assertAvailable(app.id, input.username, input.email);
      const passwordHash = await passwords.hash(input.password, meta.signal);

      // On PostgreSQL two sign-ups for one name can both pass the check before either commits: the unique
      // index refuses the second, and that refusal is the same 409 the check gives.
      const { session, refreshToken, role } = await tx(db, async () => {
        await assertAvailable(app.id, input.username, input.email);
        const now = clock.now();
        const userId = newId(clock);
        const role = config.signup_default_role;
        await users.insertUser({
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
        await users.insertContact({
          id: newId(clock),
          appId: app.id,
          userId,
          type: "email",
          value: input.email,
          isPrimary: true,
          verifiedAt: null,
          createdAt: now,
        });
        const opened = await sessions.create({
          appId: app.id,
          userId,
          amr: PASSWORD_AMR,
          durationMinutes: config.session_duration_minutes,
          maxSessions: config.max_sessions,
          meta,
        });
        await audit.record({
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
        await userEvents.signedUp(
          app.id,
          { id: userId, username: input.username, email: input.email, role },
          pakId ? "pak" : "self",
          endUserActor(userId),
        );
        return { ...opened, role };
      }).catch((err: unknown) => {
        throw takenError(err);
      });
      return tokenResponse(await accessFor(app, session, role), refreshToken);
    },
  };
}
