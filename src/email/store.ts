/** @module Drizzle queries of the email module: per-app notification settings and the durable outbox. */
import { and, asc, desc, eq, inArray, lt, lte, or, sql } from "drizzle-orm";
import type { Position } from "../core/pagination.ts";
import type { Db } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { emailOutbox, notificationSettings } from "../db/schema.ts";

export type NotificationSettingsRow = typeof notificationSettings.$inferSelect;
export type OutboxRow = typeof emailOutbox.$inferSelect;

export function createEmailStore(db: Db) {
  const { emailOutbox, notificationSettings } = db.tables;
  return {
    async settings(appId: string): Promise<NotificationSettingsRow | undefined> {
      return await first(
        db.select().from(notificationSettings).where(eq(notificationSettings.appId, appId)).limit(1),
      );
    },

    async putSettings(row: NotificationSettingsRow): Promise<void> {
      const { appId: _, createdAt: __, ...set } = row;
      await db
        .insert(notificationSettings)
        .values(row)
        .onConflictDoUpdate({ target: notificationSettings.appId, set });
    },

    async insertOutbox(row: typeof emailOutbox.$inferInsert): Promise<void> {
      await db.insert(emailOutbox).values(row);
    },

    async outboxById(id: string): Promise<OutboxRow | undefined> {
      return await first(db.select().from(emailOutbox).where(eq(emailOutbox.id, id)).limit(1));
    },

    /** Pending rows whose attempt is due, oldest due first. */
    async due(now: number, limit: number): Promise<OutboxRow[]> {
      return await db
        .select()
        .from(emailOutbox)
        .where(and(eq(emailOutbox.status, "pending"), lte(emailOutbox.nextAttemptAt, now)))
        .orderBy(asc(emailOutbox.nextAttemptAt), asc(emailOutbox.id))
        .limit(limit);
    },

    /**
     * Takes a pending row for one attempt: counts the attempt and pushes `next_attempt_at` past a lease,
     * so neither the delivery job nor a request retries it meanwhile. A process that dies mid-send
     * leaves the row to be picked up again once the lease has passed. False when someone else has it: the
     * condition is re-checked on the row itself, so of two runs (or instances) only one changes it.
     */
    async claim(id: string, now: number, leaseUntil: number): Promise<boolean> {
      const result = await db
        .update(emailOutbox)
        .set({ attempts: sql`${emailOutbox.attempts} + 1`, nextAttemptAt: leaseUntil })
        .where(
          and(eq(emailOutbox.id, id), eq(emailOutbox.status, "pending"), lte(emailOutbox.nextAttemptAt, now)),
        );
      return affected(result) > 0;
    },

    /** Ends the message: its sealed body (destroyed by the caller in the same tx) is no longer referenced. */
    async markSent(id: string, now: number): Promise<void> {
      await db
        .update(emailOutbox)
        .set({ status: "sent", sentAt: now, lastError: null, bodySecretId: null })
        .where(eq(emailOutbox.id, id));
    },

    async markRetry(id: string, nextAttemptAt: number, error: string): Promise<void> {
      await db.update(emailOutbox).set({ nextAttemptAt, lastError: error }).where(eq(emailOutbox.id, id));
    },

    async markFailed(id: string, error: string): Promise<void> {
      await db
        .update(emailOutbox)
        .set({ status: "failed", lastError: error, bodySecretId: null })
        .where(eq(emailOutbox.id, id));
    },

    /** An app's outbox, newest first, keyset-paginated over `(created_at, id)`. */
    async listForApp(appId: string, after: Position | undefined, limit: number): Promise<OutboxRow[]> {
      const before = after
        ? or(
            lt(emailOutbox.createdAt, after.c),
            and(eq(emailOutbox.createdAt, after.c), lt(emailOutbox.id, after.i)),
          )
        : undefined;
      return await db
        .select()
        .from(emailOutbox)
        .where(and(eq(emailOutbox.appId, appId), before))
        .orderBy(desc(emailOutbox.createdAt), desc(emailOutbox.id))
        .limit(limit);
    },

    /** Drops delivered and abandoned rows created before `cutoff`: they still hold addresses (codes are masked). */
    async purge(cutoff: number): Promise<number> {
      return affected(
        await db
          .delete(emailOutbox)
          .where(and(inArray(emailOutbox.status, ["sent", "failed"]), lt(emailOutbox.createdAt, cutoff))),
      );
    },
  };
}

export type EmailStore = ReturnType<typeof createEmailStore>;
