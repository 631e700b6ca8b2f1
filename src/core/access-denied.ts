/** @module Access denials (RBAC, caller-narrowing, PAK policy, workspace role, CSRF): the 403 that carries who was refused, so the error mapper can audit it. */
import { type ErrorCode, HeimdallError } from "./errors.ts";
import type { AuditActor } from "./principal.ts";

export type DenialReason = "permission" | "grant" | "policy" | "role" | "csrf";

/** The 403 codes an audited denial answers with (docs/errors.md). */
export type DenialCode = Extract<
  ErrorCode,
  "PERMISSION_DENIED" | "PERMISSION_GRANT_DENIED" | "POLICY_DENIED" | "FORBIDDEN" | "CSRF_REJECTED"
>;

export interface Denial {
  readonly reason: DenialReason;
  readonly actor: AuditActor;
  /** The app's chain when the refused action was on an app; else the workspace's. */
  readonly appId?: string | null;
  readonly workspaceId?: string | null;
  /** The permission(s) (RBAC, grant) or action (policy, role) the caller lacked; absent for CSRF. */
  readonly required?: string;
}

/**
 * A 403 whose thrower knows who was refused and why. The row is written by the error mapper, after the
 * request's transaction has rolled back, so a denial inside a service's write still leaves its trace.
 */
export class AccessDenied extends HeimdallError {
  constructor(
    code: DenialCode,
    message: string,
    readonly denial: Denial,
  ) {
    super(code, { message });
    this.name = "AccessDenied";
  }
}
