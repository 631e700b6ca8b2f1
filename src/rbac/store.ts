/**
 * @module Prepared queries of the permission resolver: what a role of an app is bound to, and the app's custom catalogue.
 *
 * Folder `rbac/` is the permission model every guard and service reads: catalogue, seeding, resolution,
 * narrowing, the enforced list. Administering it over HTTP is `roles/`, which imports from here; never the reverse.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { rows } from "../db/query.ts";

export function createRbacStore(db: Db) {
  if (db.engine === "postgres") {
    const keys = async (query: SQL) => (await rows<{ key: string }>(db, query)).map((r) => r.key);
    return {
      rolePermissionKeys: (appId: string, name: string): Promise<string[]> =>
        keys(sql`SELECT p.key AS key
                   FROM roles r
                   JOIN role_permissions rp ON rp.role_id = r.id
                   JOIN permissions p ON p.id = rp.permission_id
                  WHERE r.app_id = ${appId} AND r.name = ${name}`),
      customPermissionKeys: (appId: string): Promise<string[]> =>
        keys(sql`SELECT key FROM permissions WHERE app_id = ${appId} ORDER BY key`),
    };
  }
  const client = db.$client;
  // Run on every cache miss of the hot `/authorize` path: prepared once, no query building per call.
  const roleKeys = client.query<{ key: string }, [string, string]>(
    `SELECT p.key AS key
       FROM roles r
       JOIN role_permissions rp ON rp.role_id = r.id
       JOIN permissions p ON p.id = rp.permission_id
      WHERE r.app_id = ? AND r.name = ?`,
  );
  const customKeys = client.query<{ key: string }, [string]>(
    "SELECT key FROM permissions WHERE app_id = ? ORDER BY key",
  );
  return {
    /** Keys bound to the app's role `name` through `role_permissions`; none when the role does not exist. */
    rolePermissionKeys: async (appId: string, name: string): Promise<string[]> =>
      roleKeys.all(appId, name).map((r) => r.key),
    /** Keys of the permissions an app defined itself (system rows have no app). */
    customPermissionKeys: async (appId: string): Promise<string[]> => customKeys.all(appId).map((r) => r.key),
  };
}

export type RbacStore = ReturnType<typeof createRbacStore>;
