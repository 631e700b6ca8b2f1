/** @module Tenant and membership queries: lookups by id or display id, keyset pages, owner counts. */
import { and, count, desc, eq, lt, or } from "drizzle-orm";
import type { Position } from "../core/pagination.ts";
import type { Db } from "../db/client.ts";
import { roles, tenantMembers, tenants } from "../db/schema.ts";
import type { MemberView, TenantMemberRow, TenantRow, TenantStatus } from "./model.ts";

export function createTenantStore(db: Db) {
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
      return db
        .select()
        .from(tenants)
        .where(and(eq(tenants.appId, appId), eq(column, ref)))
        .get();
    },

    async bySlug(appId: string, slug: string): Promise<TenantRow | undefined> {
      return db
        .select()
        .from(tenants)
        .where(and(eq(tenants.appId, appId), eq(tenants.slug, slug)))
        .get();
    },

    async displayIdTaken(displayId: string): Promise<boolean> {
      return (
        db.select({ id: tenants.id }).from(tenants).where(eq(tenants.displayId, displayId)).get() !==
        undefined
      );
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
        .limit(limit)
        .all();
    },

    async insert(row: TenantRow): Promise<TenantRow> {
      db.insert(tenants).values(row).run();
      return row;
    },

    async update(id: string, set: Partial<typeof tenants.$inferInsert>): Promise<TenantRow> {
      return db.update(tenants).set(set).where(eq(tenants.id, id)).returning().get()!;
    },

    /** Memberships go with it (FK cascade); sessions acting in it fall back to app scope (FK set null). */
    async delete(id: string): Promise<void> {
      db.delete(tenants).where(eq(tenants.id, id)).run();
    },

    async memberCount(tenantId: string): Promise<number> {
      return (
        db.select({ n: count() }).from(tenantMembers).where(eq(tenantMembers.tenantId, tenantId)).get()?.n ??
        0
      );
    },

    async member(tenantId: string, userId: string): Promise<MemberView | undefined> {
      return withRole()
        .where(and(eq(tenantMembers.tenantId, tenantId), eq(tenantMembers.userId, userId)))
        .get();
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
        .limit(limit)
        .all();
    },

    /** How many members hold `role` in the tenant (the last-owner rule). */
    async countWithRole(tenantId: string, role: string): Promise<number> {
      return (
        db
          .select({ n: count() })
          .from(tenantMembers)
          .where(and(eq(tenantMembers.tenantId, tenantId), eq(tenantMembers.role, role)))
          .get()?.n ?? 0
      );
    },

    async insertMember(row: TenantMemberRow): Promise<void> {
      db.insert(tenantMembers).values(row).run();
    },

    async setMemberRole(id: string, role: string): Promise<void> {
      db.update(tenantMembers).set({ role }).where(eq(tenantMembers.id, id)).run();
    },

    async deleteMember(id: string): Promise<void> {
      db.delete(tenantMembers).where(eq(tenantMembers.id, id)).run();
    },
  };
}

export type TenantStore = ReturnType<typeof createTenantStore>;
