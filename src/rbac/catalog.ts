/**
 * @module The system permission catalogue (`resource.action`) and the three system roles every app has.
 *
 * System permissions are the hosted API's documented catalogue plus Heimdall's additions (`user.status`,
 * `factor.*`, which gate routes the hosted catalogue has no verb for); apps add custom ones for their product.
 * The seeded bindings are the documented ones: `owner` holds everything, custom permissions included;
 * `admin` reads and edits end users and assigns and revokes roles; `member` (the sign-up default) reads
 * end users and roles. Apps from before this catalogue were moved to it by migration `0012_rbac_catalogue`
 * where an operator had not edited the role (docs/decisions.md, "RBAC catalogue fidelity").
 *
 * Folder `rbac/` is the permission model every guard and service reads: catalogue, seeding, resolution,
 * narrowing, the enforced list. Administering it over HTTP is `roles/`, which imports from here; never the reverse.
 */

export interface SystemPermission {
  readonly key: string;
  readonly description: string;
}

export const SYSTEM_PERMISSIONS: readonly SystemPermission[] = Object.freeze([
  { key: "user.read", description: "Read one end user" },
  { key: "user.list", description: "List and search end users" },
  { key: "user.create", description: "Provision end users" },
  { key: "user.update", description: "Change an end user's profile or primary email" },
  { key: "user.delete", description: "Delete end users" },
  { key: "user.status", description: "Suspend, deactivate or reinstate end users" },
  { key: "role.read", description: "Read roles and their permissions" },
  { key: "role.create", description: "Create roles" },
  { key: "role.update", description: "Change a role's description and permission set" },
  { key: "role.delete", description: "Delete custom roles" },
  { key: "role.assign", description: "Assign a role to an end user" },
  { key: "role.revoke", description: "Take a role back from an end user" },
  { key: "permission.read", description: "Read the permission catalogue" },
  { key: "permission.create", description: "Create custom permissions" },
  { key: "permission.delete", description: "Delete custom permissions" },
  { key: "session.revoke", description: "Revoke sessions" },
  { key: "token.create", description: "Mint tokens on an end user's behalf" },
  { key: "factor.read", description: "Read an end user's MFA factors" },
  { key: "factor.create", description: "Provision an MFA factor for an end user" },
  { key: "factor.delete", description: "Disable an end user's MFA factor" },
]);

export const SYSTEM_PERMISSION_KEYS: ReadonlySet<string> = new Set(SYSTEM_PERMISSIONS.map((p) => p.key));

export const SYSTEM_ROLES = ["owner", "admin", "member"] as const;
export type SystemRole = (typeof SYSTEM_ROLES)[number];

export const isSystemRole = (name: string): name is SystemRole =>
  (SYSTEM_ROLES as readonly string[]).includes(name);

/**
 * Heimdall's additions to the hosted catalogue: verbs for routes the hosted list has none for. Seeded only
 * into `owner` (which holds everything); an operator binds them to other roles deliberately.
 */
export const HEIMDALL_ADDED_PERMISSIONS: ReadonlySet<string> = new Set([
  "user.status",
  "factor.read",
  "factor.create",
  "factor.delete",
]);

/**
 * Permissions that change nothing about another account, which the act-on rule and the narrowing of role
 * assignment do not weigh (narrowing.ts): the read-only ones, and `session.revoke`, which only lets an
 * account sign its own devices out (it gates `DELETE /me/sessions/{id}`). Weighing them would stop the
 * documented `admin` (which lacks `role.read`) from acting on a `member` (which holds it) or handing the
 * `member` role out, and a caller scoped to `user.status` from suspending members. Binding permissions to
 * a role stays strict: nobody binds a permission it does not hold.
 */
export const UNWEIGHED_PERMISSIONS: ReadonlySet<string> = new Set([
  "user.read",
  "user.list",
  "role.read",
  "permission.read",
  "factor.read",
  "session.revoke",
]);

/**
 * Bindings each app's system roles are seeded with, as the hosted documentation lists them; `admin` and
 * `member` can be re-bound later, while `owner` always holds the whole catalogue (custom permissions
 * included) whatever its rows say. With enforcement on, a member cannot revoke its other sessions
 * (`DELETE /me/sessions/{id}` needs `session.revoke`, as the contract says); changing its password signs
 * every other device out, and an operator may bind `session.revoke` to `member`.
 */
export const SYSTEM_ROLE_PERMISSIONS: Readonly<Record<SystemRole, ReadonlySet<string>>> = Object.freeze({
  owner: SYSTEM_PERMISSION_KEYS,
  admin: new Set(["user.read", "user.list", "user.update", "role.assign", "role.revoke"]),
  member: new Set(["user.read", "role.read"]),
});
