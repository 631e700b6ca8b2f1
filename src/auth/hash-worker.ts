/**
 * @module The argon2id worker thread. It runs hashes and verifications one after another from its message
 * queue (so a finished verification hands over to the next without waiting for the event loop), at the
 * lowest CPU priority: password hashing is batch work, and every other route must win the CPU from it.
 *
 * Protocol: `{ id, op: "hash", password }` → `{ id, ok: true, value: <PHC string> }`;
 * `{ id, op: "verify", password, hash }` → `{ id, ok: true, value: boolean }` (false for a malformed hash);
 * an unexpected failure → `{ id, ok: false }`. Nothing about a password ever leaves the thread but the result.
 */

import { setPriority } from "node:os";
import { hashSync, verifySync } from "@node-rs/argon2";
import { ARGON2_OPTIONS, HASH_THREAD_NICE } from "./argon2-params.ts";

declare const self: Worker;

export type HashJob =
  | { id: number; op: "hash"; password: string }
  | { id: number; op: "verify"; password: string; hash: string };
export type HashResult = { id: number; ok: true; value: string | boolean } | { id: number; ok: false };

// Linux keeps the nice value per thread, and `setpriority(PRIO_PROCESS, 0, …)` applies to the calling thread
// only, so this lowers this worker and nothing else. Elsewhere the same call would renice the whole process,
// so it is not made there.
if (process.platform === "linux") {
  try {
    setPriority(0, HASH_THREAD_NICE);
  } catch {
    // Not permitted in some sandboxes; the hasher still works at normal priority.
  }
}

self.onmessage = (event: MessageEvent<HashJob>) => {
  const job = event.data;
  let result: HashResult;
  try {
    if (job.op === "hash") {
      result = { id: job.id, ok: true, value: hashSync(job.password, ARGON2_OPTIONS) };
    } else {
      let value = false;
      try {
        value = verifySync(job.hash, job.password);
      } catch {
        // A malformed stored hash verifies nothing.
      }
      result = { id: job.id, ok: true, value };
    }
  } catch {
    result = { id: job.id, ok: false };
  }
  postMessage(result);
};
