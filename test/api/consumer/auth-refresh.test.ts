/** @module Refresh rotation (retry window, reuse detection), logout, cross-app isolation, and the access token's wire form. */
import { beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { MINUTE, SECOND } from "../../../src/core/clock.ts";
import { sha256Hex } from "../../../src/core/crypto.ts";
import { exec, first } from "../../../src/db/query.ts";
import { createSessionService } from "../../../src/sessions/service.ts";
import { type EndUserTokens, GOOD_PASSWORD, setAuthConfig, signIn, signUp } from "../../support/end-users.ts";
import { auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";

let ctx: TestContext;
let app: { id: string; slug: string };
let other: { id: string; slug: string };
let userId: string;

const post = (slug: string, op: "refresh" | "logout", body: unknown) =>
  ctx.call("POST", `/{app_slug}/v1/auth/${op}`, { params: { app_slug: slug }, body, auth: null });
const refresh = (token: string, slug = app.slug) => post(slug, "refresh", { refresh_token: token });
const logout = (token: string, slug = app.slug) => post(slug, "logout", { refresh_token: token });
const fresh = () => signIn(ctx, app.slug, "erin", GOOD_PASSWORD);
const sessionRow = async (id: string) => {
  const { endUserSessions } = ctx.deps.db.tables;
  return (await first(
    ctx.deps.db.select().from(endUserSessions).where(eq(endUserSessions.id, id)).limit(1),
  ))!;
};

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "refresh-app");
  other = await createApp(ctx, "refresh-other");
  userId = (
    await signUp(ctx, app.slug, { username: "erin", email: "erin@example.com", password: GOOD_PASSWORD })
  ).userId;
  await setAuthConfig(ctx, app.id, { max_sessions: 50 });
});

// Fresh per-minute sign-in windows for each test; the refresh limit (150 per 5 min) is far away.
beforeEach(() => ctx.clock.advance(MINUTE + 1));

describe("access token", () => {
  test("verifies against the served JWKS with iss PUBLIC_URL/slug and aud = slug; header and claims as docs/architecture.md states them", async () => {
    const t = await fresh();
    const jwks = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: { app_slug: app.slug },
      auth: null,
    });
    const { payload, protectedHeader } = await jwtVerify(t.access_token, createLocalJWKSet(jwks.body), {
      issuer: `${PUBLIC_URL}/${app.slug}`,
      audience: app.slug,
      typ: "at+jwt",
      algorithms: ["RS256"],
      currentDate: new Date(ctx.clock.now()),
    });
    expect(protectedHeader).toMatchObject({ alg: "RS256", typ: "at+jwt" });
    expect(protectedHeader.kid).toBeString();
    expect(Object.keys(payload).sort()).toEqual(
      ["amr", "aid", "aud", "client_id", "exp", "iat", "iss", "jti", "role", "sid", "sub", "type"].sort(),
    );
    expect(payload).toMatchObject({
      sub: userId,
      aid: app.id,
      sid: t.sessionId,
      type: "end_user",
      role: "member",
      amr: ["pwd"],
      client_id: app.slug,
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.iat).toBe(Math.floor(ctx.clock.now() / 1000));
  });

  test("does not verify against another app's JWKS", async () => {
    const t = await fresh();
    const jwks = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: { app_slug: other.slug },
      auth: null,
    });
    await expect(
      jwtVerify(t.access_token, createLocalJWKSet(jwks.body), { currentDate: new Date(ctx.clock.now()) }),
    ).rejects.toThrow();
  });
});

describe("rotation", () => {
  test("each refresh returns a new refresh token and a new access token for the same session", async () => {
    const t0 = await fresh();
    const r1 = await refresh(t0.refresh_token);
    expect(r1.status).toBe(200);
    expect(r1.headers.get("cache-control")).toBe("no-store");
    expect(r1.body.token_type).toBe("Bearer");
    expect(r1.body.refresh_token).not.toBe(t0.refresh_token);
    expect(decodeJwt(r1.body.access_token)).toMatchObject({ sub: userId, sid: t0.sessionId, amr: ["pwd"] });
    const r2 = await refresh(r1.body.refresh_token);
    expect(r2.status).toBe(200);
    expect(r2.body.refresh_token).not.toBe(r1.body.refresh_token);
    expect(decodeJwt(r2.body.access_token).sid).toBe(t0.sessionId);
  });

  test("a retry of the same token within 60 s gets the same successor; the session lives on", async () => {
    const t0 = await fresh();
    const first = await refresh(t0.refresh_token);
    ctx.clock.advance(30 * SECOND);
    const retry = await refresh(t0.refresh_token);
    expect(retry.status).toBe(200);
    expect(retry.body.refresh_token).toBe(first.body.refresh_token);
    expect(decodeJwt(retry.body.access_token).jti).not.toBe(decodeJwt(first.body.access_token).jti);
    expect((await sessionRow(t0.sessionId)).revokedAt).toBeNull();
    expect((await refresh(first.body.refresh_token)).status).toBe(200);
  });

  test("two concurrent refreshes of one token both succeed with the same successor", async () => {
    const t0 = await fresh();
    const [a, b] = await Promise.all([refresh(t0.refresh_token), refresh(t0.refresh_token)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.refresh_token).toBe(b.body.refresh_token);
    expect((await ctx.deps.sessions.liveOfUser(userId)).some((s) => s.id === t0.sessionId)).toBe(true);
  });

  // Two instances on one database (on PostgreSQL each refresh runs on its own pooled connection): the session
  // row is locked in the refresh's transaction, so whichever comes second sees the first's rotation as a retry.
  test("concurrent refreshes of one token through two services on one database all get the same successor", async () => {
    const t0 = await fresh();
    const { db, secrets, audit } = ctx.deps;
    const other = createSessionService({ db, clock: ctx.clock, secrets, audit });
    const results = await Promise.all(
      [ctx.deps.sessions, other, ctx.deps.sessions, other].map((s) => s.rotate(app.id, t0.refresh_token, {})),
    );
    expect(new Set(results.map((r) => r.refreshToken)).size).toBe(1);
    expect(results.every((r) => r.session.id === t0.sessionId)).toBe(true);
    const row = await sessionRow(t0.sessionId);
    expect(row.revokedAt).toBeNull();
    expect(row.refreshHash).toBe(sha256Hex(results[0]!.refreshToken));
    expect(row.prevRefreshHash).toBe(sha256Hex(t0.refresh_token));
    expect((await refresh(results[0]!.refreshToken)).status).toBe(200);
  });

  test("the predecessor replayed after 60 s revokes the session (audit session.refresh_reuse_detected)", async () => {
    const t0 = await fresh();
    const t1 = await refresh(t0.refresh_token);
    ctx.clock.advance(61 * SECOND);
    const replay = await refresh(t0.refresh_token);
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe("INVALID_REFRESH_TOKEN");
    expect(await sessionRow(t0.sessionId)).toMatchObject({ revokeReason: "refresh_reuse" });
    expect(
      (await auditRows(ctx, { app_id: app.id, action: "session.refresh_reuse_detected" })).some(
        (r) => r.resource_id === t0.sessionId,
      ),
    ).toBe(true);
    // The legitimate holder's current token dies with the session.
    const current = await refresh(t1.body.refresh_token);
    expect(current.status).toBe(401);
    expect(current.body.code).toBe("INVALID_REFRESH_TOKEN");
  });

  test("the predecessor replayed once its successor has been used (even within 60 s) revokes the session", async () => {
    const t0 = await fresh();
    const t1 = await refresh(t0.refresh_token);
    const t2 = await refresh(t1.body.refresh_token);
    expect(t2.status).toBe(200);
    const replay = await refresh(t0.refresh_token);
    expect(replay.status).toBe(401);
    expect((await sessionRow(t0.sessionId)).revokedAt).not.toBeNull();
    expect((await refresh(t2.body.refresh_token)).status).toBe(401);
  });

  test("a token two rotations old revokes the session and is audited", async () => {
    const t0 = await fresh();
    const t1 = await refresh(t0.refresh_token);
    const t2 = await refresh(t1.body.refresh_token);
    const t3 = await refresh(t2.body.refresh_token);
    expect(t3.status).toBe(200);
    const before = (await auditRows(ctx, { app_id: app.id, action: "session.refresh_reuse_detected" }))
      .length;
    const replay = await refresh(t0.refresh_token);
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe("INVALID_REFRESH_TOKEN");
    const rows = await auditRows(ctx, { app_id: app.id, action: "session.refresh_reuse_detected" });
    expect(rows).toHaveLength(before + 1);
    expect(rows.at(-1)).toMatchObject({
      resource_id: t0.sessionId,
      actor_type: "end_user",
      actor_id: userId,
    });
    expect((await refresh(t3.body.refresh_token)).status).toBe(401);
  });

  test("a role change shows in the next access token", async () => {
    const t0 = await fresh();
    await exec(ctx.deps.db, sql`UPDATE end_users SET role = 'editor' WHERE id = ${userId}`);
    try {
      const r = await refresh(t0.refresh_token);
      expect(decodeJwt(r.body.access_token).role).toBe("editor");
    } finally {
      await exec(ctx.deps.db, sql`UPDATE end_users SET role = 'member' WHERE id = ${userId}`);
    }
  });

  test("a suspended account cannot refresh → 403 ACCOUNT_SUSPENDED", async () => {
    const frank = await signUp(ctx, app.slug, {
      username: "frank",
      email: "frank@example.com",
      password: GOOD_PASSWORD,
    });
    await exec(ctx.deps.db, sql`UPDATE end_users SET status = 'suspended' WHERE id = ${frank.userId}`);
    const res = await refresh(frank.refresh_token);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("ACCOUNT_SUSPENDED");
  });

  test("an expired session cannot refresh; the access token was capped at its end", async () => {
    await setAuthConfig(ctx, app.id, { session_duration_minutes: 10 });
    try {
      const t = await fresh();
      expect(t.expires_in).toBe(600);
      ctx.clock.advance(5 * MINUTE);
      const mid = await refresh(t.refresh_token);
      expect(mid.status).toBe(200);
      expect(mid.body.expires_in).toBe(300);
      ctx.clock.advance(5 * MINUTE + 1);
      const late = await refresh(mid.body.refresh_token);
      expect(late.status).toBe(401);
      expect(late.body.code).toBe("INVALID_REFRESH_TOKEN");
    } finally {
      await setAuthConfig(ctx, app.id, { session_duration_minutes: 10080 });
    }
  });

  const garbage = [
    { name: "an unknown token", token: `hrt_${"A".repeat(43)}` },
    { name: "a token without the prefix", token: "not-a-refresh-token" },
    { name: "an access token", token: "eyJhbGciOiJSUzI1NiJ9.e30.sig" },
  ];
  for (const g of garbage) {
    test(`${g.name} → 401 INVALID_REFRESH_TOKEN`, async () => {
      const res = await refresh(g.token);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("INVALID_REFRESH_TOKEN");
    });
  }

  const malformed: Array<{ name: string; body: unknown }> = [
    { name: "no refresh_token", body: {} },
    { name: "refresh_token of the wrong type", body: { refresh_token: 12 } },
    { name: "an empty refresh_token", body: { refresh_token: "" } },
  ];
  for (const m of malformed) {
    test(`${m.name} → 400 VALIDATION_ERROR`, async () => {
      for (const op of ["refresh", "logout"] as const) {
        const res = await post(app.slug, op, m.body);
        expect(res.status).toBe(400);
        expect(res.body.code).toBe("VALIDATION_ERROR");
        expect(res.body.details[0].field).toBe("refresh_token");
      }
    });
  }
});

describe("logout", () => {
  test("→ 204, the session ends, refresh then fails; audit session.revoked (reason logout) once", async () => {
    const t = await fresh();
    const res = await logout(t.refresh_token);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(await sessionRow(t.sessionId)).toMatchObject({ revokeReason: "logout" });
    expect(ctx.deps.sessions.isLive(await ctx.deps.sessions.facts(t.sessionId))).toBe(false);
    const after = await refresh(t.refresh_token);
    expect(after.status).toBe(401);
    expect(after.body.code).toBe("INVALID_REFRESH_TOKEN");

    // Idempotent: the same token again is still 204, and nothing more is recorded.
    expect((await logout(t.refresh_token)).status).toBe(204);
    const rows = await auditRows(ctx, {
      app_id: app.id,
      action: "session.revoked",
      resource_id: t.sessionId,
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor_type: "end_user", actor_id: userId });
    expect(rows[0]!.details).toEqual({ reason: "logout", user_id: userId });
  });

  test("only the session of the token ends; the user's other sessions stay", async () => {
    const a = await fresh();
    const b = await fresh();
    expect((await logout(a.refresh_token)).status).toBe(204);
    expect((await refresh(b.refresh_token)).status).toBe(200);
  });

  test("with a rotated-out token of the session's history, the session still ends", async () => {
    const t0 = await fresh();
    const t1 = await refresh(t0.refresh_token);
    expect((await logout(t0.refresh_token)).status).toBe(204);
    expect((await refresh(t1.body.refresh_token)).status).toBe(401);
  });

  test("an unknown or malformed token → 204, nothing recorded", async () => {
    const before = (await auditRows(ctx, { app_id: app.id, action: "session.revoked" })).length;
    expect((await logout(`hrt_${"B".repeat(43)}`)).status).toBe(204);
    expect((await logout("garbage")).status).toBe(204);
    expect(await auditRows(ctx, { app_id: app.id, action: "session.revoked" })).toHaveLength(before);
  });
});

describe("cross-app isolation", () => {
  let t: EndUserTokens;
  beforeAll(async () => {
    t = await fresh();
  });

  test("app A's refresh token presented to app B → 401, and A's session is untouched", async () => {
    const res = await refresh(t.refresh_token, other.slug);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_REFRESH_TOKEN");
    expect((await sessionRow(t.sessionId)).revokedAt).toBeNull();
    expect(await auditRows(ctx, { app_id: other.id, action: "session.refresh_reuse_detected" })).toHaveLength(
      0,
    );
  });

  test("app A's refresh token cannot log out of app B, nor end A's session from there", async () => {
    expect((await logout(t.refresh_token, other.slug)).status).toBe(204);
    expect((await sessionRow(t.sessionId)).revokedAt).toBeNull();
    const res = await refresh(t.refresh_token);
    expect(res.status).toBe(200);
  });
});
