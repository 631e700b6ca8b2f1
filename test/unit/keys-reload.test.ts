/** @module The server picks up a rotation committed by another process (`heimdall keys rotate` beside it) through `PRAGMA data_version`. */
import { expect, test } from "bun:test";
import { decodeProtectedHeader } from "jose";
import { memoryLogger } from "../../src/core/logger.ts";
import { openDatabase } from "../../src/db/client.ts";
import { createKeyService } from "../../src/keys/service.ts";
import { loadMasterKeys } from "../../src/vault/master-key.ts";
import { createVault } from "../../src/vault/vault.ts";
import { createAppWithKeys, jwksKids, setupKeys, tempDir } from "./keys-fixtures.ts";

/** The server's key service on one connection, and a second connection to the same file as the CLI's. */
async function twoProcesses() {
  const server = setupKeys({ dbFile: `${tempDir()}/heimdall.db` });
  const appId = await createAppWithKeys(server);
  await server.svc.load();
  const db = openDatabase(server.db.$client.filename);
  const cli = createKeyService({
    db,
    vault: createVault({ db, keys: loadMasterKeys(server.keyFile), clock: server.clock }),
    clock: server.clock,
    rsaBits: 2048,
    log: memoryLogger("warn"),
  });
  const close = () => {
    db.$client.close();
    server.db.$client.close();
  };
  return { server, cli, appId, close };
}

test("an emergency rotation by another connection: the next poll reloads, the old key neither signs nor verifies", async () => {
  const { server, cli, appId, close } = await twoProcesses();
  try {
    const [oldKid, nextKid] = await jwksKids(server.svc, appId);
    expect(await server.svc.verifyKey(appId, oldKid!)).not.toBeNull();
    // Nothing changed yet: the poll is a no-op, and the server's own writes never count as a change.
    expect(await server.svc.reloadIfChanged()).toBe(false);
    await server.svc.tick();
    expect(await server.svc.reloadIfChanged()).toBe(false);

    const r = await cli.rotate(appId, { emergency: true });
    expect(r).toMatchObject({ oldKid, newKid: nextKid });
    // Until the poll, the server's memory still has the withdrawn key: this is the window the poll bounds.
    expect(await server.svc.activeKid(appId)).toBe(oldKid!);
    expect(await server.svc.reloadIfChanged()).toBe(true);
    expect(await server.svc.activeKid(appId)).toBe(nextKid!);
    expect(await jwksKids(server.svc, appId)).not.toContain(oldKid);
    expect(await server.svc.verifyKey(appId, oldKid!)).toBeNull();
    expect(decodeProtectedHeader(await server.svc.sign(appId, { sub: "u" })).kid).toBe(nextKid!);
    expect(await server.svc.reloadIfChanged()).toBe(false);
  } finally {
    close();
  }
});

test("every commit by another connection is picked up by the next poll", async () => {
  const { server, cli, appId, close } = await twoProcesses();
  try {
    server.clock.advance(2 * 60 * 60 * 1000);
    await cli.rotate(appId);
    expect(await server.svc.reloadIfChanged()).toBe(true);
    const after = await server.svc.activeKid(appId);
    await cli.rotate(appId, { emergency: true });
    expect(await server.svc.reloadIfChanged()).toBe(true);
    expect(await server.svc.activeKid(appId)).not.toBe(after);
  } finally {
    close();
  }
});
