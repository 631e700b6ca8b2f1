/** @module MFA queries: factors, recovery codes. No decisions here. */
import { and, asc, eq, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { mfaFactors as FactorsTable, mfaRecoveryCodes as RecoveryCodesTable } from "../db/schema.ts";

export type MfaFactorRow = typeof FactorsTable.$inferSelect;
export type MfaRecoveryCodeRow = typeof RecoveryCodesTable.$inferSelect;

export function createMfaStore(db: Db) {
  const { apps, endUserSessions, mfaFactors, mfaRecoveryCodes } = db.tables;
  return {
    async factors(appId: string, userId: string): Promise<MfaFactorRow[]> {
      return await db
        .select()
        .from(mfaFactors)
        .where(and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId)))
        .orderBy(asc(mfaFactors.createdAt), asc(mfaFactors.id));
    },
    async enabledFactors(appId: string, userId: string): Promise<MfaFactorRow[]> {
      return await db
        .select()
        .from(mfaFactors)
        .where(
          and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId), isNotNull(mfaFactors.enabledAt)),
        )
        .orderBy(asc(mfaFactors.createdAt), asc(mfaFactors.id));
    },
    async factor(appId: string, userId: string, id: string): Promise<MfaFactorRow | undefined> {
      return await db
        .select()
        .from(mfaFactors)
        .where(and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId), eq(mfaFactors.id, id)))
        .limit(1)
        .then((rows) => rows[0]);
    },
    /** Pending factors of the user created before `before`. */
    async stalePending(appId: string, userId: string, before: number): Promise<MfaFactorRow[]> {
      return await db
        .select()
        .from(mfaFactors)
        .where(
          and(
            eq(mfaFactors.appId, appId),
            eq(mfaFactors.userId, userId),
            isNull(mfaFactors.enabledAt),
            lt(mfaFactors.createdAt, before),
          ),
        );
    },
    async insertFactor(row: typeof mfaFactors.$inferInsert): Promise<void> {
      await db.insert(mfaFactors).values(row);
    },
    /** Enables a pending factor; false when it was enabled meanwhile (a racing confirmation won). */
    async enableFactor(id: string, at: number, step: number): Promise<boolean> {
      const r = await db
        .update(mfaFactors)
        .set({ enabledAt: at, lastUsedStep: step, lastUsedAt: at })
        .where(and(eq(mfaFactors.id, id), isNull(mfaFactors.enabledAt)));
      return affected(r) === 1;
    },
    /** Records `step` as used; false when it (or a later step) already was — a code counts once under concurrency. */
    async markUsed(id: string, step: number, at: number): Promise<boolean> {
      const r = await db
        .update(mfaFactors)
        .set({ lastUsedStep: step, lastUsedAt: at })
        .where(
          and(eq(mfaFactors.id, id), or(isNull(mfaFactors.lastUsedStep), lt(mfaFactors.lastUsedStep, step))),
        );
      return affected(r) === 1;
    },
    async deleteFactor(id: string): Promise<void> {
      await db.delete(mfaFactors).where(eq(mfaFactors.id, id));
    },
    /** Every factor's sealed secret id of a user, for destroying them with the account. */
    async secretIdsOfUser(appId: string, userId: string): Promise<string[]> {
      return await db
        .select({ secretId: mfaFactors.secretId })
        .from(mfaFactors)
        .where(and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId)))
        .then((rows) => rows.map((r) => r.secretId));
    },
    async secretIdsOfApp(appId: string): Promise<string[]> {
      return await db
        .select({ secretId: mfaFactors.secretId })
        .from(mfaFactors)
        .where(eq(mfaFactors.appId, appId))
        .then((rows) => rows.map((r) => r.secretId));
    },
    async deleteFactorsOfApp(appId: string): Promise<void> {
      await db.delete(mfaFactors).where(eq(mfaFactors.appId, appId));
    },
    async deleteFactorsOfUser(appId: string, userId: string): Promise<void> {
      await db.delete(mfaFactors).where(and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId)));
    },
    async unusedRecoveryCodes(appId: string, userId: string): Promise<MfaRecoveryCodeRow[]> {
      return await db
        .select()
        .from(mfaRecoveryCodes)
        .where(
          and(
            eq(mfaRecoveryCodes.appId, appId),
            eq(mfaRecoveryCodes.userId, userId),
            isNull(mfaRecoveryCodes.usedAt),
          ),
        );
    },
    async useRecoveryCode(id: string, at: number): Promise<boolean> {
      const r = await db
        .update(mfaRecoveryCodes)
        .set({ usedAt: at })
        .where(and(eq(mfaRecoveryCodes.id, id), isNull(mfaRecoveryCodes.usedAt)));
      return affected(r) === 1;
    },
    async deleteRecoveryCodes(appId: string, userId: string): Promise<void> {
      await db
        .delete(mfaRecoveryCodes)
        .where(and(eq(mfaRecoveryCodes.appId, appId), eq(mfaRecoveryCodes.userId, userId)));
    },
    /** The app's display name: the issuer an authenticator app shows. */
    async appDisplayName(appId: string): Promise<string | undefined> {
      const row = await first(
        db.select({ n: apps.displayName }).from(apps).where(eq(apps.id, appId)).limit(1),
      );
      return row?.n;
    },
    /** When the session last proved the password (sign-in or re-authentication) and MFA. */
    async sessionRecency(
      sessionId: string,
    ): Promise<{ authenticatedAt: number | null; mfaAt: number | null } | undefined> {
      return await first(
        db
          .select({
            // A raw bigint arrives as a string on PostgreSQL.
            authenticatedAt: sql<
              number | null
            >`coalesce(${endUserSessions.authenticatedAt}, ${endUserSessions.createdAt})`.mapWith(Number),
            mfaAt: endUserSessions.mfaAt,
          })
          .from(endUserSessions)
          .where(eq(endUserSessions.id, sessionId))
          .limit(1),
      );
    },
    async insertRecoveryCodes(rows: (typeof mfaRecoveryCodes.$inferInsert)[]): Promise<void> {
      await db.insert(mfaRecoveryCodes).values(rows);
    },
  };
}

export type MfaStore = ReturnType<typeof createMfaStore>;
