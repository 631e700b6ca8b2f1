/**
 * @module Tenant memberships: list, add (an existing account, or one made for an email address), remove and
 * change a member's role, keeping a tenant's last `owner`. Part of the tenant service (`service.ts`
 * composes it with the tenant half).
 */
import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { decodeCursor, isPosition, type Position, pageOf, parseLimit } from "../core/pagination.ts";
import type { CallMeta } from "../core/principal.ts";
import { tx } from "../db/client.ts";
import type { RoleRow } from "../roles/model.ts";
import { createRolesStore } from "../roles/store.ts";
import { createUserEvents } from "../users/events.ts";
import { freeUsernameFor, usernameFromEmail } from "../users/service.ts";
import { createUserStore } from "../users/store.ts";
import type { TenantContext, TenantScope, TenantService } from "./context.ts";
import { type AddMemberInput, type TenantRow, toMembershipDto } from "./model.ts";

/** The tenant role that holds a tenant: it always keeps at least one member. */
export const TENANT_OWNER_ROLE = "owner";

const memberNotFound = () => fail("TENANT_MEMBER_NOT_FOUND");
const lastOwner = () => fail("LAST_TENANT_OWNER");

export type TenantMembers = Pick<
  TenantService,
  "listMembers" | "addMember" | "removeMember" | "updateMemberRole"
>;

export function createTenantMembers({ deps, store, tenantOf, record }: TenantContext): TenantMembers {
  const { db, clock, events, apps } = deps;
  const roles = createRolesStore(db);
  const users = createUserStore(db);

  /** Role names are lower-case by construction, so the lookup folds case; an unknown one is a bad value (400). */
  const roleOf = (s: TenantScope, name: string): RoleRow => {
    const role = roles.roleByName(s.appId, name.toLowerCase());
    if (!role) throw fail("UNKNOWN_ROLE", { message: `This app has no role named ${name}` });
    return role;
  };

  /** The actor's id, as a membership's `invited_by`: the PAK or platform user who added it. */
  const inviter = (s: TenantScope) => s.actor.id;

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
      username = freeUsernameFor(
        usernameFromEmail(input.email),
        (u) => users.byUsername(s.appId, u) !== undefined,
      );
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
