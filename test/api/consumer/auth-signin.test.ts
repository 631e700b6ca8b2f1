/** @module POST /{app_slug}/v1/auth/signin: identifiers, indistinguishable failures, back-off, session cap, rate limits, argon2 queue. */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { decodeJwt } from "jose";
import { createApp as createHttpApp } from "../../../src/app.ts";
import { createAuthService } from "../../../src/auth/service.ts";
import { DAY, MINUTE } from "../../../src/core/clock.ts";
import { sha256Hex } from "../../../src/core/crypto.ts";
import { newId } from "../../../src/core/ids.ts";
import { exec } from "../../../src/db/query.ts";
import { createPasswordHasher } from "../../../src/passwords/hasher.ts";
import {
  type EndUserTokens,
  GOOD_PASSWORD,
  queryRow,
  setAuthConfig,
  signIn,
  signUp,
  verifyPrimaryEmail,
} from "../../support/end-users.ts";
import { auditRows, createApp, userRow as fixtureUserRow } from "../../support/fixtures.ts";
import { createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";

let ctx: TestContext;
let app: { id: string; slug: string };
let alice: EndUserTokens;

const signin = (body: unknown, opts: { raw?: string } = {}) =>
  ctx.call("POST", "/{app_slug}/v1/auth/signin", {
    params: { app_slug: app.slug },
    body,
    raw: opts.raw,
    auth: null,
  });

const refresh = (token: string) =>
  ctx.call("POST", "/{app_slug}/v1/auth/refresh", {
    params: { app_slug: app.slug },
    body: { refresh_token: token },
    auth: null,
  });

const userRow = async (id: string) => (await fixtureUserRow(ctx, id))!;

const lastFailure = async () =>
  (await auditRows(ctx, { app_id: app.id, action: "user.signin_failed" })).at(-1)!;

/** Failures the sign-in throttle holds for `identifier` from the in-process address ("unknown"). */
const failuresOf = async (identifier: string) =>
  (await ctx.deps.rateLimiter.strikes(`signin-fail:app:${app.id}:${sha256Hex(identifier)}:unknown`, DAY))
    .count;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "signin-app");
  alice = await signUp(ctx, app.slug, {
    username: "alice",
    email: "Alice@Example.com",
    password: GOOD_PASSWORD,
  });
});

// Every test starts in fresh per-minute sign-in windows (all in-process requests share the address "unknown").
beforeEach(() => ctx.clock.advance(MINUTE + 1));

describe("identifiers", () => {
  test("username, in any case → 200 with a token pair; audit user.signed_in; last_used_at stamped", async () => {
    const res = await signin({ identifier: "  ALICE ", password: GOOD_PASSWORD });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const claims = decodeJwt(res.body.access_token);
    expect(claims).toMatchObject({ sub: alice.userId, type: "end_user", role: "member", amr: ["pwd"] });
    expect(claims.sid).not.toBe(alice.sessionId);
    expect((await userRow(alice.userId)).lastUsedAt).toBe(ctx.clock.now());
    const row = (await auditRows(ctx, { app_id: app.id, action: "user.signed_in" })).at(-1)!;
    expect(row).toMatchObject({ actor_type: "end_user", actor_id: alice.userId, resource_id: alice.userId });
    expect(row.details).toMatchObject({ session_id: claims.sid, identifier_type: "username" });
  });

  test("an unverified primary email does not authenticate → 401 INVALID_CREDENTIALS", async () => {
    const res = await signin({ identifier: "alice@example.com", password: GOOD_PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_CREDENTIALS");
    expect((await lastFailure()).details).toEqual({ reason: "unknown_identifier" });
  });

  test("the verified primary email, in any case → 200", async () => {
    await verifyPrimaryEmail(ctx, alice.userId);
    const t = await signIn(ctx, app.slug, "ALICE@example.COM", GOOD_PASSWORD);
    expect(t.userId).toBe(alice.userId);
    expect(
      (await auditRows(ctx, { app_id: app.id, action: "user.signed_in" })).at(-1)!.details.identifier_type,
    ).toBe("email");
  });

  test("a verified secondary email does not authenticate", async () => {
    const { endUserContacts } = ctx.deps.db.tables;
    await ctx.deps.db.insert(endUserContacts).values({
      id: newId(ctx.clock),
      appId: app.id,
      userId: alice.userId,
      type: "email",
      value: "alice.alt@example.com",
      isPrimary: false,
      verifiedAt: ctx.clock.now(),
      createdAt: ctx.clock.now(),
    });
    const res = await signin({ identifier: "alice.alt@example.com", password: GOOD_PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_CREDENTIALS");
  });

  // Tenant-scoped sign-in in full: tenant-tokens.test.ts.
  test("a tenant_id the account is no member of: 403 TENANT_ACCESS_DENIED after the right password", async () => {
    const res = await signin({ identifier: "alice", password: GOOD_PASSWORD, tenant_id: newId(ctx.clock) });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("TENANT_ACCESS_DENIED");
  });

  test("an account of another app with the same username is not this app's", async () => {
    const other = await createApp(ctx, "signin-other");
    await signUp(ctx, other.slug, { username: "bob", email: "bob@example.com", password: GOOD_PASSWORD });
    const res = await signin({ identifier: "bob", password: GOOD_PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_CREDENTIALS");
  });
});

describe("failures look alike", () => {
  test("wrong password and unknown account: same status, code, message and body keys; audit tells them apart", async () => {
    const wrong = await signin({ identifier: "alice", password: "not the password at all" });
    const wrongAudit = await lastFailure();
    const unknown = await signin({ identifier: "nobody-here", password: "not the password at all" });
    const unknownAudit = await lastFailure();
    for (const r of [wrong, unknown]) {
      expect(r.status).toBe(401);
      expect(r.body.code).toBe("INVALID_CREDENTIALS");
    }
    expect(Object.keys(wrong.body).sort()).toEqual(Object.keys(unknown.body).sort());
    expect(wrong.body.message).toBe(unknown.body.message);
    expect(wrongAudit).toMatchObject({ resource_id: alice.userId, actor_type: "end_user" });
    expect(wrongAudit.details).toEqual({ reason: "wrong_password", locked: false });
    expect(unknownAudit).toMatchObject({ resource_id: null, actor_type: "system" });
    expect(unknownAudit.details).toEqual({ reason: "unknown_identifier" });
    // Both counted alike, by the identifier typed; a success clears the one it was for.
    expect([await failuresOf("alice"), await failuresOf("nobody-here")]).toEqual([1, 1]);
    await signIn(ctx, app.slug, "alice", GOOD_PASSWORD);
    expect([await failuresOf("alice"), await failuresOf("nobody-here")]).toEqual([0, 1]);
  });

  const inactive = ["suspended", "deactivated"] as const;
  for (const status of inactive) {
    test(`a ${status} account with the right password → the same 401; audit reason account_suspended`, async () => {
      const t = await signUp(ctx, app.slug, {
        username: `acct-${status}`,
        email: `${status}@example.com`,
        password: GOOD_PASSWORD,
      });
      await exec(ctx.deps.db, sql`UPDATE end_users SET status = ${status} WHERE id = ${t.userId}`);
      const sessionsBefore = (await ctx.deps.sessions.liveOfUser(t.userId)).length;
      const res = await signin({ identifier: `acct-${status}`, password: GOOD_PASSWORD });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("INVALID_CREDENTIALS");
      expect(await lastFailure()).toMatchObject({ resource_id: t.userId });
      expect((await lastFailure()).details).toEqual({ reason: "account_suspended", status });
      expect((await ctx.deps.sessions.liveOfUser(t.userId)).length).toBe(sessionsBefore);
    });
  }

  test("an account without a password (provisioned) never signs in; its failures count like anyone's", async () => {
    const t = await signUp(ctx, app.slug, {
      username: "no-password",
      email: "nopw@example.com",
      password: GOOD_PASSWORD,
    });
    await exec(ctx.deps.db, sql`UPDATE end_users SET password_hash = NULL WHERE id = ${t.userId}`);
    const res = await signin({ identifier: "no-password", password: GOOD_PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_CREDENTIALS");
    expect(await failuresOf("no-password")).toBe((await failuresOf("no-such-account-either")) + 1);
  });

  test("signin_enabled false → 403 SIGNIN_DISABLED; audit reason signin_disabled", async () => {
    await setAuthConfig(ctx, app.id, { signin_enabled: false });
    try {
      const res = await signin({ identifier: "alice", password: GOOD_PASSWORD });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("SIGNIN_DISABLED");
      expect((await lastFailure()).details).toEqual({ reason: "signin_disabled" });
    } finally {
      await setAuthConfig(ctx, app.id, { signin_enabled: true });
    }
  });
});

describe("lockout", () => {
  let carol: EndUserTokens;
  beforeAll(async () => {
    await setAuthConfig(ctx, app.id, { max_failed_login_attempts: 3 });
    carol = await signUp(ctx, app.slug, {
      username: "carol",
      email: "carol@example.com",
      password: GOOD_PASSWORD,
    });
  });
  // The later describes sign in with the default threshold.
  afterAll(() => setAuthConfig(ctx, app.id, { max_failed_login_attempts: 5 }));

  test("max_failed_login_attempts wrong passwords from one address back that address off for a minute → 429 ACCOUNT_LOCKED even with the right one", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await signin({ identifier: "carol", password: `wrong guess ${i}` });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("INVALID_CREDENTIALS");
    }
    expect((await lastFailure()).details).toEqual({ reason: "wrong_password", locked: true });
    const lock = (await auditRows(ctx, { app_id: app.id, action: "user.locked" })).at(-1)!;
    expect(lock).toMatchObject({ resource_id: carol.userId, actor_type: "system" });
    expect(lock.details).toMatchObject({ throttle: "address", failures: 3, max_failed_login_attempts: 3 });
    // The account row no longer carries a lock: the back-off is the address's, not the account's.
    expect((await userRow(carol.userId)).lockedUntil).toBeNull();

    const locked = await signin({ identifier: "carol", password: GOOD_PASSWORD });
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe("ACCOUNT_LOCKED");
    expect(Number(locked.headers.get("retry-after"))).toBe(60);
    expect(locked.headers.get("ratelimit-limit")).toBe("3");
    expect(locked.headers.get("ratelimit-remaining")).toBe("0");
    expect((await lastFailure()).details).toEqual({ reason: "account_locked", throttle: "address" });

    ctx.clock.advance(59_000);
    const still = await signin({ identifier: "carol", password: GOOD_PASSWORD });
    expect(still.status).toBe(429);
    expect(still.headers.get("retry-after")).toBe("1");

    ctx.clock.advance(1000);
    const t = await signIn(ctx, app.slug, "carol", GOOD_PASSWORD);
    expect(t.userId).toBe(carol.userId);
    expect(await failuresOf("carol")).toBe(0);
  });

  test("each failure after a back-off doubles the next one", async () => {
    for (let i = 0; i < 3; i++) await signin({ identifier: "carol", password: "nope nope nope" });
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const refused = await signin({ identifier: "carol", password: "nope nope nope" });
      expect(refused.status).toBe(429);
      const wait = Number(refused.headers.get("retry-after"));
      waits.push(wait);
      ctx.clock.advance(wait * 1000);
      expect((await signin({ identifier: "carol", password: "nope nope nope" })).status).toBe(401);
    }
    expect(waits).toEqual([60, 120, 240]);
    ctx.clock.advance(480 * 1000);
    expect((await signin({ identifier: "carol", password: GOOD_PASSWORD })).status).toBe(200);
  });

  test("a success resets the count: failures must be consecutive", async () => {
    for (let i = 0; i < 2; i++)
      expect((await signin({ identifier: "carol", password: "nope nope nope" })).status).toBe(401);
    expect(await failuresOf("carol")).toBe(2);
    await signIn(ctx, app.slug, "carol", GOOD_PASSWORD);
    expect(await failuresOf("carol")).toBe(0);
    for (let i = 0; i < 2; i++)
      expect((await signin({ identifier: "carol", password: "nope nope nope" })).status).toBe(401);
    expect((await signin({ identifier: "carol", password: GOOD_PASSWORD })).status).toBe(200);
  });

  test("the lock is per account: another user of the app is unaffected", async () => {
    for (let i = 0; i < 3; i++) await signin({ identifier: "carol", password: "nope nope nope" });
    expect((await signin({ identifier: "carol", password: GOOD_PASSWORD })).status).toBe(429);
    expect((await signin({ identifier: "alice", password: GOOD_PASSWORD })).status).toBe(200);
    ctx.clock.advance(MINUTE);
  });
});

describe("max_sessions", () => {
  test("a sign-in beyond max_sessions evicts the oldest session; its refresh token stops working", async () => {
    await setAuthConfig(ctx, app.id, { max_sessions: 2 });
    try {
      const dave = await signUp(ctx, app.slug, {
        username: "dave",
        email: "dave@example.com",
        password: GOOD_PASSWORD,
      });
      const second = await signIn(ctx, app.slug, "dave", GOOD_PASSWORD);
      const third = await signIn(ctx, app.slug, "dave", GOOD_PASSWORD);
      const live = (await ctx.deps.sessions.liveOfUser(dave.userId)).map((s) => s.id).sort();
      expect(live).toEqual([second.sessionId, third.sessionId].sort());
      const evicted = (await queryRow(
        ctx,
        "SELECT revoke_reason FROM end_user_sessions WHERE id = ?",
        dave.sessionId,
      ))!;
      expect(evicted.revoke_reason).toBe("evicted");
      expect(
        (await auditRows(ctx, { app_id: app.id, action: "session.evicted" })).some(
          (r) => r.resource_id === dave.sessionId,
        ),
      ).toBe(true);

      const old = await refresh(dave.refresh_token);
      expect(old.status).toBe(401);
      expect(old.body.code).toBe("INVALID_REFRESH_TOKEN");
      expect((await refresh(second.refresh_token)).status).toBe(200);
    } finally {
      await setAuthConfig(ctx, app.id, { max_sessions: 5 });
    }
  });
});

describe("malformed requests", () => {
  const cases: Array<{ name: string; body?: unknown; raw?: string; code: string; fields?: string[] }> = [
    { name: "no body", code: "VALIDATION_ERROR", fields: ["body"] },
    { name: "invalid JSON", raw: '{"identifier"', code: "INVALID_JSON" },
    { name: "both fields missing", body: {}, code: "VALIDATION_ERROR", fields: ["identifier", "password"] },
    {
      name: "empty identifier",
      body: { identifier: "   ", password: "x" },
      code: "VALIDATION_ERROR",
      fields: ["identifier"],
    },
    {
      name: "empty password",
      body: { identifier: "alice", password: "" },
      code: "VALIDATION_ERROR",
      fields: ["password"],
    },
    {
      name: "identifier of the wrong type",
      body: { identifier: 1, password: "x" },
      code: "VALIDATION_ERROR",
      fields: ["identifier"],
    },
    {
      name: "password of the wrong type",
      body: { identifier: "alice", password: null },
      code: "VALIDATION_ERROR",
      fields: ["password"],
    },
    {
      name: "a password no sign-up could set (> 1024 bytes)",
      body: { identifier: "alice", password: "é".repeat(513) },
      code: "VALIDATION_ERROR",
      fields: ["password"],
    },
    {
      name: "tenant_id of the wrong type",
      body: { identifier: "alice", password: "x", tenant_id: 5 },
      code: "VALIDATION_ERROR",
      fields: ["tenant_id"],
    },
  ];
  for (const c of cases) {
    test(`${c.name} → 400 ${c.code}`, async () => {
      const res = await signin(c.body, { raw: c.raw });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(c.code);
      if (c.fields)
        expect(res.body.details.map((d: { field: string }) => d.field).sort()).toEqual([...c.fields].sort());
    });
  }

  test("a suspended app → 403 APP_SUSPENDED", async () => {
    const a = await createApp(ctx, "signin-suspended");
    const s = await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
      params: { app_id: a.id },
      body: { status: "suspended" },
    });
    expect(s.status).toBe(200);
    const res = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
      params: { app_slug: a.slug },
      body: { identifier: "alice", password: GOOD_PASSWORD },
      auth: null,
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("APP_SUSPENDED");
  });
});

describe("rate limits", () => {
  test("no limit per identifier: a dozen sign-ins of one account within a minute all succeed", async () => {
    // A per-identifier limit counting every address would let anyone keep the holder out; the back-off
    // per (identifier, address) and the per-identifier failure ceiling slow guessing instead.
    for (let i = 0; i < 12; i++)
      expect((await signin({ identifier: "alice", password: GOOD_PASSWORD })).status).toBe(200);
  });

  test("the 31st sign-in from one address within a minute → 429, whatever the identifier", async () => {
    const attempts = await Promise.all(
      Array.from({ length: 30 }, (_, i) => signin({ identifier: `spray-${i}`, password: "whatever it is" })),
    );
    expect(attempts.every((r) => r.status === 401)).toBe(true);
    const res = await signin({ identifier: "alice", password: GOOD_PASSWORD });
    expect(res.status).toBe(429);
    expect(res.body.code).toBe("RATE_LIMITED");
    expect(res.headers.get("ratelimit-limit")).toBe("30");
    ctx.clock.advance(MINUTE);
    expect((await signin({ identifier: "alice", password: GOOD_PASSWORD })).status).toBe(200);
  });
});

// The queue is the password hasher's and the same on both engines; these tests arrange for every sign-in to
// reach it before the first hash ends, which the in-memory SQLite path does within a turn of the loop but
// PostgreSQL's round trips spread over milliseconds. They run in the SQLite pass.
describe.skipIf(process.env.HEIMDALL_TEST_DB === "postgres")("argon2 queue", () => {
  test("more concurrent sign-ins than the hasher runs and queues → 429 TOO_MANY_REQUESTS at once", async () => {
    // The same graph, but a hasher that runs one verification and queues one more.
    const passwords = createPasswordHasher({ concurrency: 1, maxQueued: 1 });
    const deps = { ...ctx.deps, passwords, auth: createAuthService({ ...ctx.deps, passwords }) };
    const narrow = createHttpApp(deps);
    const fire = () =>
      narrow.handle(
        new Request(`${PUBLIC_URL}/${app.slug}/v1/auth/signin`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ identifier: "alice", password: GOOD_PASSWORD }),
        }),
      );
    const responses = await Promise.all([fire(), fire(), fire(), fire()]);
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(2);
    const refused = responses.filter((r) => r.status === 429);
    expect(refused).toHaveLength(2);
    for (const r of refused) {
      expect(((await r.json()) as { code: string }).code).toBe("TOO_MANY_REQUESTS");
      expect(r.headers.get("retry-after")).toBe("1");
    }
  });

  test("a queued sign-in whose client went away is dropped (499) and frees its place in the queue", async () => {
    const passwords = createPasswordHasher({ concurrency: 1, maxQueued: 2 });
    const deps = { ...ctx.deps, passwords, auth: createAuthService({ ...ctx.deps, passwords }) };
    const narrow = createHttpApp(deps);
    const fire = (signal?: AbortSignal) =>
      narrow.handle(
        new Request(`${PUBLIC_URL}/${app.slug}/v1/auth/signin`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ identifier: "alice", password: GOOD_PASSWORD }),
          signal,
        }),
      );
    const first = [fire(), fire()];
    const gone = new AbortController();
    const abandoned = fire(gone.signal);
    // All three reach the hasher (on PostgreSQL after a few round trips each): one runs, two wait.
    for (let waited = 0; passwords.load().queued < 2 && waited < 2_000; waited += 5) await Bun.sleep(5);
    expect(passwords.load()).toEqual({ running: 1, queued: 2 });
    gone.abort();
    const dropped = await abandoned;
    expect(dropped.status).toBe(499);
    expect(((await dropped.json()) as { code: string }).code).toBe("CLIENT_CLOSED_REQUEST");
    // Its place is free again: a newcomer is queued instead of refused.
    const statuses = (await Promise.all([...first, fire()])).map((r) => r.status);
    expect(statuses).toEqual([200, 200, 200]);
  });
});
