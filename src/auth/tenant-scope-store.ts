/** @module The tenant a session may act in: tenant and membership lookups for sign-in, switch, refresh and `/auth/me/tenants`. */
import { sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { row, rows } from "../db/query.ts";

export interface TenantAccessRow {
  id: string;
  status: "active" | "suspended" | "archived";
  /** The account's role in the tenant; null when it is not a member. */
  role: string | null;
}

export interface MyTenantRow {
  id: string;
  displayId: string;
  slug: string;
  displayName: string;
  role: string;
  joinedAt: number;
}

export function createTenantScopeStore(db: Db) {
  const lite = db.engine === "sqlite" ? sqliteStatements(db) : undefined;

  return {
    /** The app's tenant named by its id or display id, with the account's role there (if a member). */
    async access(appId: string, userId: string, ref: string): Promise<TenantAccessRow | undefined> {
      if (lite) return lite.access.get(userId, appId, ref, ref) ?? undefined;
      return await row<TenantAccessRow>(
        db,
        sql`SELECT t.id AS id, t.status AS status,
                   (SELECT m.role FROM tenant_members m WHERE m.tenant_id = t.id AND m.user_id = ${userId}) AS role
              FROM tenants t
             WHERE t.app_id = ${appId} AND (t.id = ${ref} OR t.display_id = ${ref})`,
      );
    },

    /** The account's memberships in the app's active tenants, oldest first. */
    async mine(appId: string, userId: string): Promise<MyTenantRow[]> {
      if (lite) return lite.mine.all(userId, appId);
      const found = await rows<MyTenantRow>(
        db,
        sql`SELECT t.id AS id, t.display_id AS "displayId", t.slug AS slug, t.display_name AS "displayName",
                   m.role AS role, m.joined_at AS "joinedAt"
              FROM tenant_members m JOIN tenants t ON t.id = m.tenant_id
             WHERE m.user_id = ${userId} AND m.app_id = ${appId} AND t.status = 'active'
             ORDER BY m.joined_at, t.id`,
      );
      // A bigint read by raw SQL arrives as a string on PostgreSQL.
      return found.map((r) => ({ ...r, joinedAt: Number(r.joinedAt) }));
    },

    /** A tenant's status; undefined once it is deleted. */
    async status(tenantId: string): Promise<TenantAccessRow["status"] | undefined> {
      if (lite) return lite.status.get(tenantId)?.status;
      const found = await row<{ status: TenantAccessRow["status"] }>(
        db,
        sql`SELECT status FROM tenants WHERE id = ${tenantId}`,
      );
      return found?.status;
    },
  };
}

/** SQLite's statements, compiled once: every sign-in with a tenant and every switch runs them. */
function sqliteStatements(db: Db) {
  const access = db.$client.query<TenantAccessRow, [string, string, string, string]>(
    `SELECT t.id AS id, t.status AS status,
            (SELECT m.role FROM tenant_members m WHERE m.tenant_id = t.id AND m.user_id = ?1) AS role
       FROM tenants t
      WHERE t.app_id = ?2 AND (t.id = ?3 OR t.display_id = ?4)`,
  );
  const mine = db.$client.query<MyTenantRow, [string, string]>(
    `SELECT t.id AS id, t.display_id AS displayId, t.slug AS slug, t.display_name AS displayName,
            m.role AS role, m.joined_at AS joinedAt
       FROM tenant_members m JOIN tenants t ON t.id = m.tenant_id
      WHERE m.user_id = ?1 AND m.app_id = ?2 AND t.status = 'active'
      ORDER BY m.joined_at, t.id`,
  );
  const status = db.$client.query<{ status: TenantAccessRow["status"] }, [string]>(
    "SELECT status FROM tenants WHERE id = ?1",
  );
  return { access, mine, status };
}
