/** @module POST /{app_slug}/v1/auth/signup: the account, its contact, session and audit row; policy, config and input refusals. */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { decodeJwt } from "jose";
import { MINUTE } from "../../../src/core/clock.ts";
import { newId } from "../../../src/core/ids.ts";
import { GOOD_PASSWORD, queryRow, setAuthConfig, signUp } from "../../support/end-users.ts";
import { auditRows, createApp, userRow } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { allow, insertPak } from "../admin/fixtures.ts";

let ctx: TestContext;
let app: { id: string; slug: string };

const signup = (
  body: unknown,
  opts: { auth?: { pak: string } | null; raw?: string; headers?: Record<string, string> } = {},
) =>
  ctx.call("POST", "/{app_slug}/v1/auth/signup", {
    params: { app_slug: app.slug },
    body,
    raw: opts.raw,
    headers: opts.headers,
    auth: opts.auth ?? null,
  });

const countUsers = async () =>
  Number(
    (await queryRow(ctx, "SELECT CAST(count(*) AS INTEGER) AS n FROM end_users WHERE app_id = ?", app.id))!.n,
  );

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "signup-app");
});

// Every test starts in a fresh per-IP sign-up window (all in-process requests share the address "unknown").
beforeEach(() => ctx.clock.advance(10 * MINUTE + 1));

describe("successful sign-up", () => {
  test("creates the account, an unverified primary email, a session and an audit row; returns a token pair", async () => {
    const res = await signup({
      username: "  Jane_Doe ",
      email: "Jane.Doe@Example.COM",
      password: GOOD_PASSWORD,
      display_name: "Jane Doe",
    });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe("Bearer");
    expect(res.body.expires_in).toBe(3600);
    expect(res.body.refresh_token).toMatch(/^hrt_[A-Za-z0-9_-]{43}$/);
    expect(res.headers.get("cache-control")).toBe("no-store");

    const claims = decodeJwt(res.body.access_token);
    const userId = claims.sub as string;
    const user = (await userRow(ctx, userId))!;
    expect(user).toMatchObject({
      appId: app.id,
      username: "jane_doe",
      displayName: "Jane Doe",
      status: "active",
      role: "member",
      failedLoginCount: 0,
      lockedUntil: null,
    });
    expect(String(user.passwordHash)).toStartWith("$argon2id$v=19$m=19456,t=2,p=1$");
    expect(claims).toMatchObject({ type: "end_user", role: "member", amr: ["pwd"], aid: app.id });

    const { endUserContacts } = ctx.deps.db.tables;
    const contacts = await ctx.deps.db
      .select()
      .from(endUserContacts)
      .where(eq(endUserContacts.userId, userId));
    expect(contacts).toHaveLength(1);
    expect(contacts[0]).toMatchObject({
      type: "email",
      value: "jane.doe@example.com",
      isPrimary: true,
      verifiedAt: null,
    });

    const session = (await ctx.deps.sessions.liveOfUser(userId)).find((s) => s.id === claims.sid)!;
    expect(session).toMatchObject({ userId, appId: app.id, revokedAt: null, amr: ["pwd"] });
    expect(session.expiresAt - session.createdAt).toBe(10080 * MINUTE);

    const audit = await auditRows(ctx, { app_id: app.id, action: "user.signed_up", resource_id: userId });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor_type: "end_user", actor_id: userId, resource_type: "end_user" });
    expect(audit[0]!.details).toMatchObject({ username: "jane_doe", role: "member", session_id: session.id });
    // The audit row never carries the password or its hash.
    expect(JSON.stringify(audit[0])).not.toContain(GOOD_PASSWORD);
  });

  test("the new account gets the app's signup_default_role", async () => {
    await setAuthConfig(ctx, app.id, { signup_default_role: "customer" });
    try {
      const t = await signUp(ctx, app.slug, {
        username: "role-user",
        email: "role@example.com",
        password: GOOD_PASSWORD,
      });
      expect(decodeJwt(t.access_token).role).toBe("customer");
      const row = (await queryRow(ctx, "SELECT role FROM end_users WHERE id = ?", t.userId))!;
      expect(row.role).toBe("customer");
    } finally {
      await setAuthConfig(ctx, app.id, { signup_default_role: "member" });
    }
  });

  test("the access token never outlives a short session", async () => {
    await setAuthConfig(ctx, app.id, { session_duration_minutes: 30 });
    try {
      const t = await signUp(ctx, app.slug, {
        username: "short-session",
        email: "short@example.com",
        password: GOOD_PASSWORD,
      });
      expect(t.expires_in).toBe(1800);
      const claims = decodeJwt(t.access_token);
      expect(claims.exp! - claims.iat!).toBe(1800);
    } finally {
      await setAuthConfig(ctx, app.id, { session_duration_minutes: 10080 });
    }
  });

  test("two concurrent sign-ups for one username: exactly one wins, the other is 409", async () => {
    const body = (email: string) => ({ username: "racer", email, password: GOOD_PASSWORD });
    const [a, b] = await Promise.all([
      signup(body("racer1@example.com")),
      signup(body("racer2@example.com")),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect([a, b].find((r) => r.status === 409)!.body.code).toBe("USERNAME_TAKEN");
    const n = (await queryRow(
      ctx,
      "SELECT CAST(count(*) AS INTEGER) AS n FROM end_users WHERE app_id = ? AND username = 'racer'",
      app.id,
    ))!;
    expect(Number(n.n)).toBe(1);
  });
});

describe("password policy", () => {
  const cases: Array<{
    name: string;
    password: string;
    username?: string;
    email?: string;
    reasons: string[];
  }> = [
    { name: "too short", password: "Tiny-pw-1", reasons: ["too_short"] },
    { name: "too long (257 characters)", password: "x".repeat(257), reasons: ["too_long"] },
    { name: "breached", password: "qwertyuiop123", reasons: ["common_password"] },
    { name: "breached, in another case", password: "QwertyUIOP123", reasons: ["common_password"] },
    {
      name: "equal to the username",
      password: "policy-username",
      username: "policy-username",
      reasons: ["common_password"],
    },
    {
      name: "equal to the email",
      password: "Policy@Example.com",
      email: "policy@example.com",
      reasons: ["common_password"],
    },
  ];
  for (const c of cases) {
    test(`${c.name} → 400 WEAK_PASSWORD`, async () => {
      const before = await countUsers();
      const res = await signup({
        username: c.username ?? "policy-user",
        email: c.email ?? "policy-user@example.com",
        password: c.password,
      });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("WEAK_PASSWORD");
      expect(res.body.details).toEqual(c.reasons.map((reason) => ({ field: "password", reason })));
      expect(await countUsers()).toBe(before);
    });
  }

  test("the app's character-class requirements apply, each named", async () => {
    await setAuthConfig(ctx, app.id, {
      password_require_uppercase: true,
      password_require_number: true,
      password_require_symbol: true,
    });
    try {
      const weak = await signup({
        username: "classes",
        email: "classes@example.com",
        password: "onlylowercaseletters",
      });
      expect(weak.status).toBe(400);
      expect(weak.body.code).toBe("WEAK_PASSWORD");
      expect(weak.body.details.map((d: { reason: string }) => d.reason)).toEqual([
        "missing_uppercase",
        "missing_number",
        "missing_symbol",
      ]);
      const ok = await signup({
        username: "classes",
        email: "classes@example.com",
        password: "Lantern-Orbit-47",
      });
      expect(ok.status).toBe(200);
    } finally {
      await setAuthConfig(ctx, app.id, {
        password_require_uppercase: false,
        password_require_number: false,
        password_require_symbol: false,
      });
    }
  });

  test("a raised minimum length applies", async () => {
    await setAuthConfig(ctx, app.id, { password_min_length: 30 });
    try {
      const res = await signup({ username: "minlen", email: "minlen@example.com", password: GOOD_PASSWORD });
      expect(res.status).toBe(400);
      expect(res.body.details).toEqual([{ field: "password", reason: "too_short" }]);
    } finally {
      await setAuthConfig(ctx, app.id, { password_min_length: 12 });
    }
  });
});

describe("app configuration", () => {
  test("signup_enabled false → 403 SIGNUP_DISABLED, nothing written", async () => {
    await setAuthConfig(ctx, app.id, { signup_enabled: false });
    try {
      const before = await countUsers();
      const res = await signup({ username: "closed", email: "closed@example.com", password: GOOD_PASSWORD });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("SIGNUP_DISABLED");
      expect(await countUsers()).toBe(before);
    } finally {
      await setAuthConfig(ctx, app.id, { signup_enabled: true });
    }
  });

  describe("signup_allowed_email_domains", () => {
    beforeAll(() => setAuthConfig(ctx, app.id, { signup_allowed_email_domains: ["example.org"] }));
    afterAll(() => setAuthConfig(ctx, app.id, { signup_allowed_email_domains: [] }));
    const cases = [
      { name: "another domain", email: "a@other.net", status: 403 },
      { name: "a subdomain of an allowed one", email: "b@mail.example.org", status: 403 },
      { name: "a look-alike suffix", email: "c@evilexample.org", status: 403 },
      { name: "the allowed domain, any case", email: "d@EXAMPLE.org", status: 200 },
    ];
    for (const c of cases) {
      test(`${c.name} → ${c.status}`, async () => {
        const res = await signup({ username: `dom-${c.email[0]}`, email: c.email, password: GOOD_PASSWORD });
        expect(res.status).toBe(c.status);
        if (c.status === 403) expect(res.body.code).toBe("SIGNUP_EMAIL_DOMAIN_NOT_ALLOWED");
      });
    }
  });

  describe("signup_requires_pak", () => {
    let granted: string;
    let denied: string;
    let otherApp: string;
    beforeAll(async () => {
      await setAuthConfig(ctx, app.id, { signup_requires_pak: true });
      granted = (await insertPak(ctx, [allow(["heimdall.signup.create"], [`pcft:heimdall:app/${app.id}`])]))
        .token;
      denied = (await insertPak(ctx, [allow(["heimdall.read", "heimdall.user.verify.create"])])).token;
      otherApp = (
        await insertPak(ctx, [allow(["heimdall.signup.create"], [`pcft:heimdall:app/${newId(ctx.clock)}`])])
      ).token;
    });
    afterAll(() => setAuthConfig(ctx, app.id, { signup_requires_pak: false }));

    const body = (n: string) => ({
      username: `pak-${n}`,
      email: `pak-${n}@example.com`,
      password: GOOD_PASSWORD,
    });

    test("no credential → 401 UNAUTHORIZED", async () => {
      const res = await signup(body("none"));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("UNAUTHORIZED");
    });

    test("an end-user access token is not a PAK → 401", async () => {
      const res = await signup(body("jwt"), {
        headers: { authorization: "Bearer eyJhbGciOiJub25lIn0.e30." },
      });
      expect(res.status).toBe(401);
    });

    test("an unknown PAK → 401", async () => {
      const res = await signup(body("bogus"), { auth: { pak: `pcft_live_${"x".repeat(40)}` } });
      expect(res.status).toBe(401);
    });

    const refusals = [
      { name: "a PAK without heimdall.signup.create", pak: () => denied },
      { name: "a PAK allowed only on another app", pak: () => otherApp },
    ];
    for (const r of refusals) {
      test(`${r.name} → 403 POLICY_DENIED`, async () => {
        const res = await signup(body("denied"), { auth: { pak: r.pak() } });
        expect(res.status).toBe(403);
        expect(res.body.code).toBe("POLICY_DENIED");
      });
    }

    test("a PAK allowed heimdall.signup.create on the app → 200; the audit row names it", async () => {
      const res = await signup(body("ok"), { auth: { pak: granted } });
      expect(res.status).toBe(200);
      const sub = decodeJwt(res.body.access_token).sub;
      const row = (await auditRows(ctx, { app_id: app.id, action: "user.signed_up", resource_id: sub }))[0]!;
      expect(row.details.pak_id).toBeString();
    });

    test("the full-policy bootstrap PAK is allowed too", async () => {
      const res = await signup(body("boot"), { auth: { pak: ctx.pak } });
      expect(res.status).toBe(200);
    });
  });
});

describe("uniqueness", () => {
  beforeAll(async () => {
    ctx.clock.advance(10 * MINUTE + 1);
    await signUp(ctx, app.slug, { username: "taken", email: "taken@example.com", password: GOOD_PASSWORD });
  });

  const cases = [
    { name: "same username", username: "taken", email: "fresh1@example.com", code: "USERNAME_TAKEN" },
    {
      name: "same username in another case",
      username: "TAKEN",
      email: "fresh2@example.com",
      code: "USERNAME_TAKEN",
    },
    { name: "same email", username: "fresh3", email: "taken@example.com", code: "EMAIL_TAKEN" },
    {
      name: "same email in another case",
      username: "fresh4",
      email: "Taken@EXAMPLE.com",
      code: "EMAIL_TAKEN",
    },
  ];
  for (const c of cases) {
    test(`${c.name} → 409 ${c.code}`, async () => {
      const res = await signup({ username: c.username, email: c.email, password: GOOD_PASSWORD });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe(c.code);
    });
  }

  test("an email held as another account's secondary contact → 409 EMAIL_TAKEN", async () => {
    const owner = (await queryRow(
      ctx,
      "SELECT id FROM end_users WHERE app_id = ? AND username = 'taken'",
      app.id,
    ))!;
    const { endUserContacts } = ctx.deps.db.tables;
    await ctx.deps.db.insert(endUserContacts).values({
      id: newId(ctx.clock),
      appId: app.id,
      userId: String(owner.id),
      type: "email",
      value: "second@example.com",
      isPrimary: false,
      verifiedAt: null,
      createdAt: ctx.clock.now(),
    });
    const res = await signup({ username: "fresh5", email: "second@example.com", password: GOOD_PASSWORD });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("EMAIL_TAKEN");
  });

  test("the same username and email in another app are independent", async () => {
    const other = await createApp(ctx, "signup-other");
    const t = await signUp(ctx, other.slug, {
      username: "taken",
      email: "taken@example.com",
      password: GOOD_PASSWORD,
    });
    expect(decodeJwt(t.access_token).aid).toBe(other.id);
  });
});

describe("malformed requests", () => {
  const valid = { username: "shape-user", email: "shape@example.com", password: GOOD_PASSWORD };
  const cases: Array<{
    name: string;
    body?: unknown;
    raw?: string;
    status: number;
    code: string;
    fields?: string[];
  }> = [
    { name: "no body", status: 400, code: "VALIDATION_ERROR", fields: ["body"] },
    { name: "invalid JSON", raw: '{"username":', status: 400, code: "INVALID_JSON" },
    { name: "a JSON array", body: [valid], status: 400, code: "VALIDATION_ERROR" },
    {
      name: "every field missing",
      body: {},
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["username", "email", "password"],
    },
    {
      name: "password missing",
      body: { ...valid, password: undefined },
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["password"],
    },
    {
      name: "username of the wrong type",
      body: { ...valid, username: 42 },
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["username"],
    },
    {
      name: "password of the wrong type",
      body: { ...valid, password: ["x"] },
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["password"],
    },
    {
      name: "username too short",
      body: { ...valid, username: "ab" },
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["username"],
    },
    {
      name: "username with a space",
      body: { ...valid, username: "jane doe" },
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["username"],
    },
    {
      name: "username shaped like an email",
      body: { ...valid, username: "jane@example.com" },
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["username"],
    },
    {
      name: "username starting with a dot",
      body: { ...valid, username: ".jane" },
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["username"],
    },
    {
      name: "username of 65 characters",
      body: { ...valid, username: "a".repeat(65) },
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["username"],
    },
    {
      name: "email without a domain",
      body: { ...valid, email: "jane@" },
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["email"],
    },
    {
      name: "email that is not one",
      body: { ...valid, email: "not an email" },
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["email"],
    },
    {
      name: "display_name of the wrong type",
      body: { ...valid, display_name: 7 },
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["display_name"],
    },
    {
      name: "display_name too long",
      body: { ...valid, display_name: "n".repeat(257) },
      status: 400,
      code: "VALIDATION_ERROR",
      fields: ["display_name"],
    },
    {
      name: "a body over 64 KiB",
      raw: JSON.stringify({ ...valid, display_name: "n".repeat(70_000) }),
      status: 413,
      code: "PAYLOAD_TOO_LARGE",
    },
  ];
  for (const c of cases) {
    test(`${c.name} → ${c.status} ${c.code}`, async () => {
      const before = await countUsers();
      const res = await signup(c.body, { raw: c.raw });
      expect(res.status).toBe(c.status);
      expect(res.body.code).toBe(c.code);
      if (c.fields)
        expect(res.body.details.map((d: { field: string }) => d.field).sort()).toEqual([...c.fields].sort());
      expect(await countUsers()).toBe(before);
    });
  }

  test("unknown fields → 400 VALIDATION_ERROR naming each; no account is created", async () => {
    const before = await countUsers();
    const res = await signup({
      username: "extra-fields",
      email: "extra@example.com",
      password: GOOD_PASSWORD,
      role: "admin",
      displayName: "Extra",
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details).toEqual([
      { field: "role", reason: "unknown field" },
      { field: "displayName", reason: "unknown field; did you mean display_name?" },
    ]);
    expect(await countUsers()).toBe(before);
  });

  test("an unknown app → 404 APP_NOT_FOUND", async () => {
    const res = await ctx.call("POST", "/{app_slug}/v1/auth/signup", {
      params: { app_slug: "no-such-app" },
      body: valid,
      auth: null,
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("APP_NOT_FOUND");
  });
});

describe("rate limit", () => {
  test("the 31st sign-up from one address within 10 minutes → 429 RATE_LIMITED with Retry-After", async () => {
    // Weak passwords: refused after the limit is counted, before any hashing, so the loop stays fast.
    for (let i = 0; i < 30; i++) {
      const res = await signup({
        username: `flood-${i}`,
        email: `flood-${i}@example.com`,
        password: "short",
      });
      expect(res.status).toBe(400);
    }
    const res = await signup({ username: "flood-x", email: "flood-x@example.com", password: GOOD_PASSWORD });
    expect(res.status).toBe(429);
    expect(res.body.code).toBe("RATE_LIMITED");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(res.headers.get("ratelimit-remaining")).toBe("0");
    ctx.clock.advance(10 * MINUTE + 1);
    expect(
      (await signup({ username: "flood-x", email: "flood-x@example.com", password: GOOD_PASSWORD })).status,
    ).toBe(200);
  });
});
