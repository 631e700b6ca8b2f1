/** @module Federated sign-in rows: provider configs, federated identities and the single-use grants (stored hashed). */
import { and, eq, gt, isNull, lt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { federatedIdentities, oauthGrants } from "../db/schema.ts";
import type { ProviderRow } from "./model.ts";

export type IdentityRow = typeof federatedIdentities.$inferSelect;
export type GrantRow = typeof oauthGrants.$inferSelect;
export type GrantKind = GrantRow["kind"];

export function createFederationStore(db: Db) {
  const { federatedIdentities, identityProviders, oauthGrants } = db.tables;
  return {
    async providersOf(appId: string): Promise<ProviderRow[]> {
      return await db.select().from(identityProviders).where(eq(identityProviders.appId, appId));
    },

    async provider(appId: string, provider: string): Promise<ProviderRow | undefined> {
      return first(
        db
          .select()
          .from(identityProviders)
          .where(and(eq(identityProviders.appId, appId), eq(identityProviders.provider, provider)))
          .limit(1),
      );
    },

    async insertProvider(row: ProviderRow): Promise<void> {
      await db.insert(identityProviders).values(row);
    },

    async updateProvider(id: string, patch: Partial<ProviderRow>): Promise<void> {
      await db.update(identityProviders).set(patch).where(eq(identityProviders.id, id));
    },

    async deleteProvider(id: string): Promise<number> {
      return affected(await db.delete(identityProviders).where(eq(identityProviders.id, id)));
    },

    async identity(appId: string, provider: string, subject: string): Promise<IdentityRow | undefined> {
      return first(
        db
          .select()
          .from(federatedIdentities)
          .where(
            and(
              eq(federatedIdentities.appId, appId),
              eq(federatedIdentities.provider, provider),
              eq(federatedIdentities.subject, subject),
            ),
          )
          .limit(1),
      );
    },

    async insertIdentity(row: IdentityRow): Promise<void> {
      await db.insert(federatedIdentities).values(row);
    },

    async touchIdentity(
      id: string,
      email: string | null,
      emailVerified: boolean,
      now: number,
    ): Promise<void> {
      await db
        .update(federatedIdentities)
        .set({ email, emailVerified, lastUsedAt: now })
        .where(eq(federatedIdentities.id, id));
    },

    async insertGrant(row: GrantRow): Promise<void> {
      await db.insert(oauthGrants).values(row);
    },

    async grant(kind: GrantKind, valueHash: string): Promise<GrantRow | undefined> {
      return first(
        db
          .select()
          .from(oauthGrants)
          .where(and(eq(oauthGrants.kind, kind), eq(oauthGrants.valueHash, valueHash)))
          .limit(1),
      );
    },

    /** Marks a live grant used; false when it was used already (the loser of a race) or has expired. */
    async consumeGrant(id: string, now: number): Promise<boolean> {
      return (
        affected(
          await db
            .update(oauthGrants)
            .set({ consumedAt: now })
            .where(
              and(eq(oauthGrants.id, id), isNull(oauthGrants.consumedAt), gt(oauthGrants.expiresAt, now)),
            ),
        ) === 1
      );
    },

    async purgeGrants(before: number): Promise<number> {
      return affected(await db.delete(oauthGrants).where(lt(oauthGrants.expiresAt, before)));
    },
  };
}

export type FederationStore = ReturnType<typeof createFederationStore>;
