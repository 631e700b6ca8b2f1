/**
 * @module The argon2id worker thread. It runs hashes and verifications one after another from its message
 * queue (so a finished verification hands over to the next without waiting for the event loop), at the
 * lowest CPU priority the OS offers: password hashing is batch work, and every other route must win the CPU
 * from it.
 *
 * Protocol: first `{ op: "setup", priority }` (no reply); then `{ id, op: "hash", password }` → `{ id, ok: true, value: <PHC string> }`;
 * `{ id, op: "verify", password, hash }` → `{ id, ok: true, value: boolean }` (false for a malformed hash); a hash
 * Heimdall did not write (imported from another system, `imported.ts`) is verified by its own algorithm here too;
 * an unexpected failure → `{ id, ok: false }`. Nothing about a password ever leaves the thread but the result.
 */

import { dlopen, FFIType, ptr } from "bun:ffi";
import { setPriority } from "node:os";
import { hashSync, verifySync } from "@node-rs/argon2";
import { ARGON2_OPTIONS, HASH_THREAD_NICE, type HashPriority, SCHED_IDLE } from "./argon2-params.ts";
import { HEIMDALL_HASH_PREFIX, importedHashFormat, verifyImported } from "./imported.ts";

declare const self: Worker;

export type HashJob =
  | { id: number; op: "hash"; password: string }
  | { id: number; op: "verify"; password: string; hash: string };
/** The first message a thread gets, before any job. */
export type HashThreadSetup = { op: "setup"; priority: HashPriority };
export type HashResult = { id: number; ok: true; value: string | boolean } | { id: number; ok: false };

/**
 * Linux keeps the scheduling policy and the nice value per thread, and both calls below address the calling
 * thread (id 0), so they lower this worker and nothing else. First nice 19; then SCHED_IDLE, under which the
 * thread runs only on CPU time no normal thread wants, and a waking request handler always preempts it.
 * Elsewhere the same calls would address the whole process, so they are
 * not made there; where libc cannot be opened (musl, sandboxes) the nice value alone applies.
 */
function lowerPriority(priority: HashPriority): void {
  if (process.platform !== "linux" || priority === "normal") return;
  try {
    setPriority(0, HASH_THREAD_NICE);
  } catch {
    // Not permitted in some sandboxes; the hasher still works at normal priority.
  }
  if (priority !== "idle") return;
  try {
    const libc = dlopen("libc.so.6", {
      sched_setscheduler: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    });
    // struct sched_param { int sched_priority; }, which must be 0 for SCHED_IDLE.
    libc.symbols.sched_setscheduler(0, SCHED_IDLE, ptr(new Int32Array(1)));
    libc.close();
  } catch {
    // No glibc: nice 19 it is.
  }
}
self.onmessage = (event: MessageEvent<HashJob | HashThreadSetup>) => {
  const job = event.data;
  if (job.op === "setup") {
    lowerPriority(job.priority);
    return;
  }
  let result: HashResult;
  try {
    if (job.op === "hash") {
      result = { id: job.id, ok: true, value: hashSync(job.password, ARGON2_OPTIONS) };
    } else {
      let value = false;
      try {
        if (job.hash.startsWith(HEIMDALL_HASH_PREFIX)) value = verifySync(job.hash, job.password);
        // Bounded and parsed before any work: an imported hash cannot cost more than its format allows.
        else if (importedHashFormat(job.hash)) value = verifyImported(job.hash, job.password);
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
