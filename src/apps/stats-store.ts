/** @module The counts behind one app's live figures (prepared once on SQLite): end users, live sessions, audit rows of an action since a time. */
import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { row } from "../db/query.ts";

export interface AppStatsStore {
  endUsers(appId: string): Promise<number>;
  liveSessions(appId: string, now: number): Promise<number>;
  /** Audit rows of `action` on the app's chain at or after `since`. */
  auditActionsSince(appId: string, action: string, since: number): Promise<number>;
}

export function createAppStatsStore(db: Db): AppStatsStore {
  if (db.engine === "postgres") {
    const n = async (query: SQL) => Number((await row<{ n: number | string }>(db, query))?.n ?? 0);
    return {
      endUsers: (appId) => n(sql`SELECT count(*) AS n FROM end_users WHERE app_id = ${appId}`),
      liveSessions: (appId, now) =>
        n(
          sql`SELECT count(*) AS n FROM end_user_sessions WHERE app_id = ${appId} AND revoked_at IS NULL AND expires_at > ${now}`,
        ),
      auditActionsSince: (appId, action, since) =>
        n(
          sql`SELECT count(*) AS n FROM audit_log WHERE app_id = ${appId} AND action = ${action} AND created_at >= ${since}`,
        ),
    };
  }
  const client = db.$client;
  const endUsers = client.query<{ n: number }, [string]>(
    "SELECT count(*) AS n FROM end_users WHERE app_id = ?",
  );
  const sessions = client.query<{ n: number }, [string, number]>(
    "SELECT count(*) AS n FROM end_user_sessions WHERE app_id = ? AND revoked_at IS NULL AND expires_at > ?",
  );
  // Walks the (app_id, action, seq) index: the rows of one action on one app, bounded by the retention.
  const actions = client.query<{ n: number }, [string, string, number]>(
    "SELECT count(*) AS n FROM audit_log WHERE app_id = ? AND action = ? AND created_at >= ?",
  );
  return {
    endUsers: async (appId) => endUsers.get(appId)?.n ?? 0,
    liveSessions: async (appId, now) => sessions.get(appId, now)?.n ?? 0,
    auditActionsSince: async (appId, action, since) => actions.get(appId, action, since)?.n ?? 0,
  };
}
