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
    providersOf(appId: string): ProviderRow[] {
      return db.select().from(identityProviders).where(eq(identityProviders.appId, appId)).all();
    },

    provider(appId: string, provider: string): ProviderRow | undefined {
      return db
        .select()
        .from(identityProviders)
        .where(and(eq(identityProviders.appId, appId), eq(identityProviders.provider, provider)))
        .get();
    },

    insertProvider(row: ProviderRow): void {
      db.insert(identityProviders).values(row).run();
    },

    updateProvider(id: string, patch: Partial<ProviderRow>): void {
      db.update(identityProviders).set(patch).where(eq(identityProviders.id, id)).run();
    },

    deleteProvider(id: string): number {
      return changes(db.delete(identityProviders).where(eq(identityProviders.id, id)).run());
    },

    identity(appId: string, provider: string, subject: string): IdentityRow | undefined {
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

    insertIdentity(row: IdentityRow): void {
      db.insert(federatedIdentities).values(row).run();
    },

    touchIdentity(id: string, email: string | null, emailVerified: boolean, now: number): void {
      db.update(federatedIdentities)
        .set({ email, emailVerified, lastUsedAt: now })
        .where(eq(federatedIdentities.id, id))
        .run();
    },

    insertGrant(row: GrantRow): void {
      db.insert(oauthGrants).values(row).run();
    },

    grant(kind: GrantKind, valueHash: string): GrantRow | undefined {
      return db
        .select()
        .from(oauthGrants)
        .where(and(eq(oauthGrants.kind, kind), eq(oauthGrants.valueHash, valueHash)))
        .get();
    },

    /** Marks a live grant used; false when it was used already (the loser of a race) or has expired. */
    consumeGrant(id: string, now: number): boolean {
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

    purgeGrants(before: number): number {
      return changes(db.delete(oauthGrants).where(lt(oauthGrants.expiresAt, before)).run());
    },
  };
}

export type FederationStore = ReturnType<typeof createFederationStore>;
