/** @module Test helpers for tenants: tenant and membership rows written straight to the database, as the tenant service would leave them. */
import { randomBytes } from "node:crypto";
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
export function insertTenant(
  ctx: TestContext,
  appId: string,
  opts: { slug: string; displayName?: string; status?: TenantStatus },
): TestTenant {
  const now = ctx.clock.now();
  const t: TestTenant = {
    id: newId(ctx.clock),
    displayId: `tnt_${randomBytes(6).toString("hex")}`,
    slug: opts.slug.toLowerCase(),
    displayName: opts.displayName ?? `Tenant ${opts.slug}`,
  };
  ctx.deps.db.$client
    .query(
      `INSERT INTO tenants (id, app_id, display_id, slug, display_name, status, metadata, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, '{}', ?, ?)`,
    )
    .run(t.id, appId, t.displayId, t.slug, t.displayName, opts.status ?? "active", now, now);
  return t;
}

/** Makes the account a member of the tenant with `role` (an app role name); returns the membership id. */
export function addTenantMember(
  ctx: TestContext,
  appId: string,
  tenantId: string,
  userId: string,
  role: string,
): string {
  const id = newId(ctx.clock);
  ctx.deps.db.$client
    .query(
      `INSERT INTO tenant_members (id, app_id, tenant_id, user_id, role, invited_by, joined_at)
       VALUES (?, ?, ?, ?, ?, NULL, ?)`,
    )
    .run(id, appId, tenantId, userId, role, ctx.clock.now());
  return id;
}

export function setTenantMemberRole(ctx: TestContext, tenantId: string, userId: string, role: string): void {
  ctx.deps.db.$client
    .query("UPDATE tenant_members SET role = ? WHERE tenant_id = ? AND user_id = ?")
    .run(role, tenantId, userId);
}

export function removeTenantMember(ctx: TestContext, tenantId: string, userId: string): void {
  ctx.deps.db.$client
    .query("DELETE FROM tenant_members WHERE tenant_id = ? AND user_id = ?")
    .run(tenantId, userId);
}

export function setTenantStatus(ctx: TestContext, tenantId: string, status: TenantStatus): void {
  ctx.deps.db.$client
    .query("UPDATE tenants SET status = ?, updated_at = ? WHERE id = ?")
    .run(status, ctx.clock.now(), tenantId);
}
