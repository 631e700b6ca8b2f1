/** @module Operator sign-in throttling: per address, back-off per (identifier, address), the per-identifier ceiling, audited, no account oracle. */
import { beforeEach, describe, expect, test } from "bun:test";
import { createApp } from "../../../src/app.ts";
import { HOUR } from "../../../src/core/clock.ts";
import type { PasswordHasher } from "../../../src/passwords/hasher.ts";
import { SIGNIN_THROTTLE } from "../../../src/ratelimit/signin-throttle.ts";
import { createPlatformSessionService } from "../../../src/workspaces/sessions.ts";
import { behindProxy, from, PROXY_ENV } from "../../support/client-address.ts";
import { auditRows } from "../../support/fixtures.ts";
import { BOOT_EMAIL, BOOT_PASSWORD, createTestContext, type TestContext } from "../../support/harness.ts";

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext(PROXY_ENV);
  behindProxy(ctx.app);
});

const ATTACKER = "198.51.100.66";
const OPERATOR = "203.0.113.10";

const signin = (identifier: string, password: string, ip: string) =>
  ctx.call("POST", "/v1/auth/signin", { body: { identifier, password }, headers: from(ip), auth: null });

/** Everything a caller sees, with the request id (which differs by design) blanked. */
const seen = (r: { status: number; headers: Headers; text: string }) => {
  const id = r.headers.get("x-request-id")!;
  const headers = [...r.headers.entries()].filter(([k]) => k !== "x-request-id").sort();
  return { status: r.status, headers, body: r.text.replaceAll(id, "<request id>") };
};

describe("POST /v1/auth/signin under attack", () => {
  test("300 wrong passwords from one address: five are tried, then 429 with Retry-After; the right one waits out the back-off there but works from elsewhere", async () => {
    const results = [];
    for (let i = 0; i < 300; i++) results.push(await signin(BOOT_EMAIL, `wrong password ${i}`, ATTACKER));
    expect(results.slice(0, 5).every((r) => r.status === 401 && r.body.code === "INVALID_CREDENTIALS")).toBe(
      true,
    );
    // Refused before any password work: the pair's back-off, then the address's own limit (30 a minute).
    const refused = results.slice(5);
    expect(refused.every((r) => r.status === 429)).toBe(true);
    expect(refused.every((r) => Number(r.headers.get("retry-after")) > 0)).toBe(true);
    expect(refused.every((r) => r.headers.get("ratelimit-remaining") === "0")).toBe(true);
    expect(refused.slice(0, 25).every((r) => r.body.code === "ACCOUNT_LOCKED")).toBe(true);
    expect(refused[0]!.headers.get("retry-after")).toBe("60");
    expect(refused[0]!.headers.get("ratelimit-limit")).toBe("5");
    expect(refused.slice(25).every((r) => r.body.code === "RATE_LIMITED")).toBe(true);
    expect(refused.at(-1)!.headers.get("ratelimit-limit")).toBe("30");

    // Audited: the failures, the start of the back-off, the refusals.
    const failed = await auditRows(ctx, { action: "platform.signin_failed" });
    expect(failed.filter((r) => r.details?.reason === "wrong_password")).toHaveLength(5);
    const throttledRows = failed.filter((r) => r.details?.reason === "throttled");
    expect(throttledRows).toHaveLength(25);
    expect(throttledRows[0]).toMatchObject({ resource_id: ctx.ownerId, ip: ATTACKER });
    expect(throttledRows[0]!.details).toEqual({ reason: "throttled", throttle: "address" });
    const started = await auditRows(ctx, { action: "platform.signin_throttled" });
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({ resource_id: ctx.ownerId, ip: ATTACKER, actor_type: "system" });
    expect(started[0]!.details).toMatchObject({ throttle: "address", failures: 5 });

    // After the minute the pair gets one more try; failing it doubles the back-off. The right password is
    // then refused at the attacking address, and works from another.
    ctx.clock.advance(61_000);
    expect((await signin(BOOT_EMAIL, "wrong again", ATTACKER)).status).toBe(401);
    const during = await signin(BOOT_EMAIL, BOOT_PASSWORD, ATTACKER);
    expect(during.status).toBe(429);
    expect(during.body.code).toBe("ACCOUNT_LOCKED");
    expect(during.headers.get("retry-after")).toBe("120");
    const elsewhere = await signin(BOOT_EMAIL, BOOT_PASSWORD, OPERATOR);
    expect(elsewhere.status).toBe(200);
    expect((await auditRows(ctx, { action: "platform.signin" })).at(-1)).toMatchObject({
      ip: OPERATOR,
      actor_id: ctx.ownerId,
    });
  });

  test("the back-off is keyed by the identifier as typed: the username and the email count apart, any case alike", async () => {
    for (let i = 0; i < 5; i++) await signin(BOOT_EMAIL.toUpperCase(), `nope ${i}`, ATTACKER);
    expect((await signin(BOOT_EMAIL, BOOT_PASSWORD, ATTACKER)).status).toBe(429);
    expect((await signin("owner", BOOT_PASSWORD, ATTACKER)).status).toBe(200);
  });

  test("a success from an address clears that address's failures", async () => {
    for (let i = 0; i < 4; i++) expect((await signin(BOOT_EMAIL, `nope ${i}`, OPERATOR)).status).toBe(401);
    expect((await signin(BOOT_EMAIL, BOOT_PASSWORD, OPERATOR)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await signin(BOOT_EMAIL, `nope ${i}`, OPERATOR)).status).toBe(401);
    expect((await signin(BOOT_EMAIL, BOOT_PASSWORD, OPERATOR)).status).toBe(200);
  });

  test("known and unknown identifiers answer alike through the failures and the back-off", async () => {
    for (let i = 0; i < 6; i++) {
      const known = await signin(BOOT_EMAIL, `nope ${i}`, ATTACKER);
      const unknown = await signin("nobody@example.test", `nope ${i}`, ATTACKER);
      expect(known.status).toBe(i < 5 ? 401 : 429);
      expect(seen(unknown)).toEqual(seen(known));
    }
  });

  test("failures from many addresses reach the identifier's ceiling: the operator is refused everywhere until the window ends", async () => {
    // The same graph with a hasher that answers at once: the ceiling takes a hundred wrong guesses.
    const fast: PasswordHasher = {
      ...ctx.deps.passwords,
      verify: async (_hash, password) => password === BOOT_PASSWORD,
      dummyVerify: async () => false,
    };
    const platformSessions = createPlatformSessionService({ ...ctx.deps, passwords: fast });
    const flood = createApp({ ...ctx.deps, platformSessions });
    behindProxy(flood);
    for (let a = 1; a <= SIGNIN_THROTTLE.identifierCeiling / 5; a++) {
      for (let i = 0; i < 5; i++) {
        const res = await flood.handle(
          new Request("http://localhost:8080/v1/auth/signin", {
            method: "POST",
            headers: { "content-type": "application/json", ...from(`198.51.101.${a}`) },
            body: JSON.stringify({ identifier: BOOT_EMAIL, password: `spread ${a}-${i}` }),
          }),
        );
        expect(res.status).toBe(401);
      }
    }
    const ceiling = (await auditRows(ctx, { action: "platform.signin_throttled" })).filter(
      (r) => r.details?.throttle === "identifier",
    );
    expect(ceiling).toHaveLength(1);
    expect(ceiling[0]).toMatchObject({ resource_id: ctx.ownerId, chain: `workspace:${ctx.workspaceId}` });

    const refused = await signin(BOOT_EMAIL, BOOT_PASSWORD, OPERATOR);
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe("ACCOUNT_LOCKED");
    expect(refused.headers.get("ratelimit-limit")).toBe(String(SIGNIN_THROTTLE.identifierCeiling));
    const wait = Number(refused.headers.get("retry-after"));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(HOUR / 1000);
    // Another identifier of the same account is its own counter (the ceiling is per identifier typed).
    expect((await signin("owner", BOOT_PASSWORD, OPERATOR)).status).toBe(200);
    ctx.clock.advance(wait * 1000);
    expect((await signin(BOOT_EMAIL, BOOT_PASSWORD, OPERATOR)).status).toBe(200);
  });
});
