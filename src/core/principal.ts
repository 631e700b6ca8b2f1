/** @module Who is calling (platform and admin-lane principals), and the rule that maps a principal to an audit actor. */

/** One statement of a PAK policy (stored as JSON in `workspace_policies.statements`). */
export interface PolicyStatement {
  effect: "allow" | "deny";
  actions: string[];
  resources: string[];
}

export type WorkspaceRole = "owner" | "admin" | "viewer";

export interface PlatformUserPrincipal {
  readonly kind: "platform_user";
  readonly userId: string;
  readonly sessionId: string;
  /** `cookie` requests are subject to the CSRF rule; `bearer` carries the same session token in a header. */
  readonly via: "cookie" | "bearer";
  readonly memberships: ReadonlyArray<{ readonly workspaceId: string; readonly role: WorkspaceRole }>;
}

export interface PakPrincipal {
  readonly kind: "pak";
  readonly pakId: string;
  readonly workspaceId: string;
  readonly statements: readonly PolicyStatement[];
}

/**
 * The command line on the machine itself (`heimdall seed apply`, `heimdall dev`, `heimdall users import`):
 * whoever can read the data dir and its master key already holds everything in it, so it acts in one
 * workspace with an owner's reach. Never built from a request.
 */
export interface LocalOperatorPrincipal {
  readonly kind: "local";
  readonly workspaceId: string;
}

export type PlatformPrincipal = PlatformUserPrincipal | PakPrincipal | LocalOperatorPrincipal;

export interface AuditActor {
  readonly type: "platform_user" | "pak" | "end_user" | "m2m" | "api_key" | "system";
  readonly id: string | null;
}

export const SYSTEM_ACTOR: AuditActor = { type: "system", id: null };

export function actorOf(p: PlatformPrincipal): AuditActor {
  if (p.kind === "local") return SYSTEM_ACTOR;
  return p.kind === "pak" ? { type: "pak", id: p.pakId } : { type: "platform_user", id: p.userId };
}

/** Request facts every service call that writes audit rows needs. */
export interface CallMeta {
  readonly requestId: string;
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** Aborts when the client goes away; long waits (the argon2 queue) give up on it. */
  readonly signal?: AbortSignal;
}

/** Who called an admin-lane route, and exactly what it may do there. */
export interface ConsumerAdminCaller {
  readonly kind: "end_user" | "m2m" | "api_key";
  /** Account id, M2M `client_id`, or API key id. */
  readonly id: string;
  readonly held: ReadonlySet<string>;
}
