/**
 * @module End-user administration, one service for both surfaces: the Admin API (`/v1/apps/{app_id}/end-users`,
 * `/members`) and the Consumer admin lane (`/{app_slug}/v1/admin/users`).
 *
 * The surfaces differ only in who is calling, which a `UserScope` carries: the audit actor, and for an
 * EndUser admin the permissions it holds, since it may grant no role that carries more (caller-narrowing;
 * machine credentials may assign any role their route permission allows, as the spec says of M2M). Every
 * admin-lane caller — EndUser, M2M or API key — may suspend, delete, edit or re-role only an account whose
 * role holds nothing it lacks, also with `enforce_app_permissions` off; operators act on the whole app.
 * Every write and every listing writes its audit row in the transaction of the change (DESIGN §8).
 *
 * Suspending or deactivating an account ends its sessions in the same transaction: every Heimdall guard
 * looks the session up, so the account's tokens stop working at once (DESIGN §5).
 */

import type { AppRow } from "../apps/model.ts";
import { checkPassword } from "../auth/password-policy.ts";
import { CODE_TTL, EMAILS_PER_ADDRESS } from "../codes/service.ts";
import type { AppRef } from "../core/app-ref.ts";
import { iso, MINUTE } from "../core/clock.ts";
import { badRequest, conflict, HeimdallError, notFound, validationError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { decodeCursor, isPosition, type Page, pageOf, parseLimit } from "../core/pagination.ts";
import {
  type AuditActor,
  actorOf,
  type CallMeta,
  type ConsumerAdminCaller,
  type PlatformPrincipal,
} from "../core/principal.ts";
import { tx } from "../db/client.ts";
import type { Deps } from "../deps.ts";
import type { MailPlan } from "../email/service.ts";
import { MAX_CONTACTS_PER_USER, type MeContactDto, toContactDto } from "../me/model.ts";
import { assertCanActOn, assertCanGrant } from "../rbac/narrowing.ts";
import { byKey, createUserAdminStore, type KeyedId } from "./admin-store.ts";
import { contactNotFound, contactOf, deleteContact, demotePrimary, promoteContact } from "./contacts.ts";
import {
  type AddContactInput,
  type AdminEndUserDto,
  type AppMemberDto,
  type BulkInput,
  type BulkSelection,
  type CreatedUserDto,
  type CreateUserInput,
  type EndUserStatus,
  type IssuedCodeDto,
  isSearchCursor,
  type ListMembersQuery,
  type ListUsersQuery,
  normalizeSearch,
  type SearchCursor,
  toAdminEndUserDto,
  toAppMemberDto,
  type UpdateUserInput,
  type UserViewRow,
} from "./model.ts";
import { isEmail, isPhone, normalizePhone } from "./normalize.ts";
import { noticePrimaryEmailChanged } from "./notices.ts";
import { createUserStore, type EndUserRow } from "./store.ts";

/** Who acts on the app's accounts, as both surfaces reduce it. */
export interface UserScope {
  readonly appId: string;
  /** Set on the Admin surface, where audit rows also name the workspace. */
  readonly workspaceId: string | null;
  readonly actor: AuditActor;
  /** An EndUser admin's own permissions, which bound the roles it may hand out; null for everyone else. */
  readonly grantable: ReadonlySet<string> | null;
  /**
   * What an admin-lane caller holds (role permissions, M2M scopes, API key permissions): it may act only on
   * accounts whose role holds no more. Null for operators, who administer the whole app.
   */
  readonly held: ReadonlySet<string> | null;
  /** Archived apps are read-only (DESIGN §1), except for taking access away. */
  readonly archived: boolean;
}

export function adminScope(app: AppRow, p: PlatformPrincipal): UserScope {
  return {
    appId: app.id,
    workspaceId: app.workspaceId,
    actor: actorOf(p),
    grantable: null,
    held: null,
    archived: app.status === "archived",
  };
}

export function consumerScope(app: AppRef, caller: ConsumerAdminCaller): UserScope {
  return {
    appId: app.id,
    workspaceId: null,
    actor: { type: caller.kind, id: caller.id },
    grantable: caller.kind === "end_user" ? caller.held : null,
    held: caller.held,
    archived: false,
  };
}

export type BulkKind = "delete" | "revoke_sessions" | "update_role" | "update_status";

export interface UserAdminService {
  list(scope: UserScope, query: ListUsersQuery, meta: CallMeta): Page<AdminEndUserDto>;
  get(scope: UserScope, userId: string): AdminEndUserDto;
  create(scope: UserScope, input: CreateUserInput, meta: CallMeta): Promise<CreatedUserDto>;
  update(scope: UserScope, userId: string, input: UpdateUserInput, meta: CallMeta): AdminEndUserDto;
  setRole(scope: UserScope, userId: string, roleName: string, meta: CallMeta): void;
  setStatus(scope: UserScope, userId: string, status: EndUserStatus, meta: CallMeta): AdminEndUserDto;
  /** Deletes the account; its audit rows stay. `via` names the route in the audit row. */
  remove(scope: UserScope, userId: string, meta: CallMeta, via?: "end_users" | "members"): void;
  revokeSessions(scope: UserScope, userId: string, meta: CallMeta): void;
  contacts(scope: UserScope, userId: string): { data: MeContactDto[] };
  addContact(scope: UserScope, userId: string, input: AddContactInput, meta: CallMeta): MeContactDto;
  deleteContact(scope: UserScope, userId: string, contactId: string, meta: CallMeta): void;
  promoteContact(scope: UserScope, userId: string, contactId: string, meta: CallMeta): void;
  /**
   * A fresh verification code for the contact (`null`: the primary email), returned to the operator and,
   * when the app sends email, also emailed to the address.
   */
  resendVerification(
    scope: UserScope,
    app: AppRow,
    principal: PlatformPrincipal,
    userId: string,
    contactId: string | null,
    meta: CallMeta,
  ): Promise<IssuedCodeDto>;
  bulk(
    scope: UserScope,
    kind: BulkKind,
    input: BulkInput & { roleName?: string; status?: EndUserStatus },
    meta: CallMeta,
  ): { affected_users: number };
  members(scope: UserScope, query: ListMembersQuery, meta: CallMeta): Page<AppMemberDto>;
}

type UserAdminDeps = Pick<
  Deps,
  | "db"
  | "clock"
  | "audit"
  | "sessions"
  | "passwords"
  | "apps"
  | "permissions"
  | "codes"
  | "email"
  | "rateLimiter"
>;

const userNotFound = () => notFound("USER_NOT_FOUND", "End user not found in this app");
const roleNotFound = (name: string) => badRequest("ROLE_NOT_FOUND", `This app has no role named ${name}`);
const archived = () => conflict("APP_ARCHIVED", "The app is archived and read-only");
const emailTaken = () => conflict("EMAIL_TAKEN", "This email address is already in use");

/** Attempts at a free username derived from an email before falling back to a random suffix. */
const DERIVED_USERNAME_TRIES = 20;
const EMAIL_WINDOW = 15 * MINUTE;

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

export function createUserAdminService(deps: UserAdminDeps): UserAdminService {
  const { db, clock, audit } = deps;
  const users = createUserStore(db);
  const store = createUserAdminStore(db);

  const record = (
    scope: UserScope,
    meta: CallMeta,
    action: string,
    resourceType: string,
    resourceId: string | null,
    details: Record<string, unknown>,
  ) =>
    audit.record({
      appId: scope.appId,
      workspaceId: scope.workspaceId,
      action,
      resourceType,
      resourceId,
      actor: scope.actor,
      details,
      meta,
    });

  const writable = (scope: UserScope) => {
    if (scope.archived) throw archived();
  };

  const userOf = (scope: UserScope, userId: string): EndUserRow => {
    const u = users.byId(scope.appId, userId);
    if (!u) throw userNotFound();
    return u;
  };

  const viewOf = (scope: UserScope, userId: string): UserViewRow => {
    const row = store.viewOf(scope.appId, [userId], clock.now())[0];
    if (!row) throw userNotFound();
    return row;
  };

  const requireRole = (scope: UserScope, name: string) => {
    if (!store.roleByName(scope.appId, name)) throw roleNotFound(name);
  };

  /** An EndUser admin may hand out only a role it could have granted itself (the spec's caller-narrowing). */
  const narrow = (scope: UserScope, role: string) => {
    if (scope.grantable !== null)
      assertCanGrant(scope.grantable, deps.permissions.forEndUser(scope.appId, role));
  };

  /**
   * The caller may act on this account only if its role holds nothing the caller lacks: without this, a
   * member of an app with enforcement off could delete the owner (DESIGN §3).
   */
  const mayActOn = (scope: UserScope, user: EndUserRow) => {
    if (scope.held !== null) assertCanActOn(scope.held, deps.permissions.forEndUser(scope.appId, user.role));
  };

  /** A free username for a derived base: `base`, `base-2` … then a random suffix. */
  const freeUsername = (appId: string, base: string): string => {
    if (!users.byUsername(appId, base)) return base;
    for (let n = 2; n < DERIVED_USERNAME_TRIES + 2; n++) {
      const candidate = `${base}-${n}`;
      if (!users.byUsername(appId, candidate)) return candidate;
    }
    return `${base}-${crypto.randomUUID().slice(0, 8)}`;
  };

  function searchPage(scope: UserScope, search: string, query: ListUsersQuery, limit: number) {
    const after = decodeCursor<SearchCursor>(query.cursor, isSearchCursor);
    const f = { status: query.status };
    const need = limit + 1;
    const byName = store.usernameMatches(scope.appId, search, f, after, need);
    // When the usernames fill a page, no email beyond the last of them can make it onto this page.
    const upTo = byName.length === need ? byName[need - 1]!.k : undefined;
    const byEmail = store.emailMatches(scope.appId, search, f, after, upTo, need);
    const keyed: KeyedId[] = [...byName, ...byEmail].sort(byKey).slice(0, need);
    const keyOf = new Map(keyed.map((e) => [e.id, e.k]));
    const rows = store.viewOf(
      scope.appId,
      keyed.map((e) => e.id),
      clock.now(),
    );
    return pageOf(rows, limit, (r): SearchCursor => ({ k: keyOf.get(r.user.id)! }), toAdminEndUserDto);
  }

  function newestPage(
    scope: UserScope,
    status: EndUserStatus | undefined,
    cursor: string | undefined,
    limit: number,
  ) {
    const after = decodeCursor(cursor, isPosition);
    const ids = store.newestIds(scope.appId, { status }, after, limit + 1);
    return {
      rows: store.viewOf(scope.appId, ids, clock.now()),
      position: (r: UserViewRow) => ({ c: r.user.createdAt, i: r.user.id }),
    };
  }

  /** The ids a bulk write targets, read inside its transaction. */
  const selected = (scope: UserScope, s: BulkSelection): string[] =>
    s.mode === "ids"
      ? store.existingIds(scope.appId, s.ids)
      : store.matchingIds(scope.appId, { status: s.status, search: s.search });

  const selectionDetails = (s: BulkSelection) =>
    s.mode === "ids"
      ? { mode: "ids", requested: s.ids.length }
      : { mode: "filter", status: s.status ?? null, search: s.search ?? null };

  return {
    list(scope, query, meta) {
      const limit = parseLimit(query.limit);
      const search = normalizeSearch(query.search);
      return tx(db, () => {
        let page: Page<AdminEndUserDto>;
        if (search === undefined) {
          const { rows, position } = newestPage(scope, query.status, query.cursor, limit);
          page = pageOf(rows, limit, position, toAdminEndUserDto);
        } else {
          page = searchPage(scope, search, query, limit);
        }
        // Who looked at the user base, and how (DESIGN §8); the rows themselves are not repeated.
        record(scope, meta, "end_user.listed", "user", null, {
          count: page.data.length,
          status: query.status ?? null,
          search: search ?? null,
        });
        return page;
      });
    },

    get(scope, userId) {
      return toAdminEndUserDto(viewOf(scope, userId));
    },

    async create(scope, input, meta) {
      const config = deps.apps.authConfigOf(scope.appId);
      const role = input.role_name ?? config.signup_default_role;
      // Every refusal that costs nothing comes before argon2.
      requireRole(scope, role);
      narrow(scope, role);
      if (input.username !== undefined && users.byUsername(scope.appId, input.username)) {
        throw conflict("USERNAME_TAKEN", "This username is already taken");
      }
      if (users.contactByValue(scope.appId, "email", input.email)) throw emailTaken();
      let passwordHash: string | null = null;
      if (input.password !== undefined) {
        checkPassword(input.password, config, {
          username: input.username ?? usernameFromEmail(input.email),
          email: input.email,
        });
        passwordHash = await deps.passwords.hash(input.password, meta.signal);
      }
      return tx(db, () => {
        // Again under the write lock: the checks above ran before an await.
        requireRole(scope, role);
        if (users.contactByValue(scope.appId, "email", input.email)) throw emailTaken();
        let username: string;
        if (input.username !== undefined) {
          if (users.byUsername(scope.appId, input.username)) {
            throw conflict("USERNAME_TAKEN", "This username is already taken");
          }
          username = input.username;
        } else {
          username = freeUsername(scope.appId, usernameFromEmail(input.email));
        }
        const now = clock.now();
        const id = newId(clock);
        users.insertUser({
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
        users.insertContact({
          id: newId(clock),
          appId: scope.appId,
          userId: id,
          type: "email",
          value: input.email,
          isPrimary: true,
          verifiedAt: null,
          createdAt: now,
        });
        record(scope, meta, "user.created", "user", id, {
          username,
          role,
          has_password: passwordHash !== null,
        });
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
    },

    update(scope, userId, input, meta) {
      writable(scope);
      tx(db, () => {
        const user = userOf(scope, userId);
        mayActOn(scope, user);
        const fields: string[] = [];
        const details: Record<string, unknown> = {};
        const now = clock.now();
        if (input.display_name !== undefined && input.display_name !== user.displayName) {
          users.updateUser(user.id, { displayName: input.display_name, updatedAt: now });
          fields.push("display_name");
        }
        if (input.email !== undefined) {
          const current = users.primaryEmail(user.id);
          if (current?.value !== input.email) {
            const holder = users.contactByValue(scope.appId, "email", input.email);
            if (holder && holder.userId !== user.id) throw emailTaken();
            if (holder) {
              // One of the account's own addresses: promoted as it is (verified or not), the old primary kept.
              const previous = demotePrimary(users, user.id, "email", holder.id);
              users.setPrimary(holder.id, true);
              if (previous) noticePrimaryEmailChanged(deps.email, scope.appId, current, now);
              Object.assign(details, {
                email_change: "promoted",
                contact_id: holder.id,
                previous_contact_id: previous,
              });
            } else {
              // A new address replaces the primary contact, unverified. A new row rather than an edited one:
              // codes minted for the old address die with its row instead of verifying the new one.
              if (current) {
                users.deleteContact(current.id);
                noticePrimaryEmailChanged(deps.email, scope.appId, current, now);
              } else if (users.contactCount(user.id) >= MAX_CONTACTS_PER_USER) {
                throw conflict("CONTACT_LIMIT", `An account holds at most ${MAX_CONTACTS_PER_USER} contacts`);
              }
              const contactId = newId(clock);
              users.insertContact({
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
            users.updateUser(user.id, { updatedAt: now });
            fields.push("email");
          }
        }
        if (fields.length > 0) record(scope, meta, "user.updated", "user", user.id, { fields, ...details });
      });
      return toAdminEndUserDto(viewOf(scope, userId));
    },

    setRole(scope, userId, roleName, meta) {
      writable(scope);
      tx(db, () => {
        const user = userOf(scope, userId);
        // Narrowed on both sides: nobody strips a role it could not have granted (demoting an owner is
        // taking away what the caller does not hold), and an admin cannot raise someone above itself.
        mayActOn(scope, user);
        requireRole(scope, roleName);
        if (user.role === roleName) return;
        narrow(scope, roleName);
        users.updateUser(user.id, { role: roleName, updatedAt: clock.now() });
        record(scope, meta, "user.role_changed", "user", user.id, { from: user.role, to: roleName });
      });
    },

    setStatus(scope, userId, status, meta) {
      // Suspending an account of an archived app only takes access away, so it stays possible.
      if (status === "active") writable(scope);
      tx(db, () => {
        const user = userOf(scope, userId);
        mayActOn(scope, user);
        if (user.status === status) return;
        users.updateUser(user.id, { status, updatedAt: clock.now() });
        const revoked = status === "active" ? 0 : deps.sessions.revokeAllOfUser(user.id, `account_${status}`);
        record(scope, meta, "user.status_changed", "user", user.id, {
          from: user.status,
          to: status,
          sessions_revoked: revoked,
        });
      });
      return toAdminEndUserDto(viewOf(scope, userId));
    },

    remove(scope, userId, meta, via = "end_users") {
      tx(db, () => {
        const user = userOf(scope, userId);
        mayActOn(scope, user);
        // Written first and kept: audit rows outlive the account (DESIGN §8); the id is all they hold of it.
        record(scope, meta, "user.deleted", "user", user.id, { via });
        // Contacts, sessions, refresh tokens and codes go with it (FK cascades).
        users.deleteUser(user.id);
      });
    },

    revokeSessions(scope, userId, meta) {
      tx(db, () => {
        const user = userOf(scope, userId);
        const revoked = deps.sessions.revokeAllOfUser(user.id, "admin_revoked");
        record(scope, meta, "user.sessions_revoked", "user", user.id, { sessions_revoked: revoked });
      });
    },

    contacts(scope, userId) {
      const user = userOf(scope, userId);
      return { data: users.contactsOf(user.id).map(toContactDto) };
    },

    addContact(scope, userId, input, meta) {
      writable(scope);
      const value =
        input.type === "email"
          ? input.value.normalize("NFKC").trim().toLowerCase()
          : normalizePhone(input.value);
      if (!(input.type === "email" ? isEmail(value) : isPhone(value))) {
        throw validationError([
          {
            field: "value",
            reason: input.type === "email" ? "must be an email address" : "must be a phone number (E.164)",
          },
        ]);
      }
      return tx(db, () => {
        const user = userOf(scope, userId);
        if (users.contactCount(user.id) >= MAX_CONTACTS_PER_USER) {
          throw conflict("CONTACT_LIMIT", `An account holds at most ${MAX_CONTACTS_PER_USER} contacts`);
        }
        if (users.contactByValue(scope.appId, input.type, value)) {
          throw conflict("CONTACT_TAKEN", `This ${input.type} is already in use`);
        }
        // The spec lets an operator make the new (unverified) contact primary; the previous one is demoted.
        const isPrimary = input.is_primary === true;
        const former = isPrimary ? users.primaryOf(user.id, input.type, null) : undefined;
        const previous = isPrimary ? demotePrimary(users, user.id, input.type, null) : null;
        noticePrimaryEmailChanged(deps.email, scope.appId, former, clock.now());
        const row = {
          id: newId(clock),
          appId: scope.appId,
          userId: user.id,
          type: input.type,
          value,
          isPrimary,
          verifiedAt: null,
          createdAt: clock.now(),
        };
        users.insertContact(row);
        record(scope, meta, "contact.added", "contact", row.id, {
          user_id: user.id,
          type: row.type,
          is_primary: isPrimary,
          previous_primary_id: previous,
        });
        return toContactDto(row);
      });
    },

    deleteContact(scope, userId, contactId, meta) {
      tx(db, () => {
        const user = userOf(scope, userId);
        const c = contactOf(users, user.id, contactId);
        deleteContact(users, c);
        record(scope, meta, "contact.deleted", "contact", c.id, {
          user_id: user.id,
          type: c.type,
          was_primary: c.isPrimary,
        });
      });
    },

    promoteContact(scope, userId, contactId, meta) {
      writable(scope);
      tx(db, () => {
        const user = userOf(scope, userId);
        const c = contactOf(users, user.id, contactId);
        const promoted = promoteContact(users, c);
        if (!promoted) return;
        const former = promoted.previous ? users.contactOf(user.id, promoted.previous) : null;
        noticePrimaryEmailChanged(deps.email, scope.appId, former, clock.now());
        record(scope, meta, "contact.promoted", "contact", c.id, {
          user_id: user.id,
          type: c.type,
          previous_contact_id: promoted.previous,
        });
      });
    },

    async resendVerification(scope, app, principal, userId, contactId, meta) {
      writable(scope);
      const user = userOf(scope, userId);
      const contact = contactId === null ? users.primaryEmail(user.id) : contactOf(users, user.id, contactId);
      if (!contact) throw contactNotFound();
      if (contact.verifiedAt !== null) {
        throw conflict("CONTACT_ALREADY_VERIFIED", "This contact is already verified");
      }
      // Emailed too when the app sends email; otherwise the operator delivers the returned code.
      let plan: MailPlan | null = null;
      if (contact.type === "email") {
        try {
          plan = deps.email.codeMailPlan(scope.appId, "verification");
        } catch (err) {
          if (!(err instanceof HeimdallError) || err.status < 412) throw err;
        }
      }
      if (plan) {
        deps.rateLimiter.consume([
          {
            key: `code-email:${scope.appId}:${contact.value}`,
            max: EMAILS_PER_ADDRESS,
            windowMs: EMAIL_WINDOW,
          },
        ]);
      }
      // The codes module mints (HMAC under the pepper, supersedes the previous code, audits `code.issued`).
      const minted: Partial<IssuedCodeDto> = deps.codes.requestVerification(
        app,
        principal,
        { type: contact.type, value: contact.value },
        meta,
      );
      // `{}` means the contact was verified meanwhile.
      if (minted.code === undefined || minted.expires_at === undefined) {
        throw conflict("CONTACT_ALREADY_VERIFIED", "This contact is already verified");
      }
      const issued: IssuedCodeDto = { code: minted.code, expires_at: minted.expires_at };
      let outboxId: string | null = null;
      if (plan) {
        const p = plan;
        outboxId = tx(db, () => {
          const id = deps.email.enqueue(scope.appId, p, contact.value, {
            code: issued.code,
            expiresInMinutes: CODE_TTL / MINUTE,
          });
          record(scope, meta, "contact.verification_sent", "contact", contact.id, {
            user_id: user.id,
            outbox_id: id,
          });
          return id;
        });
        // A refusal is left to the outbox record: the operator holds the code either way.
        await deps.email.deliverNow(outboxId);
      }
      return issued;
    },

    bulk(scope, kind, input, meta) {
      const s = input.selection;
      if (s.mode === "filter" && s.status === undefined && s.search === undefined && !input.confirmAll) {
        throw validationError(
          [{ field: "confirm_all_in_app", reason: "must be true to select every account of the app" }],
          "The selection matches every account of the app",
        );
      }
      // Deleting accounts and ending sessions only take access away: allowed on an archived app.
      if (kind === "update_role" || (kind === "update_status" && input.status === "active")) writable(scope);
      if (kind === "update_role") requireRole(scope, input.roleName!);
      return tx(db, () => {
        const ids = selected(scope, s);
        const operation = newId(clock);
        const now = clock.now();
        const summary: Record<string, unknown> = { operation_id: operation, selection: selectionDetails(s) };
        const perUser = (id: string, action: string, details: Record<string, unknown>) =>
          record(scope, meta, action, "user", id, { ...details, bulk_operation_id: operation });
        if (kind === "delete") {
          for (const id of ids) perUser(id, "user.deleted", { via: "bulk" });
          store.deleteUsers(ids);
        } else if (kind === "revoke_sessions") {
          const revoked = store.revokeSessionsOf(ids, "admin_revoked", now);
          for (const [id, n] of revoked) perUser(id, "user.sessions_revoked", { sessions_revoked: n });
          summary.sessions_revoked = [...revoked.values()].reduce((a, b) => a + b, 0);
        } else if (kind === "update_role") {
          requireRole(scope, input.roleName!);
          const changed = store.currentOf(ids, "role").filter((r) => r.value !== input.roleName);
          store.setColumn(
            changed.map((r) => r.id),
            { role: input.roleName },
            now,
          );
          for (const r of changed) perUser(r.id, "user.role_changed", { from: r.value, to: input.roleName });
          summary.role = input.roleName;
        } else {
          const status = input.status!;
          const changed = store.currentOf(ids, "status").filter((r) => r.value !== status);
          store.setColumn(
            changed.map((r) => r.id),
            { status },
            now,
          );
          const revoked =
            status === "active"
              ? new Map<string, number>()
              : store.revokeSessionsOf(ids, `account_${status}`, now);
          for (const r of changed) {
            perUser(r.id, "user.status_changed", {
              from: r.value,
              to: status,
              sessions_revoked: revoked.get(r.id) ?? 0,
            });
          }
          summary.status = status;
        }
        record(scope, meta, `end_user.bulk_${kind}`, "user", null, {
          ...summary,
          affected_users: ids.length,
        });
        return { affected_users: ids.length };
      });
    },

    members(scope, query, meta) {
      const limit = parseLimit(query.limit);
      return tx(db, () => {
        const { rows, position } = newestPage(scope, undefined, query.cursor, limit);
        const roleIds = store.roleIds(scope.appId);
        const page = pageOf(rows, limit, position, (r) => toAppMemberDto(r, roleIds));
        record(scope, meta, "end_user.listed", "user", null, { count: page.data.length, view: "members" });
        return page;
      });
    },
  };
}
