/** @module Guessable passwords (listed words dressed up, repetitive or sequential shapes) refused at sign-up, change-password and reset-password alike. */
import { beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { MINUTE } from "../../../src/core/clock.ts";
import { queryRow } from "../../support/end-users.ts";
import { createApp, userRow } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { insertUser, mintCode, submitReset } from "./codes-fixtures.ts";
import { bearer, createUser, DEFAULT_PASSWORD, type TestApp } from "./me-fixtures.ts";

let ctx: TestContext;
let app: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "screening-app");
});

// Fresh per-address windows for sign-up and the code routes (every in-process request shares one address).
beforeEach(() => ctx.clock.advance(16 * MINUTE));

/** Each passed the old check at the 12-character minimum. */
const WEAK: Array<[string, string]> = [
  ["password1234567", "common_password"],
  ["Password123!", "common_password"],
  ["P@ssw0rd2024!", "common_password"],
  ["123456789012", "common_password"],
  ["aaaaaaaaaaaa", "repetitive_or_sequential"],
  ["abcdefghijkl", "repetitive_or_sequential"],
  ["qwertyuiopas", "repetitive_or_sequential"],
];

const countUsers = async () =>
  Number((await queryRow(ctx, "SELECT COUNT(*) AS n FROM end_users WHERE app_id = ?", app.id))!.n);

let n = 0;

describe.each(WEAK)("%s", (password, reason) => {
  test(`sign-up → 400 WEAK_PASSWORD (${reason}); no account`, async () => {
    n++;
    const before = await countUsers();
    const res = await ctx.call("POST", "/{app_slug}/v1/auth/signup", {
      params: { app_slug: app.slug },
      body: { username: `screened${n}`, email: `screened${n}@example.com`, password },
      auth: null,
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("WEAK_PASSWORD");
    expect(res.body.details).toEqual([{ field: "password", reason }]);
    expect(await countUsers()).toBe(before);
  });

  test(`change-password → 400 WEAK_PASSWORD (${reason}); the hash is unchanged`, async () => {
    n++;
    const u = await createUser(ctx, app, `changer${n}`);
    const before = (await userRow(ctx, u.id))!.passwordHash;
    const res = await ctx.call("POST", "/{app_slug}/v1/me/change-password", {
      params: { app_slug: app.slug },
      auth: bearer(u),
      body: { current_password: DEFAULT_PASSWORD, new_password: password },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("WEAK_PASSWORD");
    expect(res.body.details).toEqual([{ field: "new_password", reason }]);
    expect((await userRow(ctx, u.id))!.passwordHash).toBe(before);
  });

  test(`reset-password → 400 WEAK_PASSWORD (${reason}); no password set, the code stays usable`, async () => {
    n++;
    const phone = `+1555400${String(n).padStart(4, "0")}`;
    const u = await insertUser(ctx, app, `resetter${n}`, { phone, phoneVerified: true });
    const code = await mintCode(ctx, app, "password-reset", { phone });
    const res = await submitReset(ctx, app, code, password);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("WEAK_PASSWORD");
    expect(res.body.details).toEqual([{ field: "password", reason }]);
    expect((await userRow(ctx, u.id))!.passwordHash).toBeNull();
    expect((await submitReset(ctx, app, code)).status).toBe(204);
  });
});
