/** @module Scheduler: runs at start and on its interval, one run per job at a time, failures logged, stop() drains. */
import { expect, test } from "bun:test";
import { systemClock } from "../../src/core/clock.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { createScheduler } from "../../src/scheduler/scheduler.ts";

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("runOnce is single-flight: a run in progress is joined, not started again", async () => {
  const g = gate();
  let runs = 0;
  const s = createScheduler({
    clock: systemClock,
    log: memoryLogger(),
    jobs: [
      {
        name: "slow",
        intervalMs: 60_000,
        run: () => {
          runs++;
          return g.promise;
        },
      },
    ],
  });
  const a = s.runOnce("slow");
  const b = s.runOnce("slow");
  expect(b).toBe(a);
  expect(runs).toBe(1);
  g.open();
  await a;
  await s.runOnce("slow");
  expect(runs).toBe(2);
  await expect(s.runOnce("nope")).rejects.toThrow("unknown job");
});

test("start runs each job at once and then on its interval, skipping beats while a run is still going", async () => {
  const g = gate();
  let slowRuns = 0;
  let fastRuns = 0;
  const s = createScheduler({
    clock: systemClock,
    log: memoryLogger(),
    jobs: [
      {
        name: "slow",
        intervalMs: 5,
        run: () => {
          slowRuns++;
          return g.promise;
        },
      },
      { name: "fast", intervalMs: 5, run: async () => fastRuns++ },
    ],
  });
  s.start();
  expect([slowRuns, fastRuns]).toEqual([1, 1]);
  await sleep(60);
  expect(slowRuns).toBe(1); // still running: every beat skipped
  expect(fastRuns).toBeGreaterThan(3);
  g.open();
  await sleep(30);
  expect(slowRuns).toBeGreaterThan(1);
  await s.stop();
});

test("a failing job is logged and keeps its schedule; it never rejects", async () => {
  const log = memoryLogger();
  let runs = 0;
  const s = createScheduler({
    clock: systemClock,
    log,
    jobs: [
      {
        name: "boom",
        intervalMs: 5,
        run: async () => {
          runs++;
          throw new Error("kaboom");
        },
      },
    ],
  });
  await s.runOnce("boom");
  const line = JSON.parse(log.lines.find((l) => l.includes("job failed"))!);
  expect(line).toMatchObject({ level: "error", job: "boom", err: { message: "kaboom" } });
  s.start();
  await sleep(30);
  await s.stop();
  expect(runs).toBeGreaterThan(2);
});

test("stop() waits for running jobs and no run starts afterwards", async () => {
  const g = gate();
  let runs = 0;
  let finished = false;
  const s = createScheduler({
    clock: systemClock,
    log: memoryLogger(),
    jobs: [
      {
        name: "job",
        intervalMs: 5,
        run: async () => {
          runs++;
          await g.promise;
          finished = true;
        },
      },
    ],
  });
  s.start();
  let stopped = false;
  const stopping = s.stop().then(() => (stopped = true));
  await sleep(20);
  expect(stopped).toBe(false);
  g.open();
  await stopping;
  expect(finished).toBe(true);
  const runsAtStop = runs;
  await sleep(30);
  expect(runs).toBe(runsAtStop);
  expect(() => s.start()).toThrow();
});

test("job names must be unique", () => {
  const job = { name: "x", intervalMs: 1000, run: async () => {} };
  expect(() => createScheduler({ clock: systemClock, log: memoryLogger(), jobs: [job, job] })).toThrow();
});

test("a leader-only job runs only while this instance leads; the others run everywhere", async () => {
  let leading = false;
  const ran: string[] = [];
  const s = createScheduler({
    clock: systemClock,
    log: memoryLogger(),
    isLeader: () => leading,
    jobs: [
      { name: "rotate", intervalMs: 60_000, leaderOnly: true, run: async () => void ran.push("rotate") },
      { name: "deliver", intervalMs: 60_000, run: async () => void ran.push("deliver") },
    ],
  });
  await s.runOnce("rotate");
  await s.runOnce("deliver");
  expect(ran).toEqual(["deliver"]);
  leading = true;
  await s.runOnce("rotate");
  expect(ran).toEqual(["deliver", "rotate"]);
  await s.stop();
});
