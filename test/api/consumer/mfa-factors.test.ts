/** @module `/{app_slug}/v1/me/mfa/*`: TOTP enrolment, confirmation, recovery codes, disabling, and the checks sign-in calls. */
import { beforeEach, describe, expect, test } from "bun:test";
import { and, asc, eq, sql } from "drizzle-orm";
import { Secret, TOTP } from "otpauth";
import { MINUTE, SECOND } from "../../../src/core/clock.ts";
import { tx } from "../../../src/db/client.ts";
import { exec, first } from "../../../src/db/query.ts";
import { type EndUserTokens, GOOD_PASSWORD, queryRow, queryRows, signUp } from "../../support/end-users.ts";
import { type AppBody, auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";

const FACTORS = "/{app_slug}/v1/me/mfa/factors";
const CONFIRM = "/{app_slug}/v1/me/mfa/factors/{id}/verify";
const FACTOR = "/{app_slug}/v1/me/mfa/factors/{id}";
const REGENERATE = "/{app_slug}/v1/me/mfa/recovery-codes/regenerate";
const RECOVERY_SHAPE = /^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/;

/** An authenticator app, independent of the server's helpers: otpauth from the Base32 secret it was given. */
const codeAt = (secret: string, ms: number) =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 }).generate({
    timestamp: ms,
  });

let ctx: TestContext;
let app: AppBody;
let user: EndUserTokens;
let n = 0;

async function newUser(slug = app.slug): Promise<EndUserTokens> {
  n += 1;
  return signUp(ctx, slug, { username: `mfa${n}`, email: `mfa${n}@example.test`, password: GOOD_PASSWORD });
}

const call = (method: string, path: string, u: EndUserTokens, opts: { id?: string; body?: unknown } = {}) =>
  ctx.call(method, path, {
    params: { app_slug: app.slug, ...(opts.id ? { id: opts.id } : {}) },
    body: opts.body,
    auth: { bearer: u.access_token },
  });

async function start(u: EndUserTokens, label?: string) {
  const res = await call("POST", FACTORS, u, { body: { type: "totp", ...(label ? { label } : {}) } });
  expect(res.status).toBe(201);
  return res.body as { factor: { id: string }; enrollment: { secret: string; otpauth_uri: string } };
}

/** Two codes from consecutive windows, the second of the current one. */
const pair = (secret: string) => [
  codeAt(secret, ctx.clock.now() - 30 * SECOND),
  codeAt(secret, ctx.clock.now()),
];

async function enrol(u: EndUserTokens) {
  const s = await start(u);
  const res = await call("POST", CONFIRM, u, { id: s.factor.id, body: { codes: pair(s.enrollment.secret) } });
  expect(res.status).toBe(200);
  return { id: s.factor.id, secret: s.enrollment.secret, recovery: res.body.recovery_codes as string[] };
}

const events = async (type: string) => {
  const { events } = ctx.deps.db.tables;
  return await ctx.deps.db
    .select()
    .from(events)
    .where(and(eq(events.type, type), eq(events.appId, app.id)))
    .orderBy(asc(events.createdAt), asc(events.id));
};
const vaultRow = async (id: string) => await queryRow(ctx, "SELECT id FROM vault_secrets WHERE id = ?", id);
const factorRow = async (id: string) => {
  const { mfaFactors } = ctx.deps.db.tables;
  return await first(ctx.deps.db.select().from(mfaFactors).where(eq(mfaFactors.id, id)).limit(1));
};

beforeEach(async () => {
  n = 0;
  ctx = await createTestContext();
  app = await createApp(ctx, "mfa-app", { display_name: "Acme Notes" });
  user = await newUser();
});

describe("POST /me/mfa/factors (start enrolment)", () => {
  test("a pending TOTP factor with a sealed secret, the otpauth URI and a QR", async () => {
    const empty = await call("GET", FACTORS, user);
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ data: [] });

    const res = await call("POST", FACTORS, user, { body: { type: "totp", label: "Pixel 9" } });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { factor, enrollment } = res.body;
    expect(factor).toEqual({
      id: factor.id,
      type: "totp",
      label: "Pixel 9",
      enabled: false,
      created_at: new Date(ctx.clock.now()).toISOString(),
      enabled_at: null,
    });
    expect(enrollment.algorithm).toBe("SHA1");
    expect(enrollment.digits).toBe(6);
    expect(enrollment.period).toBe(30);
    expect(enrollment.secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits in Base32
    expect(enrollment.qr_data_url).toStartWith("data:image/png;base64,");
    const uri = new URL(enrollment.otpauth_uri);
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.host).toBe("totp");
    expect(decodeURIComponent(uri.pathname)).toBe("/Acme Notes:mfa1@example.test");
    expect(uri.searchParams.get("issuer")).toBe("Acme Notes");
    expect(uri.searchParams.get("secret")).toBe(enrollment.secret);

    const row = (await factorRow(factor.id))!;
    expect(row.enabledAt).toBeNull();
    expect(row.userId).toBe(user.userId);
    // Sealed, not stored in the clear: the factor row holds only the vault id.
    expect(await vaultRow(row.secretId)).toBeDefined();
    expect(JSON.stringify(row)).not.toContain(enrollment.secret);

    const audit = await auditRows(ctx, { app_id: app.id, action: "mfa.enrollment_started" });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.resource_id).toBe(factor.id);
    expect(JSON.stringify(audit[0])).not.toContain(enrollment.secret);

    const list = await call("GET", FACTORS, user);
    expect(list.body.data).toEqual([factor]);
  });

  test("the account is the username when there is no email; bad bodies are 400", async () => {
    const bad = await call("POST", FACTORS, user, { body: { type: "sms" } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("VALIDATION_ERROR");
    const long = await call("POST", FACTORS, user, { body: { type: "totp", label: "x".repeat(65) } });
    expect(long.status).toBe(400);
    await exec(ctx.deps.db, sql`DELETE FROM end_user_contacts WHERE user_id = ${user.userId}`);
    const s = await start(user);
    expect(decodeURIComponent(new URL(s.enrollment.otpauth_uri).pathname)).toBe("/Acme Notes:mfa1");
  });

  test("a pending factor older than 15 minutes is replaced (and its secret destroyed) by the next start", async () => {
    const a = await start(user);
    ctx.clock.advance(10 * MINUTE);
    const b = await start(user);
    // Both younger than 15 minutes: two phones being set up at once is allowed.
    expect(await factorRow(a.factor.id)).toBeDefined();
    const aSecret = (await factorRow(a.factor.id))!.secretId;
    ctx.clock.advance(6 * MINUTE);
    const c = await start(user);
    expect(await factorRow(a.factor.id)).toBeUndefined();
    expect(await vaultRow(aSecret)).toBeUndefined();
    expect(await factorRow(b.factor.id)).toBeDefined();
    expect(await factorRow(c.factor.id)).toBeDefined();
  });

  test("the lane: no token is 401, another app's token is 401", async () => {
    const none = await ctx.call("POST", FACTORS, {
      params: { app_slug: app.slug },
      body: { type: "totp" },
      auth: null,
    });
    expect(none.status).toBe(401);
    const other = await createApp(ctx, "mfa-other");
    const stranger = await newUser(other.slug);
    const res = await call("GET", FACTORS, stranger);
    expect(res.status).toBe(401);
  });
});

describe("POST /me/mfa/factors/{id}/verify (confirm)", () => {
  test("two codes from consecutive windows enable the factor and return 10 recovery codes once", async () => {
    const s = await start(user);
    ctx.clock.advance(45 * SECOND);
    const res = await call("POST", CONFIRM, user, {
      id: s.factor.id,
      body: { codes: pair(s.enrollment.secret) },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body.factor).toMatchObject({ id: s.factor.id, enabled: true });
    expect(res.body.factor.enabled_at).toBe(new Date(ctx.clock.now()).toISOString());
    const codes: string[] = res.body.recovery_codes;
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(RECOVERY_SHAPE);
    expect(new Set(codes).size).toBe(10);

    const stored = await queryRows(ctx, "SELECT * FROM mfa_recovery_codes WHERE user_id = ?", user.userId);
    expect(stored).toHaveLength(10);
    const dump = JSON.stringify(stored);
    for (const c of codes) {
      expect(dump).not.toContain(c);
      expect(dump).not.toContain(c.replaceAll("-", ""));
    }
    expect((await factorRow(s.factor.id))!.enabledAt).toBe(ctx.clock.now());

    const enrolled = await events("user.mfa.factor_enrolled");
    expect(enrolled).toHaveLength(1);
    expect(enrolled[0]!.data).toEqual({
      user_id: user.userId,
      factor_id: s.factor.id,
      type: "totp",
      via: "self",
    });
    const audit = await auditRows(ctx, { app_id: app.id, action: "mfa.factor_enrolled" });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor_id).toBe(user.userId);
    for (const c of codes) expect(JSON.stringify(audit[0])).not.toContain(c);

    expect(await ctx.deps.mfa.hasEnabledFactor(app.id, user.userId)).toBe(true);
    expect(await ctx.deps.mfa.enabledFactors(app.id, user.userId)).toEqual([res.body.factor]);

    const again = await call("POST", CONFIRM, user, {
      id: s.factor.id,
      body: { codes: pair(s.enrollment.secret) },
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("MFA_FACTOR_ALREADY_ENABLED");
  });

  test("a second factor is enabled without minting a new set", async () => {
    const first = await enrol(user);
    ctx.clock.advance(MINUTE);
    const s = await start(user);
    const res = await call("POST", CONFIRM, user, {
      id: s.factor.id,
      body: { codes: pair(s.enrollment.secret) },
    });
    expect(res.status).toBe(200);
    expect(res.body.recovery_codes).toEqual([]);
    // The first set still works.
    expect(
      await tx(
        ctx.deps.db,
        async () => await ctx.deps.mfa.useRecoveryCode(app.id, user.userId, first.recovery[0]!),
      ),
    ).toBe(true);
  });

  test("wrong, repeated or non-consecutive codes are 400 and audited; malformed ones are a validation error", async () => {
    const s = await start(user);
    const secret = s.enrollment.secret;
    const now = ctx.clock.now();
    const cases: [string, string[]][] = [
      ["wrong", ["000000", "111111"]],
      ["the same code twice", [codeAt(secret, now), codeAt(secret, now)]],
      ["reversed", [codeAt(secret, now), codeAt(secret, now - 30 * SECOND)]],
      // Both within the ±1 drift, but two steps apart.
      ["two windows apart", [codeAt(secret, now - 30 * SECOND), codeAt(secret, now + 30 * SECOND)]],
    ];
    for (const [, codes] of cases) {
      const res = await call("POST", CONFIRM, user, { id: s.factor.id, body: { codes } });
      expect({ codes, status: res.status, code: res.body.code }).toEqual({
        codes,
        status: 400,
        code: "MFA_ENROLLMENT_CODES_INVALID",
      });
    }
    const failed = await auditRows(ctx, { app_id: app.id, action: "mfa.enrollment_failed" });
    expect(failed.map((r) => r.details.reason)).toEqual([
      "invalid_code",
      "not_consecutive",
      "not_consecutive",
      "not_consecutive",
    ]);
    for (const r of failed) expect(JSON.stringify(r)).not.toContain(codeAt(secret, now));
    expect((await factorRow(s.factor.id))!.enabledAt).toBeNull();

    for (const body of [{ codes: ["12345", "123456"] }, { codes: ["123456"] }, { codes: "123456" }, {}]) {
      const res = await call("POST", CONFIRM, user, { id: s.factor.id, body });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
    }
  });

  test("another account's factor, or an unknown id, is 404", async () => {
    const s = await start(user);
    const other = await newUser();
    const res = await call("POST", CONFIRM, other, {
      id: s.factor.id,
      body: { codes: pair(s.enrollment.secret) },
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("MFA_FACTOR_NOT_FOUND");
    const del = await call("DELETE", FACTOR, other, { id: s.factor.id });
    expect(del.status).toBe(404);
    expect(del.body.code).toBe("MFA_FACTOR_NOT_FOUND");
    const unknown = await call("DELETE", FACTOR, user, { id: "00000000-0000-0000-0000-000000000000" });
    expect(unknown.status).toBe(404);
    expect(await factorRow(s.factor.id)).toBeDefined();
  });
});

describe("verifyTotp and useRecoveryCode (what the sign-in challenge and step-up call)", () => {
  test("±1 step of drift, not 2; a code of a used step (or an earlier one) is a replay", async () => {
    const f = await enrol(user);
    const verify = async (code: string) =>
      await tx(ctx.deps.db, async () => await ctx.deps.mfa.verifyTotp(app.id, user.userId, code));
    // Enrolment consumed the current step: its code is refused, including the confirmation's own.
    expect(await verify(codeAt(f.secret, ctx.clock.now()))).toBeNull();
    ctx.clock.advance(5 * MINUTE);
    const now = ctx.clock.now();
    expect(await verify(codeAt(f.secret, now - 60 * SECOND))).toBeNull();
    expect(await verify(codeAt(f.secret, now + 60 * SECOND))).toBeNull();
    expect(await verify(codeAt(f.secret, now - 30 * SECOND))).toEqual({ factorId: f.id });
    expect((await factorRow(f.id))!.lastUsedAt).toBe(now);
    // Replay of the same code, and the step before it, are refused; the next window is fine.
    expect(await verify(codeAt(f.secret, now - 30 * SECOND))).toBeNull();
    expect(await verify(codeAt(f.secret, now))).toEqual({ factorId: f.id });
    expect(await verify(codeAt(f.secret, now))).toBeNull();
    expect(await verify(codeAt(f.secret, now + 30 * SECOND))).toEqual({ factorId: f.id });
    expect(await verify("12345")).toBeNull();
    expect(await verify("abcdef")).toBeNull();
  });

  test("a pending factor does not verify; another user's code does not verify", async () => {
    const s = await start(user);
    const code = codeAt(s.enrollment.secret, ctx.clock.now());
    expect(
      await tx(ctx.deps.db, async () => await ctx.deps.mfa.verifyTotp(app.id, user.userId, code)),
    ).toBeNull();
    expect(await ctx.deps.mfa.hasEnabledFactor(app.id, user.userId)).toBe(false);
  });

  test("a recovery code works once, hyphens, spaces and case ignored; the event and audit row name no code", async () => {
    const f = await enrol(user);
    const use = async (code: string) =>
      await tx(ctx.deps.db, async () => await ctx.deps.mfa.useRecoveryCode(app.id, user.userId, code));
    const [a, b] = f.recovery as [string, string];
    expect(await use(a.replaceAll("-", "").toUpperCase())).toBe(true);
    expect(await use(a)).toBe(false);
    expect(await use(` ${b.slice(0, 9)} ${b.slice(10)} `)).toBe(true);
    expect(await use("not-a-code")).toBe(false);
    expect(await use("0000-0000-0000-0000")).toBe(false);
    const other = await newUser();
    expect(
      await tx(
        ctx.deps.db,
        async () => await ctx.deps.mfa.useRecoveryCode(app.id, other.userId, f.recovery[2]!),
      ),
    ).toBe(false);

    const used = await queryRows(
      ctx,
      "SELECT * FROM mfa_recovery_codes WHERE user_id = ? AND used_at IS NOT NULL",
      user.userId,
    );
    expect(used).toHaveLength(2);
    const ev = await events("user.mfa.recovery_code_used");
    expect(ev.map((e) => e.data)).toEqual([
      { user_id: user.userId, remaining: 9 },
      { user_id: user.userId, remaining: 8 },
    ]);
    const audit = await auditRows(ctx, { app_id: app.id, action: "mfa.recovery_code_used" });
    expect(audit).toHaveLength(2);
    for (const row of [...audit, ...ev]) {
      expect(JSON.stringify(row)).not.toContain(a);
      expect(JSON.stringify(row)).not.toContain(a.replaceAll("-", ""));
    }
  });
});

describe("DELETE /me/mfa/factors/{id} and POST /me/mfa/recovery-codes/regenerate", () => {
  /** Ages the session's password proof past the 10-minute window. */
  const stale = () => {
    ctx.clock.advance(11 * MINUTE);
  };

  test("disabling needs a recent password or MFA; the last factor takes its secret and recovery codes with it", async () => {
    const f = await enrol(user);
    const secretId = (await factorRow(f.id))!.secretId;
    stale();
    const refused = await call("DELETE", FACTOR, user, { id: f.id });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("REAUTHENTICATION_REQUIRED");
    expect(await factorRow(f.id)).toBeDefined();

    // A recent MFA proof (sign-in challenge or step-up) counts as much as the password.
    await exec(
      ctx.deps.db,
      sql`UPDATE end_user_sessions SET mfa_at = ${ctx.clock.now()} WHERE id = ${user.sessionId}`,
    );
    const res = await call("DELETE", FACTOR, user, { id: f.id });
    expect(res.status).toBe(204);
    expect(await factorRow(f.id)).toBeUndefined();
    expect(await vaultRow(secretId)).toBeUndefined();
    expect(
      await queryRows(ctx, "SELECT * FROM mfa_recovery_codes WHERE user_id = ?", user.userId),
    ).toHaveLength(0);
    expect(await ctx.deps.mfa.hasEnabledFactor(app.id, user.userId)).toBe(false);

    expect((await events("user.mfa.factor_disabled")).map((e) => e.data)).toEqual([
      { user_id: user.userId, factor_id: f.id, type: "totp", remaining_factors: 0 },
    ]);
    const audit = await auditRows(ctx, { app_id: app.id, action: "mfa.factor_disabled" });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.details).toMatchObject({
      user_id: user.userId,
      was_enabled: true,
      remaining: 0,
      via: "self",
    });
  });

  test("re-authenticating with the password opens the window again; a pending factor needs no proof", async () => {
    const f = await enrol(user);
    const pending = await start(user);
    stale();
    const p = await call("DELETE", FACTOR, user, { id: pending.factor.id });
    expect(p.status).toBe(204);
    expect(await events("user.mfa.factor_disabled")).toHaveLength(0);
    const reauth = await call("POST", "/{app_slug}/v1/me/reauthenticate", user, {
      body: { password: GOOD_PASSWORD },
    });
    expect(reauth.status).toBe(200);
    const res = await call("DELETE", FACTOR, user, { id: f.id });
    expect(res.status).toBe(204);
  });

  test("disabling one of two factors keeps the recovery codes", async () => {
    const a = await enrol(user);
    ctx.clock.advance(MINUTE);
    const b = await start(user);
    await call("POST", CONFIRM, user, { id: b.factor.id, body: { codes: pair(b.enrollment.secret) } });
    const res = await call("DELETE", FACTOR, user, { id: a.id });
    expect(res.status).toBe(204);
    expect(
      await queryRows(ctx, "SELECT * FROM mfa_recovery_codes WHERE user_id = ?", user.userId),
    ).toHaveLength(10);
    expect((await events("user.mfa.factor_disabled"))[0]!.data.remaining_factors).toBe(1);
  });

  test("regenerating replaces the set (old codes stop working) and needs a recent authentication", async () => {
    const none = await call("POST", REGENERATE, user);
    expect(none.status).toBe(409);
    expect(none.body.code).toBe("MFA_NOT_ENABLED");

    const f = await enrol(user);
    stale();
    const refused = await call("POST", REGENERATE, user);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("REAUTHENTICATION_REQUIRED");

    await exec(
      ctx.deps.db,
      sql`UPDATE end_user_sessions SET mfa_at = ${ctx.clock.now()} WHERE id = ${user.sessionId}`,
    );
    const res = await call("POST", REGENERATE, user);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const fresh: string[] = res.body.recovery_codes;
    expect(fresh).toHaveLength(10);
    for (const c of fresh) expect(c).toMatch(RECOVERY_SHAPE);
    expect(
      await queryRows(ctx, "SELECT * FROM mfa_recovery_codes WHERE user_id = ?", user.userId),
    ).toHaveLength(10);
    const use = async (code: string) =>
      await tx(ctx.deps.db, async () => await ctx.deps.mfa.useRecoveryCode(app.id, user.userId, code));
    expect(await use(f.recovery[0]!)).toBe(false);
    expect(await use(fresh[0]!)).toBe(true);
    const audit = await auditRows(ctx, { app_id: app.id, action: "mfa.recovery_codes_regenerated" });
    expect(audit).toHaveLength(1);
    for (const c of fresh) expect(JSON.stringify(audit[0])).not.toContain(c);
  });

  test("deleting the account destroys its factors' sealed secrets", async () => {
    const f = await enrol(user);
    const pending = await start(user);
    const ids = [(await factorRow(f.id))!.secretId, (await factorRow(pending.factor.id))!.secretId];
    const res = await call("DELETE", "/{app_slug}/v1/me", user);
    expect(res.status).toBe(204);
    for (const id of ids) expect(await vaultRow(id)).toBeUndefined();
    expect(await queryRows(ctx, "SELECT * FROM mfa_factors WHERE user_id = ?", user.userId)).toHaveLength(0);
  });
});
