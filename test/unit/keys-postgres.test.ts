/**
 * @module Signing keys with two instances on one PostgreSQL database (two pools): the key cache's version check
 * picks up a rotation the other instance committed, and two instances rotating one app at once rotate it once.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { FakeClock } from "../../src/core/clock.ts";
import { newId } from "../../src/core/ids.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { type Db, tx } from "../../src/db/client.ts";
import { createKeyService, type KeyService } from "../../src/keys/service.ts";
import { loadMasterKeys } from "../../src/vault/master-key.ts";
import { createVault } from "../../src/vault/vault.ts";
import { twoInstances } from "../support/postgres.ts";
import { newKeyFile } from "./keys-fixtures.ts";

const clock = new FakeClock(Date.UTC(2026, 10, 1, 12));
let a: Db;
let b: Db;
let closeInstances: () => Promise<void>;
let keysA: KeyService;
let keysB: KeyService;

function keyService(db: Db, keyFile: string): KeyService {
  return createKeyService({
    db,
    vault: createVault({ db, keys: loadMasterKeys(keyFile), clock }),
    clock,
    rsaBits: 2048,
    log: memoryLogger("warn"),
  });
}

beforeAll(async () => {
  ({ a, b, close: closeInstances } = await twoInstances(4));
  const keyFile = newKeyFile();
  keysA = keyService(a, keyFile);
  keysB = keyService(b, keyFile);
});

afterAll(async () => {
  await closeInstances();
});

async function appWithKeys(): Promise<string> {
  const { apps, workspaces } = a.tables;
  const now = clock.now();
  const workspaceId = newId(clock);
  const appId = newId(clock);
  const slug = `app-${appId.slice(-8)}`;
  const [active, next] = await Promise.all([
    keysA.generateKeyMaterial("ES256"),
    keysA.generateKeyMaterial("ES256"),
  ]);
  await tx(a, async () => {
    await a.insert(workspaces).values({
      id: workspaceId,
      slug,
      displayName: slug,
      createdBy: "test",
      createdAt: now,
      updatedAt: now,
    });
    await a.insert(apps).values({
      id: appId,
      workspaceId,
      slug,
      displayName: slug,
      createdBy: "test",
      createdAt: now,
      updatedAt: now,
    });
    await keysA.insertInitialKeys(appId, active, next);
  });
  return appId;
}

const kids = async (svc: KeyService, appId: string) =>
  Object.fromEntries((await svc.list(appId)).map((k) => [k.kid, k.state] as const));

test("a rotation committed by the other instance is picked up by the next version check", async () => {
  const appId = await appWithKeys();
  await keysA.load();
  await keysB.load();
  expect(await keysA.reloadIfChanged()).toBe(false);
  const before = await keysA.activeKid(appId);

  const r = await keysB.rotate(appId, { emergency: true });
  expect(r.oldKid).toBe(before);
  // A's memory still has the withdrawn key until its poll.
  expect(await keysA.activeKid(appId)).toBe(before);
  expect(await keysA.reloadIfChanged()).toBe(true);
  expect(await keysA.activeKid(appId)).toBe(r.newKid);
  expect(await keysA.verifyKey(appId, before!)).toBeNull();
  expect(await keysA.reloadIfChanged()).toBe(false);
});

test("two instances rotating one app at the same moment: one active key, one next key, the old one retiring", async () => {
  const appId = await appWithKeys();
  clock.advance(3 * 60 * 60 * 1000);
  const results = await Promise.allSettled([keysA.rotate(appId), keysB.rotate(appId)]);
  expect(results.some((r) => r.status === "fulfilled")).toBe(true);
  const states = Object.values(await kids(keysA, appId)).sort();
  expect(states.filter((s) => s === "active")).toHaveLength(1);
  expect(states.filter((s) => s === "next")).toHaveLength(1);
});
