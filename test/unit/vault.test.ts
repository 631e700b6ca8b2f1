/** @module Vault: master key file rules, envelope round trip, tamper detection, master key rotation. */
import { describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { FakeClock } from "../../src/core/clock.ts";
import { migrate, openDatabase } from "../../src/db/client.ts";
import { vaultSecrets } from "../../src/db/schema.ts";
import {
  appendMasterKey,
  createMasterKeyFile,
  loadMasterKeys,
  retireOldMasterKeys,
  VaultError,
} from "../../src/vault/master-key.ts";
import { createVault } from "../../src/vault/vault.ts";
import { newKeyFile, START, tempDir } from "./keys-fixtures.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function setup(keyFile = newKeyFile()) {
  const db = openDatabase(":memory:");
  migrate(db);
  const clock = new FakeClock(START);
  return { db, clock, keyFile, vault: createVault({ db, keys: loadMasterKeys(keyFile), clock }) };
}

async function expectVaultError(fn: () => unknown): Promise<void> {
  let thrown: unknown;
  try {
    await fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(VaultError);
}

describe("master key file", () => {
  test("is created 0600 in a 0700 directory, with one well-formed line", () => {
    const dir = join(tempDir(), "nested", "data");
    const file = join(dir, "master.key");
    const id = createMasterKeyFile(file);
    expect(id).toMatch(/^mk-[0-9a-z]+-[0-9a-f]{4}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, "utf8")).toMatch(new RegExp(`^${id} [A-Za-z0-9+/]{43}=\\n$`));
    const keys = loadMasterKeys(file);
    expect(keys.active.id).toBe(id);
    expect(keys.active.key.length).toBe(32);
  });

  test("is never overwritten", async () => {
    const file = newKeyFile();
    const before = readFileSync(file, "utf8");
    await expectVaultError(() => createMasterKeyFile(file));
    expect(readFileSync(file, "utf8")).toBe(before);
  });

  test("is refused when missing, group/world readable, or malformed", async () => {
    await expectVaultError(() => loadMasterKeys(join(tempDir(), "nope.key")));

    const file = newKeyFile();
    chmodSync(file, 0o644);
    expect(() => loadMasterKeys(file)).toThrow(/chmod 600/);
    chmodSync(file, 0o640);
    await expectVaultError(() => loadMasterKeys(file));

    const bad = join(tempDir(), "bad.key");
    const secret = Buffer.alloc(31, 7).toString("base64");
    for (const content of ["", "\n\n", "mk-1\n", `mk-1 ${secret}\n`, "mk-1 not base64 at all\n"]) {
      writeFileSync(bad, content, { mode: 0o600 });
      await expectVaultError(() => loadMasterKeys(bad));
    }
    // Messages name the line, never the key bytes.
    expect(() => loadMasterKeys(bad)).toThrow(/line 1/);
    const dup = Buffer.alloc(32, 1).toString("base64");
    writeFileSync(bad, `mk-1 ${dup}\nmk-1 ${dup}\n`, { mode: 0o600 });
    expect(() => loadMasterKeys(bad)).toThrow(/repeats/);
  });

  test("append puts the new key first, keeps the old ones and mode 0600; retire keeps only the first", () => {
    const file = newKeyFile();
    const first = loadMasterKeys(file).active.id;
    const second = appendMasterKey(file);
    const keys = loadMasterKeys(file);
    expect(keys.active.id).toBe(second);
    expect([...keys.all.keys()]).toEqual([second, first]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(retireOldMasterKeys(file, [second])).toBe(1);
    expect([...loadMasterKeys(file).all.keys()]).toEqual([second]);
  });
});

describe("vault", () => {
  test("seal/open round trip; each secret has its own DEK and nonces", async () => {
    const { vault, db } = setup();
    expect(await vault.hasSecrets()).toBe(false);
    const a = await vault.seal("webhook_secret:app1:wh1", enc("hello"));
    const b = await vault.seal("webhook_secret:app1:wh1", enc("hello"));
    expect(dec(await vault.open(a, "webhook_secret:app1:wh1"))).toBe("hello");
    expect(await vault.hasSecrets()).toBe(true);
    const [ra, rb] = [a, b].map((id) => db.select().from(vaultSecrets).where(eq(vaultSecrets.id, id)).get()!);
    expect(ra!.ciphertext).not.toBe(rb!.ciphertext);
    expect(ra!.wrappedDek).not.toBe(rb!.wrappedDek);
    expect(Buffer.from(ra!.dataNonce, "base64").length).toBe(12);
    expect(Buffer.from(ra!.dekNonce, "base64").length).toBe(12);
    expect(ra!.ciphertext).not.toContain(Buffer.from("hello").toString("base64"));
  });

  test("open with another aad fails", async () => {
    const { vault } = setup();
    const id = await vault.seal("signing_key:app1:k1", enc("x"));
    await expectVaultError(async () => await vault.open(id, "signing_key:app2:k1"));
    await expectVaultError(async () => await vault.open("missing", "signing_key:app1:k1"));
  });

  test("a row whose aad column was swapped still fails (aad is bound cryptographically)", async () => {
    const { vault, db } = setup();
    const id = await vault.seal("signing_key:app1:k1", enc("x"));
    db.update(vaultSecrets).set({ aad: "signing_key:evil:k1" }).where(eq(vaultSecrets.id, id)).run();
    await expectVaultError(async () => await vault.open(id, "signing_key:evil:k1"));
  });

  test("tampered ciphertext or wrapped DEK fails", async () => {
    const { vault, db } = setup();
    const flip = (b64: string) => {
      const b = Buffer.from(b64, "base64");
      b[0]! ^= 1;
      return b.toString("base64");
    };
    const id = await vault.seal("t:1", enc("secret data"));
    const row = db.select().from(vaultSecrets).where(eq(vaultSecrets.id, id)).get()!;
    db.update(vaultSecrets)
      .set({ ciphertext: flip(row.ciphertext) })
      .where(eq(vaultSecrets.id, id))
      .run();
    await expectVaultError(async () => await vault.open(id, "t:1"));
    db.update(vaultSecrets)
      .set({ ciphertext: row.ciphertext, wrappedDek: flip(row.wrappedDek) })
      .where(eq(vaultSecrets.id, id))
      .run();
    await expectVaultError(async () => await vault.open(id, "t:1"));
    expect(async () => await vault.verifyAll()).toThrow(/1 of 1/);
  });

  test("another master key file cannot open the secrets", async () => {
    const { db, clock, vault } = setup();
    const id = await vault.seal("t:1", enc("x"));
    const other = createVault({ db, keys: loadMasterKeys(newKeyFile()), clock });
    await expectVaultError(async () => await other.open(id, "t:1"));
    expect(async () => await other.verifyAll()).toThrow(/1 of 1 vault secrets/);
    expect(async () => await vault.verifyAll()).not.toThrow();
  });

  test("master key rotation: append, rewrapAll, open with the new file, retire the old key", async () => {
    const { db, clock, keyFile, vault } = setup();
    const ids: string[] = [];
    for (const s of ["a", "b", "c"]) ids.push(await vault.seal(`t:${s}`, enc(s)));
    const oldKek = loadMasterKeys(keyFile).active.id;
    const newKek = appendMasterKey(keyFile);

    // A process still on the old file keeps working until it reloads.
    expect(dec(await vault.open(ids[0]!, "t:a"))).toBe("a");

    const rotated = createVault({ db, keys: loadMasterKeys(keyFile), clock });
    expect(await rotated.kekIdsInUse()).toEqual([oldKek]);
    expect(async () => retireOldMasterKeys(keyFile, await rotated.kekIdsInUse())).toThrow(VaultError);
    const before = db.select().from(vaultSecrets).all();
    expect(await rotated.rewrapAll()).toBe(3);
    expect(await rotated.rewrapAll()).toBe(0);
    const after = db.select().from(vaultSecrets).all();
    expect(after.every((r) => r.kekId === newKek)).toBe(true);
    // Only the DEK wrapping changed; the data ciphertext is untouched.
    expect(after.map((r) => r.ciphertext)).toEqual(before.map((r) => r.ciphertext));
    expect(after.map((r) => r.dataNonce)).toEqual(before.map((r) => r.dataNonce));

    retireOldMasterKeys(keyFile, await rotated.kekIdsInUse());
    const retired = createVault({ db, keys: loadMasterKeys(keyFile), clock });
    const opened: string[] = [];
    for (const [i, s] of ["a", "b", "c"].entries()) opened.push(dec(await retired.open(ids[i]!, `t:${s}`)));
    expect(opened).toEqual(["a", "b", "c"]);
    expect(async () => await retired.verifyAll()).not.toThrow();
    // The retired key is really gone from the file.
    expect(loadMasterKeys(keyFile).all.has(oldKek)).toBe(false);
  });

  test("rewrapAll is one transaction: an unknown kek changes nothing", async () => {
    const { db, clock, keyFile, vault } = setup();
    await vault.seal("t:a", enc("a"));
    await vault.seal("t:b", enc("b"));
    const orphan = await vault.seal("t:c", enc("c"));
    db.update(vaultSecrets).set({ kekId: "mk-gone-0000" }).where(eq(vaultSecrets.id, orphan)).run();
    appendMasterKey(keyFile);
    const before = db.select().from(vaultSecrets).all();
    const rotated = createVault({ db, keys: loadMasterKeys(keyFile), clock });
    expect(async () => await rotated.rewrapAll()).toThrow(/mk-gone-0000/);
    expect(db.select().from(vaultSecrets).all()).toEqual(before);
  });
});
