/**
 * @module Password hashing (argon2id, m=19456 KiB, t=2, p=1) behind a bounded queue, and the password policy.
 *
 * Each verification costs ~7 ms of CPU and 19 MiB of memory, so it runs on dedicated worker threads
 * (`hash-worker.ts`) at the lowest CPU priority, `concurrency` of them, each going from one job to the next
 * without waiting for the event loop. Unbounded, a sign-in flood would queue thousands of verifications, so at
 * most `concurrency` run and `maxQueued` wait; beyond that the caller gets 429 at once.
 */
import { availableParallelism } from "node:os";
import { fail } from "../core/errors.ts";
import { autoHashThreads, type HashPriority } from "./argon2-params.ts";
import type { HashJob, HashResult, HashThreadSetup } from "./hash-worker.ts";
import { needsRehash } from "./imported.ts";

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

/**
 * Every method takes the caller's `signal` (the request's): a job still waiting when it aborts is dropped and
 * rejected with 499 CLIENT_CLOSED_REQUEST, so a flood's abandoned requests cost no argon2 work.
 */
export interface PasswordHasher {
  hash(password: string, signal?: AbortSignal): Promise<string>;
  /** False for a wrong password and for a malformed stored hash (never throws on bad input). */
  verify(passwordHash: string, password: string, signal?: AbortSignal): Promise<boolean>;
  /** Burns one verification's worth of work against a dummy hash; always false. */
  dummyVerify(password: string, signal?: AbortSignal): Promise<false>;
  /** Work running and waiting, for metrics. */
  load(): { running: number; queued: number };
  /** How many hashing threads this hasher runs at once (`HEIMDALL_HASH_THREADS`). */
  readonly concurrency: number;
  /**
   * True when the stored hash is not argon2id with this hasher's parameters (an imported hash, or older
   * parameters): after a successful verification the password should be hashed again. Cheap, no thread.
   */
  needsRehash(passwordHash: string): boolean;
}

/** The thread count of `HEIMDALL_HASH_THREADS=auto` on this machine (`autoHashThreads`). */
export const DEFAULT_HASH_CONCURRENCY = autoHashThreads(availableParallelism());

/**
 * Where the worker's code is: beside this module when running from source; in the compiled binary the
 * worker is an entry point of its own (`scripts/build.ts` lists it), addressed from the embedded root.
 */
const WORKER_URL = import.meta.url.startsWith("file:///$bunfs/")
  ? "./passwords/hash-worker.ts"
  : new URL("./hash-worker.ts", import.meta.url).href;

interface Waiter {
  resolve: (value: string | boolean) => void;
  reject: (error: Error) => void;
}

interface QueuedJob extends Waiter {
  job: HashJob;
  signal: AbortSignal | undefined;
  /** The job may run on the first `width` threads of its priority: its hasher's concurrency. */
  width: number;
  priority: HashPriority;
}

interface HashThread {
  worker: Worker;
  /** Jobs posted to the thread: the one it runs and the one it will run next. */
  posted: Map<number, Waiter>;
}

/**
 * A thread holds at most this many posted jobs: the running one and the next, so it goes from one to the
 * next without waiting for the event loop. The rest wait here, where a job whose caller has gone away
 * (the client closed the connection) is dropped before it costs any argon2 work.
 */
const POSTED_PER_THREAD = 2;

/**
 * The hashing threads, one pool per priority, and the backlog, shared by every hasher in the process (a
 * hasher only adds its own admission bound); a pool grows to the largest concurrency asked for. A thread is
 * started on first use and keeps the process alive only while it has work.
 */
const pools = new Map<HashPriority, HashThread[]>();
const backlog: QueuedJob[] = [];
let nextJobId = 1;

const clientGone = () => fail("CLIENT_CLOSED_REQUEST");

function poolOf(priority: HashPriority): HashThread[] {
  let pool = pools.get(priority);
  if (!pool) {
    pool = [];
    pools.set(priority, pool);
  }
  return pool;
}

function startThread(priority: HashPriority): HashThread {
  const worker = new Worker(WORKER_URL);
  const thread: HashThread = { worker, posted: new Map() };
  worker.unref();
  worker.postMessage({ op: "setup", priority } satisfies HashThreadSetup);
  worker.onmessage = ({ data }: MessageEvent<HashResult>) => {
    const waiter = thread.posted.get(data.id);
    if (!waiter) return;
    thread.posted.delete(data.id);
    pump();
    if (thread.posted.size === 0) worker.unref();
    if (data.ok) waiter.resolve(data.value);
    else waiter.reject(new Error("argon2 failed in the hashing thread"));
  };
  const lost = () => {
    const pool = poolOf(priority);
    const at = pool.indexOf(thread);
    if (at >= 0) pool.splice(at, 1);
    for (const waiter of thread.posted.values()) waiter.reject(new Error("the hashing thread stopped"));
    thread.posted.clear();
    worker.terminate();
    // Whatever still waits gets a fresh thread.
    for (const q of backlog) ensureThreads(q.priority, q.width);
    pump();
  };
  worker.onerror = (event) => {
    event.preventDefault();
    lost();
  };
  worker.addEventListener("close", lost);
  return thread;
}

function ensureThreads(priority: HashPriority, count: number): void {
  const pool = poolOf(priority);
  while (pool.length < count) pool.push(startThread(priority));
}

/** Moves jobs, oldest first, from the backlog to threads with room, dropping those whose caller has gone. */
function pump(): void {
  for (let i = 0; i < backlog.length; ) {
    const next = backlog[i]!;
    if (next.signal?.aborted) {
      backlog.splice(i, 1);
      next.reject(clientGone());
      continue;
    }
    const thread = poolOf(next.priority)
      .slice(0, next.width)
      .find((t) => t.posted.size < POSTED_PER_THREAD);
    if (!thread) {
      i++;
      continue;
    }
    backlog.splice(i, 1);
    thread.posted.set(next.job.id, next);
    if (thread.posted.size === 1) thread.worker.ref();
    thread.worker.postMessage(next.job);
  }
}

function submit(
  job: HashJob,
  width: number,
  priority: HashPriority,
  signal: AbortSignal | undefined,
): Promise<string | boolean> {
  if (signal?.aborted) return Promise.reject(clientGone());
  ensureThreads(priority, width);
  return new Promise((resolve, reject) => {
    const queued: QueuedJob = { job, signal, width, priority, resolve, reject };
    backlog.push(queued);
    // Leaving the backlog at once frees the caller's admission slot; a posted job runs to completion.
    signal?.addEventListener(
      "abort",
      () => {
        const at = backlog.indexOf(queued);
        if (at >= 0) {
          backlog.splice(at, 1);
          reject(clientGone());
        }
      },
      { once: true },
    );
    pump();
  });
}

export function createPasswordHasher({
  concurrency = DEFAULT_HASH_CONCURRENCY,
  maxQueued = 64,
  priority = "idle",
}: {
  concurrency?: number;
  maxQueued?: number;
  priority?: HashPriority;
} = {}): PasswordHasher {
  let inFlight = 0;

  const run = async (job: HashJob, signal?: AbortSignal): Promise<string | boolean> => {
    if (inFlight >= concurrency + maxQueued) {
      throw fail("TOO_MANY_REQUESTS", { headers: { "retry-after": "1" } });
    }
    inFlight++;
    try {
      return await submit(job, concurrency, priority, signal);
    } finally {
      inFlight--;
    }
  };

  const verify = async (passwordHash: string, password: string, signal?: AbortSignal) =>
    (await run({ id: nextJobId++, op: "verify", password, hash: passwordHash }, signal)) === true;

  return {
    hash: async (password, signal) => String(await run({ id: nextJobId++, op: "hash", password }, signal)),
    verify,
    async dummyVerify(password, signal) {
      await verify(DUMMY_HASH, password, signal);
      return false;
    },
    load: () => ({ running: Math.min(inFlight, concurrency), queued: Math.max(0, inFlight - concurrency) }),
    concurrency,
    needsRehash,
  };
}
