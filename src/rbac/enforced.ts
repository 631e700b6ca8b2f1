/**
 * @module The permissions Consumer routes actually check, collected from the route table itself.
 *
 * The `consumerAdmin` guard registers its permission when a route declares it, so the list cannot drift
 * from the code: a console can tell whether binding `user.delete` to a role changes anything.
 *
 * Folder `rbac/` is the permission model every guard and service reads: catalogue, seeding, resolution,
 * narrowing, the enforced list. Administering it over HTTP is `roles/`, which imports from here; never the reverse.
 */

export interface EnforcementRegistry {
  /** Called by the guard for each route that requires `permission`. */
  register(permission: string): void;
  /** Every registered permission, deduplicated and sorted. */
  list(): string[];
}

export function createEnforcementRegistry(): EnforcementRegistry {
  const enforced = new Set<string>();
  return {
    register(permission) {
      enforced.add(permission);
    },
    list: () => [...enforced].sort(),
  };
}
