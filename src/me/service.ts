/**
 * @module The signed-in EndUser's own account: profile, deletion, sessions, password change, contacts and
 * activity. Every method acts on the caller's account only; ids of anything else read as "not found".
 *
 * Re-authentication. An access token lives up to an hour and may leak; with it alone nobody may take the
 * account over. The changes that decide who controls the account — promoting a contact to primary (where
 * reset codes and sign-in go), changing the password, and deleting a verified contact (a verified contact
 * is a recovery channel of the owner) — need the session to have proved the password within
 * REAUTH_WINDOW_MS: at sign-in, or later through `POST /me/reauthenticate`; else 403
 * REAUTHENTICATION_REQUIRED. A refresh proves nothing and leaves the time alone.
 */
import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import { type Clock, iso } from "../core/clock.ts";
import { fail, validationError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { decodeCursor, type Page, pageOf, parseLimit } from "../core/pagination.ts";
import type { AuditActor, CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { PasswordHasher } from "../passwords/hasher.ts";
import { passwordFailures } from "../passwords/password-policy.ts";
import { headersOf, type Limit, type LimitState, type RateLimiter } from "../ratelimit/limiter.ts";
import type { SessionService } from "../sessions/service.ts";
import {
  contactNotVerified,
  contactOf,
  contactTaken,
  contactTakenError,
  deleteContact,
  promoteContact,
} from "../users/contacts.ts";
import { createUserEvents } from "../users/events.ts";
import { isEmail, isPhone, normalizeEmail, normalizePhone } from "../users/normalize.ts";
import { type NoticeMailer, noticePasswordChanged, noticePrimaryEmailChanged } from "../users/notices.ts";
import { createUserStore } from "../users/store.ts";
import {
  type AddContactInput,
  CHANGE_PASSWORD_FAILURES,
  type ChangePasswordInput,
  isSeqCursor,
  MAX_CONTACTS_PER_USER,
  type MeActivityEntryDto,
  type MeContactDto,
  type MeProfileDto,
  type MeSessionDto,
  REAUTH_FAILURES_PER_ADDRESS,
  REAUTH_WINDOW_MS,
  type ReauthenticateInput,
  type ReauthenticationDto,
  type SeqCursor,
  toActivityDto,
  toContactDto,
  toProfileDto,
  toSessionDto,
  type UpdateMeInput,
} from "./model.ts";
import { createMeStore } from "./store.ts";

/** Who is calling: the EndUser guard's facts, reduced to what the rules need. */
export interface MeCaller {
  readonly appId: string;
  readonly userId: string;
  readonly sessionId: string;
}

export interface MeService {
  update(caller: MeCaller, input: UpdateMeInput, meta: CallMeta): Promise<MeProfileDto>;
  deleteAccount(caller: MeCaller, meta: CallMeta): Promise<void>;
  sessions(caller: MeCaller): Promise<Page<MeSessionDto>>;
  revokeSession(caller: MeCaller, sessionId: string, meta: CallMeta): Promise<void>;
  changePassword(caller: MeCaller, input: ChangePasswordInput, meta: CallMeta): Promise<void>;
  /** Proves the password again: the session counts as freshly authenticated (see the module comment). */
  reauthenticate(caller: MeCaller, input: ReauthenticateInput, meta: CallMeta): Promise<ReauthenticationDto>;
  contacts(caller: MeCaller): Promise<{ data: MeContactDto[] }>;
  addContact(caller: MeCaller, input: AddContactInput, meta: CallMeta): Promise<MeContactDto>;
  deleteContact(caller: MeCaller, contactId: string, meta: CallMeta): Promise<void>;
  promoteContact(caller: MeCaller, contactId: string, meta: CallMeta): Promise<void>;
  activity(caller: MeCaller, query: { limit?: string; cursor?: string }): Promise<Page<MeActivityEntryDto>>;
}

/** What the rules read and write, nothing more: the service never sees the whole graph. */
interface MeDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  sessions: Pick<SessionService, "facts" | "liveOfUser" | "revoke" | "revokeAllOfUser">;
  passwords: Pick<PasswordHasher, "hash" | "verify" | "dummyVerify">;
  rateLimiter: Pick<RateLimiter, "consume" | "peek" | "reset">;
  apps: Pick<AppService, "authConfigOf">;
  email: NoticeMailer;
  /** The account's MFA factors: their sealed secrets are destroyed with it (crypto-shredding). */
  mfa: { forgetUser(appId: string, userId: string): Promise<void> };
  /** `user.deleted` when the account deletes itself, as for an operator's deletion (docs/webhooks.md). */
  events: Pick<EventEmitter, "emit">;
}

const userNotFound = () => fail("USER_NOT_FOUND", { message: "Account not found" });
const sessionNotFound = () => fail("SESSION_NOT_FOUND");
const invalidCurrent = () => fail("INVALID_CREDENTIALS", { message: "The current password is incorrect" });
const invalidPassword = () => fail("INVALID_CREDENTIALS", { message: "The password is incorrect" });
const reauthenticationRequired = () => fail("REAUTHENTICATION_REQUIRED");
const tooManyWrong = (state: LimitState) =>
  fail("RATE_LIMITED", {
    message: "Too many wrong passwords; retry later",
    headers: {
      ...headersOf(state),
      "retry-after": String(state.resetSeconds),
    },
  });

const actor = (c: MeCaller): AuditActor => ({ type: "end_user", id: c.userId });
const passwordKey = (userId: string) => `change_password:user:${userId}`;

export function createMeService(deps: MeDeps): MeService {
  const { db, clock, audit } = deps;
  const store = createMeStore(db);
  const users = createUserStore(db);
  const userEvents = createUserEvents(deps.events);
  // One count of wrong passwords per account for change-password and re-authentication: both guess the
  // same secret with the same stolen token.
  const failureLimit = (userId: string): Limit => ({ key: passwordKey(userId), ...CHANGE_PASSWORD_FAILURES });
  const addressLimit = (caller: MeCaller, meta: CallMeta): Limit => ({
    key: `reauth:ip:${caller.appId}:${meta.ip ?? "unknown"}`,
    ...REAUTH_FAILURES_PER_ADDRESS,
  });

  /** 403 REAUTHENTICATION_REQUIRED unless the session proved the password within the window. */
  const requireRecentAuth = async (caller: MeCaller) => {
    const at = await store.authenticatedAt(caller.sessionId);
    if (at === undefined || clock.now() - at >= REAUTH_WINDOW_MS) throw reauthenticationRequired();
  };

  /** The account as `GET /me` shows it, read by the same statement that authenticates EndUser requests. */
  const profile = async (caller: MeCaller): Promise<MeProfileDto> => {
    const account = (await deps.sessions.facts(caller.sessionId))?.account;
    if (!account) throw userNotFound();
    return toProfileDto(account);
  };

  /** A wrong current password is counted and recorded; the counter, not argon2's cost, bounds guessing. */
  const recordWrongPassword = async (caller: MeCaller, reason: string, meta: CallMeta) => {
    await deps.rateLimiter.consume([failureLimit(caller.userId)]);
    await tx(
      db,
      async () =>
        await audit.record({
          appId: caller.appId,
          action: "user.password_change_failed",
          resourceType: "user",
          resourceId: caller.userId,
          actor: actor(caller),
          details: { reason },
          meta,
        }),
    );
  };

  return {
    async update(caller, input, meta) {
      if (input.display_name === undefined) return await profile(caller);
      // Surrounding blanks are never meant; a name of only blanks is no name.
      const displayName = input.display_name.trim() || null;
      await tx(db, async () => {
        const current = await users.lockUser(caller.appId, caller.userId);
        if (!current) throw userNotFound();
        if (current.displayName === displayName) return;
        await users.updateUser(caller.userId, { displayName, updatedAt: clock.now() });
        await audit.record({
          appId: caller.appId,
          action: "user.updated",
          resourceType: "user",
          resourceId: caller.userId,
          actor: actor(caller),
          details: { fields: ["display_name"] },
          meta,
        });
      });
      return await profile(caller);
    },

    async deleteAccount(caller, meta) {
      await tx(db, async () => {
        if (!(await users.lockUser(caller.appId, caller.userId))) throw userNotFound();
        // Written first and kept: audit rows outlive the account (docs/architecture.md, "Audit"); the id is all they hold of it.
        await audit.record({
          appId: caller.appId,
          action: "user.deleted",
          resourceType: "user",
          resourceId: caller.userId,
          actor: actor(caller),
          details: { session_id: caller.sessionId },
          meta,
        });
        await userEvents.deleted(caller.appId, caller.userId, "self", actor(caller));
        // Contacts, sessions (and their refresh tokens) and one-time codes go with it by cascade; the
        // caller's token dies with its session, since every guard looks the session up. MFA factors are
        // removed first: their sealed secrets would outlive a cascade.
        await deps.mfa.forgetUser(caller.appId, caller.userId);
        await users.deleteUser(caller.userId);
        await deps.rateLimiter.reset(passwordKey(caller.userId));
      });
    },

    async sessions(caller) {
      return {
        data: (await deps.sessions.liveOfUser(caller.userId)).map((s) => toSessionDto(s, caller.sessionId)),
        // Live sessions are capped by max_sessions, so one page always holds them all.
        pagination: { has_more: false, next_cursor: null },
      };
    },

    async revokeSession(caller, sessionId, meta) {
      await tx(db, async () => {
        // Someone else's session, an ended one and a made-up id all look the same.
        if (!(await store.liveSessionOf(caller.userId, sessionId, clock.now()))) throw sessionNotFound();
        if (!(await deps.sessions.revoke(sessionId, "user_revoked"))) throw sessionNotFound();
        await audit.record({
          appId: caller.appId,
          action: "session.revoked",
          resourceType: "session",
          resourceId: sessionId,
          actor: actor(caller),
          details: {
            user_id: caller.userId,
            reason: "user_revoked",
            current: sessionId === caller.sessionId,
          },
          meta,
        });
      });
    },

    async changePassword(caller, input, meta) {
      // First, before the password is even looked at: a stale session gets no guess at it here either.
      await requireRecentAuth(caller);
      const limit = failureLimit(caller.userId);
      const state = await deps.rateLimiter.peek(limit);
      if (state.remaining === 0) throw tooManyWrong(state);
      const user = await users.byId(caller.appId, caller.userId);
      if (!user) throw userNotFound();

      const failures: string[] = passwordFailures(
        input.new_password,
        await deps.apps.authConfigOf(caller.appId),
        {
          username: user.username,
          email: (await users.primaryEmail(user.id))?.value ?? null,
        },
      );
      // Equal inputs: if the current password is right, the "new" one changes nothing.
      if (input.new_password === input.current_password) failures.push("same_as_current");
      if (failures.length > 0) {
        throw fail("WEAK_PASSWORD", {
          message: "The new password does not meet the password policy",
          details: failures.map((reason) => ({ field: "new_password", reason })),
        });
      }

      // Accounts without a password (provisioned by an operator) use the reset flow; same cost, same answer.
      const ok = user.passwordHash
        ? await deps.passwords.verify(user.passwordHash, input.current_password, meta.signal)
        : await deps.passwords.dummyVerify(input.current_password, meta.signal);
      if (!ok || !user.passwordHash) {
        await recordWrongPassword(
          caller,
          user.passwordHash ? "invalid_current_password" : "no_password",
          meta,
        );
        throw invalidCurrent();
      }

      const newHash = await deps.passwords.hash(input.new_password, meta.signal);
      const changed = await tx(db, async () => {
        // Another change may have landed while argon2 ran; the current password it proved is then stale.
        if (!(await store.replacePasswordHash(user.id, user.passwordHash!, newHash, clock.now())))
          return false;
        const revoked = await deps.sessions.revokeAllOfUser(user.id, "password_changed", caller.sessionId);
        const now = clock.now();
        // The caller just proved the password (the old one, and chose the new): its session is fresh.
        await store.markAuthenticated(caller.sessionId, user.id, newHash, now);
        await audit.record({
          appId: caller.appId,
          action: "user.password_changed",
          resourceType: "user",
          resourceId: user.id,
          actor: actor(caller),
          details: { revoked_sessions: revoked },
          meta,
        });
        await noticePasswordChanged(deps.email, users, caller.appId, user.id, now);
        return true;
      });
      if (!changed) throw invalidCurrent();
      await deps.rateLimiter.reset(limit.key);
    },

    async reauthenticate(caller, input, meta) {
      const limits = [failureLimit(caller.userId), addressLimit(caller, meta)];
      for (const limit of limits) {
        const state = await deps.rateLimiter.peek(limit);
        if (state.remaining === 0) throw tooManyWrong(state);
      }
      const user = await users.byId(caller.appId, caller.userId);
      if (!user) throw userNotFound();
      // Accounts without a password (provisioned by an operator) set one through the reset flow first.
      const ok = user.passwordHash
        ? await deps.passwords.verify(user.passwordHash, input.password, meta.signal)
        : await deps.passwords.dummyVerify(input.password, meta.signal);
      if (!ok || !user.passwordHash) {
        await deps.rateLimiter.consume(limits);
        await tx(
          db,
          async () =>
            await audit.record({
              appId: caller.appId,
              action: "session.reauthentication_failed",
              resourceType: "session",
              resourceId: caller.sessionId,
              actor: actor(caller),
              details: {
                user_id: caller.userId,
                reason: user.passwordHash ? "invalid_password" : "no_password",
              },
              meta,
            }),
        );
        throw invalidPassword();
      }
      const now = clock.now();
      const done = await tx(db, async () => {
        // The session ended or the password changed while argon2 ran: what was proved no longer counts. The
        // account's row is locked first, so a password change committing meanwhile is seen (PostgreSQL).
        if (!(await users.lockUser(caller.appId, caller.userId))) return false;
        if (!(await store.markAuthenticated(caller.sessionId, user.id, user.passwordHash!, now)))
          return false;
        await audit.record({
          appId: caller.appId,
          action: "session.reauthenticated",
          resourceType: "session",
          resourceId: caller.sessionId,
          actor: actor(caller),
          details: { user_id: caller.userId },
          meta,
        });
        return true;
      });
      if (!done) throw invalidPassword();
      await deps.rateLimiter.reset(failureLimit(caller.userId).key);
      return { authenticated_at: iso(now) };
    },

    async contacts(caller) {
      return { data: (await users.contactsOf(caller.userId)).map(toContactDto) };
    },

    async addContact(caller, input, meta) {
      const value = input.type === "email" ? normalizeEmail(input.value) : normalizePhone(input.value);
      const valid = input.type === "email" ? isEmail(value) : isPhone(value);
      if (!valid) {
        throw validationError([
          {
            field: "value",
            reason: input.type === "email" ? "must be an email address" : "must be a phone number (E.164)",
          },
        ]);
      }
      // A new contact is unverified, and an unverified primary would let whoever typed the address
      // receive the account's reset codes; verify first, then promote.
      if (input.is_primary === true) throw contactNotVerified();
      return await tx(db, async () => {
        // Locked: the count and the insert it allows hold with several writers.
        if (!(await users.lockUser(caller.appId, caller.userId))) throw userNotFound();
        if ((await users.contactCount(caller.userId)) >= MAX_CONTACTS_PER_USER) {
          throw fail("CONTACT_LIMIT", {
            message: `An account holds at most ${MAX_CONTACTS_PER_USER} contacts`,
          });
        }
        if (await users.contactByValue(caller.appId, input.type, value)) {
          throw contactTaken(input.type);
        }
        const row = {
          id: newId(clock),
          appId: caller.appId,
          userId: caller.userId,
          type: input.type,
          value,
          isPrimary: false,
          verifiedAt: null,
          createdAt: clock.now(),
        };
        await users.insertContact(row);
        await audit.record({
          appId: caller.appId,
          action: "contact.added",
          resourceType: "contact",
          resourceId: row.id,
          actor: actor(caller),
          details: { user_id: caller.userId, type: row.type },
          meta,
        });
        return toContactDto(row);
      }).catch((err) => {
        throw contactTakenError(err, input.type);
      });
    },

    async deleteContact(caller, contactId, meta) {
      await tx(db, async () => {
        if (!(await users.lockUser(caller.appId, caller.userId))) throw userNotFound();
        const c = await contactOf(users, caller.userId, contactId);
        // A verified contact is a way back into the account for its owner; an unverified one is not yet.
        await deleteContact(users, c, async () => {
          if (c.verifiedAt !== null) await requireRecentAuth(caller);
        });
        await audit.record({
          appId: caller.appId,
          action: "contact.deleted",
          resourceType: "contact",
          resourceId: c.id,
          actor: actor(caller),
          details: { user_id: caller.userId, type: c.type, was_primary: c.isPrimary },
          meta,
        });
      });
    },

    async promoteContact(caller, contactId, meta) {
      await tx(db, async () => {
        // Locked: one primary of a type, however many promotions run at once.
        if (!(await users.lockUser(caller.appId, caller.userId))) throw userNotFound();
        const c = await contactOf(users, caller.userId, contactId);
        const promoted = await promoteContact(users, c, async () => await requireRecentAuth(caller));
        if (!promoted) return; // already primary: nothing changes, nothing to record
        const former = promoted.previous ? await users.contactOf(caller.userId, promoted.previous) : null;
        await noticePrimaryEmailChanged(deps.email, caller.appId, former, clock.now());
        await audit.record({
          appId: caller.appId,
          action: "contact.promoted",
          resourceType: "contact",
          resourceId: c.id,
          actor: actor(caller),
          details: { user_id: caller.userId, type: c.type, previous_contact_id: promoted.previous },
          meta,
        });
      });
    },

    async activity(caller, query) {
      const limit = parseLimit(query.limit);
      const cursor = decodeCursor(query.cursor, isSeqCursor);
      const rows = await store.activity(caller.appId, caller.userId, cursor?.s, limit + 1);
      return pageOf(
        rows,
        limit,
        (r): SeqCursor => ({ s: r.seq }),
        (r) => toActivityDto(r, caller.userId),
      );
    },
  };
}
