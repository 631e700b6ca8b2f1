/**
 * @module Hands memory back to the OS once the process goes quiet after work (docs/decisions.md, "Idle
 * memory"). A burst of requests leaves the JavaScript heap grown, compiled code for every route it touched
 * and the allocators' free pages resident; the runtime returns some of it on its own schedule (5–10 s later,
 * part of it never). Here, once a second, the process's CPU time decides: after at least `workMs` of CPU
 * since the last reduction (start-up included), the first `quietSeconds` seconds in a row that each used
 * less than `quietMsPerSecond` trigger one reduction: a full collection that also drops compiled code and
 * releases free allocator memory (`Bun.shrink`, which runs it as soon as the event loop is idle). The next
 * request re-warms the code it needs (a few milliseconds, once); a steady load never reduces, and an idle
 * server reduces once, not every second.
 */
import type { Logger } from "../core/logger.ts";

export interface MemoryReducerOptions {
  /** CPU time the whole process has used so far, in microseconds (every thread: the hashing threads too). */
  readonly cpuMicros: () => number;
  /** What a reduction does: `Bun.shrink()` in the server. */
  readonly reduce: () => void;
  /** Resident set size in bytes, for the debug line. */
  readonly rss: () => number;
  readonly log: Logger;
  /** CPU time since the last reduction below which there is nothing worth handing back (ms). */
  readonly workMs?: number;
  /** A second counts as quiet when the process used less CPU than this in it (ms). */
  readonly quietMsPerSecond?: number;
  /** Quiet seconds in a row before a reduction. */
  readonly quietSeconds?: number;
}

export const MEMORY_REDUCER_DEFAULTS = { workMs: 250, quietMsPerSecond: 50, quietSeconds: 3 } as const;

export interface MemoryReducer {
  /** Called once a second (the scheduler's `memory.reduce` job); true when it asked for a reduction. */
  tick(): boolean;
}

export function createMemoryReducer(opts: MemoryReducerOptions): MemoryReducer {
  const workUs = (opts.workMs ?? MEMORY_REDUCER_DEFAULTS.workMs) * 1000;
  const quietUs = (opts.quietMsPerSecond ?? MEMORY_REDUCER_DEFAULTS.quietMsPerSecond) * 1000;
  const quietSeconds = opts.quietSeconds ?? MEMORY_REDUCER_DEFAULTS.quietSeconds;
  // From zero, not from the first reading: the start-up's own CPU time is work whose garbage can go too.
  let last = 0;
  let sinceReduction = 0;
  let quietFor = 0;
  // The reduction runs once the event loop is idle, after the tick that asked for it: reported a beat later.
  let reported: { cpuMs: number; rssBefore: number } | null = null;
  return {
    tick() {
      const now = opts.cpuMicros();
      const used = now - last;
      last = now;
      if (reported) {
        opts.log.debug("memory reduced after a quiet spell", {
          cpu_ms_since_last: reported.cpuMs,
          rss_mib_before: Math.round(reported.rssBefore / 2 ** 20),
          rss_mib_after: Math.round(opts.rss() / 2 ** 20),
        });
        reported = null;
        // The reduction's own CPU time is not new work, and does not break the quiet.
        return false;
      }
      sinceReduction += used;
      quietFor = used < quietUs ? quietFor + 1 : 0;
      if (quietFor < quietSeconds || sinceReduction < workUs) return false;
      reported = { cpuMs: Math.round(sinceReduction / 1000), rssBefore: opts.rss() };
      opts.reduce();
      sinceReduction = 0;
      quietFor = 0;
      return true;
    },
  };
}
