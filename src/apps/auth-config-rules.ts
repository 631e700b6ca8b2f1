/**
 * @module An app's auth config: read and update (a `signing_alg` change schedules a key of the new
 * algorithm in the same transaction), and the `enforce_app_permissions` secure default: adopting it for
 * rows that predate it, and naming the apps left open. Part of the app service (`service.ts` composes it).
 */
import { iso } from "../core/clock.ts";
import { actorOf, SYSTEM_ACTOR } from "../core/principal.ts";
import { tx } from "../db/client.ts";
import {
  applyAuthConfigPatch,
  ENFORCEMENT_CHOSEN,
  isUnchosenOptOut,
  resolveAuthConfig,
  storedAuthConfig,
} from "./auth-config.ts";
import type { AppContext, AppService } from "./context.ts";
import type { AppRow } from "./model.ts";

export type AppAuthConfigRules = Pick<
  AppService,
  "getAuthConfig" | "updateAuthConfig" | "authConfigOf" | "adoptSecureDefault" | "unenforcedApps"
>;

export function createAppAuthConfigRules(ctx: AppContext): AppAuthConfigRules {
  const { deps, store, authorizeApp, writable } = ctx;
  const { db, clock, audit, keys, log } = deps;

  return {
    async getAuthConfig(p, ref) {
      const app = await authorizeApp(p, ref, "heimdall.read");
      return resolveAuthConfig(await store.authConfig(app.id));
    },

    async updateAuthConfig(p, ref, patch, meta) {
      const app = await authorizeApp(p, ref, "heimdall.update");
      writable(app);
      const wanted = patch.signing_alg;
      // A new algorithm needs a key of it: generated off the event loop before the (synchronous) transaction,
      // as at app creation. Nothing awaits between the check inside and the write, so the two agree.
      const material =
        wanted !== undefined && wanted !== resolveAuthConfig(await store.authConfig(app.id)).signing_alg
          ? await keys.generateKeyMaterial(wanted)
          : null;
      const result = await tx(db, async () => {
        // Concurrent patches of one app (other instances on PostgreSQL) take turns: each reads what the last wrote.
        await store.byIdForUpdate(app.id);
        const stored = await store.authConfig(app.id);
        const current = resolveAuthConfig(stored);
        const { next, changed } = applyAuthConfigPatch(current, patch);
        if (changed.length === 0) return { next, changed };
        if (changed.includes("signing_alg")) {
          // Only another process switching it back meanwhile gets here; the write is refused, not half-done.
          if (material?.alg !== next.signing_alg) throw new Error("signing_alg changed during the update");
          const s = await keys.scheduleAlgorithm(app.id, material);
          await audit.record({
            appId: app.id,
            workspaceId: app.workspaceId,
            action: "app.signing_alg_changed",
            resourceType: "app",
            resourceId: app.id,
            actor: actorOf(p),
            details: {
              from: current.signing_alg,
              to: next.signing_alg,
              next_kid: s.nextKid,
              activates_at: iso(s.activatesAt),
              withdrawn_kid: s.withdrawnKid,
            },
            meta,
          });
        }
        // Sending the field at all is the operator's choice; the mark stays until the row is replaced.
        const chosen = patch.enforce_app_permissions !== undefined || stored?.[ENFORCEMENT_CHOSEN] === true;
        await store.putAuthConfig(app.id, storedAuthConfig(next, chosen), clock.now());
        await audit.record({
          appId: app.id,
          workspaceId: app.workspaceId,
          action: "auth_config.updated",
          resourceType: "auth_config",
          resourceId: app.id,
          actor: actorOf(p),
          details: { changed },
          meta,
        });
        return { next, changed };
      });
      if (result.changed.includes("enforce_app_permissions") && !result.next.enforce_app_permissions) {
        // Any valid token of the app now passes the admin lane's permission checks: worth a line in the log.
        log.warn("enforce_app_permissions turned off: the admin lane no longer checks permissions", {
          app_id: app.id,
          slug: app.slug,
          actor_type: actorOf(p).type,
          actor_id: actorOf(p).id,
          request_id: meta.requestId,
        });
      }
      return result.next;
    },

    authConfigOf: async (appId) => resolveAuthConfig(await store.authConfig(appId)),

    async adoptSecureDefault() {
      return await tx(db, async () => {
        const adopted: AppRow[] = [];
        for (const { app, config } of await store.withAuthConfigs()) {
          if (!config || !isUnchosenOptOut(config)) continue;
          await store.putAuthConfig(app.id, { ...config, enforce_app_permissions: true }, clock.now());
          await audit.record({
            appId: app.id,
            workspaceId: app.workspaceId,
            action: "auth_config.updated",
            resourceType: "auth_config",
            resourceId: app.id,
            actor: SYSTEM_ACTOR,
            details: { changed: ["enforce_app_permissions"], reason: "secure_default" },
          });
          adopted.push(app);
        }
        return adopted;
      });
    },

    async unenforcedApps() {
      return (await store.withAuthConfigs())
        .filter(({ config }) => !resolveAuthConfig(config).enforce_app_permissions)
        .map(({ app }) => app);
    },
  };
}
