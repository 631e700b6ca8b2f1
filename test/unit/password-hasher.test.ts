import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { HASH_THREAD_NICE, SCHED_IDLE } from "../../src/passwords/argon2-params.ts";
import { createPasswordHasher } from "../../src/passwords/hasher.ts";

/** [thread name, nice value, scheduling policy, thread id] of every thread of this process (Linux /proc). */
function threads(): Array<[string, number, number, string]> {
  return readdirSync("/proc/self/task").map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    // Fields after the name start at field 3 (state); nice is field 19, policy field 41.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return [name, Number(fields[16]), Number(fields[38]), tid];
  });
}

/** CPU ticks (utime + stime) a thread of this process has used. */
function cpuTicks(tid: string): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** The glibc the worker opens to set SCHED_IDLE; without it only the nice value applies. */
const glibc = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/lib64/libc.so.6",
].some(existsSync);

describe("password hasher (argon2id on worker threads)", () => {
  const hasher = createPasswordHasher();

  test("hash then verify: PHC argon2id string with the documented parameters; right and wrong passwords", async () => {
    const phc = await hasher.hash("correct horse battery staple");
    expect(phc).toStartWith("$argon2id$v=19$m=19456,t=2,p=1$");
    expect(await hasher.verify(phc, "correct horse battery staple")).toBe(true);
    expect(await hasher.verify(phc, "correct horse battery stapl")).toBe(false);
  });

  test("a malformed stored hash verifies nothing and does not throw", async () => {
    expect(await hasher.verify("not-a-phc-string", "whatever")).toBe(false);
    expect(await hasher.verify("$argon2id$v=19$m=19456,t=2,p=1$broken", "whatever")).toBe(false);
  });

  test("dummyVerify is always false", async () => {
    expect(await hasher.dummyVerify("anything at all")).toBe(false);
  });

  test("many jobs at once all come back to their own callers", async () => {
    const wide = createPasswordHasher({ concurrency: 2, maxQueued: 16 });
    const phcA = await wide.hash("password-A-123");
    const phcB = await wide.hash("password-B-456");
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i % 2 === 0
          ? wide.verify(phcA, i % 4 === 0 ? "password-A-123" : "nope")
          : wide.verify(phcB, "password-B-456"),
      ),
    );
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => i % 2 === 1 || i % 4 === 0));
    expect(wide.load()).toEqual({ running: 0, queued: 0 });
  });

  test("admission: concurrency + maxQueued in flight, the next is refused at once with 429 and Retry-After", async () => {
    const narrow = createPasswordHasher({ concurrency: 1, maxQueued: 2 });
    const phc = await narrow.hash("bounded-queue-pw");
    const admitted = [1, 2, 3].map(() => narrow.verify(phc, "bounded-queue-pw"));
    expect(narrow.load()).toEqual({ running: 1, queued: 2 });
    const refused = await narrow.verify(phc, "bounded-queue-pw").catch((e: unknown) => e);
    expect(refused).toMatchObject({
      status: 429,
      code: "TOO_MANY_REQUESTS",
      headers: { "retry-after": "1" },
    });
    expect(await Promise.all(admitted)).toEqual([true, true, true]);
    expect(narrow.load()).toEqual({ running: 0, queued: 0 });
  });

  test("a waiting job whose caller went away is dropped at once (499) and frees its slot", async () => {
    const narrow = createPasswordHasher({ concurrency: 1, maxQueued: 3 });
    const phc = await narrow.hash("abandoned-queue-pw");
    // Two jobs go to the thread (running and next); the third waits in the backlog.
    const kept = [1, 2, 3].map(() => narrow.verify(phc, "abandoned-queue-pw"));
    const gone = new AbortController();
    const abandoned = narrow.verify(phc, "abandoned-queue-pw", gone.signal).catch((e: unknown) => e);
    expect(narrow.load()).toEqual({ running: 1, queued: 3 });
    gone.abort();
    expect(await abandoned).toMatchObject({ status: 499, code: "CLIENT_CLOSED_REQUEST" });
    expect(narrow.load()).toEqual({ running: 1, queued: 2 });
    const late = await narrow.dummyVerify("x", AbortSignal.abort()).catch((e: unknown) => e);
    expect(late).toMatchObject({ status: 499 });
    expect(await Promise.all(kept)).toEqual([true, true, true]);
    expect(narrow.load()).toEqual({ running: 0, queued: 0 });
  });

  test.if(process.platform === "linux")(
    "priority low: nice 19 without SCHED_IDLE; normal: as the event loop (threads of their own)",
    async () => {
      // The pools are per priority and shared by the whole process, so another test file may have started
      // them already: the threads that did this hasher's work are found by the CPU they used, not by being new.
      const ticks = () =>
        new Map(
          threads()
            .filter(([name]) => name === "Worker")
            .map(([, , , tid]) => [tid, cpuTicks(tid)] as const),
        );
      const workedOn = async (priority: "low" | "normal") => {
        const h = createPasswordHasher({ priority, concurrency: 1, maxQueued: 16 });
        const phc = await h.hash(`${priority} priority thread`);
        const before = ticks();
        // Several verifications (~7 ms of CPU each): well over a clock tick on the thread that runs them.
        await Promise.all(Array.from({ length: 12 }, () => h.verify(phc, `${priority} priority thread`)));
        // ~84 ms of CPU is 8 clock ticks on the thread that ran them; a stray tick on another worker (a pool of
        // an earlier test file finishing its last job) is not this hasher's.
        const busy = new Set(
          [...ticks()].filter(([tid, t]) => t - (before.get(tid) ?? 0) >= 3).map(([tid]) => tid),
        );
        return threads()
          .filter(([, , , tid]) => busy.has(tid))
          .map(([, nice, policy]) => [nice, policy]);
      };
      expect(await workedOn("low")).toEqual([[HASH_THREAD_NICE, 0]]);
      expect(await workedOn("normal")).toEqual([[0, 0]]);
    },
  );

  test.if(process.platform === "linux")(
    "by default the hashing thread runs at the lowest priority (nice 19, SCHED_IDLE); the event loop does not",
    async () => {
      await hasher.hash("warm the thread up");
      const all = threads();
      expect(all[0]).toEqual([expect.any(String), 0, 0, expect.any(String)]);
      const idle = all.filter(
        ([name, nice, policy]) =>
          name === "Worker" && nice === HASH_THREAD_NICE && policy === (glibc ? SCHED_IDLE : 0),
      );
      expect(idle.length).toBeGreaterThan(0);
    },
  );

  test.if(process.platform === "linux")(
    "a hasher's work runs on exactly `concurrency` threads (HEIMDALL_HASH_THREADS): 1 and 3",
    async () => {
      /** CPU ticks (utime + stime) of every worker thread, by thread id. */
      const ticks = () =>
        new Map(
          readdirSync("/proc/self/task").flatMap((tid) => {
            const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
            if (stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) !== "Worker") return [];
            const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            return [[tid, Number(f[11]) + Number(f[12])] as const];
          }),
        );
      const busyThreads = async (concurrency: number, jobs: number) => {
        const h = createPasswordHasher({ priority: "normal", concurrency, maxQueued: jobs });
        expect(h.concurrency).toBe(concurrency);
        const phc = await h.hash("thread-count-pw");
        const before = ticks();
        const all = Array.from({ length: jobs }, () => h.verify(phc, "thread-count-pw"));
        expect(h.load()).toEqual({ running: concurrency, queued: jobs - concurrency });
        expect(await Promise.all(all)).toEqual(Array(jobs).fill(true));
        // The threads that ran their share used about as much CPU as each other; a thread that only collected
        // garbage or woke up meanwhile, a small fraction of that.
        const used = [...ticks()].map(([tid, t]) => t - (before.get(tid) ?? t));
        const most = Math.max(...used);
        return used.filter((u) => u >= most / 3).length;
      };
      // Each thread gets several verifications (~7 ms of CPU each), well over a clock tick.
      expect(await busyThreads(3, 30)).toBe(3);
      expect(await busyThreads(1, 8)).toBe(1);
    },
  );
});
