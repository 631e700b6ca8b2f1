/** @module The Admin-surface permission check shared by every route: workspace membership or PAK policy. */

import { AccessDenied } from "../core/access-denied.ts";
import type { HeimdallError } from "../core/errors.ts";
import { actorOf, type PlatformPrincipal } from "../core/principal.ts";
import { appIdOfResource, evaluatePolicy, roleAllows } from "./pak-policy.ts";

/**
 * Throws unless `p` may perform `action` on `resource` in `workspaceId`. A caller outside the
 * workspace gets `hidden` (a 404 of the resource) so that other workspaces' ids do not leak.
 */
export function authorize(
  p: PlatformPrincipal,
  workspaceId: string,
  action: string,
  resource: string,
  hidden: () => HeimdallError,
): void {
  if (p.kind === "local") {
    if (p.workspaceId !== workspaceId) throw hidden();
    return;
  }
  if (p.kind === "pak") {
    if (p.workspaceId !== workspaceId) throw hidden();
    if (!evaluatePolicy(p.statements, action, resource)) {
      throw new AccessDenied("POLICY_DENIED", `API key policy does not allow ${action} on ${resource}`, {
        reason: "policy",
        actor: actorOf(p),
        appId: appIdOfResource(resource),
        workspaceId,
        required: action,
      });
    }
    return;
  }
  const membership = p.memberships.find((m) => m.workspaceId === workspaceId);
  if (!membership) throw hidden();
  if (!roleAllows(membership.role, action)) {
    throw new AccessDenied("FORBIDDEN", `Workspace role ${membership.role} does not allow ${action}`, {
      reason: "role",
      actor: actorOf(p),
      appId: appIdOfResource(resource),
      workspaceId,
      required: action,
    });
  }
}

/** Workspace ids the principal can see. */
export function visibleWorkspaces(p: PlatformPrincipal): string[] {
  return p.kind === "platform_user" ? p.memberships.map((m) => m.workspaceId) : [p.workspaceId];
}
