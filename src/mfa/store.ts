/** @module MFA queries: factors, recovery codes. No decisions here. */
import { and, asc, eq, isNotNull, isNull, lt, sql } from "drizzle-orm";
import { changes, type Db } from "../db/client.ts";
import { apps, endUserSessions, mfaFactors, mfaRecoveryCodes } from "../db/schema.ts";

export type MfaFactorRow = typeof mfaFactors.$inferSelect;
export type MfaRecoveryCodeRow = typeof mfaRecoveryCodes.$inferSelect;

export function createMfaStore(db: Db) {
  return {
    factors(appId: string, userId: string): MfaFactorRow[] {
      return db
        .select()
        .from(mfaFactors)
        .where(and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId)))
        .orderBy(asc(mfaFactors.createdAt), asc(mfaFactors.id))
        .all();
    },
    enabledFactors(appId: string, userId: string): MfaFactorRow[] {
      return db
        .select()
        .from(mfaFactors)
        .where(
          and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId), isNotNull(mfaFactors.enabledAt)),
        )
        .orderBy(asc(mfaFactors.createdAt), asc(mfaFactors.id))
        .all();
    },
    factor(appId: string, userId: string, id: string): MfaFactorRow | undefined {
      return db
        .select()
        .from(mfaFactors)
        .where(and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId), eq(mfaFactors.id, id)))
        .get();
    },
    /** Pending factors of the user created before `before`. */
    stalePending(appId: string, userId: string, before: number): MfaFactorRow[] {
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
    insertFactor(row: typeof mfaFactors.$inferInsert): void {
      db.insert(mfaFactors).values(row).run();
    },
    enableFactor(id: string, at: number, step: number): void {
      db.update(mfaFactors)
        .set({ enabledAt: at, lastUsedStep: step, lastUsedAt: at })
        .where(eq(mfaFactors.id, id))
        .run();
    },
    markUsed(id: string, step: number, at: number): void {
      db.update(mfaFactors).set({ lastUsedStep: step, lastUsedAt: at }).where(eq(mfaFactors.id, id)).run();
    },
    deleteFactor(id: string): void {
      db.delete(mfaFactors).where(eq(mfaFactors.id, id)).run();
    },
    /** Every factor's sealed secret id of a user, for destroying them with the account. */
    secretIdsOfUser(appId: string, userId: string): string[] {
      return db
        .select({ secretId: mfaFactors.secretId })
        .from(mfaFactors)
        .where(and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId)))
        .all()
        .map((r) => r.secretId);
    },
    secretIdsOfApp(appId: string): string[] {
      return db
        .select({ secretId: mfaFactors.secretId })
        .from(mfaFactors)
        .where(eq(mfaFactors.appId, appId))
        .all()
        .map((r) => r.secretId);
    },
    deleteFactorsOfApp(appId: string): void {
      db.delete(mfaFactors).where(eq(mfaFactors.appId, appId)).run();
    },
    deleteFactorsOfUser(appId: string, userId: string): void {
      db.delete(mfaFactors)
        .where(and(eq(mfaFactors.appId, appId), eq(mfaFactors.userId, userId)))
        .run();
    },
    unusedRecoveryCodes(appId: string, userId: string): MfaRecoveryCodeRow[] {
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
    useRecoveryCode(id: string, at: number): boolean {
      const r = db
        .update(mfaRecoveryCodes)
        .set({ usedAt: at })
        .where(and(eq(mfaRecoveryCodes.id, id), isNull(mfaRecoveryCodes.usedAt)))
        .run();
      return changes(r) === 1;
    },
    deleteRecoveryCodes(appId: string, userId: string): void {
      db.delete(mfaRecoveryCodes)
        .where(and(eq(mfaRecoveryCodes.appId, appId), eq(mfaRecoveryCodes.userId, userId)))
        .run();
    },
    /** The app's display name: the issuer an authenticator app shows. */
    appDisplayName(appId: string): string | undefined {
      return db.select({ n: apps.displayName }).from(apps).where(eq(apps.id, appId)).get()?.n;
    },
    /** When the session last proved the password (sign-in or re-authentication) and MFA. */
    sessionRecency(sessionId: string): { authenticatedAt: number | null; mfaAt: number | null } | undefined {
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
    insertRecoveryCodes(rows: (typeof mfaRecoveryCodes.$inferInsert)[]): void {
      db.insert(mfaRecoveryCodes).values(rows).run();
    },
  };
}

export type MfaStore = ReturnType<typeof createMfaStore>;
