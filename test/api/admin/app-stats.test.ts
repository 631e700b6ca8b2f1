/**
 * @module GET /v1/apps/{app_id}/stats (appliance addition, the console's overview figures): end users, live
 * sessions and the last 24 hours' sign-ins counted from the audit log; read access as any Admin read.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HOUR } from "../../../src/core/clock.ts";
import { GOOD_PASSWORD, signIn, signUp } from "../../support/end-users.ts";
import { type AppBody, auditRows, createApp } from "../../support/fixtures.ts";
import {
  BOOT_EMAIL,
  BOOT_PASSWORD,
  type CallOptions,
  createTestContext,
  type TestContext,
} from "../../support/harness.ts";

const STATS = "/v1/apps/{app_id}/stats";
let ctx: TestContext;
let app: AppBody;
let other: AppBody;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "stats-app");
  other = await createApp(ctx, "stats-other");
});
afterAll(() => ctx.deps.db.$client.close());

const stats = (appId: string, opts: Pick<CallOptions, "auth"> = {}) =>
  ctx.call("GET", STATS, { params: { app_id: appId }, unchecked: true, ...opts });

describe("GET /v1/apps/{app_id}/stats", () => {
  test("a new app: all zero", async () => {
    const res = await stats(app.id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ end_users: 0, active_sessions: 0, sign_ins_24h: 0, failed_sign_ins_24h: 0 });
  });

  test("counts users, live sessions and the day's sign-ins; revoked sessions and old sign-ins drop out", async () => {
    const ada = await signUp(ctx, app.slug, {
      username: "ada",
      email: "ada@example.com",
      password: GOOD_PASSWORD,
    });
    await signUp(ctx, app.slug, { username: "bob", email: "bob@example.com", password: GOOD_PASSWORD });
    await signIn(ctx, app.slug, "ada", GOOD_PASSWORD);
    const wrong = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
      params: { app_slug: app.slug },
      body: { identifier: "ada", password: "not-the-password-at-all" },
      auth: null,
    });
    expect(wrong.status).toBe(401);
    // Another app's users and sign-ins are not counted here.
    await signUp(ctx, other.slug, { username: "eve", email: "eve@example.com", password: GOOD_PASSWORD });

    const signedIn = (await auditRows(ctx, { app_id: app.id, action: "user.signed_in" })).length;
    const res = await stats(app.slug);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      end_users: 2,
      active_sessions: 3,
      sign_ins_24h: signedIn,
      failed_sign_ins_24h: 1,
    });
    expect(signedIn).toBeGreaterThanOrEqual(1);

    // Revoking ada's sessions takes them out of the live count at once.
    const revoke = await ctx.call("POST", "/v1/apps/{app_id}/end-users/{user_id}/sessions/revoke-all", {
      params: { app_id: app.id, user_id: ada.userId },
    });
    expect(revoke.status).toBe(204);
    expect((await stats(app.id)).body.active_sessions).toBe(1);

    // A day later the sign-ins have left the window; the users remain.
    ctx.clock.advance(25 * HOUR);
    const later = await stats(app.id);
    expect(later.body.end_users).toBe(2);
    expect(later.body.sign_ins_24h).toBe(0);
    expect(later.body.failed_sign_ins_24h).toBe(0);
  });

  test("a read, not audited; unknown app 404; no credential 401; a platform session cookie reads it too", async () => {
    const before = (await auditRows(ctx, { app_id: app.id })).length;
    await stats(app.id);
    expect((await auditRows(ctx, { app_id: app.id })).length).toBe(before);

    const missing = await stats("00000000-0000-4000-8000-000000000000");
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("APP_NOT_FOUND");

    const anonymous = await stats(app.id, { auth: null });
    expect(anonymous.status).toBe(401);

    const signin = await ctx.call("POST", "/v1/auth/signin", {
      body: { identifier: BOOT_EMAIL, password: BOOT_PASSWORD },
      auth: null,
    });
    expect(signin.status).toBe(200);
    const viaCookie = await stats(app.id, { auth: { cookie: signin.body.access_token } });
    expect(viaCookie.status).toBe(200);
    expect(Object.keys(viaCookie.body).sort()).toEqual([
      "active_sessions",
      "end_users",
      "failed_sign_ins_24h",
      "sign_ins_24h",
    ]);
  });
});
