/** @module Webhook rows: the per-app destination, the deliveries owed to it, and the attempts made. */
import { and, asc, desc, eq, gte, inArray, isNull, lt, lte, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { webhookDeliveries } from "../db/schema.ts";
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
  const { apps, events, webhookAttempts, webhookConfigs, webhookDeliveries } = db.tables;
  // Every emitted event reads it (the fan-out); compiled once on SQLite.
  const configByApp =
    db.engine === "sqlite"
      ? db
          .select()
          .from(webhookConfigs)
          .where(eq(webhookConfigs.appId, sql.placeholder("appId")))
          .prepare()
      : null;

  return {
    configOf: async (appId: string): Promise<WebhookConfigRow | undefined> =>
      configByApp
        ? configByApp.get({ appId })
        : await first(db.select().from(webhookConfigs).where(eq(webhookConfigs.appId, appId)).limit(1)),

    async insertConfig(row: WebhookConfigRow): Promise<void> {
      await db.insert(webhookConfigs).values(row);
    },

    async updateConfig(id: string, patch: Partial<WebhookConfigRow>): Promise<void> {
      await db.update(webhookConfigs).set(patch).where(eq(webhookConfigs.id, id));
    },

    async deleteConfig(id: string): Promise<number> {
      return affected(await db.delete(webhookConfigs).where(eq(webhookConfigs.id, id)));
    },

    async insertDelivery(row: typeof webhookDeliveries.$inferInsert): Promise<void> {
      await db.insert(webhookDeliveries).values(row).onConflictDoNothing();
    },

    /** Apps with a delivery due now to an enabled destination. */
    async dueApps(now: number): Promise<string[]> {
      return (
        await db
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
      ).map((r) => r.appId);
    },

    /** One app's pending deliveries whose time has come, to an enabled destination, oldest event first. */
    async due(now: number, limit: number, appId: string): Promise<DueDelivery[]> {
      return await db
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
        .orderBy(
          asc(webhookDeliveries.nextAttemptAt),
          asc(events.createdAt),
          asc(events.id),
          asc(webhookDeliveries.id),
        )
        .limit(limit);
    },

    /**
     * Takes a due delivery for one attempt by pushing `next_attempt_at` to `leaseUntil`, if it is still
     * pending and due: of several runs (instances) that read it, exactly one changes the row and sends it.
     */
    async claim(id: string, now: number, leaseUntil: number): Promise<boolean> {
      const result = await db
        .update(webhookDeliveries)
        .set({ nextAttemptAt: leaseUntil })
        .where(
          and(
            eq(webhookDeliveries.id, id),
            eq(webhookDeliveries.status, "pending"),
            lte(webhookDeliveries.nextAttemptAt, now),
          ),
        );
      return affected(result) > 0;
    },

    async updateDelivery(id: string, patch: Partial<typeof webhookDeliveries.$inferInsert>): Promise<void> {
      await db.update(webhookDeliveries).set(patch).where(eq(webhookDeliveries.id, id));
    },

    async insertAttempt(row: WebhookAttemptRow): Promise<void> {
      await db.insert(webhookAttempts).values(row);
    },

    async attempts(appId: string, limit: number): Promise<WebhookAttemptRow[]> {
      return await db
        .select()
        .from(webhookAttempts)
        .where(eq(webhookAttempts.appId, appId))
        .orderBy(desc(webhookAttempts.attemptedAt), desc(webhookAttempts.id))
        .limit(limit);
    },

    async pendingCount(): Promise<number> {
      const found = await first(
        db
          .select({ n: sql<number>`count(*)` })
          .from(webhookDeliveries)
          .where(eq(webhookDeliveries.status, "pending")),
      );
      // PostgreSQL's count is a bigint, which arrives as a string.
      return Number(found?.n ?? 0);
    },

    /** Events of the app from `since` on (oldest first), for a replay. */
    async eventsSince(appId: string, since: number, types: readonly string[]): Promise<{ id: string }[]> {
      const typed = types.length > 0 ? inArray(events.type, [...types]) : undefined;
      return await db
        .select({ id: events.id })
        .from(events)
        .where(and(eq(events.appId, appId), gte(events.createdAt, since), typed))
        .orderBy(asc(events.createdAt), asc(events.id));
    },

    /** Marks an existing delivery of the event pending again (a replay), or says there is none. */
    async requeue(configId: string, eventId: string, now: number): Promise<boolean> {
      return (
        affected(
          await db
            .update(webhookDeliveries)
            .set({ status: "pending", nextAttemptAt: now, attempts: 0, createdAt: now })
            .where(and(eq(webhookDeliveries.configId, configId), eq(webhookDeliveries.eventId, eventId))),
        ) > 0
      );
    },

    appExists: async (appId: string) =>
      (await first(db.select({ id: apps.id }).from(apps).where(eq(apps.id, appId)).limit(1))) !== undefined,

    /** Retention: attempts and finished deliveries before `cutoff`, and events no delivery still needs. */
    async prune(cutoff: number): Promise<{ attempts: number; deliveries: number; events: number }> {
      const attempts = affected(
        await db.delete(webhookAttempts).where(lt(webhookAttempts.attemptedAt, cutoff)),
      );
      const deliveries = affected(
        await db
          .delete(webhookDeliveries)
          .where(
            and(
              inArray(webhookDeliveries.status, ["delivered", "failed"]),
              lt(webhookDeliveries.createdAt, cutoff),
            ),
          ),
      );
      const pendingEvents = db
        .select({ id: webhookDeliveries.eventId })
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.status, "pending"));
      const removed = affected(
        await db
          .delete(events)
          .where(and(lt(events.createdAt, cutoff), sql`${events.id} NOT IN ${pendingEvents}`)),
      );
      return { attempts, deliveries, events: removed };
    },
  };
}

export type WebhookStore = ReturnType<typeof createWebhookStore>;
