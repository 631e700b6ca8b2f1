/**
 * @module The system permission catalogue (`resource.action`) and the three system roles every app has.
 *
 * System permissions are the verbs Heimdall's own Consumer routes check (the admin lane and `/me`); apps
 * add custom ones for their product. `owner` holds everything, custom permissions included; `admin` runs
 * the user base but cannot tear down the permission model; `member` holds no administrative verb — as in
 * the hosted API, a member with enforcement on cannot even revoke its own other sessions.
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
  { key: "permission.read", description: "Read the permission catalogue" },
  { key: "permission.create", description: "Create custom permissions" },
  { key: "permission.delete", description: "Delete custom permissions" },
  { key: "session.revoke", description: "Revoke sessions" },
  { key: "factor.read", description: "Read an end user's MFA factors" },
  { key: "factor.create", description: "Provision an MFA factor for an end user" },
  { key: "factor.delete", description: "Disable an end user's MFA factor" },
]);

export const SYSTEM_PERMISSION_KEYS: ReadonlySet<string> = new Set(SYSTEM_PERMISSIONS.map((p) => p.key));

export const SYSTEM_ROLES = ["owner", "admin", "member"] as const;
export type SystemRole = (typeof SYSTEM_ROLES)[number];

export const isSystemRole = (name: string): name is SystemRole =>
  (SYSTEM_ROLES as readonly string[]).includes(name);

/** What only an owner may do: removing roles and changing the catalogue itself. */
const OWNER_ONLY: ReadonlySet<string> = new Set(["role.delete", "permission.create", "permission.delete"]);

/**
 * Bindings each app's system roles are seeded with; `admin` and `member` can be re-bound later, while
 * `owner` always holds the whole catalogue (custom permissions included) whatever its rows say.
 */
/**
 * Permissions that only ever let an account act on itself (`session.revoke` gates `DELETE /me/sessions/{id}`).
 * Holding one makes an account no more powerful than another, so the act-on rule does not weigh them.
 */
export const SELF_SERVICE_PERMISSIONS: ReadonlySet<string> = new Set(["session.revoke"]);

export const SYSTEM_ROLE_PERMISSIONS: Readonly<Record<SystemRole, ReadonlySet<string>>> = Object.freeze({
  owner: SYSTEM_PERMISSION_KEYS,
  admin: new Set([...SYSTEM_PERMISSION_KEYS].filter((k) => !OWNER_ONLY.has(k))),
  // Revoking one's own other sessions (`DELETE /me/sessions/{id}`) is the only thing this permission gates:
  // a member must be able to sign a lost device out although the app enforces its permissions.
  member: new Set(["session.revoke"]),
});
