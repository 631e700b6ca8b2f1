/**
 * @module Tenants (organisations inside an app) and their memberships, one service for both surfaces: the
 * Admin API (platform callers, the seed file's local operator) and the Consumer API's PAK lane.
 *
 * Rules: a tenant is found by its UUID or `tnt_…` display id, and another app's tenant is indistinguishable
 * from an absent one; slugs are unique per app regardless of case; a member holds one of the app's roles
 * (stored by its canonical name); the last `owner` of a tenant can be neither removed nor demoted. Every
 * change writes its audit row and emits its event in its own transaction; a change that changes nothing
 * writes neither.
 *
 * This file holds the tenants themselves and composes the memberships (`members.ts`); what the two share,
 * the service's interface and deps included, is in `context.ts`.
 */

import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { decodeCursor, isPosition, type Position, pageOf, parseLimit } from "../core/pagination.ts";
import { actorOf } from "../core/principal.ts";
import { tx } from "../db/client.ts";
import { isUniqueViolation } from "../db/query.ts";
import type { TenantContext, TenantService, TenantServiceDeps } from "./context.ts";
import { createTenantMembers } from "./members.ts";
import { newDisplayId, slugFromName, suffixedSlug, type TenantRow, toTenantDto } from "./model.ts";
import { createTenantStore } from "./store.ts";

export type { TenantScope, TenantService, TenantServiceDeps } from "./context.ts";
export { TENANT_OWNER_ROLE } from "./members.ts";

/** Derived slugs that collide get a random suffix; this many tries before giving up is beyond unlucky. */
const SLUG_SUFFIX_TRIES = 8;

const tenantNotFound = () => fail("TENANT_NOT_FOUND");
const slugTaken = (slug: string) =>
  fail("TENANT_SLUG_TAKEN", { message: `Another tenant of this app has the slug ${slug}` });
/** The unique index behind the slug check: a concurrent writer on another instance can pass the check too. */
const SLUG_INDEX = { sqlite: "tenants.app_id, tenants.slug", postgres: "tenants_app_slug" };

/** Runs a write that may take a slug, turning the unique index's refusal into TENANT_SLUG_TAKEN. */
async function takingSlug<T>(slug: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isUniqueViolation(err, SLUG_INDEX)) throw slugTaken(slug);
    throw err;
  }
}

export function createTenantService(deps: TenantServiceDeps): TenantService {
  const { db, clock, audit, events, apps } = deps;
  const store = createTenantStore(db);

  const tenantOf: TenantContext["tenantOf"] = async (s, ref) => {
    const t = ref.length <= 64 ? await store.byRef(s.appId, ref) : undefined;
    if (!t) throw tenantNotFound();
    return t;
  };

  const record: TenantContext["record"] = async (s, meta, action, resourceType, resourceId, details) =>
    await audit.record({
      appId: s.appId,
      workspaceId: s.workspaceId,
      action,
      resourceType,
      resourceId,
      actor: s.actor,
      details,
      meta,
    });

  const freeDisplayId = async (): Promise<string> => {
    // 48 random bits: a clash is all but impossible, but a unique index refusal would be a 500.
    for (;;) {
      const id = newDisplayId();
      if (!(await store.displayIdTaken(id))) return id;
    }
  };

  /** A derived slug, with a random suffix while it collides (only ever the tenant's own app counts). */
  const freeSlug = async (appId: string, base: string): Promise<string> => {
    if (!(await store.bySlug(appId, base))) return base;
    for (let i = 0; i < SLUG_SUFFIX_TRIES; i++) {
      const candidate = suffixedSlug(base);
      if (!(await store.bySlug(appId, candidate))) return candidate;
    }
    throw slugTaken(base);
  };

  return {
    async forPlatform(p, appRef, action) {
      const app = await apps.authorizeApp(p, appRef, action);
      if (action !== "heimdall.read" && app.status === "archived") throw fail("APP_ARCHIVED");
      return { appId: app.id, workspaceId: app.workspaceId, actor: actorOf(p) };
    },

    forConsumer(app, p) {
      return { appId: app.id, workspaceId: app.workspaceId, actor: actorOf(p) };
    },

    async list(s, query) {
      const limit = parseLimit(query.limit);
      const after = decodeCursor<Position>(query.cursor, isPosition);
      const rows = await store.list(s.appId, query.status, after, limit + 1);
      return pageOf(rows, limit, (r): Position => ({ c: r.createdAt, i: r.id }), toTenantDto);
    },

    async get(s, tenantRef) {
      return toTenantDto(await tenantOf(s, tenantRef));
    },

    async create(s, input, meta) {
      return await tx(db, async () => {
        let slug: string;
        if (input.slug !== undefined) {
          if (await store.bySlug(s.appId, input.slug)) throw slugTaken(input.slug);
          slug = input.slug;
        } else {
          slug = await freeSlug(s.appId, slugFromName(input.display_name));
        }
        const now = clock.now();
        const displayId = await freeDisplayId();
        const row = await takingSlug(slug, () =>
          store.insert({
            id: newId(clock),
            appId: s.appId,
            displayId,
            slug,
            displayName: input.display_name,
            status: "active",
            metadata: input.metadata ?? {},
            createdAt: now,
            updatedAt: now,
          }),
        );
        const dto = toTenantDto(row);
        await record(s, meta, "tenant.created", "tenant", row.id, {
          display_id: row.displayId,
          slug,
          display_name: row.displayName,
          slug_derived: input.slug === undefined,
        });
        await events.emit({ type: "tenant.created", appId: s.appId, data: { tenant: dto } });
        return dto;
      });
    },

    async update(s, tenantRef, input, meta) {
      return await tx(db, async () => {
        const t = await tenantOf(s, tenantRef);
        const set: Partial<TenantRow> = {};
        const changes: string[] = [];
        const details: Record<string, unknown> = {};
        if (input.display_name !== undefined && input.display_name !== t.displayName) {
          set.displayName = input.display_name;
          changes.push("display_name");
          details.previous_display_name = t.displayName;
        }
        if (input.slug !== undefined && input.slug !== t.slug) {
          const holder = await store.bySlug(s.appId, input.slug);
          if (holder && holder.id !== t.id) throw slugTaken(input.slug);
          set.slug = input.slug;
          changes.push("slug");
          details.previous_slug = t.slug;
        }
        if (input.status !== undefined && input.status !== t.status) {
          set.status = input.status;
          changes.push("status");
          details.previous_status = t.status;
        }
        // Replaced as a whole (as an app's metadata is); the audit row names the change, not the values.
        if (
          input.metadata !== undefined &&
          JSON.stringify(input.metadata) !== JSON.stringify(t.metadata ?? {})
        ) {
          set.metadata = input.metadata;
          changes.push("metadata");
        }
        // Nothing to change: no write, no audit row, no event, `updated_at` untouched.
        if (changes.length === 0) return toTenantDto(t);
        const updated = await takingSlug(set.slug ?? t.slug, () =>
          store.update(t.id, { ...set, updatedAt: clock.now() }),
        );
        const dto = toTenantDto(updated);
        await record(s, meta, "tenant.updated", "tenant", t.id, {
          display_id: t.displayId,
          changes,
          ...details,
        });
        await events.emit({ type: "tenant.updated", appId: s.appId, data: { tenant: dto, changes } });
        return dto;
      });
    },

    async remove(s, tenantRef, meta) {
      await tx(db, async () => {
        const t = await tenantOf(s, tenantRef);
        const members = await store.memberCount(t.id);
        await store.delete(t.id);
        await record(s, meta, "tenant.deleted", "tenant", t.id, {
          display_id: t.displayId,
          slug: t.slug,
          display_name: t.displayName,
          members_removed: members,
        });
        await events.emit({
          type: "tenant.deleted",
          appId: s.appId,
          data: { tenant_id: t.id, display_id: t.displayId, slug: t.slug, members_removed: members },
        });
      });
    },

    ...createTenantMembers({ deps, store, tenantOf, record }),
  };
}
