/** @module Drizzle queries of the codes module: `one_time_codes` (look-up by MAC, issue, supersede, consume, purge) and the contact it verifies. */
import { and, eq, gt, isNull, lt } from "drizzle-orm";
import { changes, type Db } from "../db/client.ts";
import { endUserContacts, oneTimeCodes } from "../db/schema.ts";

export type CodeRow = typeof oneTimeCodes.$inferSelect;
export type CodePurpose = CodeRow["purpose"];

export function createCodeStore(db: Db) {
  const live = (now: number) => and(isNull(oneTimeCodes.consumedAt), gt(oneTimeCodes.expiresAt, now));

  return {
    /** The app's live code with this hash (the `(app_id, code_hash)` index), if any. */
    async liveByHash(appId: string, codeHash: string, now: number): Promise<CodeRow | undefined> {
      return db
        .select()
        .from(oneTimeCodes)
        .where(and(eq(oneTimeCodes.appId, appId), eq(oneTimeCodes.codeHash, codeHash), live(now)))
        .get();
    },

    async insert(row: CodeRow): Promise<void> {
      db.insert(oneTimeCodes).values(row).run();
    },

    /** A new code for a contact and purpose replaces the unused previous one: it is deleted. */
    async supersede(contactId: string, purpose: CodePurpose): Promise<number> {
      return changes(
        db
          .delete(oneTimeCodes)
          .where(
            and(
              eq(oneTimeCodes.contactId, contactId),
              eq(oneTimeCodes.purpose, purpose),
              isNull(oneTimeCodes.consumedAt),
            ),
          )
          .run(),
      );
    },

    /** Marks a live code used; false when it was used (or expired) meanwhile — single use under concurrency. */
    async consume(id: string, now: number): Promise<boolean> {
      return (
        changes(
          db
            .update(oneTimeCodes)
            .set({ consumedAt: now })
            .where(and(eq(oneTimeCodes.id, id), live(now)))
            .run(),
        ) === 1
      );
    },

    /** Ends every live code of `purpose` for the account (a reset makes its other reset codes pointless). */
    async consumeAllOfUser(userId: string, purpose: CodePurpose, now: number): Promise<number> {
      return changes(
        db
          .update(oneTimeCodes)
          .set({ consumedAt: now })
          .where(and(eq(oneTimeCodes.userId, userId), eq(oneTimeCodes.purpose, purpose), live(now)))
          .run(),
      );
    },

    async contactById(id: string) {
      return db.select().from(endUserContacts).where(eq(endUserContacts.id, id)).get();
    },

    async markContactVerified(id: string, now: number): Promise<void> {
      db.update(endUserContacts).set({ verifiedAt: now }).where(eq(endUserContacts.id, id)).run();
    },

    /** Drops codes that expired before `cutoff`; used or not, they can no longer match anything. */
    async purge(cutoff: number): Promise<number> {
      return changes(db.delete(oneTimeCodes).where(lt(oneTimeCodes.expiresAt, cutoff)).run());
    },
  };
}

export type CodeStore = ReturnType<typeof createCodeStore>;
