/** @module M2M clients on the Admin API: create (secret shown once), read, activate/deactivate, rotate, scopes, delete. */

import { randomBytes } from "node:crypto";
import type { AppRow } from "../apps/model.ts";
import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { Clock } from "../core/clock.ts";
import { iso, SECOND } from "../core/clock.ts";
import { constantTimeEqual, sha256Hex } from "../core/crypto.ts";
import { fail } from "../core/errors.ts";
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
import type { EventEmitter } from "../events/emit.ts";
import {
  CLIENT_ID_PREFIX,
  CLIENT_SECRET_PREFIX,
  type CreateM2mClientInput,
  type M2mClientCreateResponseDto,
  type M2mClientDetailDto,
  type M2mClientRow,
  type M2mClientSummaryDto,
  type M2mRotateSecretResponseDto,
  type RotateSecretInput,
  type SetScopesInput,
  toClientDetail,
  toClientSummary,
  type UpdateM2mClientInput,
} from "./model.ts";
import { createM2mStore } from "./store.ts";

export interface M2mClientService {
  list(
    p: PlatformPrincipal,
    appRef: string,
    query: { limit?: string; cursor?: string },
    meta: CallMeta,
  ): Promise<Page<M2mClientSummaryDto>>;
  /** `given` is the local operator's (seed files): a secret it keeps itself instead of a generated one. */
  create(
    p: PlatformPrincipal,
    appRef: string,
    input: CreateM2mClientInput,
    meta: CallMeta,
    given?: GivenSecret,
  ): Promise<M2mClientCreateResponseDto>;
  get(p: PlatformPrincipal, appRef: string, clientRef: string, meta: CallMeta): Promise<M2mClientDetailDto>;
  update(
    p: PlatformPrincipal,
    appRef: string,
    clientRef: string,
    input: UpdateM2mClientInput,
    meta: CallMeta,
  ): Promise<void>;
  rotateSecret(
    p: PlatformPrincipal,
    appRef: string,
    clientRef: string,
    input: RotateSecretInput,
    meta: CallMeta,
    given?: GivenSecret,
  ): Promise<M2mRotateSecretResponseDto>;
  setScopes(
    p: PlatformPrincipal,
    appRef: string,
    clientRef: string,
    input: SetScopesInput,
    meta: CallMeta,
  ): Promise<void>;
  remove(p: PlatformPrincipal, appRef: string, clientRef: string, meta: CallMeta): Promise<void>;
  /**
   * Whether `secret` is the current secret of the active client `clientId` of app `appId`: `heimdall dev`
   * checking the credentials file it keeps. Discloses nothing, so it writes no audit row.
   */
  secretMatches(appId: string, clientId: string, secret: string): Promise<boolean>;
}

/** A client secret chosen by the operator on the machine, never over HTTP (the routes always generate one). */
export interface GivenSecret {
  readonly secret: string;
}

export interface M2mClientServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  apps: Pick<AppService, "authorizeApp">;
  /** `m2m.credential.created|rotated|deleted` (docs/webhooks.md); never the secret or its hash. */
  events: Pick<EventEmitter, "emit">;
}

const clientNotFound = () => fail("M2M_CLIENT_NOT_FOUND");
const archived = () => fail("APP_ARCHIVED");

export const newClientId = () => CLIENT_ID_PREFIX + randomBytes(16).toString("hex");
export const newClientSecret = () => randomToken(CLIENT_SECRET_PREFIX, 32);

export function createM2mClientService({
  db,
  clock,
  audit,
  apps,
  events,
}: M2mClientServiceDeps): M2mClientService {
  const store = createM2mStore(db);

  /** A credential event: the public facts of the client and who acted; call inside the change's tx. */
  const credentialEvent = async (
    type: "created" | "rotated" | "deleted",
    p: PlatformPrincipal,
    app: AppRow,
    row: Pick<M2mClientRow, "clientId" | "name" | "scopes">,
    extra: Record<string, unknown> = {},
  ) => {
    const actor = actorOf(p);
    await events.emit({
      type: `m2m.credential.${type}`,
      appId: app.id,
      data: {
        client_id: row.clientId,
        name: row.name,
        scopes: row.scopes,
        ...extra,
        actor: { type: actor.type, id: actor.id },
      },
    });
  };

  const writableApp = async (
    p: PlatformPrincipal,
    ref: string,
    action: "heimdall.create" | "heimdall.update" | "heimdall.rotate-secret",
  ) => {
    const app = await apps.authorizeApp(p, ref, action);
    if (app.status === "archived") throw archived();
    return app;
  };

  const clientOf = async (app: AppRow, ref: string): Promise<M2mClientRow> => {
    const row = await store.byRef(app.id, ref);
    if (!row) throw clientNotFound();
    return row;
  };

  const record = async (
    p: PlatformPrincipal,
    app: AppRow,
    action: string,
    resourceId: string | null,
    details: Record<string, unknown>,
    meta: CallMeta,
  ) =>
    await audit.record({
      appId: app.id,
      workspaceId: app.workspaceId,
      action,
      resourceType: "m2m_client",
      resourceId,
      actor: actorOf(p),
      details,
      meta,
    });

  /**
   * A change to one client, re-read inside the write transaction so a concurrent delete is a 404 rather
   * than a silent no-op; `change` returns the audit details, or null when there is nothing to write.
   */
  const mutate = async (
    p: PlatformPrincipal,
    app: AppRow,
    ref: string,
    action: string,
    meta: CallMeta,
    change: (row: M2mClientRow) => Promise<Record<string, unknown> | null>,
  ): Promise<M2mClientRow> =>
    await tx(db, async () => {
      const row = await clientOf(app, ref);
      const details = await change(row);
      if (details !== null)
        await record(p, app, action, row.id, { client_id: row.clientId, ...details }, meta);
      return row;
    });

  return {
    async list(p, appRef, query, meta) {
      const app = await apps.authorizeApp(p, appRef, "heimdall.read");
      const limit = parseLimit(query.limit);
      const after = decodeCursor<Position>(query.cursor, isPosition);
      const rows = await store.list(app.id, after, limit + 1);
      // Credential listings are secrets-bearing reads (docs/architecture.md, "Audit"), even though no secret is shown.
      await record(p, app, "m2m_client.listed", null, { count: Math.min(rows.length, limit) }, meta);
      return pageOf(rows, limit, (r): Position => ({ c: r.createdAt, i: r.id }), toClientSummary);
    },

    async create(p, appRef, input, meta, given) {
      const app = await writableApp(p, appRef, "heimdall.create");
      const secret = given?.secret ?? newClientSecret();
      const scopes = input.scopes ?? [];
      const row = await tx(db, async () => {
        const now = clock.now();
        const inserted = await store.insert({
          id: newId(clock),
          appId: app.id,
          clientId: newClientId(),
          name: input.name,
          secretHash: sha256Hex(secret),
          isActive: true,
          scopes,
          createdAt: now,
          updatedAt: now,
        });
        await record(
          p,
          app,
          "m2m_client.created",
          inserted.id,
          { client_id: inserted.clientId, name: input.name, scopes },
          meta,
        );
        await credentialEvent("created", p, app, inserted);
        return inserted;
      });
      return {
        id: row.id,
        client_id: row.clientId,
        client_secret: secret,
        name: row.name,
        created_at: iso(row.createdAt),
      };
    },

    async get(p, appRef, clientRef, meta) {
      const app = await apps.authorizeApp(p, appRef, "heimdall.read");
      const row = await clientOf(app, clientRef);
      await record(p, app, "m2m_client.viewed", row.id, { client_id: row.clientId }, meta);
      return toClientDetail(row);
    },

    async update(p, appRef, clientRef, input, meta) {
      const app = await writableApp(p, appRef, "heimdall.update");
      await mutate(p, app, clientRef, "m2m_client.updated", meta, async (row) => {
        // Nothing to change: no write, no audit row, `updated_at` untouched.
        if (input.is_active === undefined || input.is_active === row.isActive) return null;
        if (input.is_active) {
          await store.update(row.id, { isActive: true, updatedAt: clock.now() });
          return { is_active: { from: row.isActive, to: true } };
        }
        // Deactivation also ends a rotation's grace window for good: turning the client back on must
        // not revive a secret that was on its way out.
        const graceEnded = row.prevSecretHash !== null;
        await store.update(row.id, {
          isActive: false,
          prevSecretHash: null,
          prevSecretExpiresAt: null,
          updatedAt: clock.now(),
        });
        return {
          is_active: { from: row.isActive, to: false },
          ...(graceEnded ? { previous_secret_ended: true } : {}),
        };
      });
    },

    async rotateSecret(p, appRef, clientRef, input, meta, given) {
      const app = await writableApp(p, appRef, "heimdall.rotate-secret");
      const secret = given?.secret ?? newClientSecret();
      const requested = input.grace_period_seconds ?? 0;
      let previousUntil: number | null = null;
      const row = await mutate(p, app, clientRef, "m2m_client.secret_rotated", meta, async (r) => {
        const now = clock.now();
        // Only one previous secret is kept: the one this rotation replaces. A secret replaced earlier
        // and still in its grace window ends here. A deactivated client keeps none (see `update`).
        const grace = r.isActive ? requested : 0;
        previousUntil = grace > 0 ? now + grace * SECOND : null;
        await store.update(r.id, {
          secretHash: sha256Hex(secret),
          prevSecretHash: previousUntil === null ? null : r.secretHash,
          prevSecretExpiresAt: previousUntil,
          updatedAt: now,
        });
        // Named apart from the response's field: event data keys never mention secrets (docs/webhooks.md).
        await credentialEvent("rotated", p, app, r, {
          grace_period_seconds: grace,
          grace_ends_at: iso(previousUntil),
        });
        return {
          grace_period_seconds: grace,
          previous_secret_expires_at: iso(previousUntil),
          ...(r.prevSecretExpiresAt !== null && r.prevSecretExpiresAt > now
            ? { earlier_secret_ended: true }
            : {}),
        };
      });
      return {
        client_id: row.clientId,
        client_secret: secret,
        previous_secret_expires_at: iso(previousUntil),
      };
    },

    async setScopes(p, appRef, clientRef, input, meta) {
      const app = await writableApp(p, appRef, "heimdall.update");
      await mutate(p, app, clientRef, "m2m_client.scopes_set", meta, async (row) => {
        if (JSON.stringify(row.scopes) === JSON.stringify(input.permissions)) return null;
        await store.update(row.id, { scopes: input.permissions, updatedAt: clock.now() });
        return { from: row.scopes, to: input.permissions };
      });
    },

    async remove(p, appRef, clientRef, meta) {
      // Deleting stays possible on an archived app: taking a credential away never widens access.
      const app = await apps.authorizeApp(p, appRef, "heimdall.delete");
      await tx(db, async () => {
        const row = await clientOf(app, clientRef);
        if (!(await store.delete(row.id))) throw clientNotFound();
        await record(p, app, "m2m_client.deleted", row.id, { client_id: row.clientId, name: row.name }, meta);
        await credentialEvent("deleted", p, app, row);
      });
    },

    async secretMatches(appId, clientId, secret) {
      const row = await store.lookup(clientId);
      return (
        row !== null &&
        row.appId === appId &&
        row.isActive === 1 &&
        constantTimeEqual(sha256Hex(secret), row.secretHash)
      );
    },
  };
}
