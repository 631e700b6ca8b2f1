/**
 * @module `POST /{app_slug}/v1/auth/accept-invite`: the account it creates (verified email, invited role, the
 * token pair sign-up returns), the counted use and its compare-and-set under concurrency, every refusal
 * (404, 410 revoked/expired/used up, 409, 400), the throttles, and the audit rows and event.
 */
import { beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { decodeJwt } from "jose";
import { HOUR, MINUTE } from "../../../src/core/clock.ts";
import { ACCEPT_LOCK_AFTER_FAILURES, ACCEPTS_PER_CODE } from "../../../src/invites/service.ts";
import {
  GOOD_PASSWORD,
  queryRow,
  queryRows,
  setAuthConfig,
  signIn,
  signUp,
} from "../../support/end-users.ts";
import { auditRows, createApp, type TestApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";

const ACCEPT = "/{app_slug}/v1/auth/accept-invite";

let ctx: TestContext;
let app: TestApp;
let other: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "accept-app");
  other = await createApp(ctx, "accept-other");
});

// Every accept counter (flood guard, per code, failures, lock) runs on windows of at most 15 minutes.
beforeEach(() => ctx.clock.advance(16 * MINUTE));

async function invite(body: Record<string, unknown>, appId = app.id): Promise<{ id: string; code: string }> {
  const res = await ctx.call("POST", "/v1/apps/{app_id}/end-users/invites", {
    params: { app_id: appId },
    body,
  });
  expect(res.status).toBe(201);
  return res.body;
}
const accept = (body: Record<string, unknown>, slug = app.slug) =>
  ctx.call("POST", ACCEPT, { params: { app_slug: slug }, body, auth: null });

async function eventsOf(type: string) {
  const rows = await queryRows(
    ctx,
    "SELECT data FROM events WHERE app_id = ? AND type = ? ORDER BY created_at, id",
    app.id,
    type,
  );
  // jsonb arrives parsed on PostgreSQL, as text on SQLite.
  return rows.map(
    (r) => (typeof r.data === "string" ? JSON.parse(r.data) : r.data) as Record<string, unknown>,
  );
}

describe("accepting an invite", () => {
  test("200: the token pair; an account with the invited role, the email verified, one use counted", async () => {
    const inv = await invite({ email: "Ada@Example.test", role_name: "admin" });
    const res = await accept({ code: inv.code, password: GOOD_PASSWORD, display_name: "Ada L." });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body).toMatchObject({ token_type: "Bearer", expires_in: expect.any(Number) });
    const claims = decodeJwt(res.body.access_token);
    expect(claims).toMatchObject({ type: "end_user", role: "admin", amr: ["pwd"] });
    const user = (await queryRow(ctx, "SELECT * FROM end_users WHERE id = ?", claims.sub as string))!;
    // No username given: derived from the address's local part, as the Admin API's create does.
    expect(user).toMatchObject({
      app_id: app.id,
      username: "ada",
      display_name: "Ada L.",
      role: "admin",
      status: "active",
    });
    const { endUserContacts } = ctx.deps.db.tables;
    expect(
      (
        await ctx.deps.db
          .select()
          .from(endUserContacts)
          .where(eq(endUserContacts.userId, user.id as string))
      )[0],
    ).toMatchObject({
      type: "email",
      value: "ada@example.test",
      isPrimary: true,
      verifiedAt: ctx.clock.now(),
    });
    expect(await queryRow(ctx, "SELECT use_count FROM end_user_invites WHERE id = ?", inv.id)).toEqual({
      use_count: 1,
    });
    // The session is live: the access token works on /me, and the refresh token refreshes.
    const me = await ctx.call("GET", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: { bearer: res.body.access_token },
    });
    expect(me.status).toBe(200);
    const refreshed = await ctx.call("POST", "/{app_slug}/v1/auth/refresh", {
      params: { app_slug: app.slug },
      body: { refresh_token: res.body.refresh_token },
      auth: null,
    });
    expect(refreshed.status).toBe(200);
    // The email was proven: it signs in at once.
    expect((await signIn(ctx, app.slug, "ada@example.test", GOOD_PASSWORD)).userId).toBe(user.id as string);

    const [signedUp] = await auditRows(ctx, { action: "user.signed_up", resource_id: user.id as string });
    expect(signedUp).toMatchObject({ actor_type: "end_user", actor_id: user.id });
    expect(signedUp!.details).toMatchObject({
      username: "ada",
      role: "admin",
      via: "invite",
      invite_id: inv.id,
    });
    const [accepted] = await auditRows(ctx, { action: "invite.accepted", resource_id: inv.id });
    expect(accepted!.details).toEqual({ user_id: user.id, use_count: 1, max_uses: 1 });
    expect((await eventsOf("user.signup")).at(-1)).toEqual({
      user_id: user.id,
      username: "ada",
      email: "ada@example.test",
      role: "admin",
      via: "invite",
      actor: { type: "end_user", id: user.id },
      invite_id: inv.id,
    });
    expect(JSON.stringify([signedUp, accepted, await eventsOf("user.signup")])).not.toContain(inv.code);
  });

  test("a username may be chosen; sign-up being off does not stop an invite", async () => {
    await setAuthConfig(ctx, app.id, { signup_enabled: false });
    try {
      const inv = await invite({ email: "grace@example.test" });
      const res = await accept({ code: inv.code, password: GOOD_PASSWORD, username: "Grace_H" });
      expect(res.status).toBe(200);
      const claims = decodeJwt(res.body.access_token);
      expect(
        await queryRow(ctx, "SELECT username, role FROM end_users WHERE id = ?", claims.sub as string),
      ).toEqual({
        username: "grace_h",
        role: "member",
      });
    } finally {
      await setAuthConfig(ctx, app.id, { signup_enabled: true });
    }
  });

  test("a used-up single-use invite → 410 INVITE_EXPIRED", async () => {
    const inv = await invite({ email: "used@example.test" });
    expect((await accept({ code: inv.code, password: GOOD_PASSWORD })).status).toBe(200);
    const again = await accept({ code: inv.code, password: GOOD_PASSWORD, username: "someone-else" });
    expect(again.status).toBe(410);
    expect(again.body.code).toBe("INVITE_EXPIRED");
  });

  test("max_uses counts accepts: the address may come back after its account is deleted, until the uses run out", async () => {
    const inv = await invite({ email: "twice@example.test", max_uses: 2 });
    for (const n of [1, 2]) {
      const res = await accept({ code: inv.code, password: GOOD_PASSWORD });
      expect(res.status).toBe(200);
      expect(await queryRow(ctx, "SELECT use_count FROM end_user_invites WHERE id = ?", inv.id)).toEqual({
        use_count: n,
      });
      const del = await ctx.call("DELETE", "/v1/apps/{app_id}/end-users/{user_id}", {
        params: { app_id: app.id, user_id: decodeJwt(res.body.access_token).sub as string },
      });
      expect(del.status).toBe(204);
    }
    const third = await accept({ code: inv.code, password: GOOD_PASSWORD });
    expect(third.status).toBe(410);
    expect(third.body.code).toBe("INVITE_EXPIRED");
  });

  test("two accepts of a single-use invite at once: one account, one 410", async () => {
    const inv = await invite({ email: "race@example.test" });
    const results = await Promise.all([
      accept({ code: inv.code, password: GOOD_PASSWORD, username: "racer-one" }),
      accept({ code: inv.code, password: GOOD_PASSWORD, username: "racer-two" }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 410]);
    expect(results.find((r) => r.status === 410)!.body.code).toBe("INVITE_EXPIRED");
    expect(
      await queryRows(ctx, "SELECT id FROM end_user_contacts WHERE value = 'race@example.test'"),
    ).toHaveLength(1);
    expect(await queryRow(ctx, "SELECT use_count FROM end_user_invites WHERE id = ?", inv.id)).toEqual({
      use_count: 1,
    });
  });
});

describe("refusals", () => {
  test("a revoked invite (or one superseded by a newer one) → 410 INVITE_EXPIRED", async () => {
    const inv = await invite({ email: "revoked@example.test" });
    const newer = await invite({ email: "revoked@example.test" });
    const superseded = await accept({ code: inv.code, password: GOOD_PASSWORD });
    expect(superseded.status).toBe(410);
    expect(superseded.body.code).toBe("INVITE_EXPIRED");
    const del = await ctx.call("DELETE", "/v1/apps/{app_id}/end-users/invites/{invite_id}", {
      params: { app_id: app.id, invite_id: newer.id },
    });
    expect(del.status).toBe(204);
    const revoked = await accept({ code: newer.code, password: GOOD_PASSWORD });
    expect(revoked.status).toBe(410);
    expect(revoked.body.code).toBe("INVITE_EXPIRED");
    expect(
      await queryRow(ctx, "SELECT id FROM end_user_contacts WHERE value = 'revoked@example.test'"),
    ).toBeUndefined();
  });

  test("an expired invite → 410 INVITE_EXPIRED (expiry read from the injected clock)", async () => {
    const inv = await invite({ email: "late@example.test", expires_in_hours: 2 });
    ctx.clock.advance(2 * HOUR);
    const res = await accept({ code: inv.code, password: GOOD_PASSWORD });
    expect(res.status).toBe(410);
    expect(res.body.code).toBe("INVITE_EXPIRED");
  });

  test.each([
    ["an unknown code", () => `inv_${"A".repeat(43)}`],
    ["a malformed code", () => "not-a-code"],
  ])("%s → 404 INVITE_NOT_FOUND", async (_name, code) => {
    const res = await accept({ code: code(), password: GOOD_PASSWORD });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("INVITE_NOT_FOUND");
  });

  test("another app's code → 404 INVITE_NOT_FOUND, and that invite stays unused", async () => {
    const inv = await invite({ email: "elsewhere@example.test" }, other.id);
    const res = await accept({ code: inv.code, password: GOOD_PASSWORD });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("INVITE_NOT_FOUND");
    expect(await queryRow(ctx, "SELECT use_count FROM end_user_invites WHERE id = ?", inv.id)).toEqual({
      use_count: 0,
    });
    expect((await accept({ code: inv.code, password: GOOD_PASSWORD }, other.slug)).status).toBe(200);
  });

  test("the address got an account since the invite → 409 EMAIL_TAKEN, no use counted", async () => {
    const inv = await invite({ email: "quick@example.test" });
    await signUp(ctx, app.slug, { username: "quick", email: "quick@example.test", password: GOOD_PASSWORD });
    const res = await accept({ code: inv.code, password: GOOD_PASSWORD, username: "quick-2" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("EMAIL_TAKEN");
    expect(await queryRow(ctx, "SELECT use_count FROM end_user_invites WHERE id = ?", inv.id)).toEqual({
      use_count: 0,
    });
  });

  test("a taken username → 409 USERNAME_TAKEN; a weak password → 400 WEAK_PASSWORD; the invite stays usable", async () => {
    await signUp(ctx, app.slug, {
      username: "occupied",
      email: "occupied@example.test",
      password: GOOD_PASSWORD,
    });
    const inv = await invite({ email: "newcomer@example.test" });
    const taken = await accept({ code: inv.code, password: GOOD_PASSWORD, username: "occupied" });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe("USERNAME_TAKEN");
    const weak = await accept({ code: inv.code, password: "short" });
    expect(weak.status).toBe(400);
    expect(weak.body.code).toBe("WEAK_PASSWORD");
    expect((await accept({ code: inv.code, password: GOOD_PASSWORD })).status).toBe(200);
  });

  test.each([
    ["no code", { password: GOOD_PASSWORD }],
    ["no password", { code: `inv_${"B".repeat(43)}` }],
    ["a bad username", { code: `inv_${"B".repeat(43)}`, password: GOOD_PASSWORD, username: "a@b" }],
    ["an unknown field", { code: `inv_${"B".repeat(43)}`, password: GOOD_PASSWORD, email: "x@example.test" }],
  ])("%s → 400 VALIDATION_ERROR", async (_name, body) => {
    const res = await accept(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
  });
});

describe("throttles", () => {
  test(`${ACCEPT_LOCK_AFTER_FAILURES} unknown codes from one address lock it out for 15 minutes, right codes included`, async () => {
    const inv = await invite({ email: "patient@example.test" });
    for (let i = 0; i < ACCEPT_LOCK_AFTER_FAILURES; i++) {
      expect((await accept({ code: `inv_${"C".repeat(43)}`, password: GOOD_PASSWORD })).status).toBe(404);
    }
    const locked = await accept({ code: inv.code, password: GOOD_PASSWORD });
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe("RATE_LIMITED");
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    ctx.clock.advance(16 * MINUTE);
    expect((await accept({ code: inv.code, password: GOOD_PASSWORD })).status).toBe(200);
  });

  test(`one code takes ${ACCEPTS_PER_CODE} attempts per 15 minutes`, async () => {
    const inv = await invite({ email: "many@example.test" });
    for (let i = 0; i < ACCEPTS_PER_CODE; i++) {
      expect((await accept({ code: inv.code, password: "weak" })).status).toBe(400);
    }
    const refused = await accept({ code: inv.code, password: GOOD_PASSWORD });
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe("RATE_LIMITED");
  });
});
