/** @module Drizzle queries of the email module: per-app notification settings and the durable outbox. */
import { and, asc, desc, eq, inArray, lt, lte, or } from "drizzle-orm";
import type { Position } from "../core/pagination.ts";
import { changes, type Db } from "../db/client.ts";
import { emailOutbox, notificationSettings } from "../db/schema.ts";

export type NotificationSettingsRow = typeof notificationSettings.$inferSelect;
export type OutboxRow = typeof emailOutbox.$inferSelect;

export function createEmailStore(db: Db) {
  return {
    async settings(appId: string): Promise<NotificationSettingsRow | undefined> {
      return db.select().from(notificationSettings).where(eq(notificationSettings.appId, appId)).get();
    },

    async putSettings(row: NotificationSettingsRow): Promise<void> {
      const { appId: _, createdAt: __, ...set } = row;
      db.insert(notificationSettings)
        .values(row)
        .onConflictDoUpdate({ target: notificationSettings.appId, set })
        .run();
    },

    async insertOutbox(row: typeof emailOutbox.$inferInsert): Promise<void> {
      db.insert(emailOutbox).values(row).run();
    },

    async outboxById(id: string): Promise<OutboxRow | undefined> {
      return db.select().from(emailOutbox).where(eq(emailOutbox.id, id)).get();
    },

    /** Pending rows whose attempt is due, oldest due first. */
    async due(now: number, limit: number): Promise<OutboxRow[]> {
      return db
        .select()
        .from(emailOutbox)
        .where(and(eq(emailOutbox.status, "pending"), lte(emailOutbox.nextAttemptAt, now)))
        .orderBy(asc(emailOutbox.nextAttemptAt), asc(emailOutbox.id))
        .limit(limit)
        .all();
    },

    /**
     * Takes a pending row for one attempt: counts the attempt and pushes `next_attempt_at` past a lease,
     * so neither the delivery job nor a request retries it meanwhile. A process that dies mid-send
     * leaves the row to be picked up again once the lease has passed. False when someone else has it.
     */
    async claim(id: string, now: number, leaseUntil: number): Promise<boolean> {
      const row = db.$client
        .query<{ attempts: number }, [number, string, number]>(
          `UPDATE email_outbox SET attempts = attempts + 1, next_attempt_at = ?1
           WHERE id = ?2 AND status = 'pending' AND next_attempt_at <= ?3 RETURNING attempts`,
        )
        .get(leaseUntil, id, now);
      return row !== null;
    },

    /** Ends the message: its sealed body (destroyed by the caller in the same tx) is no longer referenced. */
    async markSent(id: string, now: number): Promise<void> {
      db.update(emailOutbox)
        .set({ status: "sent", sentAt: now, lastError: null, bodySecretId: null })
        .where(eq(emailOutbox.id, id))
        .run();
    },

    async markRetry(id: string, nextAttemptAt: number, error: string): Promise<void> {
      db.update(emailOutbox).set({ nextAttemptAt, lastError: error }).where(eq(emailOutbox.id, id)).run();
    },

    async markFailed(id: string, error: string): Promise<void> {
      db.update(emailOutbox)
        .set({ status: "failed", lastError: error, bodySecretId: null })
        .where(eq(emailOutbox.id, id))
        .run();
    },

    /** An app's outbox, newest first, keyset-paginated over `(created_at, id)`. */
    async listForApp(appId: string, after: Position | undefined, limit: number): Promise<OutboxRow[]> {
      const before = after
        ? or(
            lt(emailOutbox.createdAt, after.c),
            and(eq(emailOutbox.createdAt, after.c), lt(emailOutbox.id, after.i)),
          )
        : undefined;
      return db
        .select()
        .from(emailOutbox)
        .where(and(eq(emailOutbox.appId, appId), before))
        .orderBy(desc(emailOutbox.createdAt), desc(emailOutbox.id))
        .limit(limit)
        .all();
    },

    /** Drops delivered and abandoned rows created before `cutoff`: they still hold addresses (codes are masked). */
    async purge(cutoff: number): Promise<number> {
      return changes(
        db
          .delete(emailOutbox)
          .where(and(inArray(emailOutbox.status, ["sent", "failed"]), lt(emailOutbox.createdAt, cutoff)))
          .run(),
      );
    },
  };
}

export type EmailStore = ReturnType<typeof createEmailStore>;
