/**
 * @module One app's live figures for the console's overview (`GET /v1/apps/{app_id}/stats`, an appliance
 * addition): end users, live sessions, and successful and failed sign-ins over the last 24 hours, counted
 * from the audit log. A read of counts only: nothing about any one user, so no audit row.
 */
import { type Clock, DAY } from "../core/clock.ts";
import type { PlatformPrincipal } from "../core/principal.ts";
import type { Db } from "../db/client.ts";
import type { AppService } from "./service.ts";
import { createAppStatsStore } from "./stats-store.ts";

export const STATS_WINDOW_MS = DAY;

export interface AppStatsDto {
  end_users: number;
  active_sessions: number;
  sign_ins_24h: number;
  failed_sign_ins_24h: number;
}

export interface AppStatsService {
  /** The figures of the app `ref` (UUID or slug), for a caller allowed to read it. */
  forApp(p: PlatformPrincipal, ref: string): Promise<AppStatsDto>;
}

export function createAppStatsService({
  db,
  clock,
  apps,
}: {
  db: Db;
  clock: Clock;
  apps: Pick<AppService, "authorizeApp">;
}): AppStatsService {
  const store = createAppStatsStore(db);
  return {
    async forApp(p, ref) {
      const app = await apps.authorizeApp(p, ref, "heimdall.read");
      const now = clock.now();
      const since = now - STATS_WINDOW_MS;
      return {
        end_users: await store.endUsers(app.id),
        active_sessions: await store.liveSessions(app.id, now),
        sign_ins_24h: await store.auditActionsSince(app.id, "user.signed_in", since),
        failed_sign_ins_24h: await store.auditActionsSince(app.id, "user.signin_failed", since),
      };
    },
  };
}
