/** @module PAK and policy rows as both provisioning (CLI, first start) and the API write and show them, each write with its audit row. */
import type { AuditWriter } from "../audit/writer.ts";
import { type Clock, iso } from "../core/clock.ts";
import { sha256Hex } from "../core/crypto.ts";
import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { AuditActor, CallMeta, PolicyStatement } from "../core/principal.ts";
import { isUniqueViolation } from "../db/query.ts";
import { PAK_SHOWN_PREFIX_LENGTH, type PakRow, type PolicyRow, pakDto, type WorkspaceRow } from "./model.ts";
import type { WorkspaceStore } from "./store.ts";

export interface WorkspaceRecordsDeps {
  store: WorkspaceStore;
  clock: Clock;
  audit: AuditWriter;
}

export const policyNameTaken = (name: string) =>
  fail("POLICY_NAME_TAKEN", { message: `A policy named "${name}" already exists` });

/** Two policies of one workspace with the same name (the pre-check loses a race with another writer). */
export const isPolicyNameConflict = (err: unknown) =>
  isUniqueViolation(err, { sqlite: "workspace_policies.name", postgres: "workspace_policies_ws_name" });

export function createWorkspaceRecords({ store, clock, audit }: WorkspaceRecordsDeps) {
  return {
    /** The PAK's wire record with its bound policies. */
    async pakRecord(row: PakRow) {
      return pakDto(row, (await store.boundPolicies([row.id])).get(row.id) ?? []);
    },

    /** Inserts a PAK and its bindings; call inside a transaction. */
    async insertPak(
      ws: WorkspaceRow,
      input: {
        name: string;
        description: string | null;
        token: string;
        createdBy: string | null;
        expiresAt?: number | null;
      },
      policyIds: string[],
      actor: AuditActor,
      meta?: Partial<CallMeta>,
    ): Promise<PakRow> {
      const now = clock.now();
      const row: PakRow = {
        id: newId(clock),
        workspaceId: ws.id,
        name: input.name,
        description: input.description,
        tokenPrefix: input.token.slice(0, PAK_SHOWN_PREFIX_LENGTH),
        tokenHash: sha256Hex(input.token),
        expiresAt: input.expiresAt ?? null,
        createdBy: input.createdBy,
        lastUsedAt: null,
        revokedAt: null,
        createdAt: now,
        updatedAt: now,
      };
      await store.insertPak(row, policyIds);
      await audit.record({
        workspaceId: ws.id,
        action: "pak.created",
        resourceType: "pak",
        resourceId: row.id,
        actor,
        details: {
          name: row.name,
          token_prefix: row.tokenPrefix,
          policy_ids: policyIds,
          ...(row.expiresAt !== null ? { expires_at: iso(row.expiresAt) } : {}),
        },
        meta,
      });
      return row;
    },

    /** Inserts a managed policy; call inside a transaction. */
    async insertPolicy(
      ws: WorkspaceRow,
      input: {
        name: string;
        description: string | null;
        statements: PolicyStatement[];
        createdBy: string | null;
      },
      actor: AuditActor,
      meta?: Partial<CallMeta>,
    ): Promise<PolicyRow> {
      if (await store.policyByName(ws.id, input.name)) throw policyNameTaken(input.name);
      const now = clock.now();
      const row: PolicyRow = {
        id: newId(clock),
        workspaceId: ws.id,
        name: input.name,
        description: input.description,
        statements: input.statements,
        createdBy: input.createdBy,
        createdAt: now,
        updatedAt: now,
      };
      try {
        await store.insertPolicy(row);
      } catch (err) {
        if (isPolicyNameConflict(err)) throw policyNameTaken(input.name);
        throw err;
      }
      await audit.record({
        workspaceId: ws.id,
        action: "policy.created",
        resourceType: "policy",
        resourceId: row.id,
        actor,
        details: { name: row.name },
        meta,
      });
      return row;
    },
  };
}

export type WorkspaceRecords = ReturnType<typeof createWorkspaceRecords>;
