/** @module End-user sign-in throttling: back-off per (identifier, address), the per-identifier ceiling, no account oracle, PAK sign-ups exempt from the per-address limit. */
import { beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createApp as createHttpApp } from "../../../src/app.ts";
import { createAuthService } from "../../../src/auth/service.ts";
import { DAY, HOUR, MINUTE } from "../../../src/core/clock.ts";
import type { PasswordHasher } from "../../../src/passwords/hasher.ts";
import { SIGNIN_THROTTLE } from "../../../src/ratelimit/signin-throttle.ts";
import { behindProxy, from, PROXY_ENV } from "../../support/client-address.ts";
import { GOOD_PASSWORD, queryRows, signUp } from "../../support/end-users.ts";
import { auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";
import { allow, insertPak } from "../admin/fixtures.ts";

let ctx: TestContext;
let app: { id: string; slug: string };

beforeAll(async () => {
  ctx = await createTestContext(PROXY_ENV);
  behindProxy(ctx.app);
  app = await createApp(ctx, "lockout-app");
});

// Fresh per-minute address windows and no leftover back-off or ceiling from the test before.
beforeEach(() => ctx.clock.advance(DAY + 1));

const signin = (identifier: string, password: string, ip: string) =>
  ctx.call("POST", "/{app_slug}/v1/auth/signin", {
    params: { app_slug: app.slug },
    body: { identifier, password },
    headers: from(ip),
    auth: null,
  });

const account = (username: string) =>
  signUp(ctx, app.slug, { username, email: `${username}@example.com`, password: GOOD_PASSWORD });

const lockRows = async () => await auditRows(ctx, { app_id: app.id, action: "user.locked" });

/**
 * The app over the same database and counters, with a hasher that counts its work and, when `fast` is on,
 * answers without argon2 (for the hundreds of wrong guesses a ceiling takes; the service's path is the
 * same, and the first stages run on the real hasher).
 */
function countingApp() {
  const real = ctx.deps.passwords;
  const probe = { argon2: 0, fast: false };
  const passwords: PasswordHasher = {
    ...real,
    verify: (hash, password, signal) => {
      probe.argon2++;
      return probe.fast ? Promise.resolve(password === GOOD_PASSWORD) : real.verify(hash, password, signal);
    },
    dummyVerify: (password, signal) => {
      probe.argon2++;
      return probe.fast ? Promise.resolve(false) : real.dummyVerify(password, signal);
    },
  };
  const deps = { ...ctx.deps, passwords };
  const app2 = createHttpApp({ ...deps, auth: createAuthService(deps) });
  behindProxy(app2);
  const attempt = async (identifier: string, password: string, ip: string) => {
    const before = probe.argon2;
    const res = await app2.handle(
      new Request(`${PUBLIC_URL}/${app.slug}/v1/auth/signin`, {
        method: "POST",
        headers: { "content-type": "application/json", ...from(ip) },
        body: JSON.stringify({ identifier, password }),
      }),
    );
    return {
      status: res.status,
      headers: res.headers,
      text: await res.text(),
      argon2: probe.argon2 - before,
    };
  };
  return { probe, attempt };
}

describe("back-off per (identifier, address)", () => {
  test("an attacker's failures from other addresses leave the holder signing in from their own", async () => {
    const owner = await account("owner-one");
    // Nine addresses each run into their back-off on the owner's account: 45 failures, under the ceiling.
    for (let a = 1; a <= 9; a++) {
      for (let i = 0; i < 5; i++) {
        const res = await signin("owner-one", `guess ${a}-${i}`, `198.51.100.${a}`);
        expect(res.status).toBe(401);
        expect(res.body.code).toBe("INVALID_CREDENTIALS");
      }
      const refused = await signin("owner-one", GOOD_PASSWORD, `198.51.100.${a}`);
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe("ACCOUNT_LOCKED");
      expect(refused.headers.get("retry-after")).toBe("60");
    }
    const res = await signin("owner-one", GOOD_PASSWORD, "203.0.113.5");
    expect(res.status).toBe(200);

    // One user.locked row per address that started a back-off, naming the account and the address.
    const rows = (await lockRows()).filter((r) => r.resource_id === owner.userId);
    expect(rows.map((r) => r.ip)).toEqual(Array.from({ length: 9 }, (_, i) => `198.51.100.${i + 1}`));
    expect(rows[0]!.details).toMatchObject({
      throttle: "address",
      failures: 5,
      max_failed_login_attempts: 5,
    });
    const refusals = (await auditRows(ctx, { app_id: app.id, action: "user.signin_failed" })).filter(
      (r) => r.resource_id === owner.userId && r.details.reason === "account_locked",
    );
    expect(refusals).toHaveLength(9);
    expect(refusals[0]!.details).toEqual({ reason: "account_locked", throttle: "address" });
  });

  test("a success from one address clears that address's failures only", async () => {
    await account("owner-two");
    for (let i = 0; i < 2; i++) expect((await signin("owner-two", "nope", "203.0.113.20")).status).toBe(401);
    for (let i = 0; i < 4; i++) expect((await signin("owner-two", "nope", "198.51.100.20")).status).toBe(401);
    expect((await signin("owner-two", GOOD_PASSWORD, "203.0.113.20")).status).toBe(200);
    // The owner's address starts over (five more tries)…
    for (let i = 0; i < 4; i++) expect((await signin("owner-two", "nope", "203.0.113.20")).status).toBe(401);
    expect((await signin("owner-two", GOOD_PASSWORD, "203.0.113.20")).status).toBe(200);
    // …the other address kept its four: the fifth starts its back-off.
    expect((await signin("owner-two", "nope", "198.51.100.20")).status).toBe(401);
    expect((await signin("owner-two", GOOD_PASSWORD, "198.51.100.20")).status).toBe(429);
  });

  test("concurrent guesses from one address cannot all slip in before the first is counted", async () => {
    await account("owner-three");
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, i) => signin("owner-three", `burst ${i}`, "198.51.100.30")),
    );
    const statuses = burst.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    expect(burst.filter((r) => r.status === 429).every((r) => r.body.code === "ACCOUNT_LOCKED")).toBe(true);
  });
});

describe("per-identifier ceiling", () => {
  test("failures from many addresses reach the ceiling: refused everywhere for the rest of the hour, audited", async () => {
    const owner = await account("owner-four");
    const { probe, attempt } = countingApp();
    probe.fast = true;
    for (let a = 1; a <= SIGNIN_THROTTLE.identifierCeiling / 5; a++) {
      for (let i = 0; i < 5; i++)
        expect((await attempt("owner-four", `spread ${i}`, `198.51.101.${a}`)).status).toBe(401);
    }
    const ceiling = (await lockRows()).filter(
      (r) => r.resource_id === owner.userId && r.details.throttle === "identifier",
    );
    expect(ceiling).toHaveLength(1);
    expect(ceiling[0]!.details).toMatchObject({ failures: SIGNIN_THROTTLE.identifierCeiling });

    const refused = await signin("owner-four", GOOD_PASSWORD, "203.0.113.40");
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe("ACCOUNT_LOCKED");
    expect(refused.headers.get("ratelimit-limit")).toBe(String(SIGNIN_THROTTLE.identifierCeiling));
    const wait = Number(refused.headers.get("retry-after"));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(HOUR / 1000);
    const last = (await auditRows(ctx, { app_id: app.id, action: "user.signin_failed" })).at(-1)!;
    expect(last).toMatchObject({ resource_id: owner.userId, ip: "203.0.113.40" });
    expect(last.details).toEqual({ reason: "account_locked", throttle: "identifier" });

    ctx.clock.advance(wait * 1000);
    expect((await signin("owner-four", GOOD_PASSWORD, "203.0.113.40")).status).toBe(200);
  });
});

describe("no account oracle", () => {
  /** Everything a caller sees, with the one part that differs by design (the request id) blanked. */
  const seen = (r: { status: number; headers: Headers; text: string }) => {
    const id = r.headers.get("x-request-id")!;
    const headers = [...r.headers.entries()].filter(([k]) => k !== "x-request-id").sort();
    return { status: r.status, headers, body: r.text.replaceAll(id, "<request id>") };
  };

  test("known and unknown identifiers answer byte for byte alike at every stage, with the same argon2 work", async () => {
    await account("known-one");
    const { probe, attempt } = countingApp();
    const pair = async (password: string, ip: string) => {
      const known = await attempt("known-one", password, ip);
      const unknown = await attempt("unknown-one", password, ip);
      expect(seen(unknown)).toEqual(seen(known));
      expect(unknown.argon2).toBe(known.argon2);
      return known;
    };

    // First failures: 401, one argon2 verification each.
    for (let i = 0; i < 5; i++) {
      const r = await pair(`wrong ${i}`, "198.51.102.1");
      expect([r.status, r.argon2]).toEqual([401, 1]);
    }
    // The back-off refusal: 429 ACCOUNT_LOCKED before any password work.
    const backoff = await pair(GOOD_PASSWORD, "198.51.102.1");
    expect([backoff.status, backoff.argon2]).toEqual([429, 0]);
    expect(JSON.parse(backoff.text).code).toBe("ACCOUNT_LOCKED");
    ctx.clock.advance(30_000);
    expect(seen(await attempt("unknown-one", "x", "198.51.102.1"))).toEqual(
      seen(await attempt("known-one", "x", "198.51.102.1")),
    );

    // The ceiling: 95 more failures each from other addresses, then a fresh address is refused alike.
    probe.fast = true;
    for (let done = 0, a = 2; done < 95; a++, done += 5) {
      for (let i = 0; i < 5; i++) {
        const r = await pair(`spread ${a}-${i}`, `198.51.102.${a}`);
        expect(r.status).toBe(401);
      }
    }
    const ceiling = await pair(GOOD_PASSWORD, "203.0.113.99");
    expect([ceiling.status, ceiling.argon2]).toEqual([429, 0]);
    expect(ceiling.headers.get("ratelimit-limit")).toBe(String(SIGNIN_THROTTLE.identifierCeiling));

    // The audit trail, read only by operators, does tell them apart.
    const locks = (await lockRows()).filter(
      (r) => r.details.throttle === "identifier" && r.ip === "198.51.102.20",
    );
    expect(locks.map((r) => r.resource_id === null).sort()).toEqual([false, true]);
  });
});

describe("sign-ups authorised by a PAK", () => {
  let granted: string;
  let denied: string;
  beforeAll(async () => {
    granted = (await insertPak(ctx, [allow(["heimdall.signup.create"], [`pcft:heimdall:app/${app.id}`])]))
      .token;
    denied = (await insertPak(ctx, [allow(["heimdall.read"])])).token;
  });

  const signup = (n: string, headers: Record<string, string>, ip = "198.51.103.1") =>
    ctx.call("POST", "/{app_slug}/v1/auth/signup", {
      params: { app_slug: app.slug },
      body: { username: `pak-signup-${n}`, email: `pak-signup-${n}@example.com`, password: GOOD_PASSWORD },
      headers: { ...headers, ...from(ip) },
      auth: null,
    });
  const perAddress = async (ip: string) =>
    (await ctx.deps.rateLimiter.peek({ key: `signup:ip:${app.id}:${ip}`, max: 30, windowMs: 10 * MINUTE }))
      .remaining;

  test("on an app that does not require one, PAK sign-ups from one address exceed the per-address limit", async () => {
    const results = [];
    for (let i = 0; i < 35; i++)
      results.push(await signup(`bulk-${i}`, { authorization: `Bearer ${granted}` }));
    expect(results.map((r) => r.status)).toEqual(Array(35).fill(200));
    expect(await perAddress("198.51.103.1")).toBe(30);
    const rows = (await auditRows(ctx, { app_id: app.id, action: "user.signed_up" })).filter((r) =>
      String(r.details.username).startsWith("pak-signup-bulk-"),
    );
    expect(rows).toHaveLength(35);
    expect(rows.every((r) => typeof r.details.pak_id === "string")).toBe(true);
    // Anonymous sign-ups from the same address are still counted and limited.
    for (let i = 0; i < 30; i++) expect((await signup(`anon-${i}`, {}, "198.51.103.1")).status).toBe(200);
    const over = await signup("anon-over", {}, "198.51.103.1");
    expect(over.status).toBe(429);
    expect(over.body.code).toBe("RATE_LIMITED");
  });

  test("a PAK presented where none is required is still checked: unknown → 401, not allowed → 403, never anonymous", async () => {
    const before = (await queryRows(ctx, "SELECT id FROM end_users WHERE app_id = ?", app.id)).length;
    const unknown = await signup("bad-pak", { authorization: `Bearer pcft_live_${"x".repeat(40)}` });
    expect(unknown.status).toBe(401);
    const weak = await signup("weak-pak", { authorization: `Bearer ${denied}` });
    expect(weak.status).toBe(403);
    expect(await queryRows(ctx, "SELECT id FROM end_users WHERE app_id = ?", app.id)).toHaveLength(before);
    expect(await perAddress("198.51.103.1")).toBe(30);
  });

  test("a bearer token that is not a PAK is no PAK: the sign-up is anonymous and counted", async () => {
    const res = await signup(
      "jwt-bearer",
      { authorization: "Bearer eyJhbGciOiJub25lIn0.e30." },
      "198.51.103.2",
    );
    expect(res.status).toBe(200);
    expect(await perAddress("198.51.103.2")).toBe(29);
  });
});
