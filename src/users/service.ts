/**
 * @module End-user accounts, one service for both surfaces: the Admin API (`/v1/apps/{app_id}/end-users`,
 * `/members`) and the Consumer admin lane (`/{app_slug}/v1/admin/users`). Who may act on which account is
 * `scope.ts`; contacts are `contact-admin.ts`, bulk operations `bulk.ts`.
 * Every write and every listing writes its audit row in the transaction of the change (docs/architecture.md, "Audit").
 *
 * Suspending or deactivating an account ends its sessions in the same transaction: every Heimdall guard
 * looks the session up, so the account's tokens stop working at once (docs/architecture.md, "Tokens and sessions").
 */

import type { AppService } from "../apps/service.ts";
import { type Clock, iso } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { decodeCursor, isPosition, type Page, pageOf, parseLimit } from "../core/pagination.ts";
import type { CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { isUniqueViolation } from "../db/query.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { PasswordHasher } from "../passwords/hasher.ts";
import { checkPassword } from "../passwords/password-policy.ts";
import type { SessionService } from "../sessions/service.ts";
import { byKey, createUserAdminStore, type KeyedId } from "./admin-store.ts";
import { demotePrimary, MAX_CONTACTS_PER_USER } from "./contacts.ts";
import { createUserEvents } from "./events.ts";
import {
  type AdminEndUserDto,
  type AdminSessionDto,
  type AppMemberDto,
  type CreatedUserDto,
  type CreateUserInput,
  type EndUserStatus,
  isSearchCursor,
  type ListMembersQuery,
  type ListUsersQuery,
  normalizeSearch,
  type SearchCursor,
  toAdminEndUserDto,
  toAdminSessionDto,
  toAppMemberDto,
  toUserTenantDto,
  type UpdateUserInput,
  type UserTenantDto,
  type UserViewRow,
} from "./model.ts";
import { type NoticeMailer, noticePrimaryEmailChanged } from "./notices.ts";
import { emailTaken, takenError, USERNAME_INDEX, type UserRules, type UserScope } from "./scope.ts";
import { createUserStore } from "./store.ts";

export interface UserAdminService {
  list(scope: UserScope, query: ListUsersQuery, meta: CallMeta): Promise<Page<AdminEndUserDto>>;
  get(scope: UserScope, userId: string): Promise<AdminEndUserDto>;
  create(scope: UserScope, input: CreateUserInput, meta: CallMeta): Promise<CreatedUserDto>;
  update(scope: UserScope, userId: string, input: UpdateUserInput, meta: CallMeta): Promise<AdminEndUserDto>;
  setRole(scope: UserScope, userId: string, roleName: string, meta: CallMeta): Promise<void>;
  setStatus(
    scope: UserScope,
    userId: string,
    status: EndUserStatus,
    meta: CallMeta,
  ): Promise<AdminEndUserDto>;
  /** Deletes the account; its audit rows stay. `via` names the route in the audit row. */
  remove(scope: UserScope, userId: string, meta: CallMeta, via?: "end_users" | "members"): Promise<void>;
  revokeSessions(scope: UserScope, userId: string, meta: CallMeta): Promise<void>;
  /** The account's live sessions (appliance addition): capped by `max_sessions`, so one unpaged list. */
  sessions(scope: UserScope, userId: string): Promise<{ data: AdminSessionDto[] }>;
  /** Ends one live session of the account; another account's, an ended or an unknown one is 404. */
  revokeSession(scope: UserScope, userId: string, sessionId: string, meta: CallMeta): Promise<void>;
  /** The account's tenant memberships (appliance addition). */
  tenants(scope: UserScope, userId: string): Promise<{ data: UserTenantDto[] }>;
  members(scope: UserScope, query: ListMembersQuery, meta: CallMeta): Promise<Page<AppMemberDto>>;
}

export interface UserAdminDeps {
  db: Db;
  clock: Clock;
  rules: UserRules;
  apps: Pick<AppService, "authConfigOf">;
  passwords: Pick<PasswordHasher, "hash">;
  sessions: Pick<SessionService, "revokeAllOfUser" | "liveOfUser" | "revoke">;
  /** Security notices to a replaced primary address. */
  email: NoticeMailer;
  /** The account's MFA factors: their sealed secrets are destroyed with it (crypto-shredding). */
  mfa: { forgetUser(appId: string, userId: string): Promise<void> };
  /** Webhook events of the changes (docs/webhooks.md): an account an operator creates is a `user.signup` too. */
  events: Pick<EventEmitter, "emit">;
}

/** Attempts at a free username derived from an email before falling back to a random suffix. */
const DERIVED_USERNAME_TRIES = 20;

/**
 * A username from an email's local part, shaped to the username pattern: `Jane.Doe+news@x` → `jane.doe-news`.
 * Too short to be one gets `-user` appended; nothing usable becomes `user`.
 */
export function usernameFromEmail(email: string): string {
  const local = email.slice(0, email.lastIndexOf("@")).normalize("NFKC").toLowerCase();
  const base = local
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[._-]+/, "")
    .slice(0, 54);
  if (base.length === 0) return "user";
  return base.length < 3 ? `${base}-user` : base;
}

/** A free username for a derived base: `base`, `base-2` … then a random suffix; the one rule for every account made without a chosen username (admin create, import, federation, tenant members, invites). */
export async function freeUsernameFor(
  base: string,
  taken: (username: string) => Promise<boolean>,
): Promise<string> {
  if (!(await taken(base))) return base;
  for (let n = 2; n < DERIVED_USERNAME_TRIES + 2; n++) {
    const candidate = `${base}-${n}`;
    if (!(await taken(candidate))) return candidate;
  }
  return `${base}-${crypto.randomUUID().slice(0, 8)}`;
}

export function createUserAdminService(deps: UserAdminDeps): UserAdminService {
  const { db, clock, rules } = deps;
  const users = createUserStore(db);
  const store = createUserAdminStore(db);
  const userEvents = createUserEvents(deps.events);

  const freeUsername = async (appId: string, base: string): Promise<string> =>
    await freeUsernameFor(base, async (u) => (await users.byUsername(appId, u)) !== undefined);

  async function searchPage(scope: UserScope, search: string, query: ListUsersQuery, limit: number) {
    const after = decodeCursor<SearchCursor>(query.cursor, isSearchCursor);
    const f = { status: query.status };
    const need = limit + 1;
    const byName = await store.usernameMatches(scope.appId, search, f, after, need);
    // When the usernames fill a page, no email beyond the last of them can make it onto this page.
    const upTo = byName.length === need ? byName[need - 1]!.k : undefined;
    const byEmail = await store.emailMatches(scope.appId, search, f, after, upTo, need);
    const keyed: KeyedId[] = [...byName, ...byEmail].sort(byKey).slice(0, need);
    const keyOf = new Map(keyed.map((e) => [e.id, e.k]));
    const rows = await store.viewOf(
      scope.appId,
      keyed.map((e) => e.id),
      clock.now(),
    );
    return pageOf(rows, limit, (r): SearchCursor => ({ k: keyOf.get(r.user.id)! }), toAdminEndUserDto);
  }

  async function newestPage(
    scope: UserScope,
    status: EndUserStatus | undefined,
    cursor: string | undefined,
    limit: number,
  ) {
    const after = decodeCursor(cursor, isPosition);
    const ids = await store.newestIds(scope.appId, { status }, after, limit + 1);
    return {
      rows: await store.viewOf(scope.appId, ids, clock.now()),
      position: (r: UserViewRow) => ({ c: r.user.createdAt, i: r.user.id }),
    };
  }

  return {
    async list(scope, query, meta) {
      const limit = parseLimit(query.limit);
      const search = normalizeSearch(query.search);
      return await tx(db, async () => {
        let page: Page<AdminEndUserDto>;
        if (search === undefined) {
          const { rows, position } = await newestPage(scope, query.status, query.cursor, limit);
          page = pageOf(rows, limit, position, toAdminEndUserDto);
        } else {
          page = await searchPage(scope, search, query, limit);
        }
        // Who looked at the user base, and how (docs/architecture.md, "Audit"); the rows themselves are not repeated.
        await rules.record(scope, meta, "end_user.listed", "user", null, {
          count: page.data.length,
          status: query.status ?? null,
          search: search ?? null,
        });
        return page;
      });
    },

    async get(scope, userId) {
      return toAdminEndUserDto(await rules.viewOf(scope, userId));
    },

    async create(scope, input, meta) {
      const config = await deps.apps.authConfigOf(scope.appId);
      const role = input.role_name ?? config.signup_default_role;
      // Every refusal that costs nothing comes before argon2.
      await rules.requireRole(scope, role);
      await rules.narrow(scope, role);
      if (input.username !== undefined && (await users.byUsername(scope.appId, input.username))) {
        throw fail("USERNAME_TAKEN");
      }
      if (await users.contactByValue(scope.appId, "email", input.email)) throw emailTaken();
      let passwordHash: string | null = null;
      if (input.password !== undefined) {
        checkPassword(input.password, config, {
          username: input.username ?? usernameFromEmail(input.email),
          email: input.email,
        });
        passwordHash = await deps.passwords.hash(input.password, meta.signal);
      }
      const write = async () =>
        await tx(db, async () => {
          // Again under the write lock: the checks above ran before an await.
          await rules.requireRole(scope, role);
          if (await users.contactByValue(scope.appId, "email", input.email)) throw emailTaken();
          let username: string;
          if (input.username !== undefined) {
            if (await users.byUsername(scope.appId, input.username)) {
              throw fail("USERNAME_TAKEN");
            }
            username = input.username;
          } else {
            username = await freeUsername(scope.appId, usernameFromEmail(input.email));
          }
          const now = clock.now();
          const id = newId(clock);
          await users.insertUser({
            id,
            appId: scope.appId,
            username,
            displayName: input.display_name ?? null,
            passwordHash,
            status: "active",
            role,
            failedLoginCount: 0,
            lockedUntil: null,
            passwordChangedAt: passwordHash ? now : null,
            lastUsedAt: null,
            createdAt: now,
            updatedAt: now,
          });
          // Unverified: the customer starts the verification flow (the spec); until then the address
          // neither signs in nor receives reset codes.
          await users.insertContact({
            id: newId(clock),
            appId: scope.appId,
            userId: id,
            type: "email",
            value: input.email,
            isPrimary: true,
            verifiedAt: null,
            createdAt: now,
          });
          await rules.record(scope, meta, "user.created", "user", id, {
            username,
            role,
            has_password: passwordHash !== null,
          });
          await userEvents.signedUp(
            scope.appId,
            { id, username, email: input.email, role },
            "admin",
            scope.actor,
          );
          return {
            id,
            username,
            display_name: input.display_name ?? null,
            email: input.email,
            email_verified: false,
            role,
            status: "active",
            created_at: iso(now),
          };
        });
      // The checks above decide on one writer; with several (PostgreSQL) the unique indexes settle a race: a
      // derived username taken meanwhile is derived again, a chosen one or the address is refused as taken.
      for (let attempt = 1; ; attempt++) {
        try {
          return await write();
        } catch (err) {
          if (input.username === undefined && attempt < 3 && isUniqueViolation(err, USERNAME_INDEX)) continue;
          throw takenError(err);
        }
      }
    },

    async update(scope, userId, input, meta) {
      rules.writable(scope);
      // The address goes to the unique index when another writer takes it meanwhile (PostgreSQL).
      await tx(db, async () => {
        const user = await rules.lockedUserOf(scope, userId);
        await rules.mayActOn(scope, user);
        const fields: string[] = [];
        const details: Record<string, unknown> = {};
        const now = clock.now();
        if (input.display_name !== undefined && input.display_name !== user.displayName) {
          await users.updateUser(user.id, { displayName: input.display_name, updatedAt: now });
          fields.push("display_name");
        }
        if (input.email !== undefined) {
          const current = await users.primaryEmail(user.id);
          if (current?.value !== input.email) {
            const holder = await users.contactByValue(scope.appId, "email", input.email);
            if (holder && holder.userId !== user.id) throw emailTaken();
            if (holder) {
              // One of the account's own addresses: promoted as it is (verified or not), the old primary kept.
              const previous = await demotePrimary(users, user.id, "email", holder.id);
              await users.setPrimary(holder.id, true);
              if (previous) await noticePrimaryEmailChanged(deps.email, scope.appId, current, now);
              Object.assign(details, {
                email_change: "promoted",
                contact_id: holder.id,
                previous_contact_id: previous,
              });
            } else {
              // A new address replaces the primary contact, unverified. A new row rather than an edited one:
              // codes minted for the old address die with its row instead of verifying the new one.
              if (current) {
                await users.deleteContact(current.id);
                await noticePrimaryEmailChanged(deps.email, scope.appId, current, now);
              } else if ((await users.contactCount(user.id)) >= MAX_CONTACTS_PER_USER) {
                throw fail("CONTACT_LIMIT", {
                  message: `An account holds at most ${MAX_CONTACTS_PER_USER} contacts`,
                });
              }
              const contactId = newId(clock);
              await users.insertContact({
                id: contactId,
                appId: scope.appId,
                userId: user.id,
                type: "email",
                value: input.email,
                isPrimary: true,
                verifiedAt: null,
                createdAt: now,
              });
              Object.assign(details, {
                email_change: "replaced",
                contact_id: contactId,
                previous_contact_id: current?.id ?? null,
              });
            }
            await users.updateUser(user.id, { updatedAt: now });
            fields.push("email");
          }
        }
        if (fields.length > 0)
          await rules.record(scope, meta, "user.updated", "user", user.id, { fields, ...details });
      }).catch((err) => {
        throw takenError(err);
      });
      return toAdminEndUserDto(await rules.viewOf(scope, userId));
    },

    async setRole(scope, userId, roleName, meta) {
      rules.writable(scope);
      await tx(db, async () => {
        const user = await rules.lockedUserOf(scope, userId);
        // Narrowed on both sides: nobody strips a role it could not have granted (demoting an owner is
        // taking away what the caller does not hold), and an admin cannot raise someone above itself.
        await rules.mayActOn(scope, user);
        await rules.requireRole(scope, roleName);
        if (user.role === roleName) return;
        await rules.narrow(scope, roleName);
        await users.updateUser(user.id, { role: roleName, updatedAt: clock.now() });
        await rules.record(scope, meta, "user.role_changed", "user", user.id, {
          from: user.role,
          to: roleName,
        });
        await userEvents.roleChanged(scope.appId, user.id, user.role, roleName, scope.actor);
      });
    },

    async setStatus(scope, userId, status, meta) {
      // Suspending an account of an archived app only takes access away, so it stays possible.
      if (status === "active") rules.writable(scope);
      await tx(db, async () => {
        const user = await rules.lockedUserOf(scope, userId);
        await rules.mayActOn(scope, user);
        if (user.status === status) return;
        await users.updateUser(user.id, { status, updatedAt: clock.now() });
        const revoked =
          status === "active" ? 0 : await deps.sessions.revokeAllOfUser(user.id, `account_${status}`);
        await rules.record(scope, meta, "user.status_changed", "user", user.id, {
          from: user.status,
          to: status,
          sessions_revoked: revoked,
        });
        await userEvents.statusChanged(scope.appId, user.id, user.status, status, scope.actor);
      });
      return toAdminEndUserDto(await rules.viewOf(scope, userId));
    },

    async remove(scope, userId, meta, via = "end_users") {
      await tx(db, async () => {
        const user = await rules.lockedUserOf(scope, userId);
        await rules.mayActOn(scope, user);
        // Written first and kept: audit rows outlive the account (docs/architecture.md, "Audit"); the id is all they hold of it.
        await rules.record(scope, meta, "user.deleted", "user", user.id, { via });
        await userEvents.deleted(scope.appId, user.id, "admin", scope.actor);
        // Contacts, sessions, refresh tokens and codes go with it (FK cascades); MFA factors first, since
        // their sealed secrets would outlive a cascade.
        await deps.mfa.forgetUser(scope.appId, user.id);
        await users.deleteUser(user.id);
      });
    },

    async revokeSessions(scope, userId, meta) {
      await tx(db, async () => {
        const user = await rules.userOf(scope, userId);
        const revoked = await deps.sessions.revokeAllOfUser(user.id, "admin_revoked");
        await rules.record(scope, meta, "user.sessions_revoked", "user", user.id, {
          sessions_revoked: revoked,
        });
      });
    },

    async sessions(scope, userId) {
      const user = await rules.userOf(scope, userId);
      return { data: (await deps.sessions.liveOfUser(user.id)).map(toAdminSessionDto) };
    },

    async revokeSession(scope, userId, sessionId, meta) {
      await tx(db, async () => {
        const user = await rules.userOf(scope, userId);
        // Another account's session, an ended one and a made-up id all look the same.
        const live = (await deps.sessions.liveOfUser(user.id)).some((s) => s.id === sessionId);
        if (!live || !(await deps.sessions.revoke(sessionId, "admin_revoked")))
          throw fail("SESSION_NOT_FOUND");
        await rules.record(scope, meta, "session.revoked", "session", sessionId, {
          user_id: user.id,
          reason: "admin_revoked",
        });
      });
    },

    async tenants(scope, userId) {
      const user = await rules.userOf(scope, userId);
      return { data: (await store.tenantsOf(scope.appId, user.id)).map(toUserTenantDto) };
    },

    async members(scope, query, meta) {
      const limit = parseLimit(query.limit);
      return await tx(db, async () => {
        const { rows, position } = await newestPage(scope, undefined, query.cursor, limit);
        const roleIds = await store.roleIds(scope.appId);
        const page = pageOf(rows, limit, position, (r) => toAppMemberDto(r, roleIds));
        await rules.record(scope, meta, "end_user.listed", "user", null, {
          count: page.data.length,
          view: "members",
        });
        return page;
      });
    },
  };
}
