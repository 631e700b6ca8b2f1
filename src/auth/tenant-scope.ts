/**
 * @module The tenant an end-user session acts in (docs/decisions.md, "Tenants and invites"): who may enter
 * one (sign-in with `tenant_id`, the MFA completion, `switch-tenant`), what refresh does when the
 * membership or the tenant is gone, and `/auth/me/tenants`.
 *
 * A session may act in a tenant of its app that is `active` and of which the account is a member. Every
 * refusal is one 403 TENANT_ACCESS_DENIED, whether the tenant is unknown, another app's, suspended,
 * archived or the account is no member: the answer tells a signed-in caller nothing about tenants it does
 * not belong to. Permission checks read the membership live (`sessions/store.ts` facts); the `tid`/`trole`
 * claims follow at the next refresh, which also ends the scope of a session whose membership or tenant is gone.
 */
import type { AuditWriter } from "../audit/writer.ts";
import type { AppRef } from "../core/app-ref.ts";
import { SECOND } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import type { CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { SessionService } from "../sessions/service.ts";
import type { LiveSessionFacts, SessionRow } from "../sessions/store.ts";
import type { TokenService } from "../tokens/service.ts";
import { type TokenResponse, tokenResponse } from "./model.ts";
import { type MyTenantsResponse, toMyTenantDto } from "./tenant-model.ts";
import { createTenantScopeStore } from "./tenant-scope-store.ts";

/** A tenant the session acts in: its UUID and the account's role there. */
export interface TenantScope {
  id: string;
  role: string;
}

export interface TenantScopeServiceDeps {
  db: Db;
  audit: AuditWriter;
  sessions: Pick<SessionService, "switchTenant" | "setTenant">;
  tokens: Pick<TokenService, "issueEndUser">;
}

/** The signed-in caller of `switch-tenant`, as the EndUser guard resolves it. */
export interface SwitchCaller {
  userId: string;
  sessionId: string;
  /** The account's app role now. */
  role: string;
}

export interface TenantScopeService {
  /**
   * The tenant `ref` (UUID or display id) names, when the account may act in it now; null otherwise.
   * Reads only, so it runs inside a caller's transaction.
   */
  enter(appId: string, userId: string, ref: string): Promise<TenantScope | null>;
  /**
   * When a sign-in's MFA challenge completes: the tenant it asked for, checked again (the membership may
   * have ended since); null without one, `denied` (audited as a failed sign-in) when it is refused now.
   * Call inside the completion's transaction.
   */
  atChallengeEnd(
    challenge: { appId: string; userId: string; tenantId: string | null },
    meta: CallMeta,
  ): Promise<TenantScope | null | "denied">;
  /** Moves the caller's session into the tenant and answers a rotated token pair carrying it; 403 otherwise. */
  switchTenant(app: AppRef, caller: SwitchCaller, ref: string, meta: CallMeta): Promise<TokenResponse>;
  /**
   * At refresh: the session's tenant scope now, from its live facts. A session whose membership or tenant
   * is gone leaves the tenant (its row's `tenant_id` cleared, audited) and gets app-scoped tokens.
   */
  atRefresh(
    appId: string,
    session: SessionRow,
    facts: LiveSessionFacts,
    meta: CallMeta,
  ): Promise<TenantScope | null>;
  /** The caller's memberships in the app's active tenants. */
  mine(appId: string, userId: string): Promise<MyTenantsResponse>;
}

export const tenantAccessDenied = () => fail("TENANT_ACCESS_DENIED");

export function createTenantScopeService(deps: TenantScopeServiceDeps): TenantScopeService {
  const { db, audit, sessions, tokens } = deps;
  const store = createTenantScopeStore(db);
  const actor = (userId: string) => ({ type: "end_user" as const, id: userId });

  const enter = async (appId: string, userId: string, ref: string): Promise<TenantScope | null> => {
    const t = await store.access(appId, userId, ref);
    return t && t.status === "active" && t.role !== null ? { id: t.id, role: t.role } : null;
  };

  return {
    enter,

    async atChallengeEnd({ appId, userId, tenantId }, meta) {
      if (tenantId === null) return null;
      const tenant = await enter(appId, userId, tenantId);
      if (tenant) return tenant;
      await audit.record({
        appId,
        action: "user.signin_failed",
        resourceType: "end_user",
        resourceId: userId,
        actor: actor(userId),
        details: { reason: "tenant_access_denied", stage: "mfa", requested_tenant: tenantId },
        meta,
      });
      return "denied";
    },

    async switchTenant(app, caller, ref, meta) {
      const switched = await tx(db, async () => {
        const tenant = await enter(app.id, caller.userId, ref);
        if (!tenant) {
          await audit.record({
            appId: app.id,
            action: "session.tenant_switch_denied",
            resourceType: "session",
            resourceId: caller.sessionId,
            actor: actor(caller.userId),
            // What was asked for, bounded by the body schema; never whether it exists.
            details: { requested_tenant: ref },
            meta,
          });
          return null;
        }
        const opened = await sessions.switchTenant(app.id, caller.sessionId, tenant.id);
        // The guard saw the session live a moment ago; a revocation that landed since wins.
        if (!opened) throw fail("TOKEN_REVOKED");
        await audit.record({
          appId: app.id,
          action: "session.tenant_switched",
          resourceType: "session",
          resourceId: caller.sessionId,
          actor: actor(caller.userId),
          details: { tenant_id: tenant.id, tenant_role: tenant.role, user_id: caller.userId },
          meta,
        });
        return { ...opened, tenant };
      });
      if (!switched) throw tenantAccessDenied();
      const { session, refreshToken, tenant } = switched;
      const access = await tokens.issueEndUser(
        app,
        {
          sub: session.userId,
          sid: session.id,
          role: caller.role,
          amr: session.amr,
          mfaAt: session.mfaAt,
          tenant,
        },
        Math.floor(session.expiresAt / SECOND),
      );
      return tokenResponse(access, refreshToken);
    },

    async atRefresh(appId, session, facts, meta) {
      if (facts.tenantId === null) return null;
      if (facts.tenantRole !== null) return { id: facts.tenantId, role: facts.tenantRole };
      const tenantId = facts.tenantId;
      await tx(db, async () => {
        await sessions.setTenant(session.id, null);
        const status = await store.status(tenantId);
        await audit.record({
          appId,
          action: "session.tenant_scope_ended",
          resourceType: "session",
          resourceId: session.id,
          actor: { type: "system", id: null },
          details: {
            tenant_id: tenantId,
            user_id: session.userId,
            reason: status === "active" ? "membership_ended" : `tenant_${status ?? "deleted"}`,
          },
          meta,
        });
      });
      return null;
    },

    async mine(appId, userId) {
      return { data: (await store.mine(appId, userId)).map(toMyTenantDto) };
    },
  };
}
