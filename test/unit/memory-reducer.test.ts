/** @module The memory reducer: one reduction after work and a quiet spell, none under load, none twice for the same work. */
import { expect, test } from "bun:test";
import { memoryLogger } from "../../src/core/logger.ts";
import { createMemoryReducer, MEMORY_REDUCER_DEFAULTS } from "../../src/scheduler/memory-reducer.ts";
import { closeTestContext, createTestContext } from "../support/harness.ts";

/** A reducer over a CPU clock the test advances by the milliseconds each second used. */
function reducerOver(startMs: number) {
  let cpuUs = startMs * 1000;
  let rss = 140 * 2 ** 20;
  let reductions = 0;
  const log = memoryLogger("debug");
  const reducer = createMemoryReducer({
    cpuMicros: () => cpuUs,
    reduce: () => {
      reductions++;
      // The runtime does it once the loop is idle, before the next beat; its CPU time is not new work.
      cpuUs += 30_000;
      rss -= 40 * 2 ** 20;
    },
    rss: () => rss,
    log,
  });
  /** Runs one tick per entry, each after that second used `ms` of CPU; returns which ticks reduced. */
  const seconds = (...ms: number[]) =>
    ms.map((m) => {
      cpuUs += m * 1000;
      return reducer.tick();
    });
  return { seconds, reductions: () => reductions, log };
}

test("after a burst, the third quiet second in a row reduces, once", () => {
  const { seconds, reductions, log } = reducerOver(0);
  expect(seconds(900, 900, 5, 5, 5)).toEqual([false, false, false, false, true]);
  expect(log.lines).toEqual([]);
  // Reported on the next beat, once the runtime has done it.
  expect(seconds(5, 5, 5, 5, 5)).toEqual([false, false, false, false, false]);
  expect(reductions()).toBe(1);
  expect(log.lines.map((l) => JSON.parse(l))).toEqual([
    expect.objectContaining({
      level: "debug",
      msg: "memory reduced after a quiet spell",
      cpu_ms_since_last: 1815,
      rss_mib_before: 140,
      rss_mib_after: 100,
    }),
  ]);
});

test("a steady load never reduces, and a busy second restarts the quiet count", () => {
  const { seconds, reductions } = reducerOver(0);
  seconds(...Array.from({ length: 30 }, () => 400));
  expect(reductions()).toBe(0);
  // Two quiet seconds, then a busy one: the count starts again.
  expect(seconds(5, 5, 300, 5, 5)).toEqual([false, false, false, false, false]);
  expect(seconds(5)).toEqual([true]);
});

test("without enough work since the last reduction there is nothing to reduce", () => {
  const { seconds, reductions } = reducerOver(0);
  seconds(500, 1, 1, 1);
  expect(reductions()).toBe(1);
  // An idle server's own beats (a few ms a second) add up slowly: no reduction every few seconds.
  seconds(...Array.from({ length: 40 }, () => 5));
  expect(reductions()).toBe(1);
  // Enough light work accumulates to be worth one more.
  seconds(...Array.from({ length: 20 }, () => 10));
  expect(reductions()).toBe(2);
});

test("a second at the quiet line is not quiet", () => {
  const { seconds, reductions } = reducerOver(0);
  expect(seconds(500, 1, 1, MEMORY_REDUCER_DEFAULTS.quietMsPerSecond, 1, 1)).toEqual([
    false,
    false,
    false,
    false,
    false,
    false,
  ]);
  expect(seconds(1)).toEqual([true]);
  expect(reductions()).toBe(1);
});

test("the start-up's CPU time counts as work: an idle server reduces once after it starts", () => {
  const { seconds, reductions } = reducerOver(400);
  // The first beat runs as the scheduler starts, with the start-up's CPU time in it.
  expect(seconds(2, 2, 2, 2)).toEqual([false, false, false, true]);
  expect(reductions()).toBe(1);
});

test("the server schedules the reducer as the memory.reduce job", async () => {
  const ctx = await createTestContext();
  try {
    // An unknown job name rejects; a failing run is logged as "job failed".
    await ctx.deps.scheduler.runOnce("memory.reduce");
    expect(ctx.log.lines.filter((l) => l.includes("job failed"))).toEqual([]);
  } finally {
    await closeTestContext(ctx);
  }
});
