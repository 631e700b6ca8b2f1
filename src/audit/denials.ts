/** @module The debounced `access.denied` audit row of an access denial (`core/access-denied.ts` is the 403 that carries who was refused). */

import type { Denial } from "../core/access-denied.ts";
import { type Clock, MINUTE } from "../core/clock.ts";
import type { CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { AuditWriter } from "./writer.ts";

export const DENIAL_ACTION = "access.denied";

/** How often one caller's identical denial (same reason, same route) writes a row. */
export const DENIAL_DEBOUNCE_MS = MINUTE;
/** Debounce entries kept before stale ones are swept; bounded by real credentials, not by attackers. */
const MAX_TRACKED = 10_000;

export interface DenialRecorder {
  /** Writes the `access.denied` row unless the same caller hit the same refusal on `route` within the window. */
  record(
    denial: Denial,
    request: { method: string; path: string; route: string },
    meta: CallMeta,
  ): Promise<void>;
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
    async record(denial, request, meta) {
      const now = clock.now();
      const key = [denial.actor.type, denial.actor.id, denial.reason, request.method, request.route].join(
        "\u0000",
      );
      const last = lastWritten.get(key);
      if (last !== undefined && last > now - DENIAL_DEBOUNCE_MS) return;
      if (lastWritten.size >= MAX_TRACKED) sweep(now);
      lastWritten.set(key, now);
      await tx(
        db,
        async () =>
          await audit.record({
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
