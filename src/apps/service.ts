/**
 * @module Apps rules: create with signing keys in one transaction, read/update/status/delete, stats. The
 * service composes its concerns: the auth config and its secure default live in `auth-config-rules.ts`,
 * the shared interface and deps in `context.ts`.
 */

import { authorize, visibleWorkspaces } from "../access/authorize.ts";
import { appResource } from "../access/pak-policy.ts";
import { DAY } from "../core/clock.ts";
import { fail, type HeimdallError, validationError } from "../core/errors.ts";
import { isUuid, newId } from "../core/ids.ts";
import { decodeCursor, pageOf, parseLimit } from "../core/pagination.ts";
import { actorOf, type PlatformPrincipal } from "../core/principal.ts";
import { tx } from "../db/client.ts";
import { seedAppRoles } from "../rbac/seed.ts";
import { AUTH_CONFIG_DEFAULTS, resolveAuthConfig } from "./auth-config.ts";
import { createAppAuthConfigRules } from "./auth-config-rules.ts";
import type { AppAction, AppService, AppServiceDeps } from "./context.ts";
import {
  type AppCursor,
  type AppDto,
  type AppRow,
  type AppStatus,
  isAppCursor,
  STATUS_TRANSITIONS,
  toAppDto,
} from "./model.ts";
import { createAppStore, isSlugConflict } from "./store.ts";

export type { AppAction, AppService, AppServiceDeps, ListAppsQuery } from "./context.ts";

/** Resource a create is evaluated against: the app does not exist yet, so "any app" of the workspace. */
export const ANY_APP_RESOURCE = "pcft:heimdall:app/*";

/** `security_warnings` code of an app whose admin lane lets any valid token through. */
export const ENFORCEMENT_OFF_WARNING = "ENFORCE_APP_PERMISSIONS_OFF";

/** How long a renamed app's old slug keeps serving its JWKS (the spec's alias window). */
export const SLUG_ALIAS_TTL = 30 * DAY;

const appNotFound = () => fail("APP_NOT_FOUND");
const workspaceNotFound = () => fail("WORKSPACE_NOT_FOUND");
const slugTaken = (slug: string) => fail("SLUG_TAKEN", { message: `The slug ${slug} is already taken` });
const archived = () => fail("APP_ARCHIVED");

/** True when `authorize` would let the call through; used to filter lists instead of failing them. */
function allowed(p: PlatformPrincipal, workspaceId: string, action: AppAction, resource: string): boolean {
  try {
    authorize(p, workspaceId, action, resource, appNotFound);
    return true;
  } catch {
    return false;
  }
}

export function createAppService(deps: AppServiceDeps): AppService {
  const { db, clock, audit, keys, directory, events } = deps;
  const store = createAppStore(db);

  /** The wire shape, flagged with what weakens the app (one config read per app). */
  const dto = async (row: AppRow): Promise<AppDto> =>
    toAppDto(
      row,
      resolveAuthConfig(await store.authConfig(row.id)).enforce_app_permissions
        ? []
        : [ENFORCEMENT_OFF_WARNING],
    );

  const find = async (ref: string) =>
    isUuid(ref) ? await store.byId(ref.toLowerCase()) : await store.bySlug(ref);

  async function authorizeApp(p: PlatformPrincipal, ref: string, action: AppAction): Promise<AppRow> {
    const app = await find(ref);
    if (!app) throw appNotFound();
    authorize(p, app.workspaceId, action, appResource(app.id), appNotFound);
    return app;
  }

  /** A workspace the caller can see and that exists; anything else is indistinguishable from absent. */
  async function visibleWorkspace(p: PlatformPrincipal, id: string): Promise<string> {
    const ws = id.toLowerCase();
    if (!visibleWorkspaces(p).includes(ws) || !(await store.workspaceExists(ws))) throw workspaceNotFound();
    return ws;
  }

  /** Workspaces in scope of a list or count: the one asked for, or all the caller sees. */
  async function scope(p: PlatformPrincipal, workspaceId: string | undefined): Promise<string[]> {
    return workspaceId ? [await visibleWorkspace(p, workspaceId)] : visibleWorkspaces(p);
  }

  function writable(app: AppRow): void {
    if (app.status === "archived") throw archived();
  }

  return {
    async list(p, query) {
      const limit = parseLimit(query.limit);
      let after = decodeCursor<AppCursor>(query.cursor, isAppCursor);
      const workspaceIds = await scope(p, query.workspace_id);
      // A PAK may be limited to some apps: rows it cannot read are skipped, so pages are filled
      // batch by batch from SQL rather than filtered after the fact (which would shrink pages).
      const rows: AppRow[] = [];
      while (rows.length <= limit) {
        const batch = await store.list(workspaceIds, after, limit + 1);
        for (const r of batch)
          if (allowed(p, r.workspaceId, "heimdall.read", appResource(r.id))) rows.push(r);
        if (batch.length < limit + 1) break;
        const last = batch.at(-1)!;
        after = { c: last.createdAt, i: last.id };
      }
      const page = pageOf(
        rows,
        limit,
        (r): AppCursor => ({ c: r.createdAt, i: r.id }),
        (r) => r,
      );
      return { ...page, data: await Promise.all(page.data.map(dto)) };
    },

    async create(p, input, meta) {
      let workspaceId: string;
      if (input.workspace_id !== undefined) {
        workspaceId = await visibleWorkspace(p, input.workspace_id);
      } else {
        const visible = visibleWorkspaces(p);
        if (visible.length !== 1) {
          throw validationError([
            { field: "workspace_id", reason: "required when the caller belongs to several workspaces" },
          ]);
        }
        workspaceId = await visibleWorkspace(p, visible[0]!);
      }
      authorize(p, workspaceId, "heimdall.create", ANY_APP_RESOURCE, workspaceNotFound);
      // Checked before keygen to fail fast, and again inside the transaction where it is authoritative.
      if (await store.slugTaken(input.slug, clock.now())) throw slugTaken(input.slug);

      // RSA keygen is slow and async: it must finish before the synchronous transaction starts.
      const active = await keys.generateKeyMaterial();
      const next = await keys.generateKeyMaterial();

      const actor = actorOf(p);
      const id = newId(clock);
      let row: AppRow;
      try {
        row = await tx(db, async () => {
          if (await store.slugTaken(input.slug, clock.now())) throw slugTaken(input.slug);
          const now = clock.now();
          await store.insert({
            id,
            workspaceId,
            slug: input.slug,
            displayName: input.display_name,
            status: "active",
            metadata: {},
            createdBy: actor.id ?? "system",
            createdAt: now,
            updatedAt: now,
          });
          await store.putAuthConfig(id, { ...AUTH_CONFIG_DEFAULTS }, now);
          await keys.insertInitialKeys(id, active, next);
          await seedAppRoles(db, clock, id);
          await audit.record({
            appId: id,
            workspaceId,
            action: "app.created",
            resourceType: "app",
            resourceId: id,
            actor,
            details: { slug: input.slug, display_name: input.display_name, workspace_id: workspaceId },
            meta,
          });
          return (await store.byId(id))!;
        });
      } catch (err) {
        if (isSlugConflict(err)) throw slugTaken(input.slug);
        throw err;
      }
      keys.invalidate(id);
      directory.invalidate();
      return await dto(row);
    },

    async get(p, ref) {
      return await dto(await authorizeApp(p, ref, "heimdall.read"));
    },

    async update(p, ref, input, meta) {
      const app = await authorizeApp(p, ref, "heimdall.update");
      writable(app);
      const set: Parameters<typeof store.update>[1] = {};
      const changed: string[] = [];
      const details: Record<string, unknown> = {};
      if (input.display_name !== undefined && input.display_name !== app.displayName) {
        set.displayName = input.display_name;
        changed.push("display_name");
      }
      if (input.slug !== undefined && input.slug !== app.slug) {
        set.slug = input.slug;
        changed.push("slug");
        details.previous_slug = app.slug;
        details.slug = input.slug;
      }
      if (input.metadata !== undefined && JSON.stringify(input.metadata) !== JSON.stringify(app.metadata)) {
        set.metadata = input.metadata;
        changed.push("metadata");
      }
      // Nothing to change: no write, no audit row, `updated_at` untouched.
      if (changed.length === 0) return await dto(app);
      try {
        const row = await tx(db, async () => {
          const current = await store.byIdForUpdate(app.id);
          if (!current) throw appNotFound();
          writable(current);
          if (set.slug !== undefined) {
            if (await store.slugTaken(set.slug, clock.now(), app.id)) throw slugTaken(set.slug);
            await store.renameSlug(app.id, current.slug, set.slug, clock.now() + SLUG_ALIAS_TTL);
          }
          const updated = await store.update(app.id, { ...set, updatedAt: clock.now() });
          if (set.slug !== undefined) {
            const actor = actorOf(p);
            await events.emit({
              type: "app.slug_changed",
              appId: app.id,
              data: {
                previous_slug: current.slug,
                slug: set.slug,
                actor: { type: actor.type, id: actor.id },
              },
            });
          }
          await audit.record({
            appId: app.id,
            workspaceId: app.workspaceId,
            action: "app.updated",
            resourceType: "app",
            resourceId: app.id,
            actor: actorOf(p),
            details: { changed, ...details },
            meta,
          });
          return updated;
        });
        directory.invalidate();
        return await dto(row);
      } catch (err) {
        if (isSlugConflict(err)) throw slugTaken(set.slug ?? "");
        throw err;
      }
    },

    async setStatus(p, ref, status, meta) {
      const app = await authorizeApp(p, ref, "heimdall.update");
      if (app.status === status) return await dto(app);
      if (!STATUS_TRANSITIONS[app.status].includes(status)) throw invalidTransition(app.status, status);
      const row = await tx(db, async () => {
        const current = await store.byIdForUpdate(app.id);
        if (!current) throw appNotFound();
        if (current.status === status) return current;
        if (!STATUS_TRANSITIONS[current.status].includes(status))
          throw invalidTransition(current.status, status);
        const updated = await store.update(app.id, { status, updatedAt: clock.now() });
        await audit.record({
          appId: app.id,
          workspaceId: app.workspaceId,
          action: "app.status_changed",
          resourceType: "app",
          resourceId: app.id,
          actor: actorOf(p),
          details: { from: current.status, to: status },
          meta,
        });
        return updated;
      });
      directory.invalidate();
      return await dto(row);
    },

    async remove(p, ref, meta) {
      const app = await authorizeApp(p, ref, "heimdall.delete");
      await tx(db, async () => {
        await keys.deleteApp(app.id);
        await deps.mfa.forgetApp(app.id);
        if (!(await store.delete(app.id))) throw appNotFound();
        // Written after the delete so it is the last row of the app's chain; the log outlives the app.
        await audit.record({
          appId: app.id,
          workspaceId: app.workspaceId,
          action: "app.deleted",
          resourceType: "app",
          resourceId: app.id,
          actor: actorOf(p),
          details: { slug: app.slug, display_name: app.displayName, status: app.status },
          meta,
        });
      });
      keys.invalidate(app.id);
      directory.invalidate();
    },

    async purgeAliases() {
      return await store.purgeAliases(clock.now());
    },

    async stats(p, query) {
      const workspaceIds = await scope(p, query.workspace_id);
      // Same visibility as the list: a PAK counts only the apps its policy lets it read.
      const appIds = (await store.idsIn(workspaceIds))
        .filter((a) => allowed(p, a.workspaceId, "heimdall.read", appResource(a.id)))
        .map((a) => a.id);
      return {
        apps: appIds.length,
        end_users: await store.endUserCount(appIds),
        api_keys_active: await store.activeApiKeyCount(appIds, clock.now()),
      };
    },

    ...createAppAuthConfigRules({ deps, store, authorizeApp, writable }),
    authorizeApp,
    find,
  };
}

function invalidTransition(from: AppStatus, to: AppStatus): HeimdallError {
  return fail("INVALID_STATUS_TRANSITION", { message: `An app cannot go from ${from} to ${to}` });
}
