/**
 * @module Baseline for bench/signin.ts: raw argon2id verifications per second at Heimdall's parameters,
 * with as many verifications in flight as Heimdall's hasher allows. Prints one JSON line.
 */
import { availableParallelism } from "node:os";
import { hash, verify } from "@node-rs/argon2";
import { ARGON2_OPTIONS } from "../src/passwords/hasher.ts";

const seconds = Number(Bun.argv[2] ?? "10");
const concurrency = Number(Bun.argv[3] ?? String(availableParallelism()));
const h = await hash("bench password 123!", ARGON2_OPTIONS);
let done = 0;
const end = performance.now() + seconds * 1000;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      if (!(await verify(h, "bench password 123!"))) throw new Error("verify failed");
      done++;
    }
  }),
);
console.log(JSON.stringify({ verifies: done, perSecond: done / seconds, concurrency }));
