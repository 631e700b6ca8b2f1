/**
 * @module Password hashing (argon2id, m=19456 KiB, t=2, p=1) behind a bounded queue, and the password policy.
 *
 * argon2 runs off the main thread, but each verification costs ~20 ms of CPU and 19 MiB of memory.
 * Unbounded, a sign-in flood would queue thousands of them and starve every other route, so at most
 * `concurrency` run at once and at most `maxQueued` wait; beyond that the caller gets 429 at once.
 */
import { availableParallelism } from "node:os";
import { hash, verify } from "@node-rs/argon2";
import { HeimdallError } from "../platform/errors.ts";

// `Algorithm` is a `const enum` in the package's typings, which `verbatimModuleSyntax` cannot import; 2 is Argon2id.
const ARGON2ID = 2;
export const ARGON2_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
} as const;

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

export function createPasswordHasher({
  concurrency = DEFAULT_HASH_CONCURRENCY,
  maxQueued = 64,
}: {
  concurrency?: number;
  maxQueued?: number;
} = {}): PasswordHasher {
  let running = 0;
  const waiting: Array<() => void> = [];

  const run = async <T>(job: () => Promise<T>): Promise<T> => {
    if (running >= concurrency) {
      if (waiting.length >= maxQueued) {
        throw new HeimdallError(
          429,
          "TOO_MANY_REQUESTS",
          "Too many concurrent password checks; retry shortly",
          undefined,
          {
            "retry-after": "1",
          },
        );
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      running++;
    }
    try {
      return await job();
    } finally {
      // Hand the slot straight to the next waiter, so `running` never dips and lets a newcomer jump the queue.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };

  const verifyHash = (passwordHash: string, password: string) =>
    run(async () => {
      try {
        return await verify(passwordHash, password);
      } catch {
        return false;
      }
    });

  return {
    hash: (password) => run(() => hash(password, ARGON2_OPTIONS)),
    verify: verifyHash,
    async dummyVerify(password) {
      await verifyHash(DUMMY_HASH, password);
      return false;
    },
    load: () => ({ running, queued: waiting.length }),
  };
}
