/**
 * @module Verification and password-reset codes (docs/decisions.md, "Codes" under "End users"): mint (returned to a PAK holder, or emailed
 * through the outbox), verify a contact, reset a password.
 *
 * A code is 6 digits from a CSPRNG, lives 10 minutes, is used once, and is stored only as
 * HMAC-SHA256(`<app_id>:<purpose>:<code>`) under the sealed `code_pepper`: a stolen database yields no
 * code, and the purpose in the MAC keeps a reset code from verifying a contact and vice versa. Codes are
 * unique among an app's live codes of a purpose, so a submitted code names one contact. Minting for a
 * contact supersedes its previous unused code.
 *
 * Guessing: submissions are limited per source address (an IPv4 address or an IPv6 /64) and app; 5
 * wrong codes from one source lock it out of the app's code routes for 15 minutes. A right code does not
 * reset a source's count: otherwise one valid code of the guesser's own would buy another five guesses.
 * Wrong codes cannot be charged to a code or contact: the submit bodies carry the code alone, and a wrong
 * code names nothing. Wrong codes across the app are counted too, but that count never refuses a request
 * (it used to lock the routes, so a guesser with many addresses could keep every user's valid code out):
 * past its ceiling the app is under attack, and each source's allowance drops from 5 wrong codes to 2.
 * A right code from an unlocked source always works.
 *
 * Enumeration: the mint routes answer `{}` for an unknown, already-verified (verification) or unverified
 * (reset) contact, and the email routes check every precondition of the app before touching the contact.
 */

import { randomInt } from "node:crypto";
import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { AppRef } from "../core/app-ref.ts";
import { type Clock, iso, MINUTE } from "../core/clock.ts";
import { constantTimeEqual, hmacSha256Hex } from "../core/crypto.ts";
import { fail, HeimdallError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { actorOf, type CallMeta, type PlatformPrincipal } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { EmailService, MailPlan } from "../email/service.ts";
import type { PasswordHasher } from "../passwords/hasher.ts";
import { checkPassword } from "../passwords/password-policy.ts";
import { addressKey } from "../ratelimit/address.ts";
import type { Limit, RateLimiter } from "../ratelimit/limiter.ts";
import type { SessionService } from "../sessions/service.ts";
import { noticePasswordChanged } from "../users/notices.ts";
import { type ContactRow, createUserStore, type EndUserRow } from "../users/store.ts";
import type { ServerSecrets } from "../vault/server-secrets.ts";
import type { CodeDispatchDto, CodeIssueDto, ContactRef, VerifyResultDto } from "./model.ts";
import { type CodePurpose, createCodeStore } from "./store.ts";

export const CODE_TTL = 10 * MINUTE;
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
/** Code emails to one address per 15 minutes: Heimdall must not become a mail cannon. */
export const EMAILS_PER_ADDRESS = 5;
const EMAIL_WINDOW = 15 * MINUTE;
/** Re-draws before giving up on a unique code; with 10^6 codes this only fails under absurd load. */
const MAX_DRAWS = 20;

export type CodeMintResult = CodeIssueDto | Record<string, never>;
export type CodeDispatchResult = CodeDispatchDto | Record<string, never>;

/**
 * How a verification code reaches its reader. `email`: only by email, so the app must send email (the
 * Consumer's `auth/send-verification-email`; the code never appears in the response). `operator`: returned
 * to the operator who asked, and emailed as well when the contact is an email address and the app sends
 * email (the Admin API's resend-verification); the operator holds the code either way, so a mail server's
 * refusal is left to the outbox.
 */
export type VerificationDelivery = "email" | "operator";

export interface CodeService {
  requestVerification(app: AppRef, p: PlatformPrincipal, contact: ContactRef, meta: CallMeta): CodeMintResult;
  requestPasswordReset(
    app: AppRef,
    p: PlatformPrincipal,
    contact: ContactRef,
    meta: CallMeta,
  ): CodeMintResult;
  /**
   * The one verification-email flow behind both surfaces: the same per-address email allowance, the same
   * outbox, the same audit rows. `{}` when there is no unverified contact of that value.
   */
  sendVerification(
    app: AppRef,
    p: PlatformPrincipal,
    contact: ContactRef,
    meta: CallMeta,
    delivery: "email",
  ): Promise<CodeDispatchResult>;
  sendVerification(
    app: AppRef,
    p: PlatformPrincipal,
    contact: ContactRef,
    meta: CallMeta,
    delivery: "operator",
  ): Promise<CodeMintResult>;
  sendPasswordResetEmail(
    app: AppRef,
    p: PlatformPrincipal,
    contact: ContactRef,
    meta: CallMeta,
  ): Promise<CodeDispatchResult>;
  verify(app: AppRef, code: string, meta: CallMeta): VerifyResultDto;
  resetPassword(app: AppRef, code: string, newPassword: string, meta: CallMeta): Promise<void>;
  purge(): number;
}

export interface CodeServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  secrets: Pick<ServerSecrets, "get">;
  rateLimiter: RateLimiter;
  passwords: Pick<PasswordHasher, "hash">;
  sessions: Pick<SessionService, "revokeAllOfUser">;
  apps: Pick<AppService, "authConfigOf">;
  email: Pick<EmailService, "codeMailPlan" | "welcomePlan" | "noticePlan" | "enqueue" | "deliverNow">;
}

const codeInvalid = () => fail("CODE_INVALID");

const PURPOSE_LABEL: Record<CodePurpose, string> = { verify: "verification", reset: "password_reset" };

interface Target {
  user: EndUserRow;
  contact: ContactRow;
}

export function createCodeService(deps: CodeServiceDeps): CodeService {
  const { db, clock, audit, rateLimiter } = deps;
  const store = createCodeStore(db);
  const users = createUserStore(db);

  const hashOf = (appId: string, purpose: CodePurpose, code: string) =>
    hmacSha256Hex(deps.secrets.get("code_pepper"), `${appId}:${purpose}:${code}`);

  /** Who a mint for `contact` would serve, or null: the rules of the spec for each purpose. */
  function target(appId: string, purpose: CodePurpose, ref: ContactRef): Target | null {
    const contact = users.contactByValue(appId, ref.type, ref.value);
    if (!contact) return null;
    const user = users.byId(appId, contact.userId);
    if (!user) return null;
    if (purpose === "verify") return contact.verifiedAt === null ? { user, contact } : null;
    // Reset: only a verified contact may push a reset onto an account, and only an active account has one.
    return contact.verifiedAt !== null && user.status === "active" ? { user, contact } : null;
  }

  /** Mints a code for `t` (inside the caller's transaction); the previous unused one is gone. */
  function issue(
    appId: string,
    purpose: CodePurpose,
    t: Target,
  ): { id: string; code: string; expiresAt: number } {
    const now = clock.now();
    store.supersede(t.contact.id, purpose);
    for (let i = 0; i < MAX_DRAWS; i++) {
      const code = String(randomInt(0, 1_000_000)).padStart(6, "0");
      const codeHash = hashOf(appId, purpose, code);
      if (store.liveByHash(appId, codeHash, now)) continue;
      const id = newId(clock);
      const expiresAt = now + CODE_TTL;
      store.insert({
        id,
        appId,
        userId: t.user.id,
        contactId: t.contact.id,
        purpose,
        codeHash,
        expiresAt,
        consumedAt: null,
        createdAt: now,
      });
      return { id, code, expiresAt };
    }
    throw fail("CODE_SPACE_EXHAUSTED", {
      headers: { "retry-after": "60" },
    });
  }

  function recordIssued(
    app: AppRef,
    p: PlatformPrincipal,
    purpose: CodePurpose,
    t: Target,
    delivery: { delivery: "response" } | { delivery: "email"; outbox_id: string },
    meta: CallMeta,
  ): void {
    audit.record({
      appId: app.id,
      action: "code.issued",
      resourceType: "contact",
      resourceId: t.contact.id,
      actor: actorOf(p),
      details: {
        purpose: PURPOSE_LABEL[purpose],
        contact_type: t.contact.type,
        user_id: t.user.id,
        ...delivery,
      },
      meta,
    });
  }

  function mint(
    app: AppRef,
    p: PlatformPrincipal,
    purpose: CodePurpose,
    ref: ContactRef,
    meta: CallMeta,
  ): CodeMintResult {
    return tx(db, (): CodeMintResult => {
      const t = target(app.id, purpose, ref);
      if (!t) return {};
      const issued = issue(app.id, purpose, t);
      recordIssued(app, p, purpose, t, { delivery: "response" }, meta);
      return { code: issued.code, expires_at: iso(issued.expiresAt) };
    });
  }

  /** The app's mail plan for an operator's code, or null when the app sends no email (the operator delivers). */
  function optionalPlan(appId: string, ref: ContactRef): MailPlan | null {
    if (ref.type !== "email") return null;
    try {
      return deps.email.codeMailPlan(appId, "verification");
    } catch (err) {
      if (!(err instanceof HeimdallError) || err.status < 412) throw err;
      return null;
    }
  }

  /** Counts one code email to the address: Heimdall must not become a mail cannon, whoever asks. */
  const chargeEmail = (appId: string, ref: ContactRef) =>
    rateLimiter.consume([
      { key: `code-email:${appId}:${ref.value}`, max: EMAILS_PER_ADDRESS, windowMs: EMAIL_WINDOW },
    ]);

  /**
   * A verification code for an operator: returned, and emailed too when the app sends email. Audited as
   * issued into the response, plus `contact.verification_sent` on the app's chain when it was queued.
   */
  async function mintForOperator(
    app: AppRef,
    p: PlatformPrincipal,
    ref: ContactRef,
    meta: CallMeta,
  ): Promise<CodeMintResult> {
    const plan = optionalPlan(app.id, ref);
    if (plan) chargeEmail(app.id, ref);
    const minted = tx(db, () => {
      const t = target(app.id, "verify", ref);
      if (!t) return null;
      const issued = issue(app.id, "verify", t);
      recordIssued(app, p, "verify", t, { delivery: "response" }, meta);
      if (!plan) return { issued, outboxId: null };
      const outboxId = deps.email.enqueue(app.id, plan, t.contact.value, {
        code: issued.code,
        expiresInMinutes: CODE_TTL / MINUTE,
      });
      audit.record({
        appId: app.id,
        workspaceId: app.workspaceId,
        action: "contact.verification_sent",
        resourceType: "contact",
        resourceId: t.contact.id,
        actor: actorOf(p),
        details: { user_id: t.user.id, outbox_id: outboxId },
        meta,
      });
      return { issued, outboxId };
    });
    if (!minted) return {};
    // A refusal is left to the outbox record: the operator holds the code either way.
    if (minted.outboxId !== null) await deps.email.deliverNow(minted.outboxId);
    return { code: minted.issued.code, expires_at: iso(minted.issued.expiresAt) };
  }

  async function mintAndSend(
    app: AppRef,
    p: PlatformPrincipal,
    purpose: CodePurpose,
    ref: ContactRef,
    meta: CallMeta,
  ): Promise<CodeDispatchResult> {
    // Every precondition of the app first: their errors must not depend on whether the contact exists.
    const plan: MailPlan = deps.email.codeMailPlan(
      app.id,
      purpose === "verify" ? "verification" : "password_reset",
    );
    chargeEmail(app.id, ref);
    const queued = tx(db, () => {
      const t = target(app.id, purpose, ref);
      if (!t) return null;
      const issued = issue(app.id, purpose, t);
      const outboxId = deps.email.enqueue(app.id, plan, t.contact.value, {
        code: issued.code,
        expiresInMinutes: CODE_TTL / MINUTE,
      });
      recordIssued(app, p, purpose, t, { delivery: "email", outbox_id: outboxId }, meta);
      return { ...issued, outboxId, contactId: t.contact.id };
    });
    if (!queued) return {};
    // One attempt now, so that an SMTP server refusing the message surfaces as 503 to the caller. A
    // transient failure or a slow server leaves the message to the outbox's retries: the caller gets 201.
    const outcome = await deps.email.deliverNow(queued.outboxId);
    if (outcome === "failed") {
      // Refused for good: no email will ever carry this code, so it is withdrawn, and the caller may retry.
      tx(db, () => {
        store.consume(queued.id, clock.now());
        audit.record({
          appId: app.id,
          action: "code.voided",
          resourceType: "contact",
          resourceId: queued.contactId,
          actor: actorOf(p),
          details: { purpose: PURPOSE_LABEL[purpose], reason: "dispatch_failed", outbox_id: queued.outboxId },
          meta,
        });
      });
      throw fail("ENVOI_DISPATCH_FAILED");
    }
    return { expires_at: iso(queued.expiresAt) };
  }

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
  function admit(appId: string, meta: CallMeta): void {
    const lock = rateLimiter.peek(lockLimit(appId, meta));
    if (lock.remaining === 0) throw locked(lock.resetSeconds);
    rateLimiter.consume([
      { key: `code-submit:${appId}:${sourceOf(meta)}`, max: SUBMISSIONS_PER_MINUTE, windowMs: MINUTE },
    ]);
  }

  /**
   * Counts a wrong code against the address and the app; the address's fifth (second while the app is
   * under attack) starts its 15-minute lock. The answer is the same 410 either way, so it says nothing
   * about other codes or about the app's state; the lock shows on the address's next submission.
   */
  function failed(appId: string, meta: CallMeta): HeimdallError {
    const app = rateLimiter.peek(appFailLimit(appId));
    // Past the ceiling the count stays full until its window ends: consuming further would only throw.
    const underAttack = app.remaining === 0;
    if (!underAttack) rateLimiter.consume([appFailLimit(appId)]);
    const perSource = rateLimiter.consume([failLimit(appId, meta)]);
    const wrongSoFar = LOCK_AFTER_FAILURES - perSource.remaining;
    if (wrongSoFar >= (underAttack ? LOCK_AFTER_FAILURES_UNDER_ATTACK : LOCK_AFTER_FAILURES)) {
      // The lock runs from this failure, a full 15 minutes, whatever was left of the failure window.
      rateLimiter.reset(lockKey(appId, meta));
      rateLimiter.consume([lockLimit(appId, meta)]);
      rateLimiter.reset(failLimit(appId, meta).key);
    }
    return codeInvalid();
  }

  /** The live code of `purpose` matching `code`, or null; the index finds it, the MAC is compared in constant time. */
  function lookup(appId: string, purpose: CodePurpose, code: string) {
    if (!/^\d{6}$/.test(code)) return null;
    const codeHash = hashOf(appId, purpose, code);
    const row = store.liveByHash(appId, codeHash, clock.now());
    return row && constantTimeEqual(row.codeHash, codeHash) ? row : null;
  }

  function sendVerification(
    app: AppRef,
    p: PlatformPrincipal,
    ref: ContactRef,
    meta: CallMeta,
    delivery: "email",
  ): Promise<CodeDispatchResult>;
  function sendVerification(
    app: AppRef,
    p: PlatformPrincipal,
    ref: ContactRef,
    meta: CallMeta,
    delivery: "operator",
  ): Promise<CodeMintResult>;
  function sendVerification(
    app: AppRef,
    p: PlatformPrincipal,
    ref: ContactRef,
    meta: CallMeta,
    delivery: VerificationDelivery,
  ): Promise<CodeDispatchResult | CodeMintResult> {
    return delivery === "email"
      ? mintAndSend(app, p, "verify", ref, meta)
      : mintForOperator(app, p, ref, meta);
  }

  return {
    requestVerification: (app, p, contact, meta) => mint(app, p, "verify", contact, meta),
    requestPasswordReset: (app, p, contact, meta) => mint(app, p, "reset", contact, meta),
    sendVerification,
    sendPasswordResetEmail: (app, p, contact, meta) => mintAndSend(app, p, "reset", contact, meta),

    verify(app, code, meta) {
      admit(app.id, meta);
      const row = lookup(app.id, "verify", code);
      if (!row) throw failed(app.id, meta);
      const welcome = deps.email.welcomePlan(app.id);
      return tx(db, () => {
        const now = clock.now();
        if (!store.consume(row.id, now)) throw codeInvalid();
        const contact = store.contactById(row.contactId);
        if (!contact) throw codeInvalid();
        const firstTime = contact.verifiedAt === null;
        const verifiedAt = contact.verifiedAt ?? now;
        if (firstTime) store.markContactVerified(contact.id, now);
        const welcomeId =
          firstTime && welcome && contact.type === "email"
            ? deps.email.enqueue(app.id, welcome, contact.value, {})
            : null;
        audit.record({
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
      admit(app.id, meta);
      const row = lookup(app.id, "reset", code);
      if (!row) throw failed(app.id, meta);
      const user = users.byId(app.id, row.userId);
      // The account was suspended or removed since the code was minted: the code is dead, not wrong.
      if (user?.status !== "active") throw codeInvalid();
      checkPassword(newPassword, deps.apps.authConfigOf(app.id), {
        username: user.username,
        email: users.primaryEmail(user.id)?.value ?? null,
      });
      // argon2 is async: hashed before the synchronous transaction.
      const passwordHash = await deps.passwords.hash(newPassword, meta.signal);
      tx(db, () => {
        const now = clock.now();
        if (!store.consume(row.id, now)) throw codeInvalid();
        const current = users.byId(app.id, user.id);
        if (current?.status !== "active") throw codeInvalid();
        store.consumeAllOfUser(user.id, "reset", now);
        users.updateUser(user.id, {
          passwordHash,
          passwordChangedAt: now,
          failedLoginCount: 0,
          lockedUntil: null,
          updatedAt: now,
        });
        // A reset means the old password may be known to someone else: every session ends now.
        const revoked = deps.sessions.revokeAllOfUser(user.id, "password_reset");
        // The owner hears of it even when someone else held the reset code; no mail if the app sends none.
        noticePasswordChanged(deps.email, users, app.id, user.id, now);
        audit.record({
          appId: app.id,
          action: "user.password_reset",
          resourceType: "user",
          resourceId: user.id,
          actor: { type: "end_user", id: user.id },
          details: { contact_id: row.contactId, sessions_revoked: revoked },
          meta,
        });
      });
    },

    purge() {
      // A day of grace keeps used and expired codes around for support questions, then they go.
      return store.purge(clock.now() - 24 * 60 * MINUTE);
    },
  };
}
