/**
 * @module The permissions Consumer routes actually check, collected from the route table itself.
 *
 * The `consumerAdmin` guard registers its permission when a route declares it, so the list cannot drift
 * from the code: a console can tell whether binding `user.delete` to a role changes anything.
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
