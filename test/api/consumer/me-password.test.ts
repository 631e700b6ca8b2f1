/** @module POST `/{app_slug}/v1/me/change-password`: proof of the current password, policy, other sessions ended, guessing bounded. */
import { beforeAll, describe, expect, test } from "bun:test";
import { MINUTE, SECOND } from "../../../src/core/clock.ts";
import { auditRows, createApp, openSession, userRow } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import {
  bearer,
  createUser,
  DEFAULT_PASSWORD,
  sessionRow,
  type TestApp,
  type TestUser,
} from "./me-fixtures.ts";

let ctx: TestContext;
let app: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "password-app");
});

const NEW_PASSWORD = "an entirely new passphrase";

const change = (u: { token: string }, body: unknown) =>
  ctx.call("POST", "/{app_slug}/v1/me/change-password", {
    params: { app_slug: app.slug },
    auth: bearer(u),
    body,
  });
const profile = (u: { token: string }) =>
  ctx.call("GET", "/{app_slug}/v1/me", { params: { app_slug: app.slug }, auth: bearer(u) });

describe("a successful change", () => {
  let u: TestUser;
  let laptop: { sessionId: string; token: string };
  let phone: { sessionId: string; token: string };
  let stranger: TestUser;

  beforeAll(async () => {
    u = await createUser(ctx, app, "changer");
    laptop = await openSession(ctx, app, u.id);
    phone = await openSession(ctx, app, u.id);
    stranger = await createUser(ctx, app, "not-me");
    const res = await change(u, { current_password: DEFAULT_PASSWORD, new_password: NEW_PASSWORD });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
  });

  test("stores a new hash that verifies the new password only, and stamps password_changed_at", async () => {
    const row = (await userRow(ctx, u.id))!;
    expect(row.passwordChangedAt).toBe(ctx.clock.now());
    expect(await ctx.deps.passwords.verify(row.passwordHash!, NEW_PASSWORD)).toBe(true);
    expect(await ctx.deps.passwords.verify(row.passwordHash!, DEFAULT_PASSWORD)).toBe(false);
  });

  test("ends every other session of the account at once, and keeps the calling one", async () => {
    for (const s of [laptop, phone]) {
      expect(await sessionRow(ctx, s.sessionId)).toMatchObject({ revokeReason: "password_changed" });
      const res = await profile(s);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("TOKEN_REVOKED");
    }
    expect((await sessionRow(ctx, u.sessionId))!.revokedAt).toBeNull();
    expect((await profile(u)).status).toBe(200);
  });

  test("leaves other accounts' sessions alone", async () => {
    expect((await profile(stranger)).status).toBe(200);
  });

  test("records user.password_changed with the number of sessions ended", async () => {
    const rows = await auditRows(ctx, { app_id: app.id, action: "user.password_changed", resource_id: u.id });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_type: "end_user",
      actor_id: u.id,
      resource_type: "user",
      details: { revoked_sessions: 2 },
    });
  });

  test("the old password is now the wrong current password", async () => {
    const res = await change(u, {
      current_password: DEFAULT_PASSWORD,
      new_password: "yet another passphrase",
    });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_CREDENTIALS");
  });
});

describe("refusals", () => {
  let u: TestUser;
  beforeAll(async () => {
    u = await createUser(ctx, app, "refused");
  });

  test("a wrong current password is 401 INVALID_CREDENTIALS, changes nothing and is recorded", async () => {
    const before = (await userRow(ctx, u.id))!.passwordHash;
    const res = await change(u, { current_password: "not my password at all", new_password: NEW_PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_CREDENTIALS");
    expect((await userRow(ctx, u.id))!.passwordHash).toBe(before);
    const rows = await auditRows(ctx, {
      app_id: app.id,
      action: "user.password_change_failed",
      resource_id: u.id,
    });
    expect(rows.at(-1)).toMatchObject({ actor_id: u.id, details: { reason: "invalid_current_password" } });
  });

  test("an account without a password credential is 401 INVALID_CREDENTIALS", async () => {
    const p = await createUser(ctx, app, "provisioned", { password: null });
    const res = await change(p, { current_password: "anything goes here", new_password: NEW_PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_CREDENTIALS");
    expect((await userRow(ctx, p.id))!.passwordHash).toBeNull();
  });

  const weak: [string, string, string[]][] = [
    ["shorter than the app's minimum", "qzv8kx", ["too_short"]],
    ["a common password", "QwertyUIOP123", ["common_password"]],
    ["the same as the current one", DEFAULT_PASSWORD, ["same_as_current"]],
    ["over the length cap", "x".repeat(300), ["too_long"]],
  ];
  test.each(weak)("a new password %s is 400 WEAK_PASSWORD", async (_name, newPassword, reasons) => {
    const before = (await userRow(ctx, u.id))!.passwordHash;
    const res = await change(u, { current_password: DEFAULT_PASSWORD, new_password: newPassword });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("WEAK_PASSWORD");
    expect(res.body.details).toEqual(reasons.map((reason) => ({ field: "new_password", reason })));
    expect((await userRow(ctx, u.id))!.passwordHash).toBe(before);
  });

  test("a new password equal to the username is refused as common_password", async () => {
    const n = await createUser(ctx, app, "username-as-password");
    const res = await change(n, { current_password: DEFAULT_PASSWORD, new_password: "Username-As-Password" });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: "new_password", reason: "common_password" }]);
  });

  test("a new password equal to the account's email is refused as common_password", async () => {
    const e = await createUser(ctx, app, "mailname", { email: "mailname.long@example.test" });
    const res = await change(e, {
      current_password: DEFAULT_PASSWORD,
      new_password: "MailName.Long@example.test",
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toContainEqual({ field: "new_password", reason: "common_password" });
  });

  test("the app's stricter policy applies", async () => {
    const strict = await createApp(ctx, "password-strict");
    const patched = await ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", {
      params: { app_id: strict.id },
      body: {
        password_require_uppercase: true,
        password_require_number: true,
        password_require_symbol: true,
      },
    });
    expect(patched.status).toBe(200);
    const s = await createUser(ctx, strict, "strict-user");
    const res = await ctx.call("POST", "/{app_slug}/v1/me/change-password", {
      params: { app_slug: strict.slug },
      auth: bearer(s),
      body: { current_password: DEFAULT_PASSWORD, new_password: "lowercaseonlywords" },
    });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d: { reason: string }) => d.reason)).toEqual([
      "missing_uppercase",
      "missing_number",
      "missing_symbol",
    ]);
  });

  const invalid: [string, unknown, string][] = [
    ["no current_password", { new_password: NEW_PASSWORD }, "current_password"],
    ["no new_password", { current_password: DEFAULT_PASSWORD }, "new_password"],
    ["an empty current_password", { current_password: "", new_password: NEW_PASSWORD }, "current_password"],
    [
      "a numeric new_password",
      { current_password: DEFAULT_PASSWORD, new_password: 12345678901234 },
      "new_password",
    ],
    ["no body", undefined, "body"],
  ];
  test.each(invalid)("%s is 400 VALIDATION_ERROR", async (_name, body, field) => {
    const res = await change(u, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
  });
});

describe("guessing the current password", () => {
  test("after 5 wrong passwords the account's change-password is 429 RATE_LIMITED for 15 minutes", async () => {
    const u = await createUser(ctx, app, "guessed");
    for (let i = 0; i < 5; i++) {
      const res = await change(u, { current_password: `wrong guess ${i}`, new_password: NEW_PASSWORD });
      expect(res.status).toBe(401);
    }
    const locked = await change(u, { current_password: DEFAULT_PASSWORD, new_password: NEW_PASSWORD });
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe("RATE_LIMITED");
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(locked.headers.get("ratelimit-remaining")).toBe("0");

    // Another account is not affected.
    const other = await createUser(ctx, app, "unguessed");
    expect(
      (await change(other, { current_password: DEFAULT_PASSWORD, new_password: NEW_PASSWORD })).status,
    ).toBe(204);

    ctx.clock.advance(15 * MINUTE + SECOND);
    const fresh = await openSession(ctx, app, u.id);
    expect(
      (await change(fresh, { current_password: DEFAULT_PASSWORD, new_password: NEW_PASSWORD })).status,
    ).toBe(204);
  });

  test("a success clears the count of earlier wrong passwords", async () => {
    const u = await createUser(ctx, app, "forgetful");
    for (let i = 0; i < 4; i++) {
      expect((await change(u, { current_password: `wrong ${i}`, new_password: NEW_PASSWORD })).status).toBe(
        401,
      );
    }
    expect((await change(u, { current_password: DEFAULT_PASSWORD, new_password: NEW_PASSWORD })).status).toBe(
      204,
    );
    for (let i = 0; i < 4; i++) {
      expect(
        (await change(u, { current_password: `wrong again ${i}`, new_password: "and another passphrase" }))
          .status,
      ).toBe(401);
    }
    expect(
      (await change(u, { current_password: NEW_PASSWORD, new_password: "and another passphrase" })).status,
    ).toBe(204);
  });
});
