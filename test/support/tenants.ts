/** @module Test helpers for tenants: tenant and membership rows written straight to the database, as the tenant service would leave them. */
import { randomBytes } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { newId } from "../../src/core/ids.ts";
import type { TestContext } from "./harness.ts";

export type TenantStatus = "active" | "suspended" | "archived";

export interface TestTenant {
  id: string;
  /** `tnt_` + 12 lowercase hex. */
  displayId: string;
  slug: string;
  displayName: string;
}

/** Inserts a tenant of `appId`: active, no metadata, slug and display name derived from `slug` unless given. */
export async function insertTenant(
  ctx: TestContext,
  appId: string,
  opts: { slug: string; displayName?: string; status?: TenantStatus },
): Promise<TestTenant> {
  const { tenants } = ctx.deps.db.tables;
  const now = ctx.clock.now();
  const t: TestTenant = {
    id: newId(ctx.clock),
    displayId: `tnt_${randomBytes(6).toString("hex")}`,
    slug: opts.slug.toLowerCase(),
    displayName: opts.displayName ?? `Tenant ${opts.slug}`,
  };
  await ctx.deps.db.insert(tenants).values({
    id: t.id,
    appId,
    displayId: t.displayId,
    slug: t.slug,
    displayName: t.displayName,
    status: opts.status ?? "active",
    metadata: {},
    createdAt: now,
    updatedAt: now,
  });
  return t;
}

/** Makes the account a member of the tenant with `role` (an app role name); returns the membership id. */
export async function addTenantMember(
  ctx: TestContext,
  appId: string,
  tenantId: string,
  userId: string,
  role: string,
): Promise<string> {
  const { tenantMembers } = ctx.deps.db.tables;
  const id = newId(ctx.clock);
  await ctx.deps.db
    .insert(tenantMembers)
    .values({ id, appId, tenantId, userId, role, invitedBy: null, joinedAt: ctx.clock.now() });
  return id;
}

export async function setTenantMemberRole(
  ctx: TestContext,
  tenantId: string,
  userId: string,
  role: string,
): Promise<void> {
  const { tenantMembers } = ctx.deps.db.tables;
  await ctx.deps.db
    .update(tenantMembers)
    .set({ role })
    .where(and(eq(tenantMembers.tenantId, tenantId), eq(tenantMembers.userId, userId)));
}

export async function removeTenantMember(ctx: TestContext, tenantId: string, userId: string): Promise<void> {
  const { tenantMembers } = ctx.deps.db.tables;
  await ctx.deps.db
    .delete(tenantMembers)
    .where(and(eq(tenantMembers.tenantId, tenantId), eq(tenantMembers.userId, userId)));
}

export async function setTenantStatus(
  ctx: TestContext,
  tenantId: string,
  status: TenantStatus,
): Promise<void> {
  const { tenants } = ctx.deps.db.tables;
  await ctx.deps.db
    .update(tenants)
    .set({ status, updatedAt: ctx.clock.now() })
    .where(eq(tenants.id, tenantId));
}
