/** @module Drizzle queries of the codes module: `one_time_codes` (look-up by MAC, issue, supersede, consume, purge) and the contact it verifies. */
import { and, eq, gt, isNull, lt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { oneTimeCodes as CodesTable } from "../db/schema.ts";

export type CodeRow = typeof CodesTable.$inferSelect;
export type CodePurpose = CodeRow["purpose"];

export function createCodeStore(db: Db) {
  const { endUserContacts, oneTimeCodes } = db.tables;
  const live = (now: number) => and(isNull(oneTimeCodes.consumedAt), gt(oneTimeCodes.expiresAt, now));

  return {
    /** The app's live code with this hash (the `(app_id, code_hash)` index), if any. */
    async liveByHash(appId: string, codeHash: string, now: number): Promise<CodeRow | undefined> {
      return await first(
        db
          .select()
          .from(oneTimeCodes)
          .where(and(eq(oneTimeCodes.appId, appId), eq(oneTimeCodes.codeHash, codeHash), live(now)))
          .limit(1),
      );
    },

    async insert(row: CodeRow): Promise<void> {
      await db.insert(oneTimeCodes).values(row);
    },

    /** A new code for a contact and purpose replaces the unused previous one: it is deleted. */
    async supersede(contactId: string, purpose: CodePurpose): Promise<number> {
      return affected(
        await db
          .delete(oneTimeCodes)
          .where(
            and(
              eq(oneTimeCodes.contactId, contactId),
              eq(oneTimeCodes.purpose, purpose),
              isNull(oneTimeCodes.consumedAt),
            ),
          ),
      );
    },

    /** Marks a live code used; false when it was used (or expired) meanwhile — single use under concurrency. */
    async consume(id: string, now: number): Promise<boolean> {
      return (
        affected(
          await db
            .update(oneTimeCodes)
            .set({ consumedAt: now })
            .where(and(eq(oneTimeCodes.id, id), live(now))),
        ) === 1
      );
    },

    /** Ends every live code of `purpose` for the account (a reset makes its other reset codes pointless). */
    async consumeAllOfUser(userId: string, purpose: CodePurpose, now: number): Promise<number> {
      return affected(
        await db
          .update(oneTimeCodes)
          .set({ consumedAt: now })
          .where(and(eq(oneTimeCodes.userId, userId), eq(oneTimeCodes.purpose, purpose), live(now))),
      );
    },

    async contactById(id: string) {
      return await first(db.select().from(endUserContacts).where(eq(endUserContacts.id, id)).limit(1));
    },

    async markContactVerified(id: string, now: number): Promise<void> {
      await db.update(endUserContacts).set({ verifiedAt: now }).where(eq(endUserContacts.id, id));
    },

    /** Drops codes that expired before `cutoff`; used or not, they can no longer match anything. */
    async purge(cutoff: number): Promise<number> {
      return affected(await db.delete(oneTimeCodes).where(lt(oneTimeCodes.expiresAt, cutoff)));
    },
  };
}

export type CodeStore = ReturnType<typeof createCodeStore>;
