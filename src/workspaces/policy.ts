/** @module PAK policy evaluation (DESIGN §3): union of statements, wildcards, deny wins. Pure functions. */
import type { PolicyStatement } from "../db/schema.ts";
import type { WorkspaceRole } from "../http/principal.ts";

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
export function evaluatePolicy(statements: readonly PolicyStatement[], action: string, resource: string): boolean {
  let allowed = false;
  for (const s of statements) {
    const hit = s.actions.some((a) => actionMatches(a, action)) && s.resources.some((r) => resourceMatches(r, resource));
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
    return [{ effect: "allow", actions: ["heimdall.read", "heimdall.audit.read", "heimdall.tenant.read"], resources: ["*"] }];
  }
  return [{ effect: "allow", actions: ["*"], resources: ["*"] }];
}
