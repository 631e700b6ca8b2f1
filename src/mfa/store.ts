/** @module MFA queries: factors, recovery codes. No decisions here. */
import { and, asc, eq, isNotNull, isNull, lt, sql } from "drizzle-orm";
import { changes, type Db } from "../db/client.ts";
import { apps, endUserSessions, mfaFactors, mfaRecoveryCodes } from "../db/schema.ts";

export type MfaFactorRow = typeof mfaFactors.$inferSelect;
export type MfaRecoveryCodeRow = typeof mfaRecoveryCodes.$inferSelect;

export function createMfaStore(db: Db) {
  return {
    async factors(appId: string, userId: string): Promise<MfaFactorRow[]> {
      return db
        .select()
        .from(mfaFactors)
        .where(and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId)))
        .orderBy(asc(mfaFactors.createdAt), asc(mfaFactors.id))
        .all();
    },
    async enabledFactors(appId: string, userId: string): Promise<MfaFactorRow[]> {
      return db
        .select()
        .from(mfaFactors)
        .where(
          and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId), isNotNull(mfaFactors.enabledAt)),
        )
        .orderBy(asc(mfaFactors.createdAt), asc(mfaFactors.id))
        .all();
    },
    async factor(appId: string, userId: string, id: string): Promise<MfaFactorRow | undefined> {
      return db
        .select()
        .from(mfaFactors)
        .where(and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId), eq(mfaFactors.id, id)))
        .get();
    },
    /** Pending factors of the user created before `before`. */
    async stalePending(appId: string, userId: string, before: number): Promise<MfaFactorRow[]> {
      return db
        .select()
        .from(mfaFactors)
        .where(
          and(
            eq(mfaFactors.appId, appId),
            eq(mfaFactors.userId, userId),
            isNull(mfaFactors.enabledAt),
            lt(mfaFactors.createdAt, before),
          ),
        )
        .all();
    },
    async insertFactor(row: typeof mfaFactors.$inferInsert): Promise<void> {
      db.insert(mfaFactors).values(row).run();
    },
    async enableFactor(id: string, at: number, step: number): Promise<void> {
      db.update(mfaFactors)
        .set({ enabledAt: at, lastUsedStep: step, lastUsedAt: at })
        .where(eq(mfaFactors.id, id))
        .run();
    },
    async markUsed(id: string, step: number, at: number): Promise<void> {
      db.update(mfaFactors).set({ lastUsedStep: step, lastUsedAt: at }).where(eq(mfaFactors.id, id)).run();
    },
    async deleteFactor(id: string): Promise<void> {
      db.delete(mfaFactors).where(eq(mfaFactors.id, id)).run();
    },
    /** Every factor's sealed secret id of a user, for destroying them with the account. */
    async secretIdsOfUser(appId: string, userId: string): Promise<string[]> {
      return db
        .select({ secretId: mfaFactors.secretId })
        .from(mfaFactors)
        .where(and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId)))
        .all()
        .map((r) => r.secretId);
    },
    async secretIdsOfApp(appId: string): Promise<string[]> {
      return db
        .select({ secretId: mfaFactors.secretId })
        .from(mfaFactors)
        .where(eq(mfaFactors.appId, appId))
        .all()
        .map((r) => r.secretId);
    },
    async deleteFactorsOfApp(appId: string): Promise<void> {
      db.delete(mfaFactors).where(eq(mfaFactors.appId, appId)).run();
    },
    async deleteFactorsOfUser(appId: string, userId: string): Promise<void> {
      db.delete(mfaFactors)
        .where(and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId)))
        .run();
    },
    async unusedRecoveryCodes(appId: string, userId: string): Promise<MfaRecoveryCodeRow[]> {
      return db
        .select()
        .from(mfaRecoveryCodes)
        .where(
          and(
            eq(mfaRecoveryCodes.appId, appId),
            eq(mfaRecoveryCodes.userId, userId),
            isNull(mfaRecoveryCodes.usedAt),
          ),
        )
        .all();
    },
    async useRecoveryCode(id: string, at: number): Promise<boolean> {
      const r = db
        .update(mfaRecoveryCodes)
        .set({ usedAt: at })
        .where(and(eq(mfaRecoveryCodes.id, id), isNull(mfaRecoveryCodes.usedAt)))
        .run();
      return changes(r) === 1;
    },
    async deleteRecoveryCodes(appId: string, userId: string): Promise<void> {
      db.delete(mfaRecoveryCodes)
        .where(and(eq(mfaRecoveryCodes.appId, appId), eq(mfaRecoveryCodes.userId, userId)))
        .run();
    },
    /** The app's display name: the issuer an authenticator app shows. */
    async appDisplayName(appId: string): Promise<string | undefined> {
      return db.select({ n: apps.displayName }).from(apps).where(eq(apps.id, appId)).get()?.n;
    },
    /** When the session last proved the password (sign-in or re-authentication) and MFA. */
    async sessionRecency(
      sessionId: string,
    ): Promise<{ authenticatedAt: number | null; mfaAt: number | null } | undefined> {
      return db
        .select({
          authenticatedAt: sql<
            number | null
          >`coalesce(${endUserSessions.authenticatedAt}, ${endUserSessions.createdAt})`,
          mfaAt: endUserSessions.mfaAt,
        })
        .from(endUserSessions)
        .where(eq(endUserSessions.id, sessionId))
        .get();
    },
    async insertRecoveryCodes(rows: (typeof mfaRecoveryCodes.$inferInsert)[]): Promise<void> {
      db.insert(mfaRecoveryCodes).values(rows).run();
    },
  };
}

export type MfaStore = ReturnType<typeof createMfaStore>;
