/** @module PAK policy evaluation (docs/architecture.md, "Lanes"): union of statements, wildcards, deny wins. Pure functions. */

import type { PolicyStatement, WorkspaceRole } from "../core/principal.ts";

/** Every action a Heimdall policy statement can name (the platform's action catalogue for this service). */
export const HEIMDALL_ACTIONS = [
  "heimdall.read",
  "heimdall.create",
  "heimdall.update",
  "heimdall.delete",
  "heimdall.rotate-secret",
  "heimdall.audit.read",
  "heimdall.tenant.read",
  "heimdall.tenant.create",
  "heimdall.tenant.update",
  "heimdall.tenant.delete",
  "heimdall.tenant.members.add",
  "heimdall.tenant.members.remove",
  "heimdall.tenant.members.update-role",
  "heimdall.user.verify.create",
  "heimdall.user.verify.send-email",
  "heimdall.user.password-reset.create",
  "heimdall.user.password-reset.send-email",
  "heimdall.signup.create",
] as const;

export type HeimdallAction = (typeof HEIMDALL_ACTIONS)[number];

export const appResource = (appId: string) => `pcft:heimdall:app/${appId}`;

/** `*` matches everything; `a.*` matches `a.x` and `a.x.y`; `*.read` matches any action ending in `.read`. */
export function actionMatches(pattern: string, action: string): boolean {
  if (pattern === "*" || pattern === action) return true;
  if (pattern.endsWith(".*")) return action.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith("*.")) return action.endsWith(pattern.slice(1));
  return false;
}

export function resourceMatches(pattern: string, resource: string): boolean {
  if (pattern === "*" || pattern === resource) return true;
  return pattern.endsWith("*") && resource.startsWith(pattern.slice(0, -1));
}

/** Allowed iff some allow statement matches and no deny statement does. */
export function evaluatePolicy(
  statements: readonly PolicyStatement[],
  action: string,
  resource: string,
): boolean {
  let allowed = false;
  for (const s of statements) {
    const hit =
      s.actions.some((a) => actionMatches(a, action)) &&
      s.resources.some((r) => resourceMatches(r, resource));
    if (!hit) continue;
    if (s.effect === "deny") return false;
    allowed = true;
  }
  return allowed;
}

/** What a workspace role may do on Heimdall resources: viewers read, admins and owners do everything. */
export function roleAllows(role: WorkspaceRole, action: string): boolean {
  if (role === "owner" || role === "admin") return true;
  return action === "heimdall.read" || action === "heimdall.audit.read" || action === "heimdall.tenant.read";
}

/** The statements equivalent to a workspace role: what a platform user may grant when minting a PAK. */
export function roleStatements(role: WorkspaceRole): PolicyStatement[] {
  if (role === "viewer") {
    return [
      {
        effect: "allow",
        actions: ["heimdall.read", "heimdall.audit.read", "heimdall.tenant.read"],
        resources: ["*"],
      },
    ];
  }
  return [{ effect: "allow", actions: ["*"], resources: ["*"] }];
}

/** The resource string of workspace-level objects (API keys, policies, members): only `*`-style grants reach it. */
export const workspaceResource = (workspaceId: string) => `pcft:heimdall:workspace/${workspaceId}`;

const isActionWildcard = (p: string) => p === "*" || p.endsWith(".*") || p.startsWith("*.");

/** True when every action `inner` can match is also matched by `outer`. Conservative: false when unsure. */
export function actionCovers(outer: string, inner: string): boolean {
  if (outer === "*" || outer === inner) return true;
  if (inner === "*") return false;
  if (outer.endsWith(".*")) {
    const prefix = outer.slice(0, -1);
    if (inner.startsWith("*.")) return false;
    return (inner.endsWith(".*") ? inner.slice(0, -1) : inner).startsWith(prefix);
  }
  if (outer.startsWith("*.")) {
    const suffix = outer.slice(1);
    if (inner.endsWith(".*")) return false;
    return (inner.startsWith("*.") ? inner.slice(1) : inner).endsWith(suffix);
  }
  return false;
}

/** True when every resource `inner` can match is also matched by `outer` (trailing-`*` prefixes). */
export function resourceCovers(outer: string, inner: string): boolean {
  if (outer === "*" || outer === inner) return true;
  if (inner === "*" || !outer.endsWith("*")) return false;
  const base = inner.endsWith("*") ? inner.slice(0, -1) : inner;
  return base.startsWith(outer.slice(0, -1));
}

/** Could one action match both patterns? Conservative: two wildcards are assumed to overlap. */
function actionsOverlap(a: string, b: string): boolean {
  if (!isActionWildcard(a)) return actionMatches(b, a);
  if (!isActionWildcard(b)) return actionMatches(a, b);
  return true;
}

function resourcesOverlap(a: string, b: string): boolean {
  if (!a.endsWith("*")) return resourceMatches(b, a);
  if (!b.endsWith("*")) return resourceMatches(a, b);
  return true;
}

/**
 * The first (action, resource) pair that `requested` allows but `granter` does not, or null when the
 * requested statements stay within the granter's rights. Requested deny statements only narrow a grant,
 * so they never exceed it. Used so that a minter grants at most its own rights.
 */
export function firstUngranted(
  requested: readonly PolicyStatement[],
  granter: readonly PolicyStatement[],
): { action: string; resource: string } | null {
  for (const s of requested) {
    if (s.effect !== "allow") continue;
    for (const action of s.actions) {
      for (const resource of s.resources) {
        const allowed = granter.some(
          (g) =>
            g.effect === "allow" &&
            g.actions.some((a) => actionCovers(a, action)) &&
            g.resources.some((r) => resourceCovers(r, resource)),
        );
        const denied = granter.some(
          (g) =>
            g.effect === "deny" &&
            g.actions.some((a) => actionsOverlap(a, action)) &&
            g.resources.some((r) => resourcesOverlap(r, resource)),
        );
        if (!allowed || denied) return { action, resource };
      }
    }
  }
  return null;
}

/** A statement action is acceptable when it is `*`, a catalogued action, or a wildcard matching one. */
export function isKnownActionPattern(pattern: string): boolean {
  if (pattern === "*") return true;
  if (isActionWildcard(pattern)) return HEIMDALL_ACTIONS.some((a) => actionMatches(pattern, a));
  return (HEIMDALL_ACTIONS as readonly string[]).includes(pattern);
}

/** `pcft:heimdall:app/<uuid>` → the app id, so a policy denial on an app lands in that app's audit log. */
export function appIdOfResource(resource: string): string | null {
  const m = /^pcft:heimdall:app\/([^/]+)$/.exec(resource);
  return m ? m[1]! : null;
}
