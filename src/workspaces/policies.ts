/** @module Managed policies of a workspace (the statements PAKs are bound to): list, read, the action catalogue, create, update, delete. */
import type { z } from "zod";
import { HEIMDALL_ACTIONS } from "../access/pak-policy.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { Clock } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import { actorOf, type CallMeta, type PlatformPrincipal } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { createWorkspaceAccess } from "./access.ts";
import { type createPolicySchema, policyDetailDto, policyDto, type updatePolicySchema } from "./model.ts";
import { createWorkspaceRecords, policyNameTaken } from "./records.ts";
import { createWorkspaceStore } from "./store.ts";

export interface PolicyServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
}

const policyNotFound = () => fail("POLICY_NOT_FOUND");

export function createPolicyService({ db, clock, audit }: PolicyServiceDeps) {
  const store = createWorkspaceStore(db);
  const access = createWorkspaceAccess(store);
  const records = createWorkspaceRecords({ store, clock, audit });

  return {
    listPolicies(p: PlatformPrincipal, slug: string) {
      const ws = access.workspaceFor(p, slug, "heimdall.read");
      const reveal = access.mayReadAudit(p, ws.id);
      return { data: store.policiesOf(ws.id).map((r) => policyDto(r, reveal)) };
    },

    getPolicy(p: PlatformPrincipal, slug: string, id: string) {
      const ws = access.workspaceFor(p, slug, "heimdall.read");
      const row = store.policyById(ws.id, id);
      if (!row) throw policyNotFound();
      return policyDetailDto(row, access.mayReadAudit(p, ws.id), store.pakBindingCount(row.id));
    },

    catalog(p: PlatformPrincipal, slug: string) {
      access.workspaceFor(p, slug, "heimdall.read");
      return { actions: [...HEIMDALL_ACTIONS] };
    },

    createPolicy(
      p: PlatformPrincipal,
      slug: string,
      body: z.infer<typeof createPolicySchema>,
      meta: CallMeta,
    ) {
      const ws = access.workspaceFor(p, slug, "heimdall.create");
      access.assertGrantable(p, ws.id, body.policy);
      const createdBy = p.kind === "platform_user" ? p.userId : null;
      const row = tx(db, () =>
        records.insertPolicy(
          ws,
          { name: body.name, description: body.description ?? null, statements: body.policy, createdBy },
          actorOf(p),
          meta,
        ),
      );
      return policyDto(row, access.mayReadAudit(p, ws.id));
    },

    updatePolicy(
      p: PlatformPrincipal,
      slug: string,
      id: string,
      body: z.infer<typeof updatePolicySchema>,
      meta: CallMeta,
    ) {
      const ws = access.workspaceFor(p, slug, "heimdall.update");
      if (body.policy) access.assertGrantable(p, ws.id, body.policy);
      const row = tx(db, () => {
        const current = store.policyById(ws.id, id);
        if (!current) throw policyNotFound();
        if (body.name !== undefined && body.name !== current.name) {
          const other = store.policyByName(ws.id, body.name);
          if (other && other.id !== current.id) throw policyNameTaken(body.name);
        }
        const changed: string[] = [];
        if (body.name !== undefined && body.name !== current.name) changed.push("name");
        if (body.description !== undefined && body.description !== current.description)
          changed.push("description");
        if (body.policy !== undefined && JSON.stringify(body.policy) !== JSON.stringify(current.statements)) {
          changed.push("policy");
        }
        if (changed.length === 0) return current;
        store.updatePolicy(current.id, {
          name: body.name ?? current.name,
          description: body.description === undefined ? current.description : body.description,
          statements: body.policy ?? current.statements,
          updatedAt: clock.now(),
        });
        audit.record({
          workspaceId: ws.id,
          action: "policy.updated",
          resourceType: "policy",
          resourceId: current.id,
          actor: actorOf(p),
          details: { changed },
          meta,
        });
        return store.policyById(ws.id, id)!;
      });
      return policyDetailDto(row, access.mayReadAudit(p, ws.id), store.pakBindingCount(row.id));
    },

    /** Bindings go with the policy (FK cascade): a PAK left with no policy is denied everything. */
    deletePolicy(p: PlatformPrincipal, slug: string, id: string, meta: CallMeta): void {
      const ws = access.workspaceFor(p, slug, "heimdall.delete");
      tx(db, () => {
        const row = store.policyById(ws.id, id);
        if (!row) throw policyNotFound();
        const bindings = store.pakBindingCount(row.id);
        store.deletePolicy(row.id);
        audit.record({
          workspaceId: ws.id,
          action: "policy.deleted",
          resourceType: "policy",
          resourceId: row.id,
          actor: actorOf(p),
          details: { name: row.name, pak_bindings: bindings },
          meta,
        });
      });
    },
  };
}

export type PolicyService = ReturnType<typeof createPolicyService>;
