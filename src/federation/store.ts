/** @module Federated sign-in rows: provider configs, federated identities and the single-use grants (stored hashed). */
import { and, eq, gt, isNull, lt } from "drizzle-orm";
import { changes, type Db } from "../db/client.ts";
import { federatedIdentities, identityProviders, oauthGrants } from "../db/schema.ts";
import type { ProviderRow } from "./model.ts";

export type IdentityRow = typeof federatedIdentities.$inferSelect;
export type GrantRow = typeof oauthGrants.$inferSelect;
export type GrantKind = GrantRow["kind"];

export function createFederationStore(db: Db) {
  return {
    async providersOf(appId: string): Promise<ProviderRow[]> {
      return db.select().from(identityProviders).where(eq(identityProviders.appId, appId)).all();
    },

    async provider(appId: string, provider: string): Promise<ProviderRow | undefined> {
      return db
        .select()
        .from(identityProviders)
        .where(and(eq(identityProviders.appId, appId), eq(identityProviders.provider, provider)))
        .get();
    },

    async insertProvider(row: ProviderRow): Promise<void> {
      db.insert(identityProviders).values(row).run();
    },

    async updateProvider(id: string, patch: Partial<ProviderRow>): Promise<void> {
      db.update(identityProviders).set(patch).where(eq(identityProviders.id, id)).run();
    },

    async deleteProvider(id: string): Promise<number> {
      return changes(db.delete(identityProviders).where(eq(identityProviders.id, id)).run());
    },

    async identity(appId: string, provider: string, subject: string): Promise<IdentityRow | undefined> {
      return db
        .select()
        .from(federatedIdentities)
        .where(
          and(
            eq(federatedIdentities.appId, appId),
            eq(federatedIdentities.provider, provider),
            eq(federatedIdentities.subject, subject),
          ),
        )
        .get();
    },

    async insertIdentity(row: IdentityRow): Promise<void> {
      db.insert(federatedIdentities).values(row).run();
    },

    async touchIdentity(
      id: string,
      email: string | null,
      emailVerified: boolean,
      now: number,
    ): Promise<void> {
      db.update(federatedIdentities)
        .set({ email, emailVerified, lastUsedAt: now })
        .where(eq(federatedIdentities.id, id))
        .run();
    },

    async insertGrant(row: GrantRow): Promise<void> {
      db.insert(oauthGrants).values(row).run();
    },

    async grant(kind: GrantKind, valueHash: string): Promise<GrantRow | undefined> {
      return db
        .select()
        .from(oauthGrants)
        .where(and(eq(oauthGrants.kind, kind), eq(oauthGrants.valueHash, valueHash)))
        .get();
    },

    /** Marks a live grant used; false when it was used already (the loser of a race) or has expired. */
    async consumeGrant(id: string, now: number): Promise<boolean> {
      return (
        changes(
          db
            .update(oauthGrants)
            .set({ consumedAt: now })
            .where(
              and(eq(oauthGrants.id, id), isNull(oauthGrants.consumedAt), gt(oauthGrants.expiresAt, now)),
            )
            .run(),
        ) === 1
      );
    },

    async purgeGrants(before: number): Promise<number> {
      return changes(db.delete(oauthGrants).where(lt(oauthGrants.expiresAt, before)).run());
    },
  };
}

export type FederationStore = ReturnType<typeof createFederationStore>;
