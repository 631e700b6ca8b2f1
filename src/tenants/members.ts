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
import { isUniqueViolation } from "../db/query.ts";
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
  const roleOf = async (s: TenantScope, name: string): Promise<RoleRow> => {
    const role = await roles.roleByName(s.appId, name.toLowerCase());
    if (!role) throw fail("UNKNOWN_ROLE", { message: `This app has no role named ${name}` });
    return role;
  };

  /** The actor's id, as a membership's `invited_by`: the PAK or platform user who added it. */
  const inviter = (s: TenantScope) => s.actor.id;

  const userEvents = createUserEvents(events);

  const memberEvent = async (s: TenantScope, t: TenantRow, type: string, data: Record<string, unknown>) =>
    await events.emit({
      type,
      appId: s.appId,
      data: { tenant_id: t.id, tenant_display_id: t.displayId, ...data },
    });

  /** An account in the app with this email (any of its addresses, as uniqueness counts them), or a new one. */
  const accountForEmail = async (
    s: TenantScope,
    t: TenantRow,
    input: AddMemberInput & { email: string },
    meta: CallMeta,
  ): Promise<{ userId: string; created: boolean }> => {
    const holder = await users.contactByValue(s.appId, "email", input.email);
    if (holder) return { userId: holder.userId, created: false };
    let username: string;
    if (input.username !== undefined) {
      if (await users.byUsername(s.appId, input.username)) throw fail("USERNAME_TAKEN");
      username = input.username;
    } else {
      username = await freeUsernameFor(
        usernameFromEmail(input.email),
        async (u) => (await users.byUsername(s.appId, u)) !== undefined,
      );
    }
    // The account's app role is the app's sign-up default; what it may do in the tenant is its membership.
    const role = (await apps.authConfigOf(s.appId)).signup_default_role;
    const now = clock.now();
    const id = newId(clock);
    await users.insertUser({
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
    await users.insertContact({
      id: newId(clock),
      appId: s.appId,
      userId: id,
      type: "email",
      value: input.email,
      isPrimary: true,
      verifiedAt: null,
      createdAt: now,
    });
    await record(s, meta, "user.created", "user", id, {
      username,
      role,
      has_password: false,
      via: "tenant_member",
    });
    // An account an operator or backend made is a sign-up for receivers that keep their own copy of users.
    await userEvents.signedUp(s.appId, { id, username, email: input.email, role }, "admin", s.actor, {
      tenant_id: t.id,
    });
    return { userId: id, created: true };
  };

  return {
    async listMembers(s, tenantRef, query) {
      const limit = parseLimit(query.limit);
      const after = decodeCursor<Position>(query.cursor, isPosition);
      const t = await tenantOf(s, tenantRef);
      const rows = await store.members(t.id, after, limit + 1);
      return pageOf(
        rows,
        limit,
        (r): Position => ({ c: r.member.joinedAt, i: r.member.id }),
        toMembershipDto,
      );
    },

    async addMember(s, tenantRef, input, meta) {
      return await tx(db, async () => {
        const t = await tenantOf(s, tenantRef);
        const role = await roleOf(s, input.role_name);
        let account: { userId: string; created: boolean };
        if (input.email !== undefined) {
          account = await accountForEmail(s, t, { ...input, email: input.email }, meta);
        } else {
          const user = await users.byId(s.appId, input.account_id!);
          if (!user) throw fail("USER_NOT_FOUND");
          account = { userId: user.id, created: false };
        }
        if (await store.member(t.id, account.userId)) throw fail("TENANT_MEMBER_EXISTS");
        const id = newId(clock);
        try {
          await store.insertMember({
            id,
            appId: s.appId,
            tenantId: t.id,
            userId: account.userId,
            role: role.name,
            invitedBy: inviter(s),
            joinedAt: clock.now(),
          });
        } catch (err) {
          // Added by a concurrent request (another instance) between the check and the insert.
          const index = {
            sqlite: "tenant_members.tenant_id, tenant_members.user_id",
            postgres: "tenant_members_tenant_user",
          };
          if (isUniqueViolation(err, index)) throw fail("TENANT_MEMBER_EXISTS");
          throw err;
        }
        await record(s, meta, "tenant.member.added", "tenant_member", id, {
          tenant_id: t.id,
          account_id: account.userId,
          role: role.name,
          created_account: account.created,
        });
        await memberEvent(s, t, "tenant.member.added", {
          membership_id: id,
          account_id: account.userId,
          role_name: role.name,
          created_account: account.created,
        });
        return {
          membership: toMembershipDto((await store.member(t.id, account.userId))!),
          account_id: account.userId,
          created_account: account.created,
        };
      });
    },

    async removeMember(s, tenantRef, accountId, meta) {
      await tx(db, async () => {
        const t = await tenantOf(s, tenantRef);
        await store.lockMembers(t.id);
        const m = (await store.member(t.id, accountId))?.member;
        if (!m) throw memberNotFound();
        if (m.role === TENANT_OWNER_ROLE && (await store.countWithRole(t.id, TENANT_OWNER_ROLE)) <= 1)
          throw lastOwner();
        await store.deleteMember(m.id);
        await record(s, meta, "tenant.member.removed", "tenant_member", m.id, {
          tenant_id: t.id,
          account_id: m.userId,
          role: m.role,
        });
        await memberEvent(s, t, "tenant.member.removed", {
          membership_id: m.id,
          account_id: m.userId,
          role_name: m.role,
        });
      });
    },

    async updateMemberRole(s, tenantRef, accountId, input, meta) {
      return await tx(db, async () => {
        const t = await tenantOf(s, tenantRef);
        await store.lockMembers(t.id);
        const view = await store.member(t.id, accountId);
        if (!view) throw memberNotFound();
        const role = await roleOf(s, input.role_name);
        const m = view.member;
        // The same role again changes nothing: no write, no audit row, no event.
        if (role.name === m.role) return toMembershipDto(view);
        if (m.role === TENANT_OWNER_ROLE && (await store.countWithRole(t.id, TENANT_OWNER_ROLE)) <= 1)
          throw lastOwner();
        await store.setMemberRole(m.id, role.name);
        await record(s, meta, "tenant.member.role_changed", "tenant_member", m.id, {
          tenant_id: t.id,
          account_id: m.userId,
          role: role.name,
          previous_role: m.role,
        });
        await memberEvent(s, t, "tenant.member.role_changed", {
          membership_id: m.id,
          account_id: m.userId,
          role_name: role.name,
          previous_role_name: m.role,
        });
        return toMembershipDto((await store.member(t.id, accountId))!);
      });
    },
  };
}
