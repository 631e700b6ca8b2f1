/** @module Start-up review of `enforce_app_permissions`: old rows adopt the secure default, and every app left open is named in the log. */
import type { Logger } from "../core/logger.ts";
import type { PermissionResolver } from "../rbac/resolver.ts";
import type { AppService } from "./service.ts";

/**
 * Run once by `serve` before it listens. An operator who turned the admin lane's checks off sees that
 * choice again at every start; an app switched on by the upgrade is named once, when it happens.
 */
export async function reviewAdminLaneEnforcement(deps: {
  apps: Pick<AppService, "adoptSecureDefault" | "unenforcedApps">;
  log: Pick<Logger, "warn">;
  permissions: Pick<PermissionResolver, "invalidate">;
}): Promise<void> {
  for (const app of await deps.apps.adoptSecureDefault()) {
    // Adoption may have bound member defaults: what was cached for the app's roles is stale.
    deps.permissions.invalidate(app.id);
    // The stored off predates the secure default and carries no operator's mark.
    deps.log.warn("enforce_app_permissions turned on: the stored off predates the secure default", {
      app_id: app.id,
      slug: app.slug,
    });
  }
  for (const app of await deps.apps.unenforcedApps()) {
    deps.log.warn("enforce_app_permissions is off: any valid token of the app passes its admin lane", {
      app_id: app.id,
      slug: app.slug,
      status: app.status,
    });
  }
}
