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
import { AccessDenied } from "../core/access-denied.ts";
import type { AuditActor } from "../core/principal.ts";
import { UNWEIGHED_PERMISSIONS } from "./catalog.ts";

/** Who is refused, for the `access.denied` audit row the error mapper writes (an RBAC denial like any other). */
export interface Refused {
  readonly actor: AuditActor;
  readonly appId: string;
}

const refused = (who: Refused, missing: string[], message: string) =>
  new AccessDenied("PERMISSION_GRANT_DENIED", message, {
    reason: "grant",
    actor: who.actor,
    appId: who.appId,
    required: missing.join(","),
  });

/** The requested permissions the caller lacks, sorted; empty when the grant may proceed. */
export function ungrantable(held: ReadonlySet<string> | null, requested: Iterable<string>): string[] {
  if (held === null) return [];
  return [...new Set(requested)].filter((p) => !held.has(p)).sort();
}

/** What an account's role lets it do to other accounts: its permissions less the unweighed ones. */
const weighed = (holds: Iterable<string>) => [...holds].filter((p) => !UNWEIGHED_PERMISSIONS.has(p));

/**
 * Throws 403 `PERMISSION_GRANT_DENIED` when the target account's role holds a permission the caller lacks.
 * Suspending, deleting or re-roling an account takes away what its role grants; a caller may take away
 * only what it could have granted, so the same code answers. Holds with `enforce_app_permissions` off too.
 * Unweighed permissions (catalog.ts) are not counted: they give the target no power over anyone else.
 */
export function assertCanActOn(
  held: ReadonlySet<string> | null,
  targetHolds: Iterable<string>,
  who: Refused,
): void {
  const missing = ungrantable(held, weighed(targetHolds));
  if (missing.length)
    throw refused(
      who,
      missing,
      `Cannot act on a user whose role holds permissions you don't have: ${missing.join(", ")}`,
    );
}

/** Throws 403 `PERMISSION_GRANT_DENIED` naming what the caller lacks. */
export function assertCanGrant(
  held: ReadonlySet<string> | null,
  requested: Iterable<string>,
  who: Refused,
): void {
  const missing = ungrantable(held, requested);
  if (missing.length)
    throw refused(who, missing, `Cannot grant actions you don't have: ${missing.join(", ")}`);
}

/**
 * Throws 403 `PERMISSION_GRANT_DENIED` when the role handed to an account holds a permission the caller
 * lacks, unweighed ones aside (as for the act-on rule: an admin resets an account to `member`).
 */
export function assertCanAssign(
  held: ReadonlySet<string> | null,
  roleHolds: Iterable<string>,
  who: Refused,
): void {
  assertCanGrant(held, weighed(roleHolds), who);
}
