/** @module Shared fixtures for the vault and signing-key unit tests: temp master key, migrated DB, app rows. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeClock } from "../../src/core/clock.ts";
import { newId } from "../../src/core/ids.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { type Db, migrate, openDatabase, tx } from "../../src/db/client.ts";
import { apps, workspaces } from "../../src/db/schema.ts";
import type { KeyAuditEvent } from "../../src/keys/rotation.ts";
import { createKeyService, type KeyService } from "../../src/keys/service.ts";
import { createMasterKeyFile, loadMasterKeys } from "../../src/vault/master-key.ts";
import { createVault, type Vault } from "../../src/vault/vault.ts";

export const START = Date.UTC(2026, 0, 1, 12);

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "heimdall-keys-"));
}

export function newKeyFile(dir = tempDir()): string {
  const file = join(dir, "master.key");
  createMasterKeyFile(file);
  return file;
}

export interface KeysContext {
  dir: string;
  keyFile: string;
  db: Db;
  clock: FakeClock;
  vault: Vault;
  svc: KeyService;
  log: ReturnType<typeof memoryLogger>;
  audits: KeyAuditEvent[];
}

export function setupKeys(
  opts: { dbFile?: string; wrapVault?: (v: Vault) => Vault; rsaOffLoop?: boolean } = {},
): KeysContext {
  const dir = tempDir();
  const keyFile = newKeyFile(dir);
  const db = openDatabase(opts.dbFile ?? ":memory:");
  migrate(db);
  const clock = new FakeClock(START);
  const base = createVault({ db, keys: loadMasterKeys(keyFile), clock });
  const vault = opts.wrapVault ? opts.wrapVault(base) : base;
  const log = memoryLogger("warn");
  const audits: KeyAuditEvent[] = [];
  const svc = createKeyService({
    db,
    vault,
    clock,
    rsaBits: 2048,
    log,
    audit: async (e) => void audits.push(e),
    rsaOffLoop: opts.rsaOffLoop,
  });
  return { dir, keyFile, db, clock, vault, svc, log, audits };
}

/** Inserts a workspace (once per DB) and an app row, as `apps/` will. */
export function insertApp(db: Db, clock: FakeClock, slug = `app-${newId(clock).slice(-8)}`): string {
  const now = clock.now();
  const ws = db.select().from(workspaces).get();
  const workspaceId = ws?.id ?? newId(clock);
  if (!ws) {
    db.insert(workspaces)
      .values({
        id: workspaceId,
        slug: "acme",
        displayName: "Acme",
        createdBy: "test",
        createdAt: now,
        updatedAt: now,
      })
      .run();
  }
  const id = newId(clock);
  db.insert(apps)
    .values({ id, workspaceId, slug, displayName: slug, createdBy: "test", createdAt: now, updatedAt: now })
    .run();
  return id;
}

/** An app with its initial active + next keys, created in one transaction like the app service does. */
export async function createAppWithKeys(ctx: Pick<KeysContext, "db" | "clock" | "svc">): Promise<string> {
  const [active, next] = await Promise.all([ctx.svc.generateKeyMaterial(), ctx.svc.generateKeyMaterial()]);
  return await tx(ctx.db, async () => {
    const appId = insertApp(ctx.db, ctx.clock);
    await ctx.svc.insertInitialKeys(appId, active, next);
    return appId;
  });
}

export async function jwksKids(svc: KeyService, appId: string): Promise<string[]> {
  const doc = await svc.jwks(appId);
  return doc ? (JSON.parse(doc.body).keys as { kid: string }[]).map((k) => k.kid) : [];
}

export async function states(svc: KeyService, appId: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const k of await svc.list(appId)) {
    out[k.state] ??= [];
    out[k.state]!.push(k.kid);
  }
  return out;
}
