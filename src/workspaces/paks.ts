/** @module Platform API keys (PAKs) through the API: list, read, mint within the minter's own rights, rename, revoke. */
import type { z } from "zod";
import type { AuditWriter } from "../audit/writer.ts";
import type { Clock } from "../core/clock.ts";
import { fail, validationError } from "../core/errors.ts";
import { resolveExpiry } from "../core/expiry.ts";
import { randomToken } from "../core/ids.ts";
import { actorOf, type CallMeta, type PlatformPrincipal } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { createWorkspaceAccess, pakNotAllowed } from "./access.ts";
import { type createPakSchema, PAK_PREFIX, pakDto, type updatePakSchema } from "./model.ts";
import { createWorkspaceRecords } from "./records.ts";
import { createWorkspaceStore } from "./store.ts";

export interface PakServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
}

const pakNotFound = () => fail("PAK_NOT_FOUND");

export function createPakService({ db, clock, audit }: PakServiceDeps) {
  const store = createWorkspaceStore(db);
  const access = createWorkspaceAccess(store);
  const records = createWorkspaceRecords({ store, clock, audit });

  return {
    async listPaks(p: PlatformPrincipal, slug: string) {
      const ws = await access.workspaceFor(p, slug, "heimdall.read");
      const rows = await store.paksOf(ws.id);
      const bound = await store.boundPolicies(rows.map((r) => r.id));
      return rows.map((r) => pakDto(r, bound.get(r.id) ?? []));
    },

    async getPak(p: PlatformPrincipal, slug: string, id: string) {
      const ws = await access.workspaceFor(p, slug, "heimdall.read");
      const row = await store.pakById(ws.id, id);
      if (!row) throw pakNotFound();
      return await records.pakRecord(row);
    },

    /** Human-only (the route refuses PAKs); the bound policies must stay within the minter's own rights. */
    async mintPak(p: PlatformPrincipal, slug: string, body: z.infer<typeof createPakSchema>, meta: CallMeta) {
      if (p.kind !== "platform_user") throw pakNotAllowed();
      const ws = await access.visibleWorkspace(p, slug);
      const ids = [...new Set(body.policy_ids)];
      const policies = await store.policiesByIds(ws.id, ids);
      const found = new Set(policies.map((x) => x.id));
      const unknown = body.policy_ids.flatMap((id, i) =>
        found.has(id) ? [] : [{ field: `policy_ids.${i}`, reason: "no such policy in this workspace" }],
      );
      if (unknown.length) throw validationError(unknown);
      access.assertGrantable(
        p,
        ws.id,
        policies.flatMap((x) => x.statements),
      );
      const expiresAt = resolveExpiry(body.expires_at, clock.now());
      const token = randomToken(PAK_PREFIX);
      const row = await tx(
        db,
        async () =>
          await records.insertPak(
            ws,
            {
              name: body.name,
              description: body.description ?? null,
              token,
              createdBy: p.userId,
              expiresAt,
            },
            ids,
            actorOf(p),
            meta,
          ),
      );
      return { token, record: await records.pakRecord(row) };
    },

    async updatePak(
      p: PlatformPrincipal,
      slug: string,
      id: string,
      body: z.infer<typeof updatePakSchema>,
      meta: CallMeta,
    ) {
      const ws = await access.workspaceFor(p, slug, "heimdall.update");
      const row = await tx(db, async () => {
        const current = await store.pakById(ws.id, id);
        if (!current) throw pakNotFound();
        const changed: string[] = [];
        if (body.name !== undefined && body.name !== current.name) changed.push("name");
        if (body.description !== undefined && body.description !== current.description)
          changed.push("description");
        if (changed.length === 0) return current;
        await store.updatePak(current.id, {
          name: body.name ?? current.name,
          description: body.description === undefined ? current.description : body.description,
          updatedAt: clock.now(),
        });
        await audit.record({
          workspaceId: ws.id,
          action: "pak.updated",
          resourceType: "pak",
          resourceId: current.id,
          actor: actorOf(p),
          details: { changed },
          meta,
        });
        return (await store.pakById(ws.id, id))!;
      });
      return await records.pakRecord(row);
    },

    /** Keeps the row (revoked_at set) so listings and audit keep their meaning; revoking twice is a no-op. */
    async revokePak(p: PlatformPrincipal, slug: string, id: string, meta: CallMeta): Promise<void> {
      const ws = await access.workspaceFor(p, slug, "heimdall.delete");
      await tx(db, async () => {
        const row = await store.pakById(ws.id, id);
        if (!row) throw pakNotFound();
        if (!(await store.revokePak(row.id, clock.now()))) return;
        await audit.record({
          workspaceId: ws.id,
          action: "pak.revoked",
          resourceType: "pak",
          resourceId: row.id,
          actor: actorOf(p),
          details: { name: row.name, token_prefix: row.tokenPrefix },
          meta,
        });
      });
    },
  };
}

export type PakService = ReturnType<typeof createPakService>;
