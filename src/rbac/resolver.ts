/**
 * @module Effective permissions of an EndUser's app role, read from the database through a short cache.
 *
 * A role holds exactly its `role_permissions` rows; `owner` holds every system permission and every
 * custom permission of the app, whatever its rows say, so a new custom permission never needs binding to
 * it. Results are cached per (app, role): the writers of roles and permissions call `invalidate(appId)`
 * after their transaction, so this process sees an edit at once; the TTL bounds how long another process
 * sharing the database (a CLI command, a second server) can serve a stale set.
 *
 * A session acting in a tenant holds the union of its app role and its tenant role (both app roles), cached
 * per (app, role, tenant role) under the same invalidation. Which tenant role a request has is not cached
 * here: the session's facts read the membership and the tenant's status live on every request
 * (`sessions/store.ts`), so adding, removing or re-roling a member, or suspending a tenant, needs no
 * invalidation and applies to the very next request.
 *
 * Folder `rbac/` is the permission model every guard and service reads: catalogue, seeding, resolution,
 * narrowing, the enforced list. Administering it over HTTP is `roles/`, which imports from here; never the reverse.
 */

import { type Clock, SECOND } from "../core/clock.ts";
import type { Db } from "../db/client.ts";
import { SYSTEM_PERMISSION_KEYS } from "./catalog.ts";
import { createRbacStore } from "./store.ts";

export const PERMISSION_CACHE_TTL = 60 * SECOND;
/** Entries are (app, role) pairs that accounts actually hold, so this is generous; past it the cache restarts. */
export const PERMISSION_CACHE_MAX_ENTRIES = 10_000;

export interface PermissionResolver {
  /**
   * The permissions `role` holds in the app; an unknown role holds none. With `tenantRole` (the role the
   * session holds in the tenant it acts in), the union of both roles' permissions.
   */
  forEndUser(appId: string, role: string | null, tenantRole?: string | null): Promise<ReadonlySet<string>>;
  /** Drops what is cached for the app, after its roles or permissions changed. */
  invalidate(appId: string): void;
  /** Drops everything: another instance changed roles or permissions (which apps' is not said). */
  invalidateAll(): void;
}

const NONE: ReadonlySet<string> = Object.freeze(new Set<string>());

interface Entry {
  readonly held: ReadonlySet<string>;
  readonly until: number;
}

export function createPermissionResolver({ db, clock }: { db: Db; clock: Clock }): PermissionResolver {
  const store = createRbacStore(db);
  const cache = new Map<string, Map<string, Entry>>();
  let size = 0;

  const load = async (appId: string, role: string): Promise<ReadonlySet<string>> => {
    if (role === "owner") {
      const custom = await store.customPermissionKeys(appId);
      return custom.length ? new Set([...SYSTEM_PERMISSION_KEYS, ...custom]) : SYSTEM_PERMISSION_KEYS;
    }
    const keys = await store.rolePermissionKeys(appId, role);
    return keys.length ? new Set(keys) : NONE;
  };

  /** The app's cache entry `key`, computed by `compute` when missing or stale. */
  async function cached(
    appId: string,
    key: string,
    compute: () => Promise<ReadonlySet<string>>,
  ): Promise<ReadonlySet<string>> {
    const now = clock.now();
    const hit = cache.get(appId)?.get(key);
    if (hit && hit.until > now) return hit.held;
    const held = await compute();
    // Read after computing: a union's compute fills (and may restart) the cache itself.
    let perApp = cache.get(appId);
    if (size >= PERMISSION_CACHE_MAX_ENTRIES) {
      cache.clear();
      size = 0;
      perApp = undefined;
    }
    if (!perApp) {
      perApp = new Map();
      cache.set(appId, perApp);
    }
    if (!perApp.has(key)) size++;
    perApp.set(key, { held, until: now + PERMISSION_CACHE_TTL });
    return held;
  }

  const ofRole = async (appId: string, role: string) =>
    await cached(appId, role, async () => await load(appId, role));

  return {
    async forEndUser(appId, role, tenantRole) {
      if (tenantRole == null || tenantRole === role) return role === null ? NONE : await ofRole(appId, role);
      // Its own entry, so a tenant-scoped request costs one lookup too; NUL never appears in a role name.
      return await cached(appId, `${role ?? ""}\u0000${tenantRole}`, async () => {
        const a = role === null ? NONE : await ofRole(appId, role);
        const b = await ofRole(appId, tenantRole);
        if (b.size === 0) return a;
        if (a.size === 0) return b;
        return new Set([...a, ...b]);
      });
    },
    invalidate(appId) {
      const perApp = cache.get(appId);
      if (!perApp) return;
      size -= perApp.size;
      cache.delete(appId);
    },
    invalidateAll() {
      cache.clear();
      size = 0;
    },
  };
}
