/**
 * @module Submitting codes: verify a contact, reset a password, and the guessing throttle in front of both
 * (per source address; the app-wide count only shrinks each source's allowance). Part of the code service
 * (`service.ts` composes it with `issue.ts`).
 */
import { iso, MINUTE } from "../core/clock.ts";
import { constantTimeEqual } from "../core/crypto.ts";
import { fail, type HeimdallError } from "../core/errors.ts";
import type { CallMeta } from "../core/principal.ts";
import { tx } from "../db/client.ts";
import { checkPassword } from "../passwords/password-policy.ts";
import { addressKey } from "../ratelimit/address.ts";
import type { Limit } from "../ratelimit/limiter.ts";
import { noticePasswordChanged } from "../users/notices.ts";
import type { CodeContext, CodeService } from "./context.ts";
import type { CodePurpose } from "./store.ts";

/** Wrong codes from one address before it is locked out of the app's code routes. */
export const LOCK_AFTER_FAILURES = 5;
/** The same, while the app is past {@link APP_FAILURES_PER_WINDOW}: one typo is forgiven, a second locks. */
export const LOCK_AFTER_FAILURES_UNDER_ATTACK = 2;
export const LOCK_DURATION = 15 * MINUTE;
/** Submissions (right or wrong) per address per minute: a plain flood guard. */
export const SUBMISSIONS_PER_MINUTE = 20;
/**
 * Wrong codes across the app per 10 minutes before the app counts as under attack. It refuses nothing by
 * itself; it only shrinks every address's allowance (see LOCK_AFTER_FAILURES_UNDER_ATTACK).
 */
export const APP_FAILURES_PER_WINDOW = 200;
const APP_FAILURE_WINDOW = 10 * MINUTE;

const codeInvalid = () => fail("CODE_INVALID");

export type CodeSubmitter = Pick<CodeService, "verify" | "resetPassword">;

export function createCodeSubmitter({ deps, store, users, userEvents, hashOf }: CodeContext): CodeSubmitter {
  const { db, clock, audit, rateLimiter } = deps;

  const sourceOf = (meta: CallMeta) => addressKey(meta.ip);
  const lockKey = (appId: string, meta: CallMeta) => `code-lock:${appId}:${sourceOf(meta)}`;
  const lockLimit = (appId: string, meta: CallMeta): Limit => ({
    key: lockKey(appId, meta),
    max: 1,
    windowMs: LOCK_DURATION,
  });
  const failLimit = (appId: string, meta: CallMeta): Limit => ({
    key: `code-fail:${appId}:${sourceOf(meta)}`,
    max: LOCK_AFTER_FAILURES,
    windowMs: LOCK_DURATION,
  });
  const appFailLimit = (appId: string): Limit => ({
    key: `code-fail:${appId}`,
    max: APP_FAILURES_PER_WINDOW,
    windowMs: APP_FAILURE_WINDOW,
  });

  const locked = (resetSeconds: number) =>
    fail("RATE_LIMITED", {
      message: "Too many wrong codes; retry later",
      headers: {
        "retry-after": String(resetSeconds),
      },
    });

  /**
   * Before a code is even looked at: the address's lock and the flood guard. Nothing app-wide is checked
   * here: a refusal before the lookup would refuse the right code too, which is what a guesser spread over
   * many addresses must not be able to cause.
   */
  async function admit(appId: string, meta: CallMeta): Promise<void> {
    const lock = await rateLimiter.peek(lockLimit(appId, meta));
    if (lock.remaining === 0) throw locked(lock.resetSeconds);
    await rateLimiter.consume([
      { key: `code-submit:${appId}:${sourceOf(meta)}`, max: SUBMISSIONS_PER_MINUTE, windowMs: MINUTE },
    ]);
  }

  /**
   * Counts a wrong code against the address and the app; the address's fifth (second while the app is
   * under attack) starts its 15-minute lock. The answer is the same 410 either way, so it says nothing
   * about other codes or about the app's state; the lock shows on the address's next submission.
   */
  async function failed(appId: string, meta: CallMeta): Promise<HeimdallError> {
    const app = await rateLimiter.peek(appFailLimit(appId));
    // Past the ceiling the count stays full until its window ends: consuming further would only throw.
    const underAttack = app.remaining === 0;
    if (!underAttack) await rateLimiter.consume([appFailLimit(appId)]);
    const perSource = await rateLimiter.consume([failLimit(appId, meta)]);
    const wrongSoFar = LOCK_AFTER_FAILURES - perSource.remaining;
    if (wrongSoFar >= (underAttack ? LOCK_AFTER_FAILURES_UNDER_ATTACK : LOCK_AFTER_FAILURES)) {
      // The lock runs from this failure, a full 15 minutes, whatever was left of the failure window.
      await rateLimiter.reset(lockKey(appId, meta));
      await rateLimiter.consume([lockLimit(appId, meta)]);
      await rateLimiter.reset(failLimit(appId, meta).key);
    }
    return codeInvalid();
  }

  /** The live code of `purpose` matching `code`, or null; the index finds it, the MAC is compared in constant time. */
  async function lookup(appId: string, purpose: CodePurpose, code: string) {
    if (!/^\d{6}$/.test(code)) return null;
    const codeHash = await hashOf(appId, purpose, code);
    const row = await store.liveByHash(appId, codeHash, clock.now());
    return row && constantTimeEqual(row.codeHash, codeHash) ? row : null;
  }

  return {
    async verify(app, code, meta) {
      await admit(app.id, meta);
      const row = await lookup(app.id, "verify", code);
      if (!row) throw await failed(app.id, meta);
      const welcome = await deps.email.welcomePlan(app.id);
      return await tx(db, async () => {
        const now = clock.now();
        if (!(await store.consume(row.id, now))) throw codeInvalid();
        const contact = await store.contactById(row.contactId);
        if (!contact) throw codeInvalid();
        const firstTime = contact.verifiedAt === null;
        const verifiedAt = contact.verifiedAt ?? now;
        if (firstTime) await store.markContactVerified(contact.id, now);
        const welcomeId =
          firstTime && welcome && contact.type === "email"
            ? await deps.email.enqueue(app.id, welcome, contact.value, {})
            : null;
        await audit.record({
          appId: app.id,
          action: "contact.verified",
          resourceType: "contact",
          resourceId: contact.id,
          actor: { type: "end_user", id: row.userId },
          details: {
            user_id: row.userId,
            contact_type: contact.type,
            ...(welcomeId ? { welcome_outbox_id: welcomeId } : {}),
          },
          meta,
        });
        // Reported the first time only: a second code for a verified contact changes nothing.
        if (firstTime) await userEvents.contactVerified(app.id, row.userId, contact);
        return {
          account_id: row.userId,
          contact_id: contact.id,
          type: contact.type,
          value: contact.value,
          verified_at: iso(verifiedAt),
        };
      });
    },

    async resetPassword(app, code, newPassword, meta) {
      await admit(app.id, meta);
      const row = await lookup(app.id, "reset", code);
      if (!row) throw await failed(app.id, meta);
      const user = await users.byId(app.id, row.userId);
      // The account was suspended or removed since the code was minted: the code is dead, not wrong.
      if (user?.status !== "active") throw codeInvalid();
      checkPassword(newPassword, await deps.apps.authConfigOf(app.id), {
        username: user.username,
        email: (await users.primaryEmail(user.id))?.value ?? null,
      });
      // argon2 is async: hashed before the synchronous transaction.
      const passwordHash = await deps.passwords.hash(newPassword, meta.signal);
      await tx(db, async () => {
        const now = clock.now();
        if (!(await store.consume(row.id, now))) throw codeInvalid();
        const current = await users.byId(app.id, user.id);
        if (current?.status !== "active") throw codeInvalid();
        await store.consumeAllOfUser(user.id, "reset", now);
        await users.updateUser(user.id, {
          passwordHash,
          passwordChangedAt: now,
          failedLoginCount: 0,
          lockedUntil: null,
          updatedAt: now,
        });
        // A reset means the old password may be known to someone else: every session ends now.
        const revoked = await deps.sessions.revokeAllOfUser(user.id, "password_reset");
        // The owner hears of it even when someone else held the reset code; no mail if the app sends none.
        await noticePasswordChanged(deps.email, users, app.id, user.id, now);
        await audit.record({
          appId: app.id,
          action: "user.password_reset",
          resourceType: "user",
          resourceId: user.id,
          actor: { type: "end_user", id: user.id },
          details: { contact_id: row.contactId, sessions_revoked: revoked },
          meta,
        });
        await userEvents.passwordResetCompleted(app.id, user.id, revoked);
      });
    },
  };
}
