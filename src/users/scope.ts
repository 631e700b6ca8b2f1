/**
 * @module Who acts on an app's accounts, and the rules every end-user administration service applies to it:
 * the `UserScope` both surfaces reduce their caller to, caller-narrowing, the archived-app guard, the lookups
 * that answer 404, and the audit row of a change.
 *
 * The surfaces differ only in who is calling, which a `UserScope` carries: the audit actor, and for an
 * EndUser admin the permissions it holds, since it may grant no role that carries more (caller-narrowing;
 * machine credentials may assign any role their route permission allows, as the spec says of M2M). Every
 * admin-lane caller — EndUser, M2M or API key — may suspend, delete, edit or re-role only an account whose
 * role holds nothing it lacks, also with `enforce_app_permissions` off; operators act on the whole app.
 */

import type { AppRow } from "../apps/model.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { AppRef } from "../core/app-ref.ts";
import type { Clock } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import {
  type AuditActor,
  actorOf,
  type CallMeta,
  type ConsumerAdminCaller,
  type PlatformPrincipal,
} from "../core/principal.ts";
import type { Db } from "../db/client.ts";
import { isUniqueViolation } from "../db/query.ts";
import { assertCanActOn, assertCanAssign } from "../rbac/narrowing.ts";
import type { PermissionResolver } from "../rbac/resolver.ts";
import { createUserAdminStore } from "./admin-store.ts";
import { CONTACT_INDEX } from "./contacts.ts";
import type { UserViewRow } from "./model.ts";
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
  /** Archived apps are read-only (docs/architecture.md, "Surfaces"), except for taking access away. */
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

export const userNotFound = () => fail("USER_NOT_FOUND");
export const emailTaken = () => fail("EMAIL_TAKEN");

/** The unique indexes behind "taken": with several writers (PostgreSQL) they, not the check before, decide the race. */
export const USERNAME_INDEX = { sqlite: "end_users.username", postgres: "end_users_app_username" };

/** A unique index's refusal as the error its check gives: another writer took the name or address meanwhile. */
export function takenError(err: unknown): unknown {
  if (isUniqueViolation(err, USERNAME_INDEX)) return fail("USERNAME_TAKEN");
  if (isUniqueViolation(err, CONTACT_INDEX)) return emailTaken();
  return err;
}
// 400 UNKNOWN_ROLE, not 404 ROLE_NOT_FOUND: the role is a value in the body, not the resource the route
// acts on (docs/errors.md; the contract's invite route answers 400 "Unknown role").
const roleNotFound = (name: string) =>
  fail("UNKNOWN_ROLE", { message: `This app has no role named ${name}` });
const archived = () => fail("APP_ARCHIVED");

/** The scope rules, shared by the account, contact and bulk services. */
export interface UserRules {
  /** Appends the audit row of a change; call it inside the change's transaction (docs/architecture.md, "Audit"). */
  record(
    scope: UserScope,
    meta: CallMeta,
    action: string,
    resourceType: string,
    resourceId: string | null,
    details: Record<string, unknown>,
  ): Promise<void>;
  /** Refuses a write that gives access on an archived app. */
  writable(scope: UserScope): void;
  userOf(scope: UserScope, userId: string): Promise<EndUserRow>;
  /** `userOf`, the row locked until the transaction ends (see `lockUser`): for a check that guards a write. */
  lockedUserOf(scope: UserScope, userId: string): Promise<EndUserRow>;
  viewOf(scope: UserScope, userId: string): Promise<UserViewRow>;
  requireRole(scope: UserScope, name: string): Promise<void>;
  /** An EndUser admin may hand out only a role it could have granted itself (the spec's caller-narrowing). */
  narrow(scope: UserScope, role: string): Promise<void>;
  /**
   * The caller may act on this account only if its role holds nothing the caller lacks: without this, a
   * member of an app with enforcement off could delete the owner (docs/architecture.md, "Lanes").
   */
  mayActOn(scope: UserScope, user: EndUserRow): Promise<void>;
}

export interface UserRulesDeps {
  db: Db;
  clock: Clock;
  audit: Pick<AuditWriter, "record">;
  permissions: Pick<PermissionResolver, "forEndUser">;
}

export function createUserRules(deps: UserRulesDeps): UserRules {
  const { db, clock, audit, permissions } = deps;
  const users = createUserStore(db);
  const store = createUserAdminStore(db);
  return {
    async record(scope, meta, action, resourceType, resourceId, details) {
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
    },
    writable(scope) {
      if (scope.archived) throw archived();
    },
    async userOf(scope, userId) {
      const u = await users.byId(scope.appId, userId);
      if (!u) throw userNotFound();
      return u;
    },
    async lockedUserOf(scope, userId) {
      const u = await users.lockUser(scope.appId, userId);
      if (!u) throw userNotFound();
      return u;
    },
    async viewOf(scope, userId) {
      const row = (await store.viewOf(scope.appId, [userId], clock.now()))[0];
      if (!row) throw userNotFound();
      return row;
    },
    async requireRole(scope, name) {
      if (!(await store.roleByName(scope.appId, name))) throw roleNotFound(name);
    },
    async narrow(scope, role) {
      if (scope.grantable !== null)
        assertCanAssign(scope.grantable, await permissions.forEndUser(scope.appId, role), scope);
    },
    async mayActOn(scope, user) {
      if (scope.held !== null)
        assertCanActOn(scope.held, await permissions.forEndUser(scope.appId, user.role), scope);
    },
  };
}
