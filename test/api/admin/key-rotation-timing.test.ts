/** @module Rotation never outruns verifier caches: the 2 h pre-publish rule on manual rotation (409 ROTATION_TOO_SOON), emergency rotation's warning, and a JWKS-caching verifier across manual and scheduled rotations. */
import { beforeEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { MINUTE } from "../../../src/core/clock.ts";
import { JWKS_MAX_AGE, PREPUBLISH, ROTATION_INTERVAL } from "../../../src/keys/rotation-schedule.ts";
import { auditRows, createApp, type TestApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { expectErrorShape } from "../../support/openapi.ts";

let ctx: TestContext;
let app: TestApp;

beforeEach(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, `rot-${crypto.randomUUID().slice(0, 8)}`);
});

const rotate = (body?: { emergency: boolean }) =>
  ctx.call("POST", "/v1/apps/{app_id}/keys/rotate", { params: { app_id: app.id }, body, unchecked: true });

const keyStates = async () =>
  Object.fromEntries((await ctx.deps.keys.list(app.id)).map((k) => [k.kid, k.state] as const));

const nextKey = async () => (await ctx.deps.keys.list(app.id)).find((k) => k.state === "next")!;

const rotatedRows = () => auditRows(ctx, { app_id: app.id, action: "app.key_rotated" });

/**
 * A verifier like go-oidc's: fetches the JWKS over HTTP and keeps it for the full `max-age` the response
 * allows, refetching only once that has passed — never on an unknown kid. A token it rejects is a token a
 * real verifier with a warm cache would reject.
 */
function cachingVerifier(slug: string) {
  let cached: {
    keys: ReturnType<typeof createLocalJWKSet>;
    kids: string[];
    at: number;
    maxAge: number;
  } | null = null;
  const fetchJwks = async () => {
    const res = await ctx.call<JSONWebKeySet>("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: { app_slug: slug },
      auth: null,
    });
    expect(res.status).toBe(200);
    const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get("cache-control") ?? "")?.[1]);
    expect(maxAge * 1000).toBe(JWKS_MAX_AGE);
    cached = {
      keys: createLocalJWKSet(res.body),
      kids: res.body.keys.map((k) => k.kid!),
      at: ctx.clock.now(),
      maxAge: maxAge * 1000,
    };
  };
  return {
    fetches: 0,
    async verify(token: string) {
      if (!cached || ctx.clock.now() - cached.at > cached.maxAge) {
        this.fetches++;
        await fetchJwks();
      }
      return jwtVerify(token, cached!.keys, {
        currentDate: new Date(ctx.clock.now()),
        algorithms: ["RS256"],
      });
    },
    cachedKids: () => cached?.kids ?? [],
  };
}

const mint = async () =>
  await ctx.deps.keys.sign(app.id, { sub: "user_1", aid: app.id }, { ttlSeconds: 900 });

describe("a non-emergency rotation never promotes a next key published under 2 h ago", () => {
  test("right after app creation: 409 ROTATION_TOO_SOON with Retry-After and the time; nothing changes", async () => {
    const before = await keyStates();
    const etag = (await ctx.deps.keys.jwks(app.id))!.etag;
    const next = await nextKey();
    ctx.clock.advance(5 * 1000);
    const res = await rotate();
    expect(res.status).toBe(409);
    expectErrorShape(res.body);
    expect(res.body.code).toBe("ROTATION_TOO_SOON");
    expect(res.headers.get("retry-after")).toBe(String(PREPUBLISH / 1000 - 5));
    const possibleAt = new Date(Date.parse(next.created_at) + PREPUBLISH).toISOString();
    expect(res.body.message).toContain(next.kid);
    expect(res.body.message).toContain(possibleAt);
    expect(res.body.message).toContain("emergency");
    expect(await keyStates()).toEqual(before);
    expect((await ctx.deps.keys.jwks(app.id))!.etag).toBe(etag);
    expect(await rotatedRows()).toEqual([]);
  });

  test("one millisecond before the 2 h it is refused (Retry-After 1); at 2 h it rotates and says when the key was published", async () => {
    const next = await nextKey();
    ctx.clock.advance(PREPUBLISH - 1);
    const early = await rotate();
    expect(early.status).toBe(409);
    expect(early.headers.get("retry-after")).toBe("1");
    ctx.clock.advance(1);
    const res = await rotate();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      new_kid: next.kid,
      emergency: false,
      new_key_published_at: next.created_at,
      warning: null,
    });
    expect((await keyStates())[next.kid]).toBe("active");
    expect(await rotatedRows()).toHaveLength(1);
  });

  test("two rotations a minute apart: the second is refused, and a verifier caching the JWKS for its max-age rejects no token", async () => {
    const verifier = cachingVerifier(app.slug);
    // The verifier's cache is warm from the start, as a busy resource server's would be.
    expect((await verifier.verify(await mint())).payload.sub).toBe("user_1");
    ctx.clock.advance(PREPUBLISH);
    const first = await rotate();
    expect(first.status).toBe(200);
    const published = await nextKey();
    expect(published.kid).toBe(first.body.next_kid);

    ctx.clock.advance(MINUTE);
    const second = await rotate();
    expect(second.status).toBe(409);
    expect(second.body.code).toBe("ROTATION_TOO_SOON");
    expect(Number(second.headers.get("retry-after"))).toBe((PREPUBLISH - MINUTE) / 1000);
    expect(await ctx.deps.keys.activeKid(app.id)).toBe(first.body.new_kid);

    // Every 5 minutes for the next 3 h: a token minted now always verifies against the cached JWKS;
    // whenever the refused rotation becomes possible it is done, and tokens keep verifying.
    let rotatedAgain = false;
    for (let t = 0; t < 36; t++) {
      ctx.clock.advance(5 * MINUTE);
      const res = await rotate();
      if (res.status === 200) {
        expect(rotatedAgain).toBe(false);
        rotatedAgain = true;
        expect(res.body.new_kid).toBe(published.kid);
        expect(ctx.clock.now() - Date.parse(published.created_at)).toBeGreaterThanOrEqual(PREPUBLISH);
      } else {
        expect(res.body.code).toBe("ROTATION_TOO_SOON");
      }
      const token = await mint();
      const { protectedHeader } = await verifier.verify(token);
      expect(protectedHeader.kid).toBe((await ctx.deps.keys.activeKid(app.id))!);
    }
    expect(rotatedAgain).toBe(true);
    expect((await rotatedRows()).map((r) => r.details.emergency)).toEqual([false, false]);
  });

  test("an app without a next key gets one published, and the rotation is refused until it is 2 h old", async () => {
    const next = await nextKey();
    const { signingKeys } = ctx.deps.db.tables;
    await ctx.deps.db.delete(signingKeys).where(eq(signingKeys.kid, next.kid));
    ctx.deps.keys.invalidate(app.id);
    const active = (await ctx.deps.keys.activeKid(app.id))!;
    const res = await rotate();
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("ROTATION_TOO_SOON");
    expect(res.headers.get("retry-after")).toBe(String(PREPUBLISH / 1000));
    const published = await nextKey();
    expect(res.body.message).toContain(published.kid);
    const jwks = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: { app_slug: app.slug },
      auth: null,
    });
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual([active, published.kid]);
    expect(await ctx.deps.keys.activeKid(app.id)).toBe(active);
    expect(await rotatedRows()).toEqual([]);
  });
});

describe("emergency rotation stays immediate", () => {
  test("right after creation it promotes the next key, withdraws the old one and warns about verifier caches", async () => {
    const [oldKid, next] = [(await ctx.deps.keys.activeKid(app.id))!, await nextKey()];
    ctx.clock.advance(10 * MINUTE);
    const res = await rotate({ emergency: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      old_kid: oldKid,
      new_kid: next.kid,
      emergency: true,
      new_key_published_at: next.created_at,
    });
    expect(res.body.warning).toContain(`${oldKid} left the JWKS now`);
    expect(res.body.warning).toContain("keep accepting its tokens until they refetch");
    expect(res.body.warning).toContain(`${next.kid} was published only 10 min ago`);
    expect(res.body.warning).toContain("reject new tokens until they refetch");
    expect((await keyStates())[oldKid]).toBe("retired");
    expect(decodeProtectedHeader(await mint()).kid).toBe(next.kid);
    expect((await rotatedRows()).map((r) => r.details)).toEqual([
      { old_kid: oldKid, new_kid: next.kid, next_kid: res.body.next_kid, emergency: true, trigger: "manual" },
    ]);
  });

  test("with a next key published long ago, the warning is only about the withdrawn key", async () => {
    ctx.clock.advance(PREPUBLISH);
    const res = await rotate({ emergency: true });
    expect(res.status).toBe(200);
    expect(res.body.warning).toContain(`${res.body.old_kid} left the JWKS now`);
    expect(res.body.warning).not.toContain("was published");
  });
});

describe("scheduled rotation and a verifier that caches the JWKS for its full max-age", () => {
  async function walk(verifier: ReturnType<typeof cachingVerifier>, steps: number, stepMs: number) {
    const kids = new Set<string>();
    for (let i = 0; i < steps; i++) {
      ctx.clock.advance(stepMs);
      await ctx.deps.keys.tick();
      const { protectedHeader } = await verifier.verify(await mint());
      kids.add(protectedHeader.kid!);
    }
    return kids;
  }

  test("at the 90-day boundary no token is rejected", async () => {
    const verifier = cachingVerifier(app.slug);
    const [first, next] = [(await ctx.deps.keys.activeKid(app.id))!, (await nextKey()).kid];
    ctx.clock.advance(ROTATION_INTERVAL - 3 * JWKS_MAX_AGE);
    await verifier.verify(await mint());
    const kids = await walk(verifier, 72, 5 * MINUTE);
    expect([...kids]).toEqual([first, next]);
    expect((await rotatedRows()).map((r) => r.details.trigger)).toEqual(["scheduled"]);
  });

  test("after a lost next key and downtime, the catch-up key waits out the verifier's cache: no token is rejected", async () => {
    const verifier = cachingVerifier(app.slug);
    const first = (await ctx.deps.keys.activeKid(app.id))!;
    const { signingKeys } = ctx.deps.db.tables;
    await ctx.deps.db.delete(signingKeys).where(eq(signingKeys.kid, (await nextKey()).kid));
    ctx.deps.keys.invalidate(app.id);
    ctx.clock.advance(ROTATION_INTERVAL + 30 * MINUTE);
    // Cached just before the catch-up key exists: this verifier will not see it for an hour.
    await verifier.verify(await mint());
    expect(verifier.cachedKids()).toEqual([first]);
    const kids = await walk(verifier, 48, 5 * MINUTE);
    expect(kids.size).toBe(2);
    expect(await ctx.deps.keys.activeKid(app.id)).not.toBe(first);
    expect(verifier.fetches).toBeGreaterThan(1);
  });
});
