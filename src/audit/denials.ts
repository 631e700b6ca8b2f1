/** @module Access denials (RBAC, PAK policy, workspace role, CSRF): the 403 that carries who was refused, and its debounced audit row. */

import { type Clock, MINUTE } from "../core/clock.ts";
import { type ErrorCode, HeimdallError } from "../core/errors.ts";
import type { AuditActor, CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { AuditWriter } from "./writer.ts";

export const DENIAL_ACTION = "access.denied";

/** How often one caller's identical denial (same reason, same route) writes a row. */
export const DENIAL_DEBOUNCE_MS = MINUTE;
/** Debounce entries kept before stale ones are swept; bounded by real credentials, not by attackers. */
const MAX_TRACKED = 10_000;

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

export interface DenialRecorder {
  /** Writes the `access.denied` row unless the same caller hit the same refusal on `route` within the window. */
  record(denial: Denial, request: { method: string; path: string; route: string }, meta: CallMeta): void;
}

/** `pcft:heimdall:app/<uuid>` → the app id, so a policy denial on an app lands in that app's audit log. */
export function appIdOfResource(resource: string): string | null {
  const m = /^pcft:heimdall:app\/([^/]+)$/.exec(resource);
  return m ? m[1]! : null;
}

export function createDenialRecorder({
  db,
  clock,
  audit,
}: {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
}): DenialRecorder {
  // In memory on purpose: a denial must not cost a write to find out whether it may write. Per
  // process, so N instances may write up to N rows per window — still bounded.
  const lastWritten = new Map<string, number>();

  const sweep = (now: number) => {
    for (const [k, at] of lastWritten) if (at <= now - DENIAL_DEBOUNCE_MS) lastWritten.delete(k);
    // Every entry fresh (a burst of distinct callers): forget the oldest rather than grow without end.
    if (lastWritten.size >= MAX_TRACKED) lastWritten.clear();
  };

  return {
    record(denial, request, meta) {
      const now = clock.now();
      const key = [denial.actor.type, denial.actor.id, denial.reason, request.method, request.route].join(
        "\u0000",
      );
      const last = lastWritten.get(key);
      if (last !== undefined && last > now - DENIAL_DEBOUNCE_MS) return;
      if (lastWritten.size >= MAX_TRACKED) sweep(now);
      lastWritten.set(key, now);
      tx(db, () =>
        audit.record({
          appId: denial.appId ?? null,
          workspaceId: denial.workspaceId ?? null,
          action: DENIAL_ACTION,
          resourceType: null,
          resourceId: null,
          actor: denial.actor,
          details: {
            reason: denial.reason,
            ...(denial.required !== undefined && { required: denial.required }),
            method: request.method,
            path: request.path,
          },
          meta,
        }),
      );
    },
  };
}
