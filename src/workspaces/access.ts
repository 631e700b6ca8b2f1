/** @module Who may see a workspace and what a caller may grant in it: the checks the PAK, policy and workspace services share. */

import { authorize, visibleWorkspaces } from "../access/authorize.ts";
import {
  evaluatePolicy,
  firstUngranted,
  roleAllows,
  roleStatements,
  workspaceResource,
} from "../access/pak-policy.ts";
import { fail } from "../core/errors.ts";
import type { PlatformPrincipal, PolicyStatement, WorkspaceRole } from "../core/principal.ts";
import type { WorkspaceRow } from "./model.ts";
import type { WorkspaceStore } from "./store.ts";

export const workspaceNotFound = () => fail("WORKSPACE_NOT_FOUND");

export const pakNotAllowed = () => fail("PAK_NOT_ALLOWED");

function roleIn(p: PlatformPrincipal, workspaceId: string): WorkspaceRole | null {
  if (p.kind === "pak") return null;
  if (p.kind === "local") return p.workspaceId === workspaceId ? "owner" : null;
  return p.memberships.find((m) => m.workspaceId === workspaceId)?.role ?? null;
}

/** What the caller may grant: a PAK's own statements, or the statements equivalent to the user's role. */
function grantable(p: PlatformPrincipal, workspaceId: string): PolicyStatement[] {
  if (p.kind === "pak") return [...p.statements];
  const role = roleIn(p, workspaceId);
  return role ? roleStatements(role) : [];
}

export function createWorkspaceAccess(store: WorkspaceStore) {
  /** The workspace named by the path, if the caller can see it; otherwise a 404 that reveals nothing. */
  async function visibleWorkspace(p: PlatformPrincipal, slug: string): Promise<WorkspaceRow> {
    const w = await store.workspaceBySlug(slug);
    if (!w || !visibleWorkspaces(p).includes(w.id)) throw workspaceNotFound();
    return w;
  }

  return {
    visibleWorkspace,

    /** Resolves the workspace and checks `action` on its workspace-level resource. */
    async workspaceFor(p: PlatformPrincipal, slug: string, action: string): Promise<WorkspaceRow> {
      const w = await visibleWorkspace(p, slug);
      authorize(p, w.id, action, workspaceResource(w.id), workspaceNotFound);
      return w;
    },

    /** No one hands out more than they hold: a PAK or policy may carry only what the caller could do itself. */
    assertGrantable(p: PlatformPrincipal, workspaceId: string, statements: PolicyStatement[]): void {
      const excess = firstUngranted(statements, grantable(p, workspaceId));
      if (excess) {
        throw fail("GRANT_EXCEEDS_CALLER", {
          message: `You cannot grant ${excess.action} on ${excess.resource}`,
        });
      }
    },

    /** `created_by` of policies is shown to callers who may read the audit trail. */
    mayReadAudit(p: PlatformPrincipal, workspaceId: string): boolean {
      if (p.kind === "pak")
        return evaluatePolicy(p.statements, "heimdall.audit.read", workspaceResource(workspaceId));
      const role = roleIn(p, workspaceId);
      return role !== null && roleAllows(role, "heimdall.audit.read");
    },
  };
}

export type WorkspaceAccess = ReturnType<typeof createWorkspaceAccess>;
