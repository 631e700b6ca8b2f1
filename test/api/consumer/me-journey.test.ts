/** @module `/me*` end to end with real sign-up, sign-in and refresh: what a customer's app sees over one account's life. */
import { beforeAll, describe, expect, test } from "bun:test";
import { GOOD_PASSWORD, signIn, signUp } from "../../support/end-users.ts";
import { createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";

let ctx: TestContext;
let slug: string;

beforeAll(async () => {
  ctx = await createTestContext();
  slug = (await createApp(ctx, "journey-app")).slug;
});

const NEW_PASSWORD = "Saffron-Meadow-83-Compass";

describe("one account's life through the Consumer API", () => {
  test("sign up, read the profile, change the password from one device, delete the account", async () => {
    const web = await signUp(ctx, slug, {
      username: "Journey",
      email: "Journey@Example.test",
      password: GOOD_PASSWORD,
    });
    const auth = { bearer: web.access_token };
    const profile = await ctx.call("GET", "/{app_slug}/v1/me", { params: { app_slug: slug }, auth });
    expect(profile.status).toBe(200);
    expect(profile.body).toMatchObject({
      id: web.userId,
      username: "journey",
      email: "journey@example.test",
    });

    const mobile = await signIn(ctx, slug, "journey", GOOD_PASSWORD);
    const sessions = await ctx.call("GET", "/{app_slug}/v1/me/sessions", {
      params: { app_slug: slug },
      auth,
    });
    expect(sessions.body.data.map((s: { id: string }) => s.id).sort()).toEqual(
      [web.sessionId, mobile.sessionId].sort(),
    );

    const changed = await ctx.call("POST", "/{app_slug}/v1/me/change-password", {
      params: { app_slug: slug },
      auth,
      body: { current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD },
    });
    expect(changed.status).toBe(204);

    // The other device can no longer refresh; the calling one can.
    const stale = await ctx.call("POST", "/{app_slug}/v1/auth/refresh", {
      params: { app_slug: slug },
      auth: null,
      body: { refresh_token: mobile.refresh_token },
    });
    expect(stale.status).toBe(401);
    expect(stale.body.code).toBe("INVALID_REFRESH_TOKEN");
    const fresh = await ctx.call("POST", "/{app_slug}/v1/auth/refresh", {
      params: { app_slug: slug },
      auth: null,
      body: { refresh_token: web.refresh_token },
    });
    expect(fresh.status).toBe(200);

    const oldPassword = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
      params: { app_slug: slug },
      auth: null,
      body: { identifier: "journey", password: GOOD_PASSWORD },
    });
    expect(oldPassword.status).toBe(401);
    expect(oldPassword.body.code).toBe("INVALID_CREDENTIALS");
    await signIn(ctx, slug, "journey", NEW_PASSWORD);

    const activity = await ctx.call("GET", "/{app_slug}/v1/me/activity", {
      params: { app_slug: slug },
      auth: { bearer: fresh.body.access_token },
    });
    const actions = activity.body.data.map((e: { action: string }) => e.action);
    expect(actions).toContain("user.password_changed");
    expect(actions).toContain("user.signed_up");

    const gone = await ctx.call("DELETE", "/{app_slug}/v1/me", {
      params: { app_slug: slug },
      auth: { bearer: fresh.body.access_token },
    });
    expect(gone.status).toBe(204);
    const after = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
      params: { app_slug: slug },
      auth: null,
      body: { identifier: "journey", password: NEW_PASSWORD },
    });
    expect(after.status).toBe(401);
    expect(after.body.code).toBe("INVALID_CREDENTIALS");
    // The name is free for a new account.
    await signUp(ctx, slug, { username: "journey", email: "journey@example.test", password: GOOD_PASSWORD });
  });
});
