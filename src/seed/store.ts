/**
 * @module What seed apply and export read of an app (docs/seed.md): its custom permissions, roles with their
 * bindings, credentials, accounts, tenants with their members, and webhook destination. Reads only, straight from the tables: the services' listings of
 * credentials write a secrets-bearing-read audit row, which a plan that changes nothing must not leave.
 */
import { and, asc, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { first } from "../db/query.ts";

export interface SeedRoleRow {
  name: string;
  description: string | null;
  isSystem: boolean;
  /** Bound permission keys, sorted. */
  permissions: string[];
}

export interface SeedUserRow {
  id: string;
  email: string | null;
  username: string;
  displayName: string | null;
  role: string;
  passwordHash: string | null;
  emailVerified: boolean;
}

export interface SeedTenantRow {
  id: string;
  slug: string;
  displayName: string;
  status: "active" | "suspended" | "archived";
  metadata: Record<string, unknown>;
  /** By email (members whose account has no email address last, by account id). */
  members: { userId: string; email: string | null; role: string }[];
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * By name, then age, then id, compared as SQLite's binary collation does: PostgreSQL's ORDER BY on text
 * follows the database's locale, and a seed export must read the same from either engine.
 */
const byNameThenAge = <T extends { name: string; createdAt: number; id: string }>(a: T, b: T) =>
  byString(a.name, b.name) || a.createdAt - b.createdAt || byString(a.id, b.id);

/** The stored list is JSON text in older rows and an array in newer ones. */
const list = (v: unknown): string[] =>
  typeof v === "string" ? (JSON.parse(v) as string[]) : (v as string[]);

export function createSeedStore(db: Db) {
  const {
    appApiKeys,
    apps,
    endUserContacts,
    endUsers,
    m2mClients,
    permissions,
    rolePermissions,
    roles,
    tenantMembers,
    tenants,
    webhookConfigs,
  } = db.tables;
  return {
    /** Apps of the workspace, by slug. */
    async appsOf(workspaceId: string) {
      const rows = await db
        .select()
        .from(apps)
        .where(eq(apps.workspaceId, workspaceId))
        .orderBy(asc(apps.slug));
      return rows.sort((a, b) => byString(a.slug, b.slug));
    },

    async customPermissions(appId: string) {
      const rows = await db
        .select({ key: permissions.key, description: permissions.description })
        .from(permissions)
        .where(and(eq(permissions.appId, appId), eq(permissions.isSystem, false)))
        .orderBy(asc(permissions.key));
      return rows.sort((a, b) => byString(a.key, b.key));
    },

    async roles(appId: string): Promise<SeedRoleRow[]> {
      const rows = (
        await db.select().from(roles).where(eq(roles.appId, appId)).orderBy(asc(roles.name))
      ).sort((a, b) => byString(a.name, b.name));
      if (rows.length === 0) return [];
      const bindings = await db
        .select({ roleId: rolePermissions.roleId, key: permissions.key })
        .from(rolePermissions)
        .innerJoin(permissions, eq(permissions.id, rolePermissions.permissionId))
        .where(
          inArray(
            rolePermissions.roleId,
            rows.map((r) => r.id),
          ),
        );
      return rows.map((r) => ({
        name: r.name,
        description: r.description,
        isSystem: r.isSystem,
        permissions: bindings
          .filter((b) => b.roleId === r.id)
          .map((b) => b.key)
          .sort(byString),
      }));
    },

    async m2mClients(appId: string) {
      const rows = await db
        .select()
        .from(m2mClients)
        .where(eq(m2mClients.appId, appId))
        .orderBy(asc(m2mClients.name), asc(m2mClients.createdAt));
      return rows.sort(byNameThenAge).map((r) => ({ ...r, scopes: list(r.scopes) }));
    },

    async apiKeys(appId: string) {
      const rows = await db
        .select()
        .from(appApiKeys)
        .where(eq(appApiKeys.appId, appId))
        .orderBy(asc(appApiKeys.name), asc(appApiKeys.createdAt));
      return rows.sort(byNameThenAge).map((r) => ({ ...r, permissions: list(r.permissions) }));
    },

    /** Accounts with their primary email and whether it is verified, by email then username. */
    async users(appId: string): Promise<SeedUserRow[]> {
      const rows = await db
        .select({
          id: endUsers.id,
          username: endUsers.username,
          displayName: endUsers.displayName,
          role: endUsers.role,
          passwordHash: endUsers.passwordHash,
          email: endUserContacts.value,
          verifiedAt: endUserContacts.verifiedAt,
        })
        .from(endUsers)
        .leftJoin(
          endUserContacts,
          and(
            eq(endUserContacts.userId, endUsers.id),
            eq(endUserContacts.type, "email"),
            eq(endUserContacts.isPrimary, true),
          ),
        )
        .where(eq(endUsers.appId, appId));
      return rows
        .map((r) => ({
          id: r.id,
          email: r.email,
          username: r.username,
          displayName: r.displayName,
          role: r.role,
          passwordHash: r.passwordHash,
          emailVerified: r.verifiedAt !== null && r.verifiedAt !== undefined,
        }))
        .sort((a, b) => byString(a.email ?? "", b.email ?? "") || byString(a.username, b.username));
    },

    /** The app's tenants by slug, each with its members and their accounts' primary email. */
    async tenants(appId: string): Promise<SeedTenantRow[]> {
      const rows = (
        await db.select().from(tenants).where(eq(tenants.appId, appId)).orderBy(asc(tenants.slug))
      ).sort((a, b) => byString(a.slug, b.slug));
      if (rows.length === 0) return [];
      const members = await db
        .select({
          tenantId: tenantMembers.tenantId,
          userId: tenantMembers.userId,
          role: tenantMembers.role,
          email: endUserContacts.value,
        })
        .from(tenantMembers)
        .leftJoin(
          endUserContacts,
          and(
            eq(endUserContacts.userId, tenantMembers.userId),
            eq(endUserContacts.type, "email"),
            eq(endUserContacts.isPrimary, true),
          ),
        )
        .where(eq(tenantMembers.appId, appId));
      return rows.map((t) => ({
        id: t.id,
        slug: t.slug,
        displayName: t.displayName,
        status: t.status,
        metadata: t.metadata ?? {},
        members: members
          .filter((m) => m.tenantId === t.id)
          .map((m) => ({ userId: m.userId, email: m.email ?? null, role: m.role }))
          .sort(
            (a, b) =>
              Number(a.email === null) - Number(b.email === null) ||
              byString(a.email ?? "", b.email ?? "") ||
              byString(a.userId, b.userId),
          ),
      }));
    },

    /** The account holding this email address (any of its addresses, as the tenant service finds members). */
    async accountByEmail(appId: string, email: string): Promise<string | undefined> {
      const hit = await first(
        db
          .select({ userId: endUserContacts.userId })
          .from(endUserContacts)
          .where(
            and(
              eq(endUserContacts.appId, appId),
              eq(endUserContacts.type, "email"),
              eq(endUserContacts.value, email),
            ),
          )
          .limit(1),
      );
      return hit?.userId;
    },

    async tenantId(appId: string, slug: string): Promise<string | undefined> {
      const hit = await first(
        db
          .select({ id: tenants.id })
          .from(tenants)
          .where(and(eq(tenants.appId, appId), eq(tenants.slug, slug)))
          .limit(1),
      );
      return hit?.id;
    },

    /** The app's webhook destination (one at most), without its secret. */
    async webhook(appId: string) {
      return first(
        db
          .select({ url: webhookConfigs.url, eventTypes: webhookConfigs.eventTypes })
          .from(webhookConfigs)
          .where(eq(webhookConfigs.appId, appId))
          .limit(1),
      );
    },
  };
}

export type SeedStore = ReturnType<typeof createSeedStore>;
