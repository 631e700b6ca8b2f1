/** @module HEIMDALL_HASH_THREADS through the composition root: the hasher deps.ts builds runs that many at once, and /metrics says so. */
import { beforeAll, describe, expect, test } from "bun:test";
import { availableParallelism } from "node:os";
import { createTestContext, type TestContext } from "../support/harness.ts";

const gauge = (text: string, name: string) =>
  Number(text.match(new RegExp(`^${name}(?:\\{\\})? (\\d+)$`, "m"))?.[1]);
const checks = (text: string, state: string) =>
  Number(text.match(new RegExp(`^heimdall_password_checks\\{state="${state}"\\} (\\d+)$`, "m"))?.[1]);

describe("HEIMDALL_HASH_THREADS", () => {
  let three: TestContext;
  beforeAll(async () => {
    three = await createTestContext({ HEIMDALL_HASH_THREADS: "3" });
  });

  test("3: three argon2 jobs run at once and the rest wait; heimdall_password_hash_threads reports 3", async () => {
    const idle = (await three.call("GET", "/metrics", { auth: null })).text;
    expect(idle).toContain("# TYPE heimdall_password_hash_threads gauge");
    expect(gauge(idle, "heimdall_password_hash_threads")).toBe(3);
    const inFlight = Array.from({ length: 5 }, (_, i) => three.deps.passwords.hash(`hash-threads-pw-${i}`));
    const during = (await three.call("GET", "/metrics", { auth: null })).text;
    expect([checks(during, "running"), checks(during, "queued")]).toEqual([3, 2]);
    const hashes = await Promise.all(inFlight);
    expect(hashes.every((h) => h.startsWith("$argon2id$v=19$m=19456,t=2,p=1$"))).toBe(true);
    const after = (await three.call("GET", "/metrics", { auth: null })).text;
    expect([checks(after, "running"), checks(after, "queued")]).toEqual([0, 0]);
  });

  test("auto (the default) is cores − 1, at least 1", async () => {
    const auto = await createTestContext();
    const text = (await auto.call("GET", "/metrics", { auth: null })).text;
    expect(gauge(text, "heimdall_password_hash_threads")).toBe(Math.max(1, availableParallelism() - 1));
    expect(auto.deps.passwords.concurrency).toBe(Math.max(1, availableParallelism() - 1));
  });
});
