/** @module App API keys (`hdk_live_…`): Admin create/list/delete, and `authenticate` for the Consumer admin lane. */
import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import { type Clock, iso, MINUTE } from "../core/clock.ts";
import { constantTimeEqual, sha256Hex } from "../core/crypto.ts";
import { fail } from "../core/errors.ts";
import { isExpired, resolveExpiry } from "../core/expiry.ts";
import { newId, randomToken } from "../core/ids.ts";
import {
  decodeCursor,
  isPosition,
  type Page,
  type Position,
  pageOf,
  parseLimit,
} from "../core/pagination.ts";
import { actorOf, type CallMeta, type PlatformPrincipal } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import {
  API_KEY_PREFIX,
  type ApiKeySummaryDto,
  type CreateApiKeyInput,
  type CreateApiKeyResponseDto,
  KEY_PREFIX_LENGTH,
  toApiKeySummary,
} from "./model.ts";
import { createApiKeyStore } from "./store.ts";

/** How often `last_used_at` (and the `api_key.used` audit row) may be written for one key. */
export const API_KEY_USE_DEBOUNCE_MS = MINUTE;

/** What a presented key proves: which key it is and exactly the permissions it carries. */
export interface ApiKeyIdentity {
  readonly id: string;
  readonly permissions: readonly string[];
}

export interface ApiKeyService {
  list(
    p: PlatformPrincipal,
    appRef: string,
    query: { limit?: string; cursor?: string },
    meta: CallMeta,
  ): Promise<Page<ApiKeySummaryDto>>;
  create(
    p: PlatformPrincipal,
    appRef: string,
    input: CreateApiKeyInput,
    meta: CallMeta,
  ): Promise<CreateApiKeyResponseDto>;
  remove(p: PlatformPrincipal, appRef: string, keyId: string, meta: CallMeta): Promise<void>;
  /**
   * The key of `appId` that `token` is, or null (unknown, deleted, expired, or another app's key). Reads the row
   * afresh on every call, so a deleted key stops working at once. `meta` attributes the debounced use row.
   */
  authenticate(appId: string, token: string, meta?: Partial<CallMeta>): Promise<ApiKeyIdentity | null>;
}

export interface ApiKeyServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  /** Admin routes only; `authenticate` needs none of it. */
  apps?: Pick<AppService, "authorizeApp">;
}

const keyNotFound = () => fail("API_KEY_NOT_FOUND");
const archived = () => fail("APP_ARCHIVED");

/** A well-formed key: the prefix and 43 base64url characters (256 bits). */
const KEY_SHAPE = /^hdk_live_[A-Za-z0-9_-]{43}$/;

export function createApiKeyService(deps: ApiKeyServiceDeps): ApiKeyService {
  const { db, clock, audit } = deps;
  const store = createApiKeyStore(db);

  const authorizeApp: NonNullable<ApiKeyServiceDeps["apps"]>["authorizeApp"] = async (p, ref, action) => {
    if (!deps.apps) throw new Error("api keys: the Admin routes need the app service");
    return await deps.apps.authorizeApp(p, ref, action);
  };

  return {
    async list(p, appRef, query, meta) {
      const app = await authorizeApp(p, appRef, "heimdall.read");
      const limit = parseLimit(query.limit);
      const after = decodeCursor<Position>(query.cursor, isPosition);
      const rows = await store.list(app.id, after, limit + 1);
      // Listing credentials is a secrets-bearing read (docs/architecture.md, "Audit"); the row names no secret.
      await audit.record({
        appId: app.id,
        workspaceId: app.workspaceId,
        action: "api_key.listed",
        resourceType: "api_key",
        resourceId: null,
        actor: actorOf(p),
        details: { count: Math.min(rows.length, limit) },
        meta,
      });
      return pageOf(rows, limit, (r): Position => ({ c: r.createdAt, i: r.id }), toApiKeySummary);
    },

    async create(p, appRef, input, meta) {
      // A 400 before the lookup, like every other body check (the bounds need the clock, so not in zod).
      const expiresAt = resolveExpiry(input.expires_at, clock.now());
      const app = await authorizeApp(p, appRef, "heimdall.create");
      if (app.status === "archived") throw archived();
      const key = randomToken(API_KEY_PREFIX, 32);
      const keyPrefix = key.slice(0, KEY_PREFIX_LENGTH);
      const row = await tx(db, async () => {
        const inserted = await store.insert({
          id: newId(clock),
          appId: app.id,
          name: input.name,
          keyPrefix,
          keyHash: sha256Hex(key),
          permissions: input.permissions,
          expiresAt,
          createdAt: clock.now(),
        });
        await audit.record({
          appId: app.id,
          workspaceId: app.workspaceId,
          action: "api_key.created",
          resourceType: "api_key",
          resourceId: inserted.id,
          actor: actorOf(p),
          details: {
            name: input.name,
            key_prefix: keyPrefix,
            permissions: input.permissions,
            ...(expiresAt !== null ? { expires_at: iso(expiresAt) } : {}),
          },
          meta,
        });
        return inserted;
      });
      return {
        id: row.id,
        name: row.name,
        key,
        key_prefix: row.keyPrefix,
        permissions: row.permissions,
        expires_at: iso(row.expiresAt),
        created_at: iso(row.createdAt),
      };
    },

    async remove(p, appRef, keyId, meta) {
      // Revoking stays possible on an archived app: taking a credential away never widens access.
      const app = await authorizeApp(p, appRef, "heimdall.delete");
      await tx(db, async () => {
        const row = await store.byId(app.id, keyId);
        if (!row || !(await store.delete(app.id, keyId))) throw keyNotFound();
        await audit.record({
          appId: app.id,
          workspaceId: app.workspaceId,
          action: "api_key.deleted",
          resourceType: "api_key",
          resourceId: row.id,
          actor: actorOf(p),
          details: { name: row.name, key_prefix: row.keyPrefix },
          meta,
        });
      });
    },

    async authenticate(appId, token, meta) {
      if (!KEY_SHAPE.test(token)) return null;
      const hash = sha256Hex(token);
      const row = await store.byHash(hash);
      const now = clock.now();
      // An expired key is answered exactly like a deleted one.
      if (
        !row ||
        !constantTimeEqual(row.keyHash, hash) ||
        row.appId !== appId ||
        isExpired(row.expiresAt, now)
      ) {
        return null;
      }
      if (row.lastUsedAt === null || row.lastUsedAt <= now - API_KEY_USE_DEBOUNCE_MS) {
        await tx(db, async () => {
          // The guarded UPDATE decides, so concurrent requests write one use row per window.
          if (!(await store.touch(row.id, now, API_KEY_USE_DEBOUNCE_MS))) return;
          await audit.record({
            appId,
            action: "api_key.used",
            resourceType: "api_key",
            resourceId: row.id,
            actor: { type: "api_key", id: row.id },
            details: null,
            meta,
          });
        });
      }
      return { id: row.id, permissions: JSON.parse(row.permissions) as string[] };
    },
  };
}
