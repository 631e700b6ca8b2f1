/** @module The raw database file holds no private key material in any recognisable form. */
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tx } from "../../src/db/client.ts";
import { Material } from "../../src/keys/material.ts";
import { PREPUBLISH } from "../../src/keys/rotation-schedule.ts";
import { insertApp, setupKeys, tempDir } from "./keys-fixtures.ts";

test("heimdall.db and its WAL contain no PEM, no private JWK members, no raw private key bytes", async () => {
  const file = join(tempDir(), "heimdall.db");
  const ctx = setupKeys({ dbFile: file });
  const materials = [await ctx.svc.generateKeyMaterial(), await ctx.svc.generateKeyMaterial()];
  const appId = await tx(ctx.db, async () => {
    const id = insertApp(ctx.db, ctx.clock);
    await ctx.svc.insertInitialKeys(id, materials[0]!, materials[1]!);
    return id;
  });
  await ctx.svc.sign(appId, { sub: "u" });
  ctx.clock.advance(PREPUBLISH); // a non-emergency rotation needs the next key published for PREPUBLISH
  await ctx.svc.rotate(appId);

  // Fingerprints of the real private keys: 32-byte windows from the middle of each PKCS#8 DER.
  const needles = materials.map((m) => {
    const der = Buffer.from(Material.privateKeyDer(m));
    return der.subarray(der.length / 2, der.length / 2 + 32);
  });
  const check = () => {
    let all = "";
    for (const path of [file, `${file}-wal`]) {
      if (!existsSync(path)) continue;
      const raw = readFileSync(path);
      const text = raw.toString("latin1");
      all += text;
      for (const bad of ["-----BEGIN", "PRIVATE KEY", '"d":', '"p":', '"q":', '"dp":', '"qi":']) {
        expect(text.includes(bad)).toBe(false);
      }
      for (const needle of needles) {
        expect(raw.includes(needle)).toBe(false);
        expect(text.includes(needle.toString("base64"))).toBe(false);
      }
    }
    // Sanity: the public keys are there in clear, so the scan is looking at the right bytes.
    expect(all).toContain(materials[0]!.publicJwk.n!.slice(0, 40));
  };
  expect(existsSync(`${file}-wal`)).toBe(true);
  check();
  // Move everything from the WAL into the main file, then look again.
  ctx.db.$client.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  check();
  ctx.db.$client.close();
  check();
});
