/** @module Workspaces and their members as the platform API lists them: a PAK sees its own workspace, a user its memberships. */
import type { AuditWriter } from "../audit/writer.ts";
import { actorOf, type CallMeta, type PlatformPrincipal } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { createWorkspaceAccess } from "./access.ts";
import { memberDto, pageOf, parseCursor, parseLimit, workspaceDto, workspaceListItemDto } from "./model.ts";
import { createWorkspaceStore } from "./store.ts";

export interface WorkspaceServiceDeps {
  db: Db;
  audit: AuditWriter;
}

export interface ListQuery {
  limit?: string;
  cursor?: string;
}

export function createWorkspaceService({ db, audit }: WorkspaceServiceDeps) {
  const store = createWorkspaceStore(db);
  const access = createWorkspaceAccess(store);

  return {
    /** A PAK sees its own workspace only; a user sees every workspace it is a member of. */
    async listWorkspaces(p: PlatformPrincipal, q: ListQuery) {
      const limit = parseLimit(q.limit);
      const after = parseCursor(q.cursor);
      if (p.kind !== "platform_user") {
        const w = await store.workspaceById(p.workspaceId);
        const rows =
          w && (!after || w.createdAt < after.c || (w.createdAt === after.c && w.id < after.i))
            ? [{ workspace: w, role: null }]
            : [];
        return pageOf(
          rows,
          limit,
          (r) => ({ c: r.workspace.createdAt, i: r.workspace.id }),
          (r) => workspaceListItemDto(r.workspace, r.role),
        );
      }
      const rows = await store.workspacesOfUser(p.userId, limit + 1, after);
      return pageOf(
        rows,
        limit,
        (r) => ({ c: r.workspace.createdAt, i: r.workspace.id }),
        (r) => workspaceListItemDto(r.workspace, r.role),
      );
    },

    async getWorkspace(p: PlatformPrincipal, slug: string) {
      return workspaceDto(await access.visibleWorkspace(p, slug));
    },

    /** A user-listing read, so it is audited (docs/architecture.md, "Audit"). */
    async listMembers(p: PlatformPrincipal, slug: string, q: ListQuery, meta: CallMeta) {
      const limit = parseLimit(q.limit);
      const after = parseCursor(q.cursor);
      const ws = await access.workspaceFor(p, slug, "heimdall.read");
      const rows = await store.membersOf(ws.id, limit + 1, after);
      await tx(
        db,
        async () =>
          await audit.record({
            workspaceId: ws.id,
            action: "workspace.members_listed",
            resourceType: "workspace",
            resourceId: ws.id,
            actor: actorOf(p),
            details: { count: Math.min(rows.length, limit) },
            meta,
          }),
      );
      return pageOf(rows, limit, (r) => ({ c: r.createdAt, i: r.id }), memberDto);
    },
  };
}

export type WorkspaceService = ReturnType<typeof createWorkspaceService>;
