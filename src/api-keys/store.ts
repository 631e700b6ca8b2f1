/** @module Drizzle and prepared queries for app API keys: keyset listing, insert, delete, the hot hash lookup. */
import { and, desc, eq, isNull, lt, lte, or, sql } from "drizzle-orm";
import type { Position } from "../core/pagination.ts";
import type { Db } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { appApiKeys } from "../db/schema.ts";
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
  const { appApiKeys } = db.tables;
  // SQLite: statements compiled once, read on every request that presents a key (measured hot path).
  const sqlite =
    db.engine === "sqlite"
      ? {
          byHash: db.$client.query<ApiKeyLookup, [string]>(
            "SELECT id, app_id AS appId, key_hash AS keyHash, permissions, expires_at AS expiresAt, last_used_at AS lastUsedAt FROM app_api_keys WHERE key_hash = ?",
          ),
          // Conditional on the previous write being old enough: the row itself is the debounce state.
          touch: db.$client.query<never, [number, string, number]>(
            "UPDATE app_api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
          ),
        }
      : null;

  return {
    async byHash(hash: string): Promise<ApiKeyLookup | null> {
      if (sqlite) return sqlite.byHash.get(hash);
      const found = await first(
        db
          .select({
            id: appApiKeys.id,
            appId: appApiKeys.appId,
            keyHash: appApiKeys.keyHash,
            // As SQLite stores it: the JSON text.
            permissions: sql<string>`${appApiKeys.permissions}::text`,
            expiresAt: appApiKeys.expiresAt,
            lastUsedAt: appApiKeys.lastUsedAt,
          })
          .from(appApiKeys)
          .where(eq(appApiKeys.keyHash, hash))
          .limit(1),
      );
      return found ?? null;
    },

    /** True when this call wrote `last_used_at` (i.e. the debounce window had passed). */
    async touch(id: string, now: number, debounceMs: number): Promise<boolean> {
      if (sqlite) return sqlite.touch.run(now, id, now - debounceMs).changes > 0;
      const result = await db
        .update(appApiKeys)
        .set({ lastUsedAt: now })
        .where(
          and(
            eq(appApiKeys.id, id),
            or(isNull(appApiKeys.lastUsedAt), lte(appApiKeys.lastUsedAt, now - debounceMs)),
          ),
        );
      return affected(result) > 0;
    },

    async byId(appId: string, id: string): Promise<ApiKeyRow | undefined> {
      return await first(
        db
          .select()
          .from(appApiKeys)
          .where(and(eq(appApiKeys.appId, appId), eq(appApiKeys.id, id)))
          .limit(1),
      );
    },

    /** Newest first, strictly after `after`. */
    async list(appId: string, after: Position | undefined, limit: number): Promise<ApiKeyRow[]> {
      const older = after
        ? or(
            lt(appApiKeys.createdAt, after.c),
            and(eq(appApiKeys.createdAt, after.c), lt(appApiKeys.id, after.i)),
          )
        : undefined;
      return await db
        .select()
        .from(appApiKeys)
        .where(and(eq(appApiKeys.appId, appId), older))
        .orderBy(desc(appApiKeys.createdAt), desc(appApiKeys.id))
        .limit(limit);
    },

    async insert(row: typeof appApiKeys.$inferInsert): Promise<ApiKeyRow> {
      return (await db.insert(appApiKeys).values(row).returning())[0]!;
    },

    async delete(appId: string, id: string): Promise<boolean> {
      return (
        affected(await db.delete(appApiKeys).where(and(eq(appApiKeys.appId, appId), eq(appApiKeys.id, id)))) >
        0
      );
    },
  };
}
