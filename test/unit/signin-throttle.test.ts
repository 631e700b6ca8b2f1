/** @module The sign-in back-off schedule: none below the threshold, a minute at it, doubling, capped at an hour. */
import { expect, test } from "bun:test";
import { HOUR, MINUTE } from "../../src/core/clock.ts";
import { backoffMs } from "../../src/ratelimit/signin-throttle.ts";

test.each([
  [0, 0],
  [4, 0],
  [5, MINUTE],
  [6, 2 * MINUTE],
  [9, 16 * MINUTE],
  [10, 32 * MINUTE],
  [11, HOUR],
  [500, HOUR],
])("%p failures with a threshold of 5 → %p ms", (failures, ms) => {
  expect(backoffMs(failures, 5)).toBe(ms);
});
