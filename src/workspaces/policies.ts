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
import { createWorkspaceRecords, isPolicyNameConflict, policyNameTaken } from "./records.ts";
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
    async listPolicies(p: PlatformPrincipal, slug: string) {
      const ws = await access.workspaceFor(p, slug, "heimdall.read");
      const reveal = access.mayReadAudit(p, ws.id);
      return { data: (await store.policiesOf(ws.id)).map((r) => policyDto(r, reveal)) };
    },

    async getPolicy(p: PlatformPrincipal, slug: string, id: string) {
      const ws = await access.workspaceFor(p, slug, "heimdall.read");
      const row = await store.policyById(ws.id, id);
      if (!row) throw policyNotFound();
      return policyDetailDto(row, access.mayReadAudit(p, ws.id), await store.pakBindingCount(row.id));
    },

    async catalog(p: PlatformPrincipal, slug: string) {
      await access.workspaceFor(p, slug, "heimdall.read");
      return { actions: [...HEIMDALL_ACTIONS] };
    },

    async createPolicy(
      p: PlatformPrincipal,
      slug: string,
      body: z.infer<typeof createPolicySchema>,
      meta: CallMeta,
    ) {
      const ws = await access.workspaceFor(p, slug, "heimdall.create");
      access.assertGrantable(p, ws.id, body.policy);
      const createdBy = p.kind === "platform_user" ? p.userId : null;
      const row = await tx(
        db,
        async () =>
          await records.insertPolicy(
            ws,
            { name: body.name, description: body.description ?? null, statements: body.policy, createdBy },
            actorOf(p),
            meta,
          ),
      );
      return policyDto(row, access.mayReadAudit(p, ws.id));
    },

    async updatePolicy(
      p: PlatformPrincipal,
      slug: string,
      id: string,
      body: z.infer<typeof updatePolicySchema>,
      meta: CallMeta,
    ) {
      const ws = await access.workspaceFor(p, slug, "heimdall.update");
      if (body.policy) access.assertGrantable(p, ws.id, body.policy);
      const row = await tx(db, async () => {
        const current = await store.policyById(ws.id, id);
        if (!current) throw policyNotFound();
        if (body.name !== undefined && body.name !== current.name) {
          const other = await store.policyByName(ws.id, body.name);
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
        try {
          await store.updatePolicy(current.id, {
            name: body.name ?? current.name,
            description: body.description === undefined ? current.description : body.description,
            statements: body.policy ?? current.statements,
            updatedAt: clock.now(),
          });
        } catch (err) {
          if (isPolicyNameConflict(err)) throw policyNameTaken(body.name ?? current.name);
          throw err;
        }
        await audit.record({
          workspaceId: ws.id,
          action: "policy.updated",
          resourceType: "policy",
          resourceId: current.id,
          actor: actorOf(p),
          details: { changed },
          meta,
        });
        return (await store.policyById(ws.id, id))!;
      });
      return policyDetailDto(row, access.mayReadAudit(p, ws.id), await store.pakBindingCount(row.id));
    },

    /** Bindings go with the policy (FK cascade): a PAK left with no policy is denied everything. */
    async deletePolicy(p: PlatformPrincipal, slug: string, id: string, meta: CallMeta): Promise<void> {
      const ws = await access.workspaceFor(p, slug, "heimdall.delete");
      await tx(db, async () => {
        const row = await store.policyById(ws.id, id);
        if (!row) throw policyNotFound();
        const bindings = await store.pakBindingCount(row.id);
        await store.deletePolicy(row.id);
        await audit.record({
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
