/**
 * @module Caller-narrowing: nobody hands out a permission they do not hold themselves.
 *
 * Shared by every Consumer-lane route that grants (a role's permission set, and assigning a role to an
 * account), so the refusal reads the same everywhere. Platform callers (PAK, console user) administer
 * the whole app and pass `null`: they hold everything.
 *
 * Folder `rbac/` is the permission model every guard and service reads: catalogue, seeding, resolution,
 * narrowing, the enforced list. Administering it over HTTP is `roles/`, which imports from here; never the reverse.
 */
import { fail } from "../core/errors.ts";
import { SELF_SERVICE_PERMISSIONS } from "./catalog.ts";

/** The requested permissions the caller lacks, sorted; empty when the grant may proceed. */
export function ungrantable(held: ReadonlySet<string> | null, requested: Iterable<string>): string[] {
  if (held === null) return [];
  return [...new Set(requested)].filter((p) => !held.has(p)).sort();
}

/**
 * Throws 403 `PERMISSION_GRANT_DENIED` when the target account's role holds a permission the caller lacks.
 * Suspending, deleting or re-roling an account takes away what its role grants; a caller may take away
 * only what it could have granted, so the same code answers. Holds with `enforce_app_permissions` off too.
 * Self-service permissions are not weighed: they give the target no power over anyone else.
 */
export function assertCanActOn(held: ReadonlySet<string> | null, targetHolds: Iterable<string>): void {
  const weighed = [...targetHolds].filter((p) => !SELF_SERVICE_PERMISSIONS.has(p));
  const missing = ungrantable(held, weighed);
  if (missing.length)
    throw fail("PERMISSION_GRANT_DENIED", {
      message: `Cannot act on a user whose role holds permissions you don't have: ${missing.join(", ")}`,
    });
}

/** Throws 403 `PERMISSION_GRANT_DENIED` naming what the caller lacks. */
export function assertCanGrant(held: ReadonlySet<string> | null, requested: Iterable<string>): void {
  const missing = ungrantable(held, requested);
  if (missing.length)
    throw fail("PERMISSION_GRANT_DENIED", {
      message: `Cannot grant actions you don't have: ${missing.join(", ")}`,
    });
}
