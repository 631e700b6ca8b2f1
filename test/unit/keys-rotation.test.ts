/** @module A simulated year of scheduled rotation with downtime: no verifier ever misses a key that signed a live token. */
import { expect, test } from "bun:test";
import { decodeProtectedHeader } from "jose";
import { DAY, HOUR } from "../../src/core/clock.ts";
import { PREPUBLISH, ROTATION_INTERVAL } from "../../src/keys/rotation-schedule.ts";
import { createAppWithKeys, jwksKids, setupKeys } from "./keys-fixtures.ts";

const TTL_SECONDS = 3600;

test("a year of hourly ticks, with 10- and 120-day outages, keeps every invariant", {
  timeout: 60_000,
}, async () => {
  const ctx = setupKeys();
  const appId = await createAppWithKeys(ctx);
  const start = ctx.clock.now();

  // Outages (in simulated hours of uptime → downtime length): the first spans the first 90-day deadline,
  // the second spans a later one by far more than a rotation interval.
  const outages = new Map([
    [85 * 24, 10 * DAY],
    [200 * 24, 120 * DAY],
  ]);
  const publishedAt = new Map<string, number>();
  const activatedAt = new Map<string, number>();
  const tokens: { kid: string; exp: number }[] = [];
  const downtimes: [number, number][] = [];
  let ticksAfterOutage = 0;

  for (let hour = 0; hour < 365 * 24; hour++) {
    const outage = outages.get(hour);
    if (outage) {
      downtimes.push([ctx.clock.now(), ctx.clock.now() + outage]);
      ctx.clock.advance(outage);
    }
    const result = await ctx.svc.tick();
    if (outage && result.rotated > 0) ticksAfterOutage++;
    const now = ctx.clock.now();

    const published = new Set(await jwksKids(ctx.svc, appId));
    for (const kid of published) if (!publishedAt.has(kid)) publishedAt.set(kid, now);
    const signing = (await ctx.svc.activeKid(appId))!;
    if (!activatedAt.has(signing)) activatedAt.set(signing, now);

    // (1) the signing key is published
    expect(published.has(signing)).toBe(true);
    // (2) every key that signed a token still valid at this instant is published
    for (const t of tokens) if (t.exp >= now / 1000) expect(published.has(t.kid)).toBe(true);
    // (3) the signing key was published ≥ PREPUBLISH before it started signing (the first key excepted)
    if (signing !== [...activatedAt.keys()][0]) {
      expect(activatedAt.get(signing)! - publishedAt.get(signing)!).toBeGreaterThanOrEqual(PREPUBLISH);
    }

    const token = await ctx.svc.sign(appId, { sub: "user" }, { ttlSeconds: TTL_SECONDS });
    const kid = decodeProtectedHeader(token).kid!;
    expect(kid).toBe(signing);
    tokens.push({ kid, exp: Math.floor(now / 1000) + TTL_SECONDS });
    if (tokens.length > 4) tokens.shift(); // older ones expired long ago; keeps the check O(1)

    ctx.clock.advance(HOUR);
  }

  // One tick after each outage brought everything to a correct state at once.
  expect(ticksAfterOutage).toBe(2);

  // Rotations: every 90 days (± one tick), except where an outage delayed one — then on the first tick after it.
  const activations = [...activatedAt.values()];
  expect(activations.length).toBe(5);
  for (let i = 1; i < activations.length; i++) {
    const [prev, cur] = [activations[i - 1]!, activations[i]!];
    const delayedBy = downtimes.find(
      ([from, to]) => prev + ROTATION_INTERVAL > from && prev + ROTATION_INTERVAL <= to,
    );
    if (delayedBy) expect(cur).toBe(delayedBy[1]);
    else {
      expect(cur - prev).toBeGreaterThanOrEqual(ROTATION_INTERVAL);
      expect(cur - prev).toBeLessThanOrEqual(ROTATION_INTERVAL + HOUR);
    }
  }
  expect(activations[0]).toBe(start);

  // Keys are generated only at creation and at rotations, never per tick.
  const list = await ctx.svc.list(appId);
  expect(list).toHaveLength(2 + activations.length - 1);
  expect(list.filter((k) => k.state === "active")).toHaveLength(1);
  expect(list.filter((k) => k.state === "next")).toHaveLength(1);
  expect(list.filter((k) => k.state === "retired")).toHaveLength(4);
  expect(ctx.audits).toHaveLength(4);
});
