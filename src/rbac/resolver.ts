/**
 * @module Effective permissions of a caller: what an EndUser's app role grants.
 *
 * Roles are resolved by name from the static system mapping; a custom role grants nothing until roles
 * are stored per app. The owner also holds the app's custom permissions, read through a short cache so
 * a hot `/authorize` path does not query the catalogue on every call. `invalidate(appId)` is for the
 * writers of that catalogue; the TTL bounds staleness when a writer forgets.
 */
import type { Db } from "../db/client.ts";
import { type Clock, SECOND } from "../platform/clock.ts";
import { isSystemRole, SYSTEM_PERMISSION_KEYS, SYSTEM_ROLE_PERMISSIONS } from "./catalog.ts";
import { createRbacStore } from "./store.ts";

export const PERMISSION_CACHE_TTL = 60 * SECOND;

export interface PermissionResolver {
  /** The permissions `role` holds in the app; an unknown role holds none. */
  forEndUser(appId: string, role: string | null): ReadonlySet<string>;
  /** Drops what is cached for the app, after its roles or permissions changed. */
  invalidate(appId: string): void;
}

const NONE: ReadonlySet<string> = new Set<string>();

export function createPermissionResolver({ db, clock }: { db: Db; clock: Clock }): PermissionResolver {
  const store = createRbacStore(db);
  const ownerSets = new Map<string, { held: ReadonlySet<string>; until: number }>();

  const ownerOf = (appId: string): ReadonlySet<string> => {
    const now = clock.now();
    const hit = ownerSets.get(appId);
    if (hit && hit.until > now) return hit.held;
    const custom = store.customPermissionKeys(appId);
    const held = custom.length ? new Set([...SYSTEM_PERMISSION_KEYS, ...custom]) : SYSTEM_PERMISSION_KEYS;
    ownerSets.set(appId, { held, until: now + PERMISSION_CACHE_TTL });
    return held;
  };

  return {
    forEndUser(appId, role) {
      if (role === null || !isSystemRole(role)) return NONE;
      return role === "owner" ? ownerOf(appId) : SYSTEM_ROLE_PERMISSIONS[role];
    },
    invalidate(appId) {
      ownerSets.delete(appId);
    },
  };
}
