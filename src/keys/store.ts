/** @module Drizzle queries on `signing_keys`; every state change is conditional on the state it expects. */
import { and, asc, count, desc, eq, inArray, isNotNull, lte, ne, notExists } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client.ts";
import { first } from "../db/query.ts";
import type { signingKeys as signingKeysTable } from "../db/schema.ts";

export type KeyRow = typeof signingKeysTable.$inferSelect;
export type KeyState = KeyRow["state"];

/** States whose public key is in the JWKS. */
export const PUBLISHED: KeyState[] = ["next", "active", "retiring"];

export function createKeyStore(db: Db) {
  const { apps, signingKeys } = db.tables;
  return {
    /**
     * Inside a transaction, makes other transactions that change the app's keys wait for this one: on PostgreSQL
     * the app's row is locked until it ends (several instances may rotate at once); SQLite's single writer
     * already serialises them.
     */
    async lockApp(appId: string): Promise<void> {
      if (db.engine !== "postgres") return;
      const q = db.select({ id: apps.id }).from(apps).where(eq(apps.id, appId));
      await (q as unknown as { for(s: "no key update"): Promise<unknown> }).for("no key update");
    },

    /** Published keys of one app, or of every app when `appId` is omitted (start-up warm-up, tick reload). */
    async published(appId?: string): Promise<KeyRow[]> {
      const inJwks = inArray(signingKeys.state, PUBLISHED);
      return db
        .select()
        .from(signingKeys)
        .where(appId === undefined ? inJwks : and(eq(signingKeys.appId, appId), inJwks));
    },

    async all(appId: string): Promise<KeyRow[]> {
      return db
        .select()
        .from(signingKeys)
        .where(eq(signingKeys.appId, appId))
        .orderBy(desc(signingKeys.createdAt), desc(signingKeys.kid));
    },

    async countForApp(appId: string): Promise<number> {
      const [r] = await db.select({ n: count() }).from(signingKeys).where(eq(signingKeys.appId, appId));
      return r?.n ?? 0;
    },

    async byKid(kid: string): Promise<KeyRow | undefined> {
      return await first(db.select().from(signingKeys).where(eq(signingKeys.kid, kid)).limit(1));
    },

    async inState(appId: string, state: KeyState): Promise<KeyRow | undefined> {
      return await first(
        db
          .select()
          .from(signingKeys)
          .where(and(eq(signingKeys.appId, appId), eq(signingKeys.state, state)))
          .orderBy(desc(signingKeys.activatesAt), desc(signingKeys.kid))
          .limit(1),
      );
    },

    /**
     * The algorithm of the app's key latest in line to sign (the next key, else the active one): the one
     * its new keys take. Every change of the app's `signing_alg` publishes a next key of the new algorithm,
     * so that key carries it. Retired keys (a withdrawn next key among them) no longer count.
     */
    async newestAlg(appId: string): Promise<string | undefined> {
      const r = await first(
        db
          .select({ alg: signingKeys.alg })
          .from(signingKeys)
          .where(and(eq(signingKeys.appId, appId), inArray(signingKeys.state, PUBLISHED)))
          .orderBy(desc(signingKeys.activatesAt), desc(signingKeys.createdAt), desc(signingKeys.kid))
          .limit(1),
      );
      return r?.alg;
    },

    /** A published next key that never signed leaves the JWKS at once (replaced by one of another algorithm). */
    async withdrawNext(id: string, now: number): Promise<boolean> {
      const withdrawn = await db
        .update(signingKeys)
        .set({ state: "retired", retireAt: now, retiredAt: now })
        .where(and(eq(signingKeys.id, id), eq(signingKeys.state, "next")))
        .returning({ id: signingKeys.id });
      return withdrawn.length === 1;
    },

    async deleteForApp(appId: string): Promise<void> {
      await db.delete(signingKeys).where(eq(signingKeys.appId, appId));
    },

    async insert(row: typeof signingKeysTable.$inferInsert): Promise<void> {
      await db.insert(signingKeys).values(row);
    },

    /** Next keys whose time has come, oldest first. */
    async dueNext(now: number): Promise<KeyRow[]> {
      return db
        .select()
        .from(signingKeys)
        .where(and(eq(signingKeys.state, "next"), lte(signingKeys.activatesAt, now)))
        .orderBy(asc(signingKeys.activatesAt), asc(signingKeys.kid));
    },

    /**
     * next → active, only if it is still `next` and (for the scheduler) due: a racing tick that got
     * there first makes this a no-op instead of a second rotation. `activates_at` becomes the real start.
     */
    async promote(id: string, now: number, dueBy?: number): Promise<boolean> {
      const due = dueBy === undefined ? undefined : lte(signingKeys.activatesAt, dueBy);
      const changed = await db
        .update(signingKeys)
        .set({ state: "active", activatesAt: now })
        .where(and(eq(signingKeys.id, id), eq(signingKeys.state, "next"), due))
        .returning({ id: signingKeys.id });
      return changed.length === 1;
    },

    /** Every other active key of the app stops signing: retiring for OVERLAP, or retired at once. */
    async demoteActive(
      appId: string,
      exceptId: string,
      now: number,
      retireAt: number | "now",
    ): Promise<string[]> {
      const set =
        retireAt === "now"
          ? { state: "retired" as const, rotatedAt: now, retireAt: now, retiredAt: now }
          : { state: "retiring" as const, rotatedAt: now, retireAt };
      const demoted = await db
        .update(signingKeys)
        .set(set)
        .where(
          and(eq(signingKeys.appId, appId), eq(signingKeys.state, "active"), ne(signingKeys.id, exceptId)),
        )
        .returning({ kid: signingKeys.kid });
      return demoted.map((r) => r.kid);
    },

    /** retiring → retired once the overlap is over; returns how many left the JWKS. */
    async retireDue(now: number): Promise<number> {
      const retired = await db
        .update(signingKeys)
        .set({ state: "retired", retiredAt: now })
        .where(and(eq(signingKeys.state, "retiring"), lte(signingKeys.retireAt, now)))
        .returning({ id: signingKeys.id });
      return retired.length;
    },

    /**
     * Detaches the sealed private keys of retired keys and returns their vault ids, for the caller to
     * destroy in the same transaction: a key that can never sign again should not be recoverable.
     */
    async detachRetiredSecrets(): Promise<string[]> {
      // RETURNING would report the new (null) value, so the ids are read first, in the same transaction.
      const retired = and(eq(signingKeys.state, "retired"), isNotNull(signingKeys.vaultSecretId));
      const ids = (
        await db.select({ secret: signingKeys.vaultSecretId }).from(signingKeys).where(retired)
      ).flatMap((r) => (r.secret ? [r.secret] : []));
      // Only the secrets read (a key retired meanwhile by another transaction keeps its id for the next pass).
      if (ids.length)
        await db
          .update(signingKeys)
          .set({ vaultSecretId: null })
          .where(and(retired, inArray(signingKeys.vaultSecretId, ids)));
      return ids;
    },

    /** Apps that sign (have an active key) but have nothing pre-published to rotate to. */
    async appsWithoutNext(): Promise<string[]> {
      const next = alias(signingKeys, "next_key");
      const rows = await db
        .selectDistinct({ appId: signingKeys.appId })
        .from(signingKeys)
        .where(
          and(
            eq(signingKeys.state, "active"),
            notExists(
              db
                .select({ one: next.id })
                .from(next)
                .where(and(eq(next.appId, signingKeys.appId), eq(next.state, "next"))),
            ),
          ),
        );
      return rows.map((r) => r.appId);
    },
  };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
