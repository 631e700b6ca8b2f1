import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FakeClock } from "../../src/core/clock.ts";
import { HeimdallError } from "../../src/core/errors.ts";
import type { Db } from "../../src/db/client.ts";
import { createSharedRateLimiter } from "../../src/ratelimit/shared.ts";
import { twoInstances } from "../support/postgres.ts";

let a: Db;
let b: Db;
let closeInstances: () => Promise<void>;
const clock = new FakeClock(Date.UTC(2026, 11, 1));

beforeAll(async () => {
  ({ a, b, close: closeInstances } = await twoInstances(6));
});

afterAll(async () => {
  await closeInstances();
});

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (err) => (err instanceof HeimdallError ? err.code : String(err)),
  );

describe("rate limits shared by two instances (PostgreSQL)", () => {
  test("a limit of 5 is 5 in total: 12 concurrent calls split over two instances, 5 pass, 7 get 429", async () => {
    const one = createSharedRateLimiter({ db: a, clock });
    const two = createSharedRateLimiter({ db: b, clock });
    const limit = { key: "t:burst", max: 5, windowMs: 60_000 };
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => outcome((i % 2 ? one : two).consume([limit]))),
    );
    expect(results.filter((r) => r === "ok")).toHaveLength(5);
    expect(results.filter((r) => r === "RATE_LIMITED")).toHaveLength(7);
    expect(await one.peek(limit)).toMatchObject({ allowed: true, remaining: 0, limit: 5 });
    // The window resets for everyone.
    clock.advance(60_000);
    expect(await outcome(two.consume([limit]))).toBe("ok");
  });

  test("all or nothing over several limits: a refused call counts nowhere", async () => {
    const one = createSharedRateLimiter({ db: a, clock });
    const wide = { key: "t:wide", max: 10, windowMs: 60_000 };
    const narrow = { key: "t:narrow", max: 1, windowMs: 60_000 };
    expect(await outcome(one.consume([wide, narrow]))).toBe("ok");
    expect(await outcome(one.consume([wide, narrow]))).toBe("RATE_LIMITED");
    expect((await one.peek(wide)).remaining).toBe(9);
    const refused = await one.consume([narrow]).catch((e: HeimdallError) => e);
    expect((refused as HeimdallError).headers).toMatchObject({
      "retry-after": "60",
      "ratelimit-remaining": "0",
    });
  });

  test("hits, strikes and resets are seen by the other instance", async () => {
    const one = createSharedRateLimiter({ db: a, clock });
    const two = createSharedRateLimiter({ db: b, clock });
    const l = { key: "t:hits", max: 2, windowMs: 60_000 };
    await one.hit(l);
    await two.hit(l);
    expect(await two.hit(l)).toMatchObject({ allowed: false, remaining: 0 });
    expect(await one.strike("t:pair", 3_600_000)).toEqual({ count: 1, last: clock.now() });
    expect(await two.strike("t:pair", 3_600_000)).toEqual({ count: 2, last: clock.now() });
    expect(await one.strikes("t:pair", 3_600_000)).toEqual({ count: 2, last: clock.now() });
    await two.reset("t:pair");
    expect(await one.strikes("t:pair", 3_600_000)).toEqual({ count: 0, last: 0 });
    clock.advance(25 * 3600 * 1000);
    expect(await one.purge()).toBeGreaterThan(0);
    expect((await two.peek(l)).remaining).toBe(2);
  });
});
