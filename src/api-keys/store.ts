/** @module Drizzle and prepared queries for app API keys: keyset listing, insert, delete, the hot hash lookup. */
import { and, desc, eq, lt, or } from "drizzle-orm";
import type { Position } from "../core/pagination.ts";
import { changes, type Db } from "../db/client.ts";
import { appApiKeys } from "../db/schema.ts";
import type { ApiKeyRow } from "./model.ts";

/** The columns `authenticate` needs, read on every request that presents a key. */
export interface ApiKeyLookup {
  id: string;
  appId: string;
  keyHash: string;
  permissions: string;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

export function createApiKeyStore(db: Db) {
  const sql = db.$client;
  const byHash = sql.query<ApiKeyLookup, [string]>(
    "SELECT id, app_id AS appId, key_hash AS keyHash, permissions, expires_at AS expiresAt, last_used_at AS lastUsedAt FROM app_api_keys WHERE key_hash = ?",
  );
  // Conditional on the previous write being old enough: the row itself is the debounce state.
  const touch = sql.query<never, [number, string, number]>(
    "UPDATE app_api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
  );

  return {
    byHash: async (hash: string): Promise<ApiKeyLookup | null> => byHash.get(hash),

    /** True when this call wrote `last_used_at` (i.e. the debounce window had passed). */
    touch: async (id: string, now: number, debounceMs: number): Promise<boolean> =>
      touch.run(now, id, now - debounceMs).changes > 0,

    async byId(appId: string, id: string): Promise<ApiKeyRow | undefined> {
      return db
        .select()
        .from(appApiKeys)
        .where(and(eq(appApiKeys.appId, appId), eq(appApiKeys.id, id)))
        .get();
    },

    /** Newest first, strictly after `after`. */
    async list(appId: string, after: Position | undefined, limit: number): Promise<ApiKeyRow[]> {
      const older = after
        ? or(
            lt(appApiKeys.createdAt, after.c),
            and(eq(appApiKeys.createdAt, after.c), lt(appApiKeys.id, after.i)),
          )
        : undefined;
      return db
        .select()
        .from(appApiKeys)
        .where(and(eq(appApiKeys.appId, appId), older))
        .orderBy(desc(appApiKeys.createdAt), desc(appApiKeys.id))
        .limit(limit)
        .all();
    },

    async insert(row: typeof appApiKeys.$inferInsert): Promise<ApiKeyRow> {
      return db.insert(appApiKeys).values(row).returning().get();
    },

    async delete(appId: string, id: string): Promise<boolean> {
      return (
        changes(
          db
            .delete(appApiKeys)
            .where(and(eq(appApiKeys.appId, appId), eq(appApiKeys.id, id)))
            .run(),
        ) > 0
      );
    },
  };
}
