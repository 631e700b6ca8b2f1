/** @module What the tenant service's two halves (`service.ts` for tenants, `members.ts` for memberships) share: its interface, deps and context. */
import type { AppAction, AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { AppRef } from "../core/app-ref.ts";
import type { Clock } from "../core/clock.ts";
import type { Page } from "../core/pagination.ts";
import type { AuditActor, CallMeta, PakPrincipal, PlatformPrincipal } from "../core/principal.ts";
import type { Db } from "../db/client.ts";
import type { EventEmitter } from "../events/emit.ts";
import type {
  AddMemberInput,
  AddMemberResultDto,
  CreateTenantInput,
  ListMembersQuery,
  ListTenantsQuery,
  TenantDto,
  TenantMembershipDto,
  TenantRow,
  UpdateMemberRoleInput,
  UpdateTenantInput,
} from "./model.ts";
import type { createTenantStore } from "./store.ts";

/** Who acts on which app's tenants. */
export interface TenantScope {
  readonly appId: string;
  readonly workspaceId: string;
  readonly actor: AuditActor;
}

export interface TenantService {
  /** The Admin API's (and the seed file's) scope: the app `p` may act on with `action`; writes refuse an archived app. */
  forPlatform(p: PlatformPrincipal, appRef: string, action: AppAction): Promise<TenantScope>;
  /** The Consumer PAK lane's scope: the guard already checked the key's action on the app. */
  forConsumer(app: AppRef, p: PakPrincipal): TenantScope;
  list(s: TenantScope, query: ListTenantsQuery): Promise<Page<TenantDto>>;
  get(s: TenantScope, tenantRef: string): Promise<TenantDto>;
  create(s: TenantScope, input: CreateTenantInput, meta: CallMeta): Promise<TenantDto>;
  update(s: TenantScope, tenantRef: string, input: UpdateTenantInput, meta: CallMeta): Promise<TenantDto>;
  remove(s: TenantScope, tenantRef: string, meta: CallMeta): Promise<void>;
  listMembers(s: TenantScope, tenantRef: string, query: ListMembersQuery): Promise<Page<TenantMembershipDto>>;
  addMember(
    s: TenantScope,
    tenantRef: string,
    input: AddMemberInput,
    meta: CallMeta,
  ): Promise<AddMemberResultDto>;
  removeMember(s: TenantScope, tenantRef: string, accountId: string, meta: CallMeta): Promise<void>;
  updateMemberRole(
    s: TenantScope,
    tenantRef: string,
    accountId: string,
    input: UpdateMemberRoleInput,
    meta: CallMeta,
  ): Promise<TenantMembershipDto>;
}

export interface TenantServiceDeps {
  db: Db;
  clock: Clock;
  audit: Pick<AuditWriter, "record">;
  events: EventEmitter;
  apps: Pick<AppService, "authorizeApp" | "authConfigOf">;
}

/** What both halves share: the service's deps, the tenant store, the tenant lookup and the audit row. */
export interface TenantContext {
  deps: TenantServiceDeps;
  store: ReturnType<typeof createTenantStore>;
  /** The scope's tenant by UUID or `tnt_…` display id; another app's tenant is TENANT_NOT_FOUND. */
  tenantOf(s: TenantScope, ref: string): Promise<TenantRow>;
  /** The audit row of a change, written by the caller inside the change's transaction. */
  record(
    s: TenantScope,
    meta: CallMeta,
    action: string,
    resourceType: "tenant" | "tenant_member" | "user",
    resourceId: string,
    details: Record<string, unknown>,
  ): Promise<string>;
}
