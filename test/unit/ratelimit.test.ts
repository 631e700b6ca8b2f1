/** @module The SQLite fixed-window limiter: counting, refusal with Retry-After, window roll-over, reset. */
import { expect, test } from "bun:test";
import { FakeClock } from "../../src/core/clock.ts";
import { HeimdallError } from "../../src/core/errors.ts";
import { migrate, openDatabase } from "../../src/db/client.ts";
import { createRateLimiter } from "../../src/ratelimit/limiter.ts";

function setup() {
  const db = openDatabase(":memory:");
  migrate(db);
  const clock = new FakeClock(1_000_000);
  return { db, clock, limiter: createRateLimiter({ db, clock }) };
}

test("allows max hits per window, then refuses with 429 and Retry-After", () => {
  const { limiter, clock } = setup();
  const l = { key: "k", max: 3, windowMs: 60_000 };
  expect(limiter.consume([l]).remaining).toBe(2);
  limiter.consume([l]);
  expect(limiter.consume([l]).remaining).toBe(0);
  clock.advance(20_000);
  try {
    limiter.consume([l]);
    throw new Error("expected a refusal");
  } catch (err) {
    expect(err).toBeInstanceOf(HeimdallError);
    const e = err as HeimdallError;
    expect([e.status, e.code]).toEqual([429, "RATE_LIMITED"]);
    expect(e.headers?.["retry-after"]).toBe("40");
  }
  clock.advance(40_000);
  expect(limiter.consume([l]).allowed).toBe(true);
});

test("peek does not count; reset forgets; flushed limits survive a new limiter on the same database", async () => {
  const { db, clock, limiter } = setup();
  const l = { key: "p", max: 2, windowMs: 60_000 };
  limiter.consume([l]);
  expect((await limiter.peek(l)).remaining).toBe(1);
  expect((await limiter.peek(l)).remaining).toBe(1);
  // Counted in memory, written behind: nothing is on disk until a flush, then one row.
  expect(db.$client.query("SELECT count(*) AS n FROM rate_limits").get()).toEqual({ n: 0 });
  expect(await limiter.flush()).toBe(1);
  expect(db.$client.query("SELECT key, count FROM rate_limits").all()).toEqual([{ key: "p", count: 1 }]);
  const again = createRateLimiter({ db, clock });
  again.consume([l]);
  expect(() => again.consume([l])).toThrow(HeimdallError);
  await again.reset("p");
  expect((await again.peek(l)).remaining).toBe(2);
  expect((await createRateLimiter({ db, clock }).peek(l)).remaining).toBe(2);
});

test("every limit in a call counts; a refused call counts nowhere (one transaction)", async () => {
  const { limiter } = setup();
  const perIp = { key: "ip", max: 10, windowMs: 60_000 };
  const perUser = { key: "user", max: 1, windowMs: 60_000 };
  limiter.consume([perIp, perUser]);
  expect((await limiter.peek(perIp)).remaining).toBe(9);
  expect(() => limiter.consume([perIp, perUser])).toThrow(HeimdallError);
  expect((await limiter.peek(perIp)).remaining).toBe(9);
  expect((await limiter.peek(perUser)).remaining).toBe(0);
});

test("hit counts without refusing; peek then shows the window exhausted", async () => {
  const { limiter, clock } = setup();
  const l = { key: "h", max: 2, windowMs: 60_000 };
  expect((await limiter.hit(l)).remaining).toBe(1);
  expect((await limiter.hit(l)).remaining).toBe(0);
  expect(await limiter.hit(l)).toMatchObject({ allowed: false, remaining: 0 });
  expect((await limiter.peek(l)).remaining).toBe(0);
  clock.advance(60_000);
  expect((await limiter.hit(l)).remaining).toBe(1);
});

test("strikes last until a window passes with none, keep the last strike's time, and survive a new limiter", async () => {
  const { db, limiter, clock } = setup();
  expect(await limiter.strikes("s", 10_000)).toEqual({ count: 0, last: 0 });
  await limiter.strike("s", 10_000);
  clock.advance(9_000);
  // Each strike restarts the window: a steady trickle keeps the count.
  expect(await limiter.strike("s", 10_000)).toEqual({ count: 2, last: clock.now() });
  clock.advance(9_000);
  expect(await limiter.strikes("s", 10_000)).toEqual({ count: 2, last: clock.now() - 9_000 });
  await limiter.flush();
  expect((await createRateLimiter({ db, clock }).strikes("s", 10_000)).count).toBe(2);
  clock.advance(1_000);
  expect(await limiter.strikes("s", 10_000)).toEqual({ count: 0, last: 0 });
  expect((await limiter.strike("s", 10_000)).count).toBe(1);
});
