/** @module Wire shapes of the session's tenant: `POST /auth/switch-tenant` and `GET /auth/me/tenants`. */
import { z } from "zod";
import { iso } from "../core/clock.ts";
import type { MyTenantRow } from "./tenant-scope-store.ts";

/** A tenant's UUID or its `tnt_` display id; anything longer names no tenant. */
export const tenantRef = z.string().trim().min(1).max(64);

export const switchTenantSchema = z.object({ tenant_id: tenantRef });

export type SwitchTenantInput = z.output<typeof switchTenantSchema>;

/** The contract's TenantMembershipForMeDto. */
export interface MyTenantDto {
  tenant_id: string;
  display_id: string;
  tenant_slug: string;
  display_name: string;
  role_name: string;
  joined_at: string;
}

export interface MyTenantsResponse {
  data: MyTenantDto[];
}

export const toMyTenantDto = (r: MyTenantRow): MyTenantDto => ({
  tenant_id: r.id,
  display_id: r.displayId,
  tenant_slug: r.slug,
  display_name: r.displayName,
  role_name: r.role,
  joined_at: iso(r.joinedAt),
});
