/** @module Per-app signing algorithms: key material, sealing and JWKS members per algorithm, and switching an app's algorithm through the rotation path. */
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import {
  CompactSign,
  compactVerify,
  createLocalJWKSet,
  decodeProtectedHeader,
  type JWK,
  jwtVerify,
} from "jose";
import { tx } from "../../src/db/client.ts";
import { signingKeys, vaultSecrets } from "../../src/db/schema.ts";
import { Material, SIGNING_ALGS, type SigningAlg } from "../../src/keys/material.ts";
import { PREPUBLISH } from "../../src/keys/rotation-schedule.ts";
import { signingKeyAad } from "../../src/keys/signing.ts";
import { createAppWithKeys, insertApp, type KeysContext, setupKeys, states } from "./keys-fixtures.ts";

const MEMBERS: Record<SigningAlg, { kty: string; crv?: string; members: string[]; prefix: string }> = {
  RS256: { kty: "RSA", members: ["e", "kty", "n"], prefix: "rs256-" },
  ES256: { kty: "EC", crv: "P-256", members: ["crv", "kty", "x", "y"], prefix: "es256-" },
  EdDSA: { kty: "OKP", crv: "Ed25519", members: ["crv", "kty", "x"], prefix: "eddsa-" },
};

const jwksKeys = async (ctx: KeysContext, appId: string) =>
  JSON.parse((await ctx.svc.jwks(appId))!.body).keys as (JWK & { kid: string; alg: string })[];

async function verifyWithJwks(ctx: KeysContext, appId: string, token: string, alg: SigningAlg) {
  const jwks = createLocalJWKSet({ keys: await jwksKeys(ctx, appId) });
  return jwtVerify(token, jwks, { currentDate: new Date(ctx.clock.now()), algorithms: [alg] });
}

/** An app whose initial keys are of `alg` (as `insertInitialKeys` takes whatever material it is given). */
async function appWith(ctx: KeysContext, alg: SigningAlg): Promise<string> {
  const [active, next] = [await ctx.svc.generateKeyMaterial(alg), await ctx.svc.generateKeyMaterial(alg)];
  return await tx(ctx.db, async () => {
    const appId = insertApp(ctx.db, ctx.clock);
    await ctx.svc.insertInitialKeys(appId, active, next);
    return appId;
  });
}

/** Switches an app's keys to `alg` as the auth-config write does: material first, then the synchronous schedule. */
async function switchTo(ctx: KeysContext, appId: string, alg: SigningAlg) {
  const m = await ctx.svc.generateKeyMaterial(alg);
  return await tx(ctx.db, async () => await ctx.svc.scheduleAlgorithm(appId, m));
}

const row = (ctx: KeysContext, kid: string) =>
  ctx.db.select().from(signingKeys).where(eq(signingKeys.kid, kid)).get()!;

describe("key material per algorithm", () => {
  for (const alg of SIGNING_ALGS) {
    test(`${alg}: public members only, kid prefix, bits; private key opaque`, async () => {
      const ctx = setupKeys();
      const m = await ctx.svc.generateKeyMaterial(alg);
      const want = MEMBERS[alg];
      expect(m.alg).toBe(alg);
      expect(m.kid.startsWith(want.prefix)).toBe(true);
      expect(m.bits).toBe(alg === "RS256" ? 2048 : 256);
      expect(Object.keys(m.publicJwk).sort()).toEqual(want.members);
      expect(m.publicJwk.kty).toBe(want.kty);
      expect(m.publicJwk.crv).toBe(want.crv);
      expect(JSON.stringify({ ...m, m })).not.toContain('"d"');
      // PKCS#8 DER, importable as a signing key of its algorithm.
      expect(Material.privateKeyDer(m)[0]).toBe(0x30);
    });
  }
});

describe("signing, sealing and the JWKS per algorithm", () => {
  for (const alg of ["ES256", "EdDSA"] as const) {
    test(`${alg}: tokens carry alg and kid, verify with the served JWKS; the private key is sealed`, async () => {
      const ctx = setupKeys();
      const appId = await appWith(ctx, alg);
      const token = await ctx.svc.sign(appId, { sub: "u1" }, { ttlSeconds: 60 });
      const header = decodeProtectedHeader(token);
      expect(header).toEqual({ alg, kid: (await ctx.svc.activeKid(appId))!, typ: "at+jwt" });
      const { payload } = await verifyWithJwks(ctx, appId, token, alg);
      expect(payload.sub).toBe("u1");
      // The same token through the service's own verification keys.
      const key = await ctx.svc.verifyKey(appId, header.kid!);
      expect((await jwtVerify(token, key!, { currentDate: new Date(ctx.clock.now()) })).payload.sub).toBe(
        "u1",
      );

      const keys = await jwksKeys(ctx, appId);
      expect(keys).toHaveLength(2);
      for (const k of keys) {
        expect(Object.keys(k).sort()).toEqual([...MEMBERS[alg].members, "alg", "kid", "use"].sort());
        expect(k.alg).toBe(alg);
        expect(k.use).toBe("sig");
      }
      expect((await ctx.svc.jwks(appId))!.algs).toEqual([alg]);

      // Rows: alg and bits recorded; the private half only as a vault ciphertext that opens under its AAD.
      const r = row(ctx, header.kid!);
      expect(r.alg).toBe(alg);
      expect(r.bits).toBe(256);
      const sealed = ctx.db.select().from(vaultSecrets).where(eq(vaultSecrets.id, r.vaultSecretId!)).get()!;
      expect(JSON.stringify(sealed)).not.toContain(r.publicJwk.x!);
      const der = await ctx.vault.open(r.vaultSecretId!, signingKeyAad(appId, r.kid));
      expect(der.length).toBeGreaterThan(40);
      expect(async () => await ctx.vault.open(r.vaultSecretId!, signingKeyAad(appId, "other-kid"))).toThrow();
    });
  }
});

/** WebCrypto parameters of each algorithm's private key, for signing the same input with jose. */
const WEBCRYPTO: Record<SigningAlg, Parameters<typeof crypto.subtle.importKey>[2]> = {
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
};

describe("the JWS each algorithm makes", () => {
  const cases = [
    { alg: "RS256", rsaOffLoop: true },
    { alg: "RS256", rsaOffLoop: false },
    { alg: "ES256", rsaOffLoop: true },
    { alg: "EdDSA", rsaOffLoop: true },
  ] as const;
  for (const { alg, rsaOffLoop } of cases) {
    test(`${alg}${alg === "RS256" ? (rsaOffLoop ? ", on WebCrypto's pool" : ", on the event loop") : ""}: what jose's CompactSign makes of the same input, and it verifies`, async () => {
      const ctx = setupKeys({ rsaOffLoop });
      const appId = await appWith(ctx, alg);
      const claims = { sub: "u1", name: "Zoë Ünïcode ✓", scope: "a b", n: [1, 2] };
      const token = await ctx.svc.sign(appId, claims, { ttlSeconds: 60, typ: "JWT" });
      const [header, payload, signature] = token.split(".") as [string, string, string];
      expect(JSON.parse(Buffer.from(header, "base64url").toString())).toEqual({
        alg,
        kid: (await ctx.svc.activeKid(appId))!,
        typ: "JWT",
      });
      expect(JSON.parse(Buffer.from(payload, "base64url").toString())).toEqual({
        ...claims,
        iat: ctx.clock.now() / 1000,
        exp: ctx.clock.now() / 1000 + 60,
      });
      // ECDSA in JWS is R ‖ S (64 bytes for P-256), never DER.
      if (alg === "ES256") expect(Buffer.from(signature, "base64url")).toHaveLength(64);

      const r = row(ctx, decodeProtectedHeader(token).kid!);
      const der = await ctx.vault.open(r.vaultSecretId!, signingKeyAad(appId, r.kid));
      const privateKey = await crypto.subtle.importKey("pkcs8", der, WEBCRYPTO[alg], false, ["sign"]);
      const byJose = await new CompactSign(Buffer.from(payload, "base64url"))
        .setProtectedHeader(JSON.parse(Buffer.from(header, "base64url").toString()))
        .sign(privateKey);
      // RS256 (PKCS#1 v1.5) and Ed25519 are deterministic: the very same bytes. ECDSA is randomised.
      if (alg === "ES256") expect(byJose.split(".").slice(0, 2)).toEqual([header, payload]);
      else expect(token).toBe(byJose);
      const [pub] = (await jwksKeys(ctx, appId)).filter((k) => k.kid === r.kid);
      const { payload: verified } = await compactVerify(token, createLocalJWKSet({ keys: [pub!] }), {
        algorithms: [alg],
      });
      expect(JSON.parse(new TextDecoder().decode(verified)).name).toBe(claims.name);
    });
  }
});

describe("switching an app's algorithm", () => {
  test("RS256 → ES256: the next key is replaced, signs PREPUBLISH later, the old key verifies through the overlap", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const oldActive = (await ctx.svc.activeKid(appId))!;
    const oldNext = (await states(ctx.svc, appId)).next![0]!;
    const before = await ctx.svc.sign(appId, { sub: "before" }, { ttlSeconds: 3 * 3600 });

    const s = await switchTo(ctx, appId, "ES256");
    expect(s.withdrawnKid).toBe(oldNext);
    expect(s.nextKid!.startsWith("es256-")).toBe(true);
    expect(s.activatesAt).toBe(ctx.clock.now() + PREPUBLISH);
    // Published at once beside the RSA key; the withdrawn next key (never signed) is gone with its private half.
    expect((await jwksKeys(ctx, appId)).map((k) => [k.kid, k.alg])).toEqual([
      [oldActive, "RS256"],
      [s.nextKid!, "ES256"],
    ]);
    expect((await ctx.svc.jwks(appId))!.algs).toEqual(["RS256", "ES256"]);
    expect(row(ctx, oldNext).state).toBe("retired");
    expect(row(ctx, oldNext).vaultSecretId).toBeNull();

    // Until activation, tokens stay RS256.
    ctx.clock.advance(PREPUBLISH - 1000);
    await ctx.svc.tick();
    expect(decodeProtectedHeader(await ctx.svc.sign(appId, {})).alg).toBe("RS256");

    ctx.clock.advance(1000);
    expect((await ctx.svc.tick()).rotated).toBe(1);
    const after = await ctx.svc.sign(appId, { sub: "after" }, { ttlSeconds: 60 });
    expect(decodeProtectedHeader(after)).toMatchObject({ alg: "ES256", kid: s.nextKid! });
    expect((await verifyWithJwks(ctx, appId, after, "ES256")).payload.sub).toBe("after");
    // The RSA key is retiring and still published: the earlier token keeps verifying.
    expect(row(ctx, oldActive).state).toBe("retiring");
    expect((await verifyWithJwks(ctx, appId, before, "RS256")).payload.sub).toBe("before");
    // The tick published the next key in the new algorithm; discovery's list puts the active one first.
    const next = (await states(ctx.svc, appId)).next![0]!;
    expect(row(ctx, next).alg).toBe("ES256");
    expect((await ctx.svc.jwks(appId))!.algs).toEqual(["ES256", "RS256"]);
    expect(ctx.audits.map((a) => a.details.trigger)).toEqual(["scheduled"]);
  });

  test("an emergency rotation after a switch promotes the new key and keeps the new algorithm", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const s = await switchTo(ctx, appId, "EdDSA");
    const r = await ctx.svc.rotate(appId, { emergency: true });
    expect(r.newKid).toBe(s.nextKid!);
    expect(row(ctx, r.nextKid!).alg).toBe("EdDSA");
    const token = await ctx.svc.sign(appId, { sub: "x" }, { ttlSeconds: 60 });
    expect(decodeProtectedHeader(token).alg).toBe("EdDSA");
    expect((await jwksKeys(ctx, appId)).map((k) => k.alg)).toEqual(["EdDSA", "EdDSA"]);
    // Without a next key, an emergency rotation signs at once with a fresh key of the app's algorithm.
    const again = await ctx.svc.rotate(appId, { emergency: true });
    expect(row(ctx, again.newKid).alg).toBe("EdDSA");
  });

  test("switching back before the new key ever signed keeps the active key and the ordinary schedule", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const active = row(ctx, (await ctx.svc.activeKid(appId))!);
    const es = await switchTo(ctx, appId, "ES256");
    const back = await switchTo(ctx, appId, "RS256");
    expect(back.withdrawnKid).toBe(es.nextKid);
    expect(row(ctx, back.nextKid!).alg).toBe("RS256");
    // Not PREPUBLISH from now: the active key already has the algorithm, so nothing needs to hurry.
    expect(back.activatesAt).toBe(active.activatesAt + 90 * 86_400_000);
    expect((await jwksKeys(ctx, appId)).map((k) => k.alg)).toEqual(["RS256", "RS256"]);
    // Asking for the algorithm the next key already has changes nothing.
    const same = await switchTo(ctx, appId, "RS256");
    expect(same).toEqual({ nextKid: back.nextKid, activatesAt: back.activatesAt, withdrawnKid: null });
  });
});
