/** @module Signing keys: JWT signing, the JWKS document and its cache, manual/emergency rotation, tick races and catch-up. */
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { DAY, HOUR } from "../../src/core/clock.ts";
import { HeimdallError } from "../../src/core/errors.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { migrate, openDatabase, tx } from "../../src/db/client.ts";
import { signingKeys } from "../../src/db/schema.ts";
import { OVERLAP, PREPUBLISH, ROTATION_INTERVAL, rotationPolicy } from "../../src/keys/rotation-schedule.ts";
import { createKeyService } from "../../src/keys/service.ts";
import { loadMasterKeys } from "../../src/vault/master-key.ts";
import { createVault } from "../../src/vault/vault.ts";
import {
  createAppWithKeys,
  insertApp,
  jwksKids,
  type KeysContext,
  setupKeys,
  states,
  tempDir,
} from "./keys-fixtures.ts";

async function verify(ctx: KeysContext, appId: string, token: string) {
  const jwks = createLocalJWKSet(JSON.parse((await ctx.svc.jwks(appId))!.body));
  return jwtVerify(token, jwks, {
    currentDate: new Date(ctx.clock.now()),
    typ: "at+jwt",
    algorithms: ["RS256"],
  });
}

describe("policy", () => {
  test("constants", () => {
    expect(rotationPolicy).toEqual({ ROTATION_INTERVAL: 90 * DAY, OVERLAP: 7 * DAY, PREPUBLISH: 2 * HOUR });
  });
});

describe("signing and JWKS", () => {
  test("sign → jwtVerify accepts it with the published JWKS; header carries kid and typ", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const token = await ctx.svc.sign(appId, { sub: "user_1", aud: "app" }, { ttlSeconds: 600 });
    const header = decodeProtectedHeader(token);
    expect(header).toEqual({ alg: "RS256", kid: (await ctx.svc.activeKid(appId))!, typ: "at+jwt" });
    const { payload } = await verify(ctx, appId, token);
    const iat = Math.floor(ctx.clock.now() / 1000);
    expect(payload).toMatchObject({ sub: "user_1", iat, exp: iat + 600 });
    expect(decodeProtectedHeader(await ctx.svc.sign(appId, {}, { typ: "JWT" })).typ).toBe("JWT");
  });

  test("JWKS has exactly kty,n,e,kid,alg,use for the active and next keys, active first", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const { keys } = JSON.parse((await ctx.svc.jwks(appId))!.body);
    expect(keys).toHaveLength(2);
    for (const k of keys) {
      expect(Object.keys(k)).toEqual(["kty", "n", "e", "kid", "alg", "use"]);
      expect(k).toMatchObject({ kty: "RSA", e: "AQAB", alg: "RS256", use: "sig" });
      expect(k.kid).toMatch(/^rs256-[0-9a-z]+-[0-9a-f]{8}$/);
      expect(Buffer.from(k.n, "base64url").length).toBe(256);
    }
    expect(keys[0].kid).toBe(await ctx.svc.activeKid(appId));
    expect(await states(ctx.svc, appId)).toEqual({ active: [keys[0].kid], next: [keys[1].kid] });
    expect(await ctx.svc.jwks(crypto.randomUUID())).toBeNull();
  });

  test("ETag is stable while keys do not change, and changes when they do", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const first = (await ctx.svc.jwks(appId))!;
    expect(first.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(await ctx.svc.jwks(appId)).toBe(first); // served from memory: the very same object
    await ctx.svc.tick();
    await ctx.svc.load();
    ctx.svc.invalidate(appId);
    expect((await ctx.svc.jwks(appId))!.etag).toBe(first.etag);
    ctx.clock.advance(PREPUBLISH);
    await ctx.svc.rotate(appId);
    const second = (await ctx.svc.jwks(appId))!;
    expect(second.etag).not.toBe(first.etag);
    ctx.clock.advance(OVERLAP);
    await ctx.svc.tick();
    expect((await ctx.svc.jwks(appId))!.etag).not.toBe(second.etag);
  });

  test("the private key is decrypted once per kid, not per token", async () => {
    let opens = 0;
    const ctx = setupKeys({
      wrapVault: (v) => ({
        ...v,
        open: async (id, aad) => {
          opens++;
          return await v.open(id, aad);
        },
      }),
    });
    const appId = await createAppWithKeys(ctx);
    await Promise.all(Array.from({ length: 5 }, async () => await ctx.svc.sign(appId, { sub: "u" })));
    await ctx.svc.sign(appId, { sub: "u" });
    expect(opens).toBe(1);
    ctx.clock.advance(PREPUBLISH);
    await ctx.svc.rotate(appId);
    await ctx.svc.sign(appId, { sub: "u" });
    await ctx.svc.sign(appId, { sub: "u" });
    expect(opens).toBe(2);
  });

  test("verifyKey returns published keys of that app only", async () => {
    const ctx = setupKeys();
    const [a, b] = [await createAppWithKeys(ctx), await createAppWithKeys(ctx)];
    const token = await ctx.svc.sign(a, { sub: "u" });
    const kid = (await ctx.svc.activeKid(a))!;
    const key = await ctx.svc.verifyKey(a, kid);
    expect(key).not.toBeNull();
    expect((await jwtVerify(token, key!, { currentDate: new Date(ctx.clock.now()) })).payload.sub).toBe("u");
    expect(await ctx.svc.verifyKey(a, kid)).toBe(key); // cached
    expect(await ctx.svc.verifyKey(b, kid)).toBeNull();
    expect(await ctx.svc.verifyKey(a, "rs256-nope")).toBeNull();
    await ctx.svc.rotate(a, { emergency: true });
    expect(await ctx.svc.verifyKey(a, kid)).toBeNull();
  });

  test("list shows lifecycle timestamps as ISO strings and nothing private", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const rows = await ctx.svc.list(appId);
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(Object.keys(r).sort()).toEqual(
        ["activates_at", "alg", "created_at", "kid", "retire_at", "retired_at", "rotated_at", "state"].sort(),
      );
    }
    const next = rows.find((r) => r.state === "next")!;
    expect(next.activates_at).toBe(new Date(ctx.clock.now() + ROTATION_INTERVAL).toISOString());
    expect(next.rotated_at).toBeNull();
  });

  test("insertInitialKeys is refused twice, and a rolled-back app creation leaves nothing behind", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const [m1, m2] = [await ctx.svc.generateKeyMaterial(), await ctx.svc.generateKeyMaterial()];
    expect(async () => await ctx.svc.insertInitialKeys(appId, m1, m2)).toThrow(HeimdallError);
    let other = "";
    expect(
      async () =>
        await tx(ctx.db, async () => {
          other = insertApp(ctx.db, ctx.clock);
          await ctx.svc.insertInitialKeys(other, m1, m2);
          expect(await ctx.svc.jwks(other)).not.toBeNull();
          throw new Error("app creation failed later");
        }),
    ).toThrow("app creation failed later");
    ctx.svc.invalidate(other);
    expect(await ctx.svc.jwks(other)).toBeNull();
    expect(await ctx.svc.list(other)).toEqual([]);
  });

  test("Material never shows its private key through JSON or spreading", async () => {
    const ctx = setupKeys();
    const m = await ctx.svc.generateKeyMaterial();
    const json = JSON.stringify({ ...m, m });
    expect(json).not.toContain('"d"');
    expect(Object.keys(m).sort()).toEqual(["alg", "bits", "kid", "publicJwk"]);
  });
});

describe("manual rotation", () => {
  test("active → retiring, next → active, a fresh next; audit written; old tokens still verify", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const [a, b] = await jwksKids(ctx.svc, appId);
    const oldToken = await ctx.svc.sign(appId, { sub: "u" }, { ttlSeconds: 3 * 3600 });
    const published = ctx.clock.now();
    ctx.clock.advance(PREPUBLISH);

    const actor = { type: "platform_user" as const, id: "user_1" };
    const res = await ctx.svc.rotate(appId, { actor, meta: { requestId: "req_1", ip: "10.0.0.1" } });
    const c = res.nextKid!;
    expect(res).toEqual({ oldKid: a!, newKid: b!, nextKid: c, newKeyPublishedAt: published, warning: null });
    expect(await states(ctx.svc, appId)).toEqual({ active: [b!], next: [c], retiring: [a!] });
    expect(await jwksKids(ctx.svc, appId)).toEqual([b!, c, a!]);
    expect(await ctx.svc.activeKid(appId)).toBe(b!);
    expect(decodeProtectedHeader(await ctx.svc.sign(appId, {})).kid).toBe(b!);
    expect((await verify(ctx, appId, oldToken)).payload.sub).toBe("u");

    const now = ctx.clock.now();
    const byKid = new Map((await ctx.svc.list(appId)).map((r) => [r.kid, r]));
    expect(byKid.get(a!)).toMatchObject({
      rotated_at: new Date(now).toISOString(),
      retire_at: new Date(now + OVERLAP).toISOString(),
    });
    expect(byKid.get(b!)!.activates_at).toBe(new Date(now).toISOString());
    expect(byKid.get(c)!.activates_at).toBe(new Date(now + ROTATION_INTERVAL).toISOString());

    expect(ctx.audits).toEqual([
      {
        appId,
        action: "app.key_rotated",
        details: { old_kid: a!, new_kid: b!, next_kid: c, emergency: false, trigger: "manual" },
        actor,
        meta: { requestId: "req_1", ip: "10.0.0.1" },
      },
    ]);

    // After the overlap the old key leaves the JWKS.
    ctx.clock.advance(OVERLAP);
    expect(await ctx.svc.tick()).toEqual({ rotated: 0, retired: 1, created: 0 });
    expect(await jwksKids(ctx.svc, appId)).toEqual([b!, c]);
  });

  test("emergency: the old active key leaves the JWKS at once and its tokens stop verifying", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const [a, b] = await jwksKids(ctx.svc, appId);
    const oldToken = await ctx.svc.sign(appId, { sub: "u" }, { ttlSeconds: 3600 });
    const res = await ctx.svc.rotate(appId, { emergency: true });
    expect(res.oldKid).toBe(a!);
    expect(await jwksKids(ctx.svc, appId)).toEqual([b!, res.nextKid!]);
    expect(await states(ctx.svc, appId)).toEqual({ active: [b!], next: [res.nextKid!], retired: [a!] });
    await expect(verify(ctx, appId, oldToken)).rejects.toMatchObject({
      code: "ERR_JWKS_NO_MATCHING_KEY",
    });
    const fresh = await ctx.svc.sign(appId, { sub: "u" }, { ttlSeconds: 3600 });
    expect((await verify(ctx, appId, fresh)).protectedHeader.kid).toBe(b!);
    expect(ctx.audits.map((e) => e.details)).toEqual([
      { old_kid: a!, new_kid: b!, next_kid: res.nextKid!, emergency: true, trigger: "manual" },
    ]);
    // The withdrawn key can never sign again: its sealed private half is destroyed in the same transaction.
    const row = ctx.db.select().from(signingKeys).where(eq(signingKeys.kid, a!)).get()!;
    expect(row.vaultSecretId).toBeNull();
    expect(
      ctx.db.$client
        .query("SELECT count(*) AS n FROM vault_secrets WHERE aad = ?")
        .get(`signing_key:${appId}:${a}`),
    ).toEqual({ n: 0 });
  });

  test("a key retired by the scheduler loses its private half; keys still published keep theirs", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const [a] = await jwksKids(ctx.svc, appId);
    ctx.clock.advance(ROTATION_INTERVAL);
    await ctx.svc.tick();
    const sealed = () =>
      ctx.db
        .select()
        .from(signingKeys)
        .where(eq(signingKeys.appId, appId))
        .all()
        .map((k) => [k.kid, k.state, k.vaultSecretId !== null] as const);
    // Retiring (still published for verifiers): the sealed key is kept until it retires.
    expect(sealed().find(([kid]) => kid === a)).toEqual([a!, "retiring", true]);
    ctx.clock.advance(OVERLAP);
    expect((await ctx.svc.tick()).retired).toBe(1);
    expect(sealed().find(([kid]) => kid === a)).toEqual([a!, "retired", false]);
    expect(
      sealed()
        .filter(([, state]) => state !== "retired")
        .every(([, , has]) => has),
    ).toBe(true);
    expect(
      ctx.db.$client
        .query("SELECT count(*) AS n FROM vault_secrets WHERE aad = ?")
        .get(`signing_key:${appId}:${a}`),
    ).toEqual({ n: 0 });
  });

  test("an app without keys cannot rotate", async () => {
    const ctx = setupKeys();
    const appId = insertApp(ctx.db, ctx.clock);
    await expect(ctx.svc.rotate(appId)).rejects.toMatchObject({
      status: 404,
      code: "SIGNING_KEYS_NOT_FOUND",
    });
  });

  test("without a next key a rotation publishes one and is refused until it is PREPUBLISH old", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const [a, b] = await jwksKids(ctx.svc, appId);
    ctx.db.delete(signingKeys).where(eq(signingKeys.kid, b!)).run();
    ctx.svc.invalidate(appId);
    const refused = await ctx.svc.rotate(appId).catch((e) => e);
    expect(refused).toMatchObject({ status: 409, code: "ROTATION_TOO_SOON" });
    expect(refused.headers).toEqual({ "retry-after": String(PREPUBLISH / 1000) });
    const next = (await states(ctx.svc, appId)).next!;
    expect(next).toHaveLength(1);
    expect(await jwksKids(ctx.svc, appId)).toEqual([a!, next[0]!]);
    expect(await ctx.svc.activeKid(appId)).toBe(a!);
    expect(ctx.audits).toEqual([]);
    ctx.clock.advance(PREPUBLISH);
    expect(await ctx.svc.rotate(appId)).toMatchObject({ oldKid: a!, newKid: next[0]! });
  });

  test("an emergency rotation without a next key signs with a fresh key at once, and the next tick publishes a next key", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const [a, b] = await jwksKids(ctx.svc, appId);
    ctx.db.delete(signingKeys).where(eq(signingKeys.kid, b!)).run();
    const res = await ctx.svc.rotate(appId, { emergency: true });
    expect(res).toMatchObject({ oldKid: a!, nextKid: null, newKeyPublishedAt: ctx.clock.now() });
    expect(res.warning).toContain(`${res.newKid} was published just now`);
    expect(await ctx.svc.activeKid(appId)).toBe(res.newKid);
    expect(await ctx.svc.tick()).toEqual({ rotated: 0, retired: 0, created: 1 });
    expect((await states(ctx.svc, appId)).next).toHaveLength(1);
  });
});

describe("scheduled rotation (tick)", () => {
  test("is a no-op before the deadline and idempotent at it", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const [a, b] = await jwksKids(ctx.svc, appId);
    ctx.clock.advance(ROTATION_INTERVAL - 1);
    expect(await ctx.svc.tick()).toEqual({ rotated: 0, retired: 0, created: 0 });
    ctx.clock.advance(1);
    const first = await ctx.svc.tick();
    expect(first).toEqual({ rotated: 1, retired: 0, created: 1 });
    expect(await ctx.svc.tick()).toEqual({ rotated: 0, retired: 0, created: 0 });
    const s = await states(ctx.svc, appId);
    expect(s).toMatchObject({ active: [b!], retiring: [a!] });
    expect(ctx.audits.map((e) => e.details)).toEqual([
      { old_kid: a!, new_kid: b!, next_kid: null, emergency: false, trigger: "scheduled" },
    ]);
    expect(ctx.audits[0]!.actor).toBeUndefined();
  });

  test("two ticks racing at the deadline rotate exactly once", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    ctx.clock.advance(ROTATION_INTERVAL);
    const results = await Promise.all([ctx.svc.tick(), ctx.svc.tick()]);
    expect(results.reduce((n, r) => n + r.rotated, 0)).toBe(1);
    expect(results.reduce((n, r) => n + r.created, 0)).toBe(1);
    const s = await states(ctx.svc, appId);
    expect([s.active?.length, s.retiring?.length, s.next?.length]).toEqual([1, 1, 1]);
    expect(ctx.audits).toHaveLength(1);
  });

  test("two processes (two connections to one file) racing rotate exactly once", async () => {
    const a = setupKeys({ dbFile: `${tempDir()}/heimdall.db` });
    const appId = await createAppWithKeys(a);
    const db2 = openDatabase(a.db.$client.filename);
    migrate(db2);
    const vault2 = createVault({ db: db2, keys: loadMasterKeys(a.keyFile), clock: a.clock });
    const audits2: unknown[] = [];
    const svc2 = createKeyService({
      db: db2,
      vault: vault2,
      clock: a.clock,
      rsaBits: 2048,
      log: memoryLogger("warn"),
      audit: async (e) => void audits2.push(e),
    });
    a.clock.advance(ROTATION_INTERVAL + HOUR);
    const results = await Promise.all([a.svc.tick(), svc2.tick()]);
    expect(results.reduce((n, r) => n + r.rotated, 0)).toBe(1);
    expect(results.reduce((n, r) => n + r.created, 0)).toBe(1);
    expect(a.audits.length + audits2.length).toBe(1);
    const s = await states(a.svc, appId);
    expect([s.active?.length, s.retiring?.length, s.next?.length]).toEqual([1, 1, 1]);
    // Both processes serve the same JWKS after their tick.
    expect((await svc2.jwks(appId))!.body).toBe((await a.svc.jwks(appId))!.body);
    db2.$client.close();
    a.db.$client.close();
  });

  test("a missing next key after long downtime is published now and signs no sooner than PREPUBLISH later", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const [a, b] = await jwksKids(ctx.svc, appId);
    ctx.db.delete(signingKeys).where(eq(signingKeys.kid, b!)).run(); // as if keygen failed before a crash
    ctx.clock.advance(200 * DAY);
    expect(await ctx.svc.tick()).toEqual({ rotated: 0, retired: 0, created: 1 });
    const next = (await ctx.svc.list(appId)).find((r) => r.state === "next")!;
    expect(next.activates_at).toBe(new Date(ctx.clock.now() + PREPUBLISH).toISOString());
    expect(await jwksKids(ctx.svc, appId)).toContain(next.kid);
    ctx.clock.advance(PREPUBLISH - 1);
    expect((await ctx.svc.tick()).rotated).toBe(0);
    expect(await ctx.svc.activeKid(appId)).toBe(a!);
    ctx.clock.advance(1);
    expect((await ctx.svc.tick()).rotated).toBe(1);
    expect(await ctx.svc.activeKid(appId)).toBe(next.kid);
  });

  test("a keygen failure for one app is logged and does not stop the tick", async () => {
    const ctx = setupKeys();
    const appId = await createAppWithKeys(ctx);
    const [, b] = await jwksKids(ctx.svc, appId);
    ctx.db.delete(signingKeys).where(eq(signingKeys.kid, b!)).run();
    const failing = createKeyService({
      db: ctx.db,
      vault: {
        ...ctx.vault,
        seal: () => {
          throw new Error("disk full");
        },
      },
      clock: ctx.clock,
      rsaBits: 2048,
      log: ctx.log,
    });
    expect(await failing.tick()).toEqual({ rotated: 0, retired: 0, created: 0 });
    expect(ctx.log.lines.join("\n")).toContain("could not create the next signing key");
    expect(await failing.jwks(appId)).not.toBeNull();
  });

  test("load() warms the cache for every app; activeKeyAges reads it", async () => {
    const ctx = setupKeys();
    const ids = [await createAppWithKeys(ctx), await createAppWithKeys(ctx)];
    const fresh = createKeyService({
      db: ctx.db,
      vault: ctx.vault,
      clock: ctx.clock,
      rsaBits: 2048,
      log: ctx.log,
    });
    expect(fresh.activeKeyAges()).toEqual([]);
    await fresh.load();
    ctx.clock.advance(10 * 1000);
    expect(
      fresh
        .activeKeyAges()
        .map((a) => [a.appId, a.ageSeconds])
        .sort(),
    ).toEqual(ids.map((id) => [id, 10]).sort());
    expect((await fresh.jwks(ids[0]!))!.body).toBe((await ctx.svc.jwks(ids[0]!))!.body);
  });
});
