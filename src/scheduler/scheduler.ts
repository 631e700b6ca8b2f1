/**
 * @module In-process periodic jobs: run at start then every interval, one run per job at a time, drained on
 * stop(). With several instances on one database, a job marked `leaderOnly` (key rotation, cleanup, retention)
 * runs only on the instance that holds the scheduler lease (`isLeader`); the others skip its beats and take
 * over when the leader's lease lapses. Outbox jobs run on every instance (their claims never hand one row out twice).
 */
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";

export interface Job {
  name: string;
  intervalMs: number;
  run: () => Promise<unknown>;
  /** Runs only while this instance leads (default: on every instance). */
  leaderOnly?: boolean;
}

export interface Scheduler {
  start(): void;
  /** Stops the timers and resolves once every running job has finished. */
  stop(): Promise<void>;
  /** Runs a job now (joining the run in progress, if any); job failures are logged, not rejected. */
  runOnce(name: string): Promise<void>;
}

export function createScheduler(deps: {
  clock: Clock;
  log: Logger;
  jobs: Job[];
  /** Whether this instance leads now (the scheduler lease); always, when absent. */
  isLeader?: () => boolean;
}): Scheduler {
  const { clock, log } = deps;
  const jobs = new Map(deps.jobs.map((j) => [j.name, j]));
  if (jobs.size !== deps.jobs.length) throw new Error("scheduler job names must be unique");
  const running = new Map<string, Promise<void>>();
  const timers: ReturnType<typeof setInterval>[] = [];
  let stopped = false;

  // Single flight: a tick that is still running (a slow keygen burst after downtime) is joined, not
  // started twice; the timer simply skips that beat.
  function trigger(job: Job): Promise<void> {
    const inFlight = running.get(job.name);
    if (inFlight) return inFlight;
    if (job.leaderOnly && deps.isLeader && !deps.isLeader()) return Promise.resolve();
    const started = clock.now();
    const run = (async () => {
      try {
        const result = await job.run();
        log.debug("job finished", { job: job.name, ms: clock.now() - started, result });
      } catch (err) {
        // Logged, never rethrown: a failing job must not take the server down or stop its timer.
        log.error("job failed", { job: job.name, ms: clock.now() - started, err });
      } finally {
        running.delete(job.name);
      }
    })();
    running.set(job.name, run);
    return run;
  }

  return {
    start() {
      if (stopped) throw new Error("scheduler was stopped; create a new one");
      if (timers.length > 0) return;
      for (const job of jobs.values()) {
        void trigger(job);
        const timer = setInterval(() => {
          if (!stopped && !running.has(job.name)) void trigger(job);
        }, job.intervalMs);
        // The HTTP server keeps the process alive; the jobs alone must not block a clean exit.
        timer.unref?.();
        timers.push(timer);
      }
    },

    async stop() {
      stopped = true;
      for (const timer of timers.splice(0)) clearInterval(timer);
      await Promise.all(running.values());
    },

    runOnce(name) {
      const job = jobs.get(name);
      if (!job) return Promise.reject(new Error(`unknown job ${name}`));
      return trigger(job);
    },
  };
}
