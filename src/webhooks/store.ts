/** @module Webhook rows: the per-app destination, the deliveries owed to it, and the attempts made. */
import { and, asc, desc, eq, gte, inArray, isNull, lt, lte, sql } from "drizzle-orm";
import { changes, type Db } from "../db/client.ts";
import { apps, events, webhookAttempts, webhookConfigs, webhookDeliveries } from "../db/schema.ts";
import type { WebhookAttemptRow, WebhookConfigRow } from "./model.ts";

export interface DueDelivery {
  id: string;
  appId: string;
  configId: string;
  attempts: number;
  createdAt: number;
  eventId: string;
  eventType: string;
  eventData: Record<string, unknown>;
  eventCreatedAt: number;
  url: string;
  secretId: string;
}

export function createWebhookStore(db: Db) {
  const configByApp = db
    .select()
    .from(webhookConfigs)
    .where(eq(webhookConfigs.appId, sql.placeholder("appId")))
    .prepare();

  return {
    configOf: async (appId: string): Promise<WebhookConfigRow | undefined> => configByApp.get({ appId }),

    async insertConfig(row: WebhookConfigRow): Promise<void> {
      db.insert(webhookConfigs).values(row).run();
    },

    async updateConfig(id: string, patch: Partial<WebhookConfigRow>): Promise<void> {
      db.update(webhookConfigs).set(patch).where(eq(webhookConfigs.id, id)).run();
    },

    async deleteConfig(id: string): Promise<number> {
      return changes(db.delete(webhookConfigs).where(eq(webhookConfigs.id, id)).run());
    },

    async insertDelivery(row: typeof webhookDeliveries.$inferInsert): Promise<void> {
      db.insert(webhookDeliveries).values(row).onConflictDoNothing().run();
    },

    /** Apps with a delivery due now to an enabled destination. */
    async dueApps(now: number): Promise<string[]> {
      return db
        .selectDistinct({ appId: webhookDeliveries.appId })
        .from(webhookDeliveries)
        .innerJoin(webhookConfigs, eq(webhookConfigs.id, webhookDeliveries.configId))
        .where(
          and(
            eq(webhookDeliveries.status, "pending"),
            lte(webhookDeliveries.nextAttemptAt, now),
            isNull(webhookConfigs.disabledAt),
          ),
        )
        .all()
        .map((r) => r.appId);
    },

    /** One app's pending deliveries whose time has come, to an enabled destination, oldest event first. */
    async due(now: number, limit: number, appId: string): Promise<DueDelivery[]> {
      return db
        .select({
          id: webhookDeliveries.id,
          appId: webhookDeliveries.appId,
          configId: webhookDeliveries.configId,
          attempts: webhookDeliveries.attempts,
          createdAt: webhookDeliveries.createdAt,
          eventId: events.id,
          eventType: events.type,
          eventData: events.data,
          eventCreatedAt: events.createdAt,
          url: webhookConfigs.url,
          secretId: webhookConfigs.secretId,
        })
        .from(webhookDeliveries)
        .innerJoin(events, eq(events.id, webhookDeliveries.eventId))
        .innerJoin(webhookConfigs, eq(webhookConfigs.id, webhookDeliveries.configId))
        .where(
          and(
            eq(webhookDeliveries.appId, appId),
            eq(webhookDeliveries.status, "pending"),
            lte(webhookDeliveries.nextAttemptAt, now),
            isNull(webhookConfigs.disabledAt),
          ),
        )
        .orderBy(asc(webhookDeliveries.nextAttemptAt), asc(events.createdAt), asc(events.id))
        .limit(limit)
        .all();
    },

    async updateDelivery(id: string, patch: Partial<typeof webhookDeliveries.$inferInsert>): Promise<void> {
      db.update(webhookDeliveries).set(patch).where(eq(webhookDeliveries.id, id)).run();
    },

    async insertAttempt(row: WebhookAttemptRow): Promise<void> {
      db.insert(webhookAttempts).values(row).run();
    },

    async attempts(appId: string, limit: number): Promise<WebhookAttemptRow[]> {
      return db
        .select()
        .from(webhookAttempts)
        .where(eq(webhookAttempts.appId, appId))
        .orderBy(desc(webhookAttempts.attemptedAt), desc(webhookAttempts.id))
        .limit(limit)
        .all();
    },

    async pendingCount(): Promise<number> {
      return (
        db
          .select({ n: sql<number>`count(*)` })
          .from(webhookDeliveries)
          .where(eq(webhookDeliveries.status, "pending"))
          .get()?.n ?? 0
      );
    },

    /** Events of the app from `since` on (oldest first), for a replay. */
    async eventsSince(appId: string, since: number, types: readonly string[]): Promise<{ id: string }[]> {
      const typed = types.length > 0 ? inArray(events.type, [...types]) : undefined;
      return db
        .select({ id: events.id })
        .from(events)
        .where(and(eq(events.appId, appId), gte(events.createdAt, since), typed))
        .orderBy(asc(events.createdAt), asc(events.id))
        .all();
    },

    /** Marks an existing delivery of the event pending again (a replay), or says there is none. */
    async requeue(configId: string, eventId: string, now: number): Promise<boolean> {
      return (
        changes(
          db
            .update(webhookDeliveries)
            .set({ status: "pending", nextAttemptAt: now, attempts: 0, createdAt: now })
            .where(and(eq(webhookDeliveries.configId, configId), eq(webhookDeliveries.eventId, eventId)))
            .run(),
        ) > 0
      );
    },

    appExists: async (appId: string) =>
      db.select({ id: apps.id }).from(apps).where(eq(apps.id, appId)).get() !== undefined,

    /** Retention: attempts and finished deliveries before `cutoff`, and events no delivery still needs. */
    async prune(cutoff: number): Promise<{ attempts: number; deliveries: number; events: number }> {
      const attempts = changes(
        db.delete(webhookAttempts).where(lt(webhookAttempts.attemptedAt, cutoff)).run(),
      );
      const deliveries = changes(
        db
          .delete(webhookDeliveries)
          .where(
            and(
              inArray(webhookDeliveries.status, ["delivered", "failed"]),
              lt(webhookDeliveries.createdAt, cutoff),
            ),
          )
          .run(),
      );
      const pendingEvents = db
        .select({ id: webhookDeliveries.eventId })
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.status, "pending"));
      const removed = changes(
        db
          .delete(events)
          .where(and(lt(events.createdAt, cutoff), sql`${events.id} NOT IN ${pendingEvents}`))
          .run(),
      );
      return { attempts, deliveries, events: removed };
    },
  };
}

export type WebhookStore = ReturnType<typeof createWebhookStore>;
