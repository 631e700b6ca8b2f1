/**
 * @module Slug → app, from memory: the Consumer surface resolves `/{app_slug}` on every request, and
 * JWKS requests must not pay a database read. The apps service invalidates it on every app write.
 */

import { sql } from "drizzle-orm";
import type { AppRef } from "../core/app-ref.ts";
import type { Clock } from "../core/clock.ts";
import type { Db } from "../db/client.ts";
import { row } from "../db/query.ts";

export interface AppDirectory {
  /** The app whose live slug is `slug`. */
  bySlug(slug: string): Promise<AppRef | undefined>;
  /** The app a renamed slug still points at, during its alias window. */
  byAlias(slug: string): Promise<AppRef | undefined>;
  /** The app with live slug `slug` if the directory knows the answer without a query (null: known absent). */
  peek(slug: string): AppRef | null | undefined;
  /** Forget everything: app writes are rare, reads are constant. */
  invalidate(): void;
}

const MAX_NEGATIVE = 10_000;

export function createAppDirectory({ db, clock }: { db: Db; clock: Clock }): AppDirectory {
  type AliasRef = AppRef & { expiresAt: number };
  // Misses only (the maps below answer the rest): prepared once on SQLite; PostgreSQL binds per call.
  let bySlugQuery: (slug: string) => Promise<AppRef | undefined>;
  let byAliasQuery: (slug: string) => Promise<AliasRef | undefined>;
  if (db.engine === "sqlite") {
    const bySlug = db.$client.query<AppRef, [string]>(
      "SELECT id, slug, workspace_id AS workspaceId, status FROM apps WHERE slug = ?",
    );
    const byAlias = db.$client.query<AliasRef, [string]>(
      `SELECT a.id, a.slug, a.workspace_id AS workspaceId, a.status, s.expires_at AS expiresAt
         FROM app_slug_aliases s JOIN apps a ON a.id = s.app_id WHERE s.slug = ?`,
    );
    bySlugQuery = async (slug) => bySlug.get(slug) ?? undefined;
    byAliasQuery = async (slug) => byAlias.get(slug) ?? undefined;
  } else {
    bySlugQuery = (slug) =>
      row<AppRef>(
        db,
        sql`SELECT id, slug, workspace_id AS "workspaceId", status FROM apps WHERE slug = ${slug}`,
      );
    byAliasQuery = async (slug) => {
      const hit = await row<AliasRef>(
        db,
        sql`SELECT a.id, a.slug, a.workspace_id AS "workspaceId", a.status, s.expires_at AS "expiresAt"
              FROM app_slug_aliases s JOIN apps a ON a.id = s.app_id WHERE s.slug = ${slug}`,
      );
      // bigint arrives as a string from a raw query.
      return hit && { ...hit, expiresAt: Number(hit.expiresAt) };
    };
  }
  const live = new Map<string, AppRef | null>();
  const aliases = new Map<string, (AppRef & { expiresAt: number }) | null>();
  // Unknown slugs are remembered too (a scanner must not turn into a query per request), but boundedly.
  const remember = <T>(map: Map<string, T | null>, key: string, value: T | null) => {
    if (value === null && map.size >= MAX_NEGATIVE) return;
    map.set(key, value);
  };
  return {
    async bySlug(slug) {
      let hit = live.get(slug);
      if (hit === undefined) {
        hit = (await bySlugQuery(slug)) ?? null;
        remember(live, slug, hit);
      }
      return hit ?? undefined;
    },
    peek: (slug) => live.get(slug),
    async byAlias(slug) {
      let hit = aliases.get(slug);
      if (hit === undefined) {
        hit = (await byAliasQuery(slug)) ?? null;
        remember(aliases, slug, hit);
      }
      return hit && hit.expiresAt > clock.now() ? hit : undefined;
    },
    invalidate() {
      live.clear();
      aliases.clear();
    },
  };
}
