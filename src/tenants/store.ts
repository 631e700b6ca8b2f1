/** @module Tenant and membership queries: lookups by id or display id, keyset pages, owner counts. */
import { and, count, desc, eq, lt, or } from "drizzle-orm";
import type { Position } from "../core/pagination.ts";
import type { Db } from "../db/client.ts";
import { first } from "../db/query.ts";
import type { tenants as tenantsTable } from "../db/schema.ts";
import type { MemberView, TenantMemberRow, TenantRow, TenantStatus } from "./model.ts";

export function createTenantStore(db: Db) {
  const { roles, tenantMembers, tenants } = db.tables;
  const memberView = {
    member: tenantMembers,
    roleId: roles.id,
  };
  const withRole = () =>
    db
      .select(memberView)
      .from(tenantMembers)
      .leftJoin(roles, and(eq(roles.appId, tenantMembers.appId), eq(roles.name, tenantMembers.role)));

  return {
    /** The app's tenant with this UUID or `tnt_…` display id; another app's tenant reads as absent. */
    async byRef(appId: string, ref: string): Promise<TenantRow | undefined> {
      const column = ref.startsWith("tnt_") ? tenants.displayId : tenants.id;
      return first(
        db
          .select()
          .from(tenants)
          .where(and(eq(tenants.appId, appId), eq(column, ref)))
          .limit(1),
      );
    },

    async bySlug(appId: string, slug: string): Promise<TenantRow | undefined> {
      return first(
        db
          .select()
          .from(tenants)
          .where(and(eq(tenants.appId, appId), eq(tenants.slug, slug)))
          .limit(1),
      );
    },

    async displayIdTaken(displayId: string): Promise<boolean> {
      const hit = await first(
        db.select({ id: tenants.id }).from(tenants).where(eq(tenants.displayId, displayId)).limit(1),
      );
      return hit !== undefined;
    },

    /** Newest first over `(created_at, id)`, strictly after `after`, optionally of one status. */
    async list(
      appId: string,
      status: TenantStatus | undefined,
      after: Position | undefined,
      limit: number,
    ): Promise<TenantRow[]> {
      const older = after
        ? or(lt(tenants.createdAt, after.c), and(eq(tenants.createdAt, after.c), lt(tenants.id, after.i)))
        : undefined;
      return db
        .select()
        .from(tenants)
        .where(
          and(eq(tenants.appId, appId), status === undefined ? undefined : eq(tenants.status, status), older),
        )
        .orderBy(desc(tenants.createdAt), desc(tenants.id))
        .limit(limit);
    },

    async insert(row: TenantRow): Promise<TenantRow> {
      await db.insert(tenants).values(row);
      return row;
    },

    async update(id: string, set: Partial<typeof tenantsTable.$inferInsert>): Promise<TenantRow> {
      return (await db.update(tenants).set(set).where(eq(tenants.id, id)).returning())[0]!;
    },

    /** Memberships go with it (FK cascade); sessions acting in it fall back to app scope (FK set null). */
    async delete(id: string): Promise<void> {
      await db.delete(tenants).where(eq(tenants.id, id));
    },

    /**
     * Serialises membership changes of one tenant until the transaction ends, so the last-owner count and the
     * change it allows cannot interleave with another writer's (PostgreSQL: the tenant row's lock; SQLite's
     * single writer already does this).
     */
    async lockMembers(tenantId: string): Promise<void> {
      if (db.engine !== "postgres") return;
      const q = db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId));
      // `for` exists on PostgreSQL's builder only (the type is SQLite's).
      await (q as unknown as { for(strength: "update"): typeof q }).for("update");
    },

    async memberCount(tenantId: string): Promise<number> {
      const hit = await first(
        db.select({ n: count() }).from(tenantMembers).where(eq(tenantMembers.tenantId, tenantId)),
      );
      return Number(hit?.n ?? 0);
    },

    async member(tenantId: string, userId: string): Promise<MemberView | undefined> {
      return first(
        withRole()
          .where(and(eq(tenantMembers.tenantId, tenantId), eq(tenantMembers.userId, userId)))
          .limit(1),
      );
    },

    /** Newest first over `(joined_at, id)`, strictly after `after`. */
    async members(tenantId: string, after: Position | undefined, limit: number): Promise<MemberView[]> {
      const older = after
        ? or(
            lt(tenantMembers.joinedAt, after.c),
            and(eq(tenantMembers.joinedAt, after.c), lt(tenantMembers.id, after.i)),
          )
        : undefined;
      return withRole()
        .where(and(eq(tenantMembers.tenantId, tenantId), older))
        .orderBy(desc(tenantMembers.joinedAt), desc(tenantMembers.id))
        .limit(limit);
    },

    /** How many members hold `role` in the tenant (the last-owner rule). */
    async countWithRole(tenantId: string, role: string): Promise<number> {
      const hit = await first(
        db
          .select({ n: count() })
          .from(tenantMembers)
          .where(and(eq(tenantMembers.tenantId, tenantId), eq(tenantMembers.role, role))),
      );
      return Number(hit?.n ?? 0);
    },

    async insertMember(row: TenantMemberRow): Promise<void> {
      await db.insert(tenantMembers).values(row);
    },

    async setMemberRole(id: string, role: string): Promise<void> {
      await db.update(tenantMembers).set({ role }).where(eq(tenantMembers.id, id));
    },

    async deleteMember(id: string): Promise<void> {
      await db.delete(tenantMembers).where(eq(tenantMembers.id, id));
    },
  };
}

export type TenantStore = ReturnType<typeof createTenantStore>;
