/**
 * @module Tenants (organisations inside an app) and their memberships, one service for both surfaces: the
 * Admin API (platform callers, the seed file's local operator) and the Consumer API's PAK lane.
 *
 * Rules: a tenant is found by its UUID or `tnt_…` display id, and another app's tenant is indistinguishable
 * from an absent one; slugs are unique per app regardless of case; a member holds one of the app's roles
 * (stored by its canonical name); the last `owner` of a tenant can be neither removed nor demoted. Every
 * change writes its audit row and emits its event in its own transaction; a change that changes nothing
 * writes neither.
 */

import type { AppAction, AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { AppRef } from "../core/app-ref.ts";
import type { Clock } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import {
  decodeCursor,
  isPosition,
  type Page,
  type Position,
  pageOf,
  parseLimit,
} from "../core/pagination.ts";
import {
  type AuditActor,
  actorOf,
  type CallMeta,
  type PakPrincipal,
  type PlatformPrincipal,
} from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { RoleRow } from "../roles/model.ts";
import { createRolesStore } from "../roles/store.ts";
import { createUserEvents } from "../users/events.ts";
import { usernameFromEmail } from "../users/service.ts";
import { createUserStore } from "../users/store.ts";
import {
  type AddMemberInput,
  type AddMemberResultDto,
  type CreateTenantInput,
  type ListMembersQuery,
  type ListTenantsQuery,
  newDisplayId,
  slugFromName,
  suffixedSlug,
  type TenantDto,
  type TenantMembershipDto,
  type TenantRow,
  toMembershipDto,
  toTenantDto,
  type UpdateMemberRoleInput,
  type UpdateTenantInput,
} from "./model.ts";
import { createTenantStore } from "./store.ts";

/** Who acts on which app's tenants. */
export interface TenantScope {
  readonly appId: string;
  readonly workspaceId: string;
  readonly actor: AuditActor;
}

export interface TenantService {
  /** The Admin API's (and the seed file's) scope: the app `p` may act on with `action`; writes refuse an archived app. */
  forPlatform(p: PlatformPrincipal, appRef: string, action: AppAction): TenantScope;
  /** The Consumer PAK lane's scope: the guard already checked the key's action on the app. */
  forConsumer(app: AppRef, p: PakPrincipal): TenantScope;
  list(s: TenantScope, query: ListTenantsQuery): Page<TenantDto>;
  get(s: TenantScope, tenantRef: string): TenantDto;
  create(s: TenantScope, input: CreateTenantInput, meta: CallMeta): TenantDto;
  update(s: TenantScope, tenantRef: string, input: UpdateTenantInput, meta: CallMeta): TenantDto;
  remove(s: TenantScope, tenantRef: string, meta: CallMeta): void;
  listMembers(s: TenantScope, tenantRef: string, query: ListMembersQuery): Page<TenantMembershipDto>;
  addMember(s: TenantScope, tenantRef: string, input: AddMemberInput, meta: CallMeta): AddMemberResultDto;
  removeMember(s: TenantScope, tenantRef: string, accountId: string, meta: CallMeta): void;
  updateMemberRole(
    s: TenantScope,
    tenantRef: string,
    accountId: string,
    input: UpdateMemberRoleInput,
    meta: CallMeta,
  ): TenantMembershipDto;
}

export interface TenantServiceDeps {
  db: Db;
  clock: Clock;
  audit: Pick<AuditWriter, "record">;
  events: EventEmitter;
  apps: Pick<AppService, "authorizeApp" | "authConfigOf">;
}

/** The tenant role that holds a tenant: it always keeps at least one member. */
export const TENANT_OWNER_ROLE = "owner";
/** Derived slugs that collide get a random suffix; this many tries before giving up is beyond unlucky. */
const SLUG_SUFFIX_TRIES = 8;

const tenantNotFound = () => fail("TENANT_NOT_FOUND");
const memberNotFound = () => fail("TENANT_MEMBER_NOT_FOUND");
const slugTaken = (slug: string) =>
  fail("TENANT_SLUG_TAKEN", { message: `Another tenant of this app has the slug ${slug}` });
const lastOwner = () => fail("LAST_TENANT_OWNER");

export function createTenantService(deps: TenantServiceDeps): TenantService {
  const { db, clock, audit, events, apps } = deps;
  const store = createTenantStore(db);
  const roles = createRolesStore(db);
  const users = createUserStore(db);

  const tenantOf = (s: TenantScope, ref: string): TenantRow => {
    const t = ref.length <= 64 ? store.byRef(s.appId, ref) : undefined;
    if (!t) throw tenantNotFound();
    return t;
  };

  /** Role names are lower-case by construction, so the lookup folds case; an unknown one is a bad value (400). */
  const roleOf = (s: TenantScope, name: string): RoleRow => {
    const role = roles.roleByName(s.appId, name.toLowerCase());
    if (!role) throw fail("UNKNOWN_ROLE", { message: `This app has no role named ${name}` });
    return role;
  };

  const record = (
    s: TenantScope,
    meta: CallMeta,
    action: string,
    resourceType: "tenant" | "tenant_member" | "user",
    resourceId: string,
    details: Record<string, unknown>,
  ) =>
    audit.record({
      appId: s.appId,
      workspaceId: s.workspaceId,
      action,
      resourceType,
      resourceId,
      actor: s.actor,
      details,
      meta,
    });

  /** The actor's id, as a membership's `invited_by`: the PAK or platform user who added it. */
  const inviter = (s: TenantScope) => s.actor.id;

  const freeDisplayId = (): string => {
    // 48 random bits: a clash is all but impossible, but a unique index refusal would be a 500.
    for (;;) {
      const id = newDisplayId();
      if (!store.displayIdTaken(id)) return id;
    }
  };

  /** A derived slug, with a random suffix while it collides (only ever the tenant's own app counts). */
  const freeSlug = (appId: string, base: string): string => {
    if (!store.bySlug(appId, base)) return base;
    for (let i = 0; i < SLUG_SUFFIX_TRIES; i++) {
      const candidate = suffixedSlug(base);
      if (!store.bySlug(appId, candidate)) return candidate;
    }
    throw slugTaken(base);
  };

  const freeUsername = (appId: string, base: string): string => {
    if (!users.byUsername(appId, base)) return base;
    for (let n = 2; n < 22; n++) if (!users.byUsername(appId, `${base}-${n}`)) return `${base}-${n}`;
    return `${base}-${crypto.randomUUID().slice(0, 8)}`;
  };

  const userEvents = createUserEvents(events);

  const memberEvent = (s: TenantScope, t: TenantRow, type: string, data: Record<string, unknown>) =>
    events.emit({
      type,
      appId: s.appId,
      data: { tenant_id: t.id, tenant_display_id: t.displayId, ...data },
    });

  /** An account in the app with this email (any of its addresses, as uniqueness counts them), or a new one. */
  const accountForEmail = (
    s: TenantScope,
    t: TenantRow,
    input: AddMemberInput & { email: string },
    meta: CallMeta,
  ): { userId: string; created: boolean } => {
    const holder = users.contactByValue(s.appId, "email", input.email);
    if (holder) return { userId: holder.userId, created: false };
    let username: string;
    if (input.username !== undefined) {
      if (users.byUsername(s.appId, input.username)) throw fail("USERNAME_TAKEN");
      username = input.username;
    } else {
      username = freeUsername(s.appId, usernameFromEmail(input.email));
    }
    // The account's app role is the app's sign-up default; what it may do in the tenant is its membership.
    const role = apps.authConfigOf(s.appId).signup_default_role;
    const now = clock.now();
    const id = newId(clock);
    users.insertUser({
      id,
      appId: s.appId,
      username,
      displayName: input.display_name ?? null,
      passwordHash: null,
      status: "active",
      role,
      failedLoginCount: 0,
      lockedUntil: null,
      passwordChangedAt: null,
      lastUsedAt: null,
      createdAt: now,
      updatedAt: now,
    });
    // Unverified and without a password, as an admin-created account: the customer starts verification
    // or a password reset (or sends an invite) to let the person in.
    users.insertContact({
      id: newId(clock),
      appId: s.appId,
      userId: id,
      type: "email",
      value: input.email,
      isPrimary: true,
      verifiedAt: null,
      createdAt: now,
    });
    record(s, meta, "user.created", "user", id, {
      username,
      role,
      has_password: false,
      via: "tenant_member",
    });
    // An account an operator or backend made is a sign-up for receivers that keep their own copy of users.
    userEvents.signedUp(s.appId, { id, username, email: input.email, role }, "admin", s.actor, {
      tenant_id: t.id,
    });
    return { userId: id, created: true };
  };

  return {
    forPlatform(p, appRef, action) {
      const app = apps.authorizeApp(p, appRef, action);
      if (action !== "heimdall.read" && app.status === "archived") throw fail("APP_ARCHIVED");
      return { appId: app.id, workspaceId: app.workspaceId, actor: actorOf(p) };
    },

    forConsumer(app, p) {
      return { appId: app.id, workspaceId: app.workspaceId, actor: actorOf(p) };
    },

    list(s, query) {
      const limit = parseLimit(query.limit);
      const after = decodeCursor<Position>(query.cursor, isPosition);
      const rows = store.list(s.appId, query.status, after, limit + 1);
      return pageOf(rows, limit, (r): Position => ({ c: r.createdAt, i: r.id }), toTenantDto);
    },

    get(s, tenantRef) {
      return toTenantDto(tenantOf(s, tenantRef));
    },

    create(s, input, meta) {
      return tx(db, () => {
        let slug: string;
        if (input.slug !== undefined) {
          if (store.bySlug(s.appId, input.slug)) throw slugTaken(input.slug);
          slug = input.slug;
        } else {
          slug = freeSlug(s.appId, slugFromName(input.display_name));
        }
        const now = clock.now();
        const row = store.insert({
          id: newId(clock),
          appId: s.appId,
          displayId: freeDisplayId(),
          slug,
          displayName: input.display_name,
          status: "active",
          metadata: input.metadata ?? {},
          createdAt: now,
          updatedAt: now,
        });
        const dto = toTenantDto(row);
        record(s, meta, "tenant.created", "tenant", row.id, {
          display_id: row.displayId,
          slug,
          display_name: row.displayName,
          slug_derived: input.slug === undefined,
        });
        events.emit({ type: "tenant.created", appId: s.appId, data: { tenant: dto } });
        return dto;
      });
    },

    update(s, tenantRef, input, meta) {
      return tx(db, () => {
        const t = tenantOf(s, tenantRef);
        const set: Partial<TenantRow> = {};
        const changes: string[] = [];
        const details: Record<string, unknown> = {};
        if (input.display_name !== undefined && input.display_name !== t.displayName) {
          set.displayName = input.display_name;
          changes.push("display_name");
          details.previous_display_name = t.displayName;
        }
        if (input.slug !== undefined && input.slug !== t.slug) {
          const holder = store.bySlug(s.appId, input.slug);
          if (holder && holder.id !== t.id) throw slugTaken(input.slug);
          set.slug = input.slug;
          changes.push("slug");
          details.previous_slug = t.slug;
        }
        if (input.status !== undefined && input.status !== t.status) {
          set.status = input.status;
          changes.push("status");
          details.previous_status = t.status;
        }
        // Replaced as a whole (as an app's metadata is); the audit row names the change, not the values.
        if (
          input.metadata !== undefined &&
          JSON.stringify(input.metadata) !== JSON.stringify(t.metadata ?? {})
        ) {
          set.metadata = input.metadata;
          changes.push("metadata");
        }
        // Nothing to change: no write, no audit row, no event, `updated_at` untouched.
        if (changes.length === 0) return toTenantDto(t);
        const updated = store.update(t.id, { ...set, updatedAt: clock.now() });
        const dto = toTenantDto(updated);
        record(s, meta, "tenant.updated", "tenant", t.id, {
          display_id: t.displayId,
          changes,
          ...details,
        });
        events.emit({ type: "tenant.updated", appId: s.appId, data: { tenant: dto, changes } });
        return dto;
      });
    },

    remove(s, tenantRef, meta) {
      tx(db, () => {
        const t = tenantOf(s, tenantRef);
        const members = store.memberCount(t.id);
        store.delete(t.id);
        record(s, meta, "tenant.deleted", "tenant", t.id, {
          display_id: t.displayId,
          slug: t.slug,
          display_name: t.displayName,
          members_removed: members,
        });
        events.emit({
          type: "tenant.deleted",
          appId: s.appId,
          data: { tenant_id: t.id, display_id: t.displayId, slug: t.slug, members_removed: members },
        });
      });
    },

    listMembers(s, tenantRef, query) {
      const limit = parseLimit(query.limit);
      const after = decodeCursor<Position>(query.cursor, isPosition);
      const t = tenantOf(s, tenantRef);
      const rows = store.members(t.id, after, limit + 1);
      return pageOf(
        rows,
        limit,
        (r): Position => ({ c: r.member.joinedAt, i: r.member.id }),
        toMembershipDto,
      );
    },

    addMember(s, tenantRef, input, meta) {
      return tx(db, () => {
        const t = tenantOf(s, tenantRef);
        const role = roleOf(s, input.role_name);
        let account: { userId: string; created: boolean };
        if (input.email !== undefined) {
          account = accountForEmail(s, t, { ...input, email: input.email }, meta);
        } else {
          const user = users.byId(s.appId, input.account_id!);
          if (!user) throw fail("USER_NOT_FOUND");
          account = { userId: user.id, created: false };
        }
        if (store.member(t.id, account.userId)) throw fail("TENANT_MEMBER_EXISTS");
        const id = newId(clock);
        store.insertMember({
          id,
          appId: s.appId,
          tenantId: t.id,
          userId: account.userId,
          role: role.name,
          invitedBy: inviter(s),
          joinedAt: clock.now(),
        });
        record(s, meta, "tenant.member.added", "tenant_member", id, {
          tenant_id: t.id,
          account_id: account.userId,
          role: role.name,
          created_account: account.created,
        });
        memberEvent(s, t, "tenant.member.added", {
          membership_id: id,
          account_id: account.userId,
          role_name: role.name,
          created_account: account.created,
        });
        return {
          membership: toMembershipDto(store.member(t.id, account.userId)!),
          account_id: account.userId,
          created_account: account.created,
        };
      });
    },

    removeMember(s, tenantRef, accountId, meta) {
      tx(db, () => {
        const t = tenantOf(s, tenantRef);
        const m = store.member(t.id, accountId)?.member;
        if (!m) throw memberNotFound();
        if (m.role === TENANT_OWNER_ROLE && store.countWithRole(t.id, TENANT_OWNER_ROLE) <= 1)
          throw lastOwner();
        store.deleteMember(m.id);
        record(s, meta, "tenant.member.removed", "tenant_member", m.id, {
          tenant_id: t.id,
          account_id: m.userId,
          role: m.role,
        });
        memberEvent(s, t, "tenant.member.removed", {
          membership_id: m.id,
          account_id: m.userId,
          role_name: m.role,
        });
      });
    },

    updateMemberRole(s, tenantRef, accountId, input, meta) {
      return tx(db, () => {
        const t = tenantOf(s, tenantRef);
        const view = store.member(t.id, accountId);
        if (!view) throw memberNotFound();
        const role = roleOf(s, input.role_name);
        const m = view.member;
        // The same role again changes nothing: no write, no audit row, no event.
        if (role.name === m.role) return toMembershipDto(view);
        if (m.role === TENANT_OWNER_ROLE && store.countWithRole(t.id, TENANT_OWNER_ROLE) <= 1)
          throw lastOwner();
        store.setMemberRole(m.id, role.name);
        record(s, meta, "tenant.member.role_changed", "tenant_member", m.id, {
          tenant_id: t.id,
          account_id: m.userId,
          role: role.name,
          previous_role: m.role,
        });
        memberEvent(s, t, "tenant.member.role_changed", {
          membership_id: m.id,
          account_id: m.userId,
          role_name: role.name,
          previous_role_name: m.role,
        });
        return toMembershipDto(store.member(t.id, accountId)!);
      });
    },
  };
}
