/** @module The argon2id parameters every password hash uses (docs/architecture.md, "Passwords": OWASP's minimum for argon2id). */

// `Algorithm` is a `const enum` in the package's typings, which `verbatimModuleSyntax` cannot import; 2 is Argon2id.
const ARGON2ID = 2;

export const ARGON2_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
} as const;

/**
 * The nice value of the hashing threads (Linux): the lowest priority, so that under a sign-in flood the
 * scheduler gives the event loop and every other thread the CPU first and argon2 takes what is left.
 */
export const HASH_THREAD_NICE = 19;

/** Linux's SCHED_IDLE policy (`sched.h`), which the hashing threads take where glibc is available. */
export const SCHED_IDLE = 5;

/**
 * How far the hashing threads step back (Linux): `idle` = nice 19 then SCHED_IDLE (the default: argon2 gets
 * only CPU time nothing else wants), `low` = nice 19 only, `normal` = as the rest of the process. A thread
 * cannot raise its priority again without privileges, so each level has threads of its own.
 */
export type HashPriority = "idle" | "low" | "normal";

/** `HEIMDALL_HASH_THREADS=auto`, decided where the configuration is read. */
export { autoHashThreads } from "../config/index.ts";
