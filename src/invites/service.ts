/**
 * @module End-user invites (docs/decisions.md, "Tenants and invites"): an operator pre-allocates an account
 * for an email address with a role, the invitee accepts with the `inv_…` code and a password, and gets an
 * account whose email is already verified (the code reached that inbox, or the operator vouched for it).
 *
 * The code is shown once, in the create response (and in the invitation email, whose stored copy masks it:
 * the outbox seals the real body until delivery). The database keeps only its SHA-256 and last four
 * characters. A new invite for an address with a live one supersedes it in the same transaction.
 *
 * Accepting is public (the code is the authority), throttled per source address like the other code routes
 * and per code, and counts its use with a compare-and-set, so a single-use invite yields one account however
 * many accepts race for it.
 */

import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import { type TokenResponse, tokenResponse } from "../auth/model.ts";
import type { AppRef } from "../core/app-ref.ts";
import { type Clock, HOUR, iso, MINUTE, SECOND } from "../core/clock.ts";
import { constantTimeEqual, sha256Hex } from "../core/crypto.ts";
import { fail, type HeimdallError } from "../core/errors.ts";
import { isUuid, newId, randomToken } from "../core/ids.ts";
import {
  decodeCursor,
  isPosition,
  type Page,
  type Position,
  pageOf,
  parseLimit,
} from "../core/pagination.ts";
import type { AuditActor, CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { isUniqueViolation } from "../db/query.ts";
import type { EmailService } from "../email/service.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { PasswordHasher } from "../passwords/hasher.ts";
import { checkPassword } from "../passwords/password-policy.ts";
import { addressKey } from "../ratelimit/address.ts";
import type { Limit, RateLimiter } from "../ratelimit/limiter.ts";
import type { SessionService } from "../sessions/service.ts";
import type { TokenService } from "../tokens/service.ts";
import { createUserEvents } from "../users/events.ts";
import type { UserScope } from "../users/scope.ts";
import { freeUsernameFor, usernameFromEmail } from "../users/service.ts";
import { createUserStore } from "../users/store.ts";
import {
  type AcceptInviteInput,
  type CreateInviteInput,
  DEFAULT_EXPIRES_IN_HOURS,
  DEFAULT_INVITE_ROLE,
  INVITE_CODE_PATTERN,
  INVITE_CODE_PREFIX,
  type InviteDto,
  type InviteRow,
  type ListInvitesQuery,
  statusOf,
  toInviteDto,
} from "./model.ts";
import { createInviteStore } from "./store.ts";

const CONTACT_INDEX = {
  sqlite: "end_user_contacts.app_id, end_user_contacts.type, end_user_contacts.value",
  postgres: "end_user_contacts_app_value",
};
const USERNAME_INDEX = { sqlite: "end_users.app_id, end_users.username", postgres: "end_users_app_username" };

/** Wrong codes from one address before it is locked out of the app's accept route (as for 6-digit codes). */
export const ACCEPT_LOCK_AFTER_FAILURES = 5;
export const ACCEPT_LOCK_DURATION = 15 * MINUTE;
/** Accepts per address per minute, right or wrong: a plain flood guard. */
export const ACCEPTS_PER_MINUTE = 20;
/**
 * Attempts on one code per 15 minutes. The code cannot be guessed; this bounds what its holder (or a leak)
 * can spend on argon2 and on probing usernames through it.
 */
export const ACCEPTS_PER_CODE = 10;

const PASSWORD_AMR = ["pwd"];

export interface InviteService {
  create(scope: UserScope, input: CreateInviteInput, meta: CallMeta): Promise<InviteDto>;
  list(scope: UserScope, query: ListInvitesQuery, meta: CallMeta): Promise<Page<InviteDto>>;
  /** Revokes the invite; revoking a revoked one changes nothing and is no error. */
  revoke(scope: UserScope, inviteId: string, meta: CallMeta): Promise<void>;
  accept(app: AppRef, input: AcceptInviteInput, meta: CallMeta): Promise<TokenResponse>;
}

export interface InviteServiceDeps {
  db: Db;
  clock: Clock;
  audit: Pick<AuditWriter, "record">;
  events: EventEmitter;
  apps: Pick<AppService, "authConfigOf">;
  passwords: Pick<PasswordHasher, "hash">;
  sessions: Pick<SessionService, "create">;
  tokens: Pick<TokenService, "issueEndUser">;
  rateLimiter: RateLimiter;
  email: Pick<EmailService, "invitePlan" | "enqueue" | "deliverNow">;
}

const inviteNotFound = () => fail("INVITE_NOT_FOUND");
const EXPIRED_MESSAGES = {
  revoked: "This invite was revoked; ask for a new one",
  expired: "This invite has expired; ask for a new one",
  exhausted: "This invite has been used up; ask for a new one",
} as const;
const inviteExpired = (why: keyof typeof EXPIRED_MESSAGES) =>
  fail("INVITE_EXPIRED", { message: EXPIRED_MESSAGES[why] });

export function createInviteService(deps: InviteServiceDeps): InviteService {
  const { db, clock, audit, events, apps, passwords, sessions, tokens, rateLimiter, email } = deps;
  const userEvents = createUserEvents(events);
  const store = createInviteStore(db);
  const users = createUserStore(db);

  async function record(
    scope: Pick<UserScope, "appId" | "workspaceId" | "actor">,
    meta: CallMeta,
    action: string,
    resourceType: string,
    resourceId: string | null,
    details: Record<string, unknown>,
  ): Promise<void> {
    await audit.record({
      appId: scope.appId,
      workspaceId: scope.workspaceId,
      action,
      resourceType,
      resourceId,
      actor: scope.actor,
      details,
      meta,
    });
  }

  /** Ends an open invite: the row, its audit row and its event, in the caller's transaction. */
  async function revokeRow(
    scope: Pick<UserScope, "appId" | "workspaceId" | "actor">,
    row: InviteRow,
    meta: CallMeta,
    supersededBy: string | null,
  ): Promise<boolean> {
    if (!(await store.revoke(row.id, clock.now(), supersededBy))) return false;
    const reason = supersededBy ? "superseded" : "revoked";
    await record(scope, meta, "invite.revoked", "invite", row.id, {
      email: row.email,
      reason,
      ...(supersededBy ? { superseded_by: supersededBy } : {}),
    });
    await events.emit({
      type: "invite.revoked",
      appId: scope.appId,
      data: { invite_id: row.id, email: row.email, reason, superseded_by: supersededBy },
    });
    return true;
  }

  // ─── The accept throttle (codes/submit.ts's shape, keyed apart) ────────────
  const sourceOf = (meta: CallMeta) => addressKey(meta.ip);
  const lockKey = (appId: string, meta: CallMeta) => `invite-lock:${appId}:${sourceOf(meta)}`;
  const lockLimit = (appId: string, meta: CallMeta): Limit => ({
    key: lockKey(appId, meta),
    max: 1,
    windowMs: ACCEPT_LOCK_DURATION,
  });
  const failLimit = (appId: string, meta: CallMeta): Limit => ({
    key: `invite-fail:${appId}:${sourceOf(meta)}`,
    max: ACCEPT_LOCK_AFTER_FAILURES,
    windowMs: ACCEPT_LOCK_DURATION,
  });

  async function admit(appId: string, meta: CallMeta): Promise<void> {
    const lock = await rateLimiter.peek(lockLimit(appId, meta));
    if (lock.remaining === 0) {
      throw fail("RATE_LIMITED", {
        message: "Too many unknown invite codes; retry later",
        headers: { "retry-after": String(lock.resetSeconds) },
      });
    }
    await rateLimiter.consume([
      { key: `invite-accept:${appId}:${sourceOf(meta)}`, max: ACCEPTS_PER_MINUTE, windowMs: MINUTE },
    ]);
  }

  /** An unknown code counts against its address; the fifth starts a 15-minute lock. Always the same 404. */
  async function unknownCode(appId: string, meta: CallMeta): Promise<HeimdallError> {
    const left = await rateLimiter.hit(failLimit(appId, meta));
    if (left.remaining === 0) {
      await rateLimiter.reset(lockKey(appId, meta));
      await rateLimiter.hit(lockLimit(appId, meta));
      await rateLimiter.reset(failLimit(appId, meta).key);
    }
    return inviteNotFound();
  }

  /** The app's invite holding `code`, or null (malformed, unknown, or another app's: one answer). */
  async function lookup(appId: string, code: string): Promise<InviteRow | null> {
    if (!INVITE_CODE_PATTERN.test(code)) return null;
    const codeHash = sha256Hex(code);
    const row = await store.byCodeHash(codeHash);
    return row && row.appId === appId && constantTimeEqual(row.codeHash, codeHash) ? row : null;
  }

  function assertOpen(row: InviteRow): void {
    const status = statusOf(row, clock.now());
    if (status !== "live") throw inviteExpired(status);
  }

  return {
    async create(scope, input, meta) {
      if (scope.archived) throw fail("APP_ARCHIVED");
      const role = await store.role(scope.appId, input.role_name ?? DEFAULT_INVITE_ROLE);
      if (!role) {
        throw fail("UNKNOWN_ROLE", {
          message: `This app has no role named ${input.role_name ?? DEFAULT_INVITE_ROLE}`,
        });
      }
      // Any account holding the address (primary or not, verified or not) would make the accept fail.
      if (await users.contactByValue(scope.appId, "email", input.email)) throw fail("EMAIL_TAKEN");
      const plan = await email.invitePlan(scope.appId);
      const code = randomToken(INVITE_CODE_PREFIX, 32);

      const { dto, outboxId } = await tx(db, async () => {
        if (await users.contactByValue(scope.appId, "email", input.email)) throw fail("EMAIL_TAKEN");
        const now = clock.now();
        const id = newId(clock);
        // One after another: statements of one transaction share its connection, and an async filter
        // predicate would neither be awaited nor filter anything.
        const superseded: string[] = [];
        for (const old of await store.liveFor(scope.appId, input.email, now))
          if (await revokeRow(scope, old, meta, id)) superseded.push(old.id);
        const row: InviteRow = {
          id,
          appId: scope.appId,
          codeHash: sha256Hex(code),
          codeHint: code.slice(-4),
          email: input.email,
          name: input.name ?? null,
          role: role.name,
          maxUses: input.max_uses ?? 1,
          useCount: 0,
          expiresAt: now + (input.expires_in_hours ?? DEFAULT_EXPIRES_IN_HOURS) * HOUR,
          revokedAt: null,
          supersededBy: null,
          createdBy: scope.actor.id,
          createdAt: now,
        };
        await store.insert(row);
        // The code goes into the sealed body only; the outbox row keeps a masked copy.
        const outboxId = plan
          ? await email.enqueue(scope.appId, plan, input.email, {
              code,
              inviteeName: row.name,
              expiresAt: iso(row.expiresAt),
            })
          : null;
        await record(scope, meta, "invite.created", "invite", id, {
          email: row.email,
          role: row.role,
          max_uses: row.maxUses,
          expires_at: iso(row.expiresAt),
          delivery: outboxId ? "email" : "operator",
          ...(outboxId ? { outbox_id: outboxId } : {}),
          ...(superseded.length > 0 ? { superseded } : {}),
        });
        await events.emit({
          type: "invite.created",
          appId: scope.appId,
          data: {
            invite_id: id,
            email: row.email,
            role: row.role,
            max_uses: row.maxUses,
            expires_at: iso(row.expiresAt),
          },
        });
        return { dto: toInviteDto(row, role.id, code), outboxId };
      });
      // A refusal or a slow server is left to the outbox's retries: the operator holds the code either way.
      if (outboxId !== null) await email.deliverNow(outboxId);
      return dto;
    },

    async list(scope, query, meta) {
      const limit = parseLimit(query.limit);
      const after = decodeCursor(query.cursor, isPosition);
      return await tx(db, async () => {
        const rows = await store.page(
          scope.appId,
          { email: query.email, status: query.status },
          clock.now(),
          after,
          limit + 1,
        );
        const roleIds = await store.roleIds(scope.appId);
        const page = pageOf(
          rows,
          limit,
          (r): Position => ({ c: r.createdAt, i: r.id }),
          (r) => toInviteDto(r, roleIds.get(r.role) ?? null),
        );
        // Invites name people's addresses: who read them is worth a trace, like the end-user list.
        await record(scope, meta, "invite.listed", "invite", null, {
          count: page.data.length,
          status: query.status ?? null,
          email: query.email ?? null,
        });
        return page;
      });
    },

    async revoke(scope, inviteId, meta) {
      // Revoking takes access away, so an archived app allows it.
      await tx(db, async () => {
        const row = isUuid(inviteId) ? await store.byId(scope.appId, inviteId) : undefined;
        if (!row) throw inviteNotFound();
        if (row.revokedAt !== null) return;
        await revokeRow(scope, row, meta, null);
      });
    },

    async accept(app, input, meta) {
      await admit(app.id, meta);
      const row = await lookup(app.id, input.code);
      if (!row) throw await unknownCode(app.id, meta);
      await rateLimiter.consume([
        { key: `invite-code:${row.id}`, max: ACCEPTS_PER_CODE, windowMs: ACCEPT_LOCK_DURATION },
      ]);
      assertOpen(row);
      if (await users.contactByValue(app.id, "email", row.email)) throw fail("EMAIL_TAKEN");
      const freeUsername = async () =>
        await freeUsernameFor(
          usernameFromEmail(row.email),
          async (u) => (await users.byUsername(app.id, u)) !== undefined,
        );
      if (input.username !== undefined && (await users.byUsername(app.id, input.username))) {
        throw fail("USERNAME_TAKEN");
      }
      const config = await apps.authConfigOf(app.id);
      checkPassword(input.password, config, {
        username: input.username ?? (await freeUsername()),
        email: row.email,
      });
      // argon2 is async: hashed before the synchronous transaction, which re-checks everything.
      const passwordHash = await passwords.hash(input.password, meta.signal);

      const opened = await tx(db, async () => {
        const now = clock.now();
        // The use is counted first: of two accepts racing for the last use, the loser hears 410.
        if (!(await store.useOnce(row.id, now))) {
          const current = await store.byId(app.id, row.id);
          const status = current ? statusOf(current, now) : "revoked";
          throw inviteExpired(status === "live" ? "exhausted" : status);
        }
        const role = await store.role(app.id, row.role);
        // The role was deleted since the invite was made: no account with a role the app no longer has.
        if (!role)
          throw fail("INVITE_EXPIRED", { message: "The invite's role no longer exists; ask for a new one" });
        if (await users.contactByValue(app.id, "email", row.email)) throw fail("EMAIL_TAKEN");
        let username: string;
        if (input.username !== undefined) {
          if (await users.byUsername(app.id, input.username)) throw fail("USERNAME_TAKEN");
          username = input.username;
        } else {
          username = await freeUsername();
        }
        const userId = newId(clock);
        try {
          await users.insertUser({
            id: userId,
            appId: app.id,
            username,
            displayName: input.display_name ?? null,
            passwordHash,
            status: "active",
            role: role.name,
            failedLoginCount: 0,
            lockedUntil: null,
            passwordChangedAt: now,
            lastUsedAt: now,
            createdAt: now,
            updatedAt: now,
          });
          // Verified: the code proved the address (it was mailed there, or the operator vouched for it).
          await users.insertContact({
            id: newId(clock),
            appId: app.id,
            userId,
            type: "email",
            value: row.email,
            isPrimary: true,
            verifiedAt: now,
            createdAt: now,
          });
        } catch (err) {
          // A concurrent accept of a multi-use invite (or a sign-up) on another instance took the address or
          // the name between the checks above and these inserts: the unique indexes have the last word.
          if (isUniqueViolation(err, CONTACT_INDEX)) throw fail("EMAIL_TAKEN");
          if (isUniqueViolation(err, USERNAME_INDEX)) throw fail("USERNAME_TAKEN");
          throw err;
        }
        const session = await sessions.create({
          appId: app.id,
          userId,
          amr: PASSWORD_AMR,
          durationMinutes: config.session_duration_minutes,
          maxSessions: config.max_sessions,
          meta,
        });
        const actor: AuditActor = { type: "end_user", id: userId };
        const by = { appId: app.id, workspaceId: null, actor };
        await record(by, meta, "user.signed_up", "end_user", userId, {
          username,
          role: role.name,
          session_id: session.session.id,
          via: "invite",
          invite_id: row.id,
        });
        await record(by, meta, "invite.accepted", "invite", row.id, {
          user_id: userId,
          use_count: row.useCount + 1,
          max_uses: row.maxUses,
        });
        // The invitee signs itself up with the code: the actor is the new account, as in a self sign-up.
        await userEvents.signedUp(
          app.id,
          { id: userId, username, email: row.email, role: role.name },
          "invite",
          { type: "end_user", id: userId },
          { invite_id: row.id },
        );
        return { ...session, role: role.name };
      });
      const access = await tokens.issueEndUser(
        app,
        {
          sub: opened.session.userId,
          sid: opened.session.id,
          role: opened.role,
          amr: opened.session.amr,
          mfaAt: opened.session.mfaAt,
        },
        Math.floor(opened.session.expiresAt / SECOND),
      );
      return tokenResponse(access, opened.refreshToken);
    },
  };
}
