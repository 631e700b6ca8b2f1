/**
 * @module Password hashing (argon2id, m=19456 KiB, t=2, p=1) behind a bounded queue, and the password policy.
 *
 * Each verification costs ~7 ms of CPU and 19 MiB of memory, so it runs on dedicated worker threads
 * (`hash-worker.ts`) at the lowest CPU priority, `concurrency` of them, each working through its own queue
 * back to back. Unbounded, a sign-in flood would queue thousands of verifications, so at most `concurrency`
 * run and `maxQueued` wait; beyond that the caller gets 429 at once.
 */
import { availableParallelism } from "node:os";
import { HeimdallError } from "../platform/errors.ts";
import type { HashJob, HashResult } from "./hash-worker.ts";

export { ARGON2_OPTIONS } from "./argon2-params.ts";

/**
 * A hash of a throw-away password with the same parameters as real hashes. Verifying against it costs what a
 * real verification costs, so an unknown identifier and a wrong password are indistinguishable by timing.
 */
const DUMMY_HASH =
  "$argon2id$v=19$m=19456,t=2,p=1$tWQ8Wa6YZzFwQQGS08A6Pg$8eo/WZob4cdCynmezK/rYL7AAszp0kaF1ECcyhTXLmY";

/**
 * Passwords longer than this (in UTF-8 bytes) are refused before hashing: argon2 itself has no practical
 * limit, so the bound exists to keep one request from buying unbounded hashing work.
 */
export const MAX_PASSWORD_BYTES = 1024;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** False for a wrong password and for a malformed stored hash (never throws on bad input). */
  verify(passwordHash: string, password: string): Promise<boolean>;
  /** Burns one verification's worth of work against a dummy hash; always false. */
  dummyVerify(password: string): Promise<false>;
  /** Work running and waiting, for metrics. */
  load(): { running: number; queued: number };
}

/**
 * argon2 gets one core fewer than the machine has (at least one): the remaining core keeps serving
 * every other route while a sign-in flood saturates the hasher.
 */
export const DEFAULT_HASH_CONCURRENCY = Math.max(1, availableParallelism() - 1);

/**
 * Where the worker's code is: beside this module when running from source; in the compiled binary the
 * worker is an entry point of its own (`scripts/build.ts` lists it), addressed from the embedded root.
 */
const WORKER_URL = import.meta.url.startsWith("file:///$bunfs/")
  ? "./auth/hash-worker.ts"
  : new URL("./hash-worker.ts", import.meta.url).href;

interface HashThread {
  worker: Worker;
  pending: Map<number, { resolve: (value: string | boolean) => void; reject: (error: Error) => void }>;
}

/**
 * The hashing threads, shared by every hasher in the process (a hasher only adds its own admission bound).
 * A thread is started on first use and keeps the process alive only while it has work.
 */
const threads: HashThread[] = [];
let nextJobId = 1;

function startThread(): HashThread {
  const worker = new Worker(WORKER_URL);
  const thread: HashThread = { worker, pending: new Map() };
  worker.unref();
  worker.onmessage = ({ data }: MessageEvent<HashResult>) => {
    const waiter = thread.pending.get(data.id);
    if (!waiter) return;
    thread.pending.delete(data.id);
    if (thread.pending.size === 0) worker.unref();
    if (data.ok) waiter.resolve(data.value);
    else waiter.reject(new Error("argon2 failed in the hashing thread"));
  };
  const lost = () => {
    const at = threads.indexOf(thread);
    if (at >= 0) threads.splice(at, 1);
    for (const waiter of thread.pending.values()) waiter.reject(new Error("the hashing thread stopped"));
    thread.pending.clear();
    worker.terminate();
  };
  worker.onerror = (event) => {
    event.preventDefault();
    lost();
  };
  worker.addEventListener("close", lost);
  return thread;
}

/** Runs `job` on the least busy of the first `width` threads, starting them as needed. */
function submit(job: HashJob, width: number): Promise<string | boolean> {
  while (threads.length < width) threads.push(startThread());
  let thread = threads[0]!;
  for (let i = 1; i < width; i++) if (threads[i]!.pending.size < thread.pending.size) thread = threads[i]!;
  return new Promise((resolve, reject) => {
    thread.pending.set(job.id, { resolve, reject });
    if (thread.pending.size === 1) thread.worker.ref();
    thread.worker.postMessage(job);
  });
}

export function createPasswordHasher({
  concurrency = DEFAULT_HASH_CONCURRENCY,
  maxQueued = 64,
}: {
  concurrency?: number;
  maxQueued?: number;
} = {}): PasswordHasher {
  let inFlight = 0;

  const run = async (job: HashJob): Promise<string | boolean> => {
    if (inFlight >= concurrency + maxQueued) {
      throw new HeimdallError(
        429,
        "TOO_MANY_REQUESTS",
        "Too many concurrent password checks; retry shortly",
        undefined,
        { "retry-after": "1" },
      );
    }
    inFlight++;
    try {
      return await submit(job, concurrency);
    } finally {
      inFlight--;
    }
  };

  const verify = async (passwordHash: string, password: string) =>
    (await run({ id: nextJobId++, op: "verify", password, hash: passwordHash })) === true;

  return {
    hash: async (password) => String(await run({ id: nextJobId++, op: "hash", password })),
    verify,
    async dummyVerify(password) {
      await verify(DUMMY_HASH, password);
      return false;
    },
    load: () => ({ running: Math.min(inFlight, concurrency), queued: Math.max(0, inFlight - concurrency) }),
  };
}
