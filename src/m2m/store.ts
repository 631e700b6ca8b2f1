/** @module Drizzle and prepared queries for M2M clients: keyset listing, CRUD, and the token endpoint's hot lookups. */
import { and, desc, eq, isNull, lt, lte, or, sql } from "drizzle-orm";
import { isUuid } from "../core/ids.ts";
import type { Position } from "../core/pagination.ts";
import type { Db } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { m2mClients } from "../db/schema.ts";
import type { M2mClientRow } from "./model.ts";

/** The columns the token endpoint reads on every grant. */
export interface ClientLookup {
  id: string;
  appId: string;
  clientId: string;
  secretHash: string;
  /** The secret the last rotation replaced, accepted while `prevSecretExpiresAt` is in the future. */
  prevSecretHash: string | null;
  prevSecretExpiresAt: number | null;
  isActive: number;
  scopes: string;
  lastUsedAt: number | null;
}

export function createM2mStore(db: Db) {
  const { m2mClients } = db.tables;
  // SQLite: statements compiled once, run on every grant at the token endpoint (measured hot path).
  const sqlite =
    db.engine === "sqlite"
      ? {
          byClientId: db.$client.query<ClientLookup, [string]>(
            `SELECT id, app_id AS appId, client_id AS clientId, secret_hash AS secretHash,
            prev_secret_hash AS prevSecretHash, prev_secret_expires_at AS prevSecretExpiresAt, is_active AS isActive,
            scopes, last_used_at AS lastUsedAt
       FROM m2m_clients WHERE client_id = ?`,
          ),
          // Conditional on the previous write being old enough: the row itself is the debounce state.
          touch: db.$client.query<never, [number, string, number]>(
            "UPDATE m2m_clients SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
          ),
        }
      : null;

  /** `ref` is the public `client_id` or the row UUID; either way it must belong to `appId`. */
  const refWhere = (appId: string, ref: string) =>
    and(
      eq(m2mClients.appId, appId),
      isUuid(ref) ? eq(m2mClients.id, ref.toLowerCase()) : eq(m2mClients.clientId, ref),
    );

  return {
    async lookup(clientId: string): Promise<ClientLookup | null> {
      if (sqlite) return sqlite.byClientId.get(clientId);
      const found = await first(
        db
          .select({
            id: m2mClients.id,
            appId: m2mClients.appId,
            clientId: m2mClients.clientId,
            secretHash: m2mClients.secretHash,
            prevSecretHash: m2mClients.prevSecretHash,
            prevSecretExpiresAt: m2mClients.prevSecretExpiresAt,
            // As SQLite stores them: 1/0 and the JSON text.
            isActive: sql<number>`${m2mClients.isActive}::int`,
            scopes: sql<string>`${m2mClients.scopes}::text`,
            lastUsedAt: m2mClients.lastUsedAt,
          })
          .from(m2mClients)
          .where(eq(m2mClients.clientId, clientId))
          .limit(1),
      );
      return found ?? null;
    },

    async touch(id: string, now: number, debounceMs: number): Promise<boolean> {
      if (sqlite) return sqlite.touch.run(now, id, now - debounceMs).changes > 0;
      const result = await db
        .update(m2mClients)
        .set({ lastUsedAt: now })
        .where(
          and(
            eq(m2mClients.id, id),
            or(isNull(m2mClients.lastUsedAt), lte(m2mClients.lastUsedAt, now - debounceMs)),
          ),
        );
      return affected(result) > 0;
    },

    async byRef(appId: string, ref: string): Promise<M2mClientRow | undefined> {
      return await first(db.select().from(m2mClients).where(refWhere(appId, ref)).limit(1));
    },

    /** Newest first, strictly after `after`. */
    async list(appId: string, after: Position | undefined, limit: number): Promise<M2mClientRow[]> {
      const older = after
        ? or(
            lt(m2mClients.createdAt, after.c),
            and(eq(m2mClients.createdAt, after.c), lt(m2mClients.id, after.i)),
          )
        : undefined;
      return await db
        .select()
        .from(m2mClients)
        .where(and(eq(m2mClients.appId, appId), older))
        .orderBy(desc(m2mClients.createdAt), desc(m2mClients.id))
        .limit(limit);
    },

    async insert(row: typeof m2mClients.$inferInsert): Promise<M2mClientRow> {
      return (await db.insert(m2mClients).values(row).returning())[0]!;
    },

    async update(
      id: string,
      set: Partial<
        Pick<
          M2mClientRow,
          "isActive" | "scopes" | "secretHash" | "prevSecretHash" | "prevSecretExpiresAt" | "updatedAt"
        >
      >,
    ): Promise<M2mClientRow> {
      return (await db.update(m2mClients).set(set).where(eq(m2mClients.id, id)).returning())[0]!;
    },

    async delete(id: string): Promise<boolean> {
      return affected(await db.delete(m2mClients).where(eq(m2mClients.id, id))) > 0;
    },
  };
}
