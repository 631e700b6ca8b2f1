/** @module GET, PATCH and DELETE `/{app_slug}/v1/me`: the profile, its one editable field, and account deletion. */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { newId } from "../../../src/core/ids.ts";
import { auditRows, createApp, openSession, userRow } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { bearer, createUser, type TestApp, type TestUser } from "./me-fixtures.ts";

let ctx: TestContext;
let app: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "profile-app");
});

const me = (u: TestUser, method = "GET", body?: unknown) =>
  ctx.call(method, "/{app_slug}/v1/me", { params: { app_slug: app.slug }, auth: bearer(u), body });

describe("GET /{app_slug}/v1/me", () => {
  let ada: TestUser;
  beforeAll(async () => {
    ada = await createUser(ctx, app, "ada", { displayName: "Ada Lovelace" });
  });

  test("returns the caller's account with its primary email", async () => {
    const res = await me(ada);
    expect(res.status).toBe(200);
    const created = new Date((await userRow(ctx, ada.id))!.createdAt).toISOString();
    expect(res.body).toEqual({
      id: ada.id,
      username: "ada",
      display_name: "Ada Lovelace",
      role: "member",
      joined_at: created,
      created_at: created,
      email: "ada@example.test",
      email_verified_at: created,
      // OIDC UserInfo claims: `/me` is the advertised userinfo_endpoint.
      sub: ada.id,
      email_verified: true,
      preferred_username: "ada",
    });
  });

  test("an unverified primary email is shown with email_verified_at null", async () => {
    const u = await createUser(ctx, app, "unverified", { emailVerified: false });
    const res = await me(u);
    expect(res.status).toBe(200);
    expect(res.body.email).toBe("unverified@example.test");
    expect(res.body.email_verified_at).toBeNull();
    expect(res.body.email_verified).toBe(false);
  });

  test("an account without an email has email and email_verified_at null", async () => {
    const u = await createUser(ctx, app, "no-email", { email: null });
    const res = await me(u);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      username: "no-email",
      display_name: null,
      email: null,
      email_verified_at: null,
      email_verified: false,
    });
  });

  test("a non-primary email is not the profile's email", async () => {
    const u = await createUser(ctx, app, "secondary-only", { email: null });
    await ctx.deps.db.insert(ctx.deps.db.tables.endUserContacts).values({
      id: newId(ctx.clock),
      appId: app.id,
      userId: u.id,
      type: "email",
      value: "secondary@example.test",
      isPrimary: false,
      verifiedAt: ctx.clock.now(),
      createdAt: ctx.clock.now(),
    });
    expect((await me(u)).body.email).toBeNull();
  });
});

describe("PATCH /{app_slug}/v1/me", () => {
  let grace: TestUser;
  beforeAll(async () => {
    grace = await createUser(ctx, app, "grace");
  });

  test("sets the display name, answers with the profile and records user.updated", async () => {
    const before = (await auditRows(ctx, { app_id: app.id, action: "user.updated" })).length;
    const res = await me(grace, "PATCH", { display_name: "  Grace Hopper " });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: grace.id, username: "grace", display_name: "Grace Hopper" });
    expect((await userRow(ctx, grace.id))!.displayName).toBe("Grace Hopper");
    const rows = await auditRows(ctx, { app_id: app.id, action: "user.updated" });
    expect(rows).toHaveLength(before + 1);
    expect(rows.at(-1)).toMatchObject({
      actor_type: "end_user",
      actor_id: grace.id,
      resource_type: "user",
      resource_id: grace.id,
      details: { fields: ["display_name"] },
    });
    expect((await me(grace)).body.display_name).toBe("Grace Hopper");
  });

  test("the same name again changes nothing and records nothing", async () => {
    const before = (await auditRows(ctx, { app_id: app.id, action: "user.updated" })).length;
    const res = await me(grace, "PATCH", { display_name: "Grace Hopper" });
    expect(res.status).toBe(200);
    expect(await auditRows(ctx, { app_id: app.id, action: "user.updated" })).toHaveLength(before);
  });

  test("an omitted display_name leaves it unchanged", async () => {
    const res = await me(grace, "PATCH", {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ username: "grace", role: "member", display_name: "Grace Hopper" });
  });

  test("unknown fields → 400 VALIDATION_ERROR naming each; nothing changes", async () => {
    const res = await me(grace, "PATCH", { username: "hacker", role: "admin", displayName: "H" });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details).toEqual([
      { field: "username", reason: "unknown field" },
      { field: "role", reason: "unknown field" },
      { field: "displayName", reason: "unknown field; did you mean display_name?" },
    ]);
    expect(await userRow(ctx, grace.id)).toMatchObject({
      username: "grace",
      role: "member",
      displayName: "Grace Hopper",
    });
  });

  test.each([[""], ["   "]])("%p clears the display name", async (value) => {
    await me(grace, "PATCH", { display_name: "Temporary" });
    const res = await me(grace, "PATCH", { display_name: value });
    expect(res.status).toBe(200);
    expect(res.body.display_name).toBeNull();
    expect((await userRow(ctx, grace.id))!.displayName).toBeNull();
  });

  test("120 characters are accepted", async () => {
    const res = await me(grace, "PATCH", { display_name: "g".repeat(120) });
    expect(res.status).toBe(200);
    expect(res.body.display_name).toHaveLength(120);
  });

  const invalid: [string, unknown, string][] = [
    ["121 characters", { display_name: "g".repeat(121) }, "display_name"],
    ["a number", { display_name: 42 }, "display_name"],
    ["null", { display_name: null }, "display_name"],
    ["an array body", [], "body"],
    ["no body", undefined, "body"],
  ];
  test.each(invalid)("%s is 400 VALIDATION_ERROR", async (_name, body, field) => {
    const res = await me(grace, "PATCH", body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  test("malformed JSON is 400 INVALID_JSON", async () => {
    const res = await ctx.call("PATCH", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: bearer(grace),
      raw: "{",
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("INVALID_JSON");
  });
});

describe("DELETE /{app_slug}/v1/me", () => {
  test("deletes the account with its contacts, sessions and codes; the token dies; the audit stays", async () => {
    const alan = await createUser(ctx, app, "alan");
    const second = await openSession(ctx, app, alan.id);
    await ctx.deps.db.insert(ctx.deps.db.tables.oneTimeCodes).values({
      id: newId(ctx.clock),
      appId: app.id,
      userId: alan.id,
      contactId: alan.emailContactId!,
      purpose: "verify",
      codeHash: "h".repeat(64),
      expiresAt: ctx.clock.now() + 600_000,
      createdAt: ctx.clock.now(),
    });
    const bystander = await createUser(ctx, app, "bystander");

    const res = await me(alan, "DELETE");
    expect(res.status).toBe(204);
    expect(res.text).toBe("");

    expect(await userRow(ctx, alan.id)).toBeUndefined();
    const db = ctx.deps.db;
    expect(
      await db
        .select()
        .from(ctx.deps.db.tables.endUserContacts)
        .where(eq(ctx.deps.db.tables.endUserContacts.userId, alan.id)),
    ).toEqual([]);
    expect(
      await db
        .select()
        .from(ctx.deps.db.tables.endUserSessions)
        .where(eq(ctx.deps.db.tables.endUserSessions.userId, alan.id)),
    ).toEqual([]);
    for (const sid of [alan.sessionId, second.sessionId]) {
      expect(
        await db
          .select()
          .from(ctx.deps.db.tables.endUserRefreshTokens)
          .where(eq(ctx.deps.db.tables.endUserRefreshTokens.sessionId, sid)),
      ).toEqual([]);
    }
    expect(
      await db
        .select()
        .from(ctx.deps.db.tables.oneTimeCodes)
        .where(eq(ctx.deps.db.tables.oneTimeCodes.userId, alan.id)),
    ).toEqual([]);

    const deleted = await auditRows(ctx, { app_id: app.id, action: "user.deleted", resource_id: alan.id });
    expect(deleted).toHaveLength(1);
    expect(deleted[0]).toMatchObject({ actor_type: "end_user", actor_id: alan.id, resource_type: "user" });
    expect((await ctx.deps.audit.verify()).ok).toBe(true);

    for (const token of [alan.token, second.token]) {
      const after = await ctx.call("GET", "/{app_slug}/v1/me", {
        params: { app_slug: app.slug },
        auth: { bearer: token },
      });
      expect(after.status).toBe(401);
      expect(after.body.code).toBe("INVALID_TOKEN");
    }
    // Nobody else is touched.
    expect((await me(bystander)).status).toBe(200);
  });

  test("the username and email are free again afterwards", async () => {
    const first = await createUser(ctx, app, "reborn");
    expect((await me(first, "DELETE")).status).toBe(204);
    const again = await createUser(ctx, app, "reborn");
    expect((await me(again)).body).toMatchObject({ username: "reborn", email: "reborn@example.test" });
  });
});
