/**
 * @module Bulk end-user operations of the Admin API (`/v1/apps/{app_id}/end-users/bulk-*`): delete, revoke
 * sessions, change role or status for a selection (ids, or a filter), in one transaction with one audit row
 * per affected account and a summary row carrying the operation id.
 */

import type { Clock } from "../core/clock.ts";
import { validationError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { EventEmitter } from "../events/emit.ts";
import { createUserAdminStore } from "./admin-store.ts";
import { createUserEvents } from "./events.ts";
import type { BulkInput, BulkSelection, EndUserStatus } from "./model.ts";
import type { UserRules, UserScope } from "./scope.ts";

export type BulkKind = "delete" | "revoke_sessions" | "update_role" | "update_status";

export interface UserBulkService {
  bulk(
    scope: UserScope,
    kind: BulkKind,
    input: BulkInput & { roleName?: string; status?: EndUserStatus },
    meta: CallMeta,
  ): Promise<{ affected_users: number }>;
}

export interface UserBulkDeps {
  db: Db;
  clock: Clock;
  rules: UserRules;
  /** The accounts' MFA factors: their sealed secrets are destroyed with them (crypto-shredding). */
  mfa: { forgetUser(appId: string, userId: string): Promise<void> };
  /** One event per affected account, as the single-account routes emit (docs/webhooks.md). */
  events: Pick<EventEmitter, "emit">;
}

const selectionDetails = (s: BulkSelection) =>
  s.mode === "ids"
    ? { mode: "ids", requested: s.ids.length }
    : { mode: "filter", status: s.status ?? null, search: s.search ?? null };

export function createUserBulkService({ db, clock, rules, mfa, events }: UserBulkDeps): UserBulkService {
  const store = createUserAdminStore(db);
  const userEvents = createUserEvents(events);

  /** The ids a bulk write targets, read and locked inside its transaction. */
  const selected = async (scope: UserScope, s: BulkSelection): Promise<string[]> =>
    await store.lockIds(
      s.mode === "ids"
        ? await store.existingIds(scope.appId, s.ids)
        : await store.matchingIds(scope.appId, { status: s.status, search: s.search }),
    );

  return {
    async bulk(scope, kind, input, meta) {
      const s = input.selection;
      if (s.mode === "filter" && s.status === undefined && s.search === undefined && !input.confirmAll) {
        throw validationError(
          [{ field: "confirm_all_in_app", reason: "must be true to select every account of the app" }],
          "The selection matches every account of the app",
        );
      }
      // Deleting accounts and ending sessions only take access away: allowed on an archived app.
      if (kind === "update_role" || (kind === "update_status" && input.status === "active")) {
        rules.writable(scope);
      }
      if (kind === "update_role") await rules.requireRole(scope, input.roleName!);
      return await tx(db, async () => {
        const ids = await selected(scope, s);
        const operation = newId(clock);
        const now = clock.now();
        const summary: Record<string, unknown> = { operation_id: operation, selection: selectionDetails(s) };
        const perUser = async (id: string, action: string, details: Record<string, unknown>) =>
          await rules.record(scope, meta, action, "user", id, { ...details, bulk_operation_id: operation });
        if (kind === "delete") {
          for (const id of ids) {
            await perUser(id, "user.deleted", { via: "bulk" });
            await userEvents.deleted(scope.appId, id, "bulk", scope.actor, { bulk_operation_id: operation });
          }
          // MFA factors first: their sealed secrets would outlive the cascade.
          for (const id of ids) await mfa.forgetUser(scope.appId, id);
          await store.deleteUsers(ids);
        } else if (kind === "revoke_sessions") {
          const revoked = await store.revokeSessionsOf(ids, "admin_revoked", now);
          for (const [id, n] of revoked) await perUser(id, "user.sessions_revoked", { sessions_revoked: n });
          summary.sessions_revoked = [...revoked.values()].reduce((a, b) => a + b, 0);
        } else if (kind === "update_role") {
          await rules.requireRole(scope, input.roleName!);
          const changed = (await store.currentOf(ids, "role")).filter((r) => r.value !== input.roleName);
          await store.setColumn(
            changed.map((r) => r.id),
            { role: input.roleName },
            now,
          );
          for (const r of changed) {
            await perUser(r.id, "user.role_changed", { from: r.value, to: input.roleName });
            await userEvents.roleChanged(scope.appId, r.id, r.value, input.roleName!, scope.actor, {
              bulk_operation_id: operation,
            });
          }
          summary.role = input.roleName;
        } else {
          const status = input.status!;
          const changed = (await store.currentOf(ids, "status")).filter((r) => r.value !== status);
          await store.setColumn(
            changed.map((r) => r.id),
            { status },
            now,
          );
          const revoked =
            status === "active"
              ? new Map<string, number>()
              : await store.revokeSessionsOf(ids, `account_${status}`, now);
          for (const r of changed) {
            await perUser(r.id, "user.status_changed", {
              from: r.value,
              to: status,
              sessions_revoked: revoked.get(r.id) ?? 0,
            });
            await userEvents.statusChanged(scope.appId, r.id, r.value as EndUserStatus, status, scope.actor, {
              bulk_operation_id: operation,
            });
          }
          summary.status = status;
        }
        await rules.record(scope, meta, `end_user.bulk_${kind}`, "user", null, {
          ...summary,
          affected_users: ids.length,
        });
        return { affected_users: ids.length };
      });
    },
  };
}
