/**
 * @module Admin API end-user routes (`/v1/apps/{app_id}/end-users/{user_id}*`): read, update, role, status,
 * sessions, deletion, contacts and verification codes — effects, audit rows and every refusal.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { exec } from "../../../src/db/query.ts";
import { type DbRow, GOOD_PASSWORD, queryRows, signIn, signUp } from "../../support/end-users.ts";
import { auditRows, contactRow, createApp, insertWorkspace, userRow } from "../../support/fixtures.ts";
import { type Auth, createTestContext, type TestContext } from "../../support/harness.ts";
import {
  codeIn,
  deliveredMail,
  enableEmail,
  insertUser,
  outboxRows,
  submitVerify,
} from "../consumer/codes-fixtures.ts";
import { createEndUser, type TestApp } from "../consumer/verify-fixtures.ts";
import { allow, deny, insertBareApp, insertMember, insertPak } from "./fixtures.ts";

const USER = "/v1/apps/{app_id}/end-users/{user_id}";

let ctx: TestContext;
let app: TestApp;
let other: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "eu-admin");
  other = await createApp(ctx, "eu-other");
});

const get = (userId: string, appId = app.id) =>
  ctx.call("GET", USER, { params: { app_id: appId, user_id: userId } });

describe("GET /end-users/{user_id}", () => {
  test("the admin view of one account", async () => {
    const u = await createEndUser(ctx, app, "reader", { role: "admin" });
    const res = await get(u.id);
    expect(res.status).toBe(200);
    const at = new Date(ctx.clock.now()).toISOString();
    expect(res.body).toEqual({
      id: u.id,
      username: "reader",
      display_name: null,
      status: "active",
      role: "admin",
      joined_at: at,
      created_at: at,
      email: "reader@example.test",
      email_verified_at: at,
      active_session_count: 1,
      last_used_at: null,
    });
  });

  test.each([
    ["an unknown id", () => "0190d8c4-0000-7000-8000-000000000000"],
    ["a malformed id", () => "not-a-uuid"],
  ])("%s → 404 USER_NOT_FOUND", async (_name, id) => {
    const res = await get(id());
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("USER_NOT_FOUND");
  });

  test("an account of another app → 404 USER_NOT_FOUND", async () => {
    const stranger = await createEndUser(ctx, other, "stranger");
    const res = await get(stranger.id);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("USER_NOT_FOUND");
    expect((await get(stranger.id, other.id)).status).toBe(200);
  });

  test("the app may be named by its slug", async () => {
    const u = await createEndUser(ctx, app, "by-slug");
    expect((await get(u.id, app.slug)).body.id).toBe(u.id);
  });
});

describe("PATCH /end-users/{user_id}", () => {
  const patch = (userId: string, body: unknown) =>
    ctx.call("PATCH", USER, { params: { app_id: app.id, user_id: userId }, body });

  test("sets and clears the display name; audited", async () => {
    const u = await insertUser(ctx, app, "renamed", { emailVerified: true });
    const res = await patch(u.id, { display_name: "  Ren Amed " });
    expect(res.status).toBe(200);
    expect(res.body.display_name).toBe("Ren Amed");
    const row = (await auditRows(ctx, { app_id: app.id, action: "user.updated" })).at(-1)!;
    expect(row).toMatchObject({
      actor_type: "pak",
      resource_id: u.id,
      details: { fields: ["display_name"] },
    });
    expect((await patch(u.id, { display_name: "" })).body.display_name).toBeNull();
  });

  test("a new email replaces the primary contact, unverified; codes of the old address die with it", async () => {
    const u = await insertUser(ctx, app, "mover", { emailVerified: true });
    const res = await patch(u.id, { email: " Mover@New.Example " });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ email: "mover@new.example", email_verified_at: null });
    const contacts = await queryRows(
      ctx,
      "SELECT id, value, is_primary FROM end_user_contacts WHERE user_id = ?",
      u.id,
    );
    // A raw boolean: 1 on SQLite, true on PostgreSQL.
    expect(contacts.map((c): DbRow => ({ ...c, is_primary: Boolean(c.is_primary) }))).toEqual([
      { id: expect.any(String), value: "mover@new.example", is_primary: true },
    ]);
    expect(contacts[0]!.id).not.toBe(u.emailContactId);
    expect((await auditRows(ctx, { app_id: app.id, action: "user.updated" })).at(-1)!.details).toMatchObject({
      fields: ["email"],
      email_change: "replaced",
      previous_contact_id: u.emailContactId,
    });
    // An unverified primary does not sign in: the username still does.
    expect((await userRow(ctx, u.id))!.status).toBe("active");
  });

  test("an email the account already holds is promoted as it is", async () => {
    const u = await insertUser(ctx, app, "two-mails", { emailVerified: true });
    const added = await ctx.call("POST", `${USER}/contacts`, {
      params: { app_id: app.id, user_id: u.id },
      body: { type: "email", value: "second@example.test" },
    });
    expect(added.status).toBe(201);
    const res = await patch(u.id, { email: "second@example.test" });
    expect(res.status).toBe(200);
    expect(res.body.email).toBe("second@example.test");
    expect((await contactRow(ctx, u.emailContactId!))!.isPrimary).toBe(false);
    expect((await contactRow(ctx, added.body.id))!.isPrimary).toBe(true);
  });

  test("the same email again changes nothing and writes no audit row", async () => {
    const u = await insertUser(ctx, app, "steady", { emailVerified: true });
    const before = (await auditRows(ctx, { app_id: app.id, action: "user.updated" })).length;
    const res = await patch(u.id, { email: "steady@example.test" });
    expect(res.status).toBe(200);
    expect(res.body.email_verified_at).not.toBeNull();
    expect((await auditRows(ctx, { app_id: app.id, action: "user.updated" })).length).toBe(before);
  });

  test("an email of another account → 409 EMAIL_TAKEN", async () => {
    const u = await insertUser(ctx, app, "grabby");
    await insertUser(ctx, app, "owner-of-it");
    const res = await patch(u.id, { email: "owner-of-it@example.test" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("EMAIL_TAKEN");
  });

  test.each([
    ["an invalid email", { email: "nope" }, "email"],
    ["a non-string display name", { display_name: 7 }, "display_name"],
    ["an overlong display name", { display_name: "x".repeat(257) }, "display_name"],
  ])("%s → 400 VALIDATION_ERROR", async (_name, body, field) => {
    const u = await insertUser(ctx, app, `bad-${field}-${Math.random().toString(36).slice(2, 8)}`);
    const res = await patch(u.id, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details[0].field).toBe(field);
  });
});

describe("PATCH /end-users/{user_id}/role", () => {
  const setRole = (userId: string, body: unknown) =>
    ctx.call("PATCH", `${USER}/role`, { params: { app_id: app.id, user_id: userId }, body });

  test("assigns an existing role; the next request sees it; audited from → to", async () => {
    const u = await insertUser(ctx, app, "promoted");
    const res = await setRole(u.id, { role_name: "admin" });
    expect(res.status).toBe(200);
    expect((await userRow(ctx, u.id))!.role).toBe("admin");
    expect((await get(u.id)).body.role).toBe("admin");
    expect((await auditRows(ctx, { app_id: app.id, action: "user.role_changed" })).at(-1)).toMatchObject({
      actor_type: "pak",
      resource_id: u.id,
      details: { from: "member", to: "admin" },
    });
  });

  test.each([
    ["an unknown role", { role_name: "emperor" }, 400, "UNKNOWN_ROLE"],
    ["no role_name", {}, 400, "VALIDATION_ERROR"],
    ["an empty role_name", { role_name: "" }, 400, "VALIDATION_ERROR"],
  ])("%s → %d %s", async (_name, body, status, code) => {
    const u = await insertUser(
      ctx,
      app,
      `role-${code.toLowerCase()}-${Math.random().toString(36).slice(2, 7)}`,
    );
    const res = await setRole(u.id, body);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect((await userRow(ctx, u.id))!.role).toBe("member");
  });

  test("an unknown account → 404 USER_NOT_FOUND", async () => {
    const res = await setRole("0190d8c4-0000-7000-8000-000000000001", { role_name: "admin" });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("USER_NOT_FOUND");
  });
});

describe("PATCH /end-users/{user_id}/status and sessions/revoke-all", () => {
  const setStatus = (userId: string, status: unknown) =>
    ctx.call("PATCH", `${USER}/status`, { params: { app_id: app.id, user_id: userId }, body: { status } });
  const me = (token: string) =>
    ctx.call("GET", "/{app_slug}/v1/me", { params: { app_slug: app.slug }, auth: { bearer: token } });
  const refresh = (token: string) =>
    ctx.call("POST", "/{app_slug}/v1/auth/refresh", {
      params: { app_slug: app.slug },
      body: { refresh_token: token },
      auth: null,
    });

  test.each(["suspended", "deactivated"])(
    "%s ends every session at once; reinstating restores sign-in",
    async (status) => {
      const name = `held-${status}`;
      const t = await signUp(ctx, app.slug, {
        username: name,
        email: `${name}@example.test`,
        password: GOOD_PASSWORD,
      });
      const second = await signIn(ctx, app.slug, name, GOOD_PASSWORD);
      const res = await setStatus(t.userId, status);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: t.userId, status, active_session_count: 0 });
      expect((await auditRows(ctx, { app_id: app.id, action: "user.status_changed" })).at(-1)).toMatchObject({
        resource_id: t.userId,
        details: { from: "active", to: status, sessions_revoked: 2 },
      });
      const meRes = await me(t.access_token);
      expect(meRes.status).toBe(403);
      expect(meRes.body.code).toBe("ACCOUNT_SUSPENDED");
      const refreshed = await refresh(second.refresh_token);
      expect(refreshed.status).toBe(401);
      expect(refreshed.body.code).toBe("INVALID_REFRESH_TOKEN");
      const signin = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
        params: { app_slug: app.slug },
        body: { identifier: name, password: GOOD_PASSWORD },
        auth: null,
      });
      expect(signin.status).toBe(401);
      expect(signin.body.code).toBe("INVALID_CREDENTIALS");

      // Reinstated: a new sign-in works; the ended sessions stay ended.
      const back = await setStatus(t.userId, "active");
      expect(back.status).toBe(200);
      expect(back.body.status).toBe("active");
      const again = await signIn(ctx, app.slug, name, GOOD_PASSWORD);
      expect((await me(again.access_token)).status).toBe(200);
      const old = await me(t.access_token);
      expect(old.status).toBe(401);
      expect(old.body.code).toBe("TOKEN_REVOKED");
    },
  );

  test("setting the current status again changes nothing", async () => {
    const u = await insertUser(ctx, app, "already-active");
    const before = (await auditRows(ctx, { app_id: app.id, action: "user.status_changed" })).length;
    expect((await setStatus(u.id, "active")).status).toBe(200);
    expect((await auditRows(ctx, { app_id: app.id, action: "user.status_changed" })).length).toBe(before);
  });

  test.each([["banned"], [null], [""]])("status %p → 400 VALIDATION_ERROR", async (status) => {
    const u = await insertUser(ctx, app, `bad-status-${Math.random().toString(36).slice(2, 8)}`);
    const res = await setStatus(u.id, status);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
  });

  test("revoke-all ends every live session; the account stays active", async () => {
    const u = await createEndUser(ctx, app, "revokee");
    const res = await ctx.call("POST", `${USER}/sessions/revoke-all`, {
      params: { app_id: app.id, user_id: u.id },
    });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    const meRes = await me(u.token);
    expect(meRes.status).toBe(401);
    expect(meRes.body.code).toBe("TOKEN_REVOKED");
    expect((await get(u.id)).body).toMatchObject({ status: "active", active_session_count: 0 });
    expect((await auditRows(ctx, { app_id: app.id, action: "user.sessions_revoked" })).at(-1)).toMatchObject({
      resource_id: u.id,
      details: { sessions_revoked: 1 },
    });
  });
});

describe("DELETE /end-users/{user_id}", () => {
  test("removes the account with its contacts and sessions; its audit rows stay", async () => {
    const u = await createEndUser(ctx, app, "leaver");
    await ctx.call("PATCH", USER, { params: { app_id: app.id, user_id: u.id }, body: { display_name: "L" } });
    const res = await ctx.call("DELETE", USER, { params: { app_id: app.id, user_id: u.id } });
    expect(res.status).toBe(204);
    expect((await get(u.id)).status).toBe(404);
    expect(await queryRows(ctx, "SELECT id FROM end_user_contacts WHERE user_id = ?", u.id)).toEqual([]);
    expect(await queryRows(ctx, "SELECT id FROM end_user_sessions WHERE user_id = ?", u.id)).toEqual([]);
    const rows = await auditRows(ctx, { resource_id: u.id });
    expect(rows.map((r) => r.action)).toEqual(["user.updated", "user.deleted"]);
    // The id is all the kept rows hold of the account.
    expect((await auditRows(ctx, { app_id: app.id, action: "user.deleted" })).at(-1)!.details).toEqual({
      via: "end_users",
    });
    expect((await ctx.deps.audit.verify()).ok).toBe(true);
    const again = await ctx.call("DELETE", USER, { params: { app_id: app.id, user_id: u.id } });
    expect(again.status).toBe(404);
    expect(again.body.code).toBe("USER_NOT_FOUND");
  });
});

describe("contacts", () => {
  const CONTACTS = `${USER}/contacts`;
  const CONTACT = `${CONTACTS}/{contact_id}`;

  test("lists, adds, promotes and deletes; each write audited", async () => {
    const u = await insertUser(ctx, app, "collector", { emailVerified: true });
    const params = { app_id: app.id, user_id: u.id };
    const phone = await ctx.call("POST", CONTACTS, {
      params,
      body: { type: "phone", value: "+1 (415) 555-0100" },
    });
    expect(phone.status).toBe(201);
    expect(phone.body).toMatchObject({
      type: "phone",
      value: "+14155550100",
      is_primary: false,
      verified_at: null,
    });
    expect((await auditRows(ctx, { app_id: app.id, action: "contact.added" })).at(-1)).toMatchObject({
      actor_type: "pak",
      resource_id: phone.body.id,
      details: { user_id: u.id, type: "phone", is_primary: false },
    });

    const list = await ctx.call("GET", CONTACTS, { params });
    expect(list.status).toBe(200);
    expect(list.body.data.map((c: { type: string }) => c.type)).toEqual(["email", "phone"]);

    // Unverified: cannot be promoted through the promote route.
    const early = await ctx.call("POST", `${CONTACT}/promote`, {
      params: { ...params, contact_id: phone.body.id },
    });
    expect(early.status).toBe(409);
    expect(early.body.code).toBe("CONTACT_NOT_VERIFIED");

    await exec(
      ctx.deps.db,
      sql`UPDATE end_user_contacts SET verified_at = ${ctx.clock.now()} WHERE id = ${phone.body.id}`,
    );
    const promoted = await ctx.call("POST", `${CONTACT}/promote`, {
      params: { ...params, contact_id: phone.body.id },
    });
    expect(promoted.status).toBe(204);
    expect((await contactRow(ctx, phone.body.id))!.isPrimary).toBe(true);
    expect((await auditRows(ctx, { app_id: app.id, action: "contact.promoted" })).at(-1)!.resource_id).toBe(
      phone.body.id,
    );

    const del = await ctx.call("DELETE", CONTACT, { params: { ...params, contact_id: phone.body.id } });
    expect(del.status).toBe(204);
    expect((await auditRows(ctx, { app_id: app.id, action: "contact.deleted" })).at(-1)).toMatchObject({
      resource_id: phone.body.id,
      details: { was_primary: true },
    });
    expect((await ctx.call("GET", CONTACTS, { params })).body.data).toHaveLength(1);
  });

  test("a new primary email demotes the previous one and stays unverified", async () => {
    const u = await insertUser(ctx, app, "switcher", { emailVerified: true });
    const res = await ctx.call("POST", CONTACTS, {
      params: { app_id: app.id, user_id: u.id },
      body: { type: "email", value: "Switched@Example.Test", is_primary: true },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ value: "switched@example.test", is_primary: true, verified_at: null });
    expect((await contactRow(ctx, u.emailContactId!))!.isPrimary).toBe(false);
    expect((await get(u.id)).body).toMatchObject({ email: "switched@example.test", email_verified_at: null });
  });

  test.each([
    ["an address in use", { type: "email", value: "collector@example.test" }, 409, "CONTACT_TAKEN"],
    ["an invalid email", { type: "email", value: "nope" }, 400, "VALIDATION_ERROR"],
    ["an invalid phone", { type: "phone", value: "12" }, 400, "VALIDATION_ERROR"],
    ["an unknown type", { type: "fax", value: "123" }, 400, "VALIDATION_ERROR"],
  ])("adding %s → %d %s", async (_name, body, status, code) => {
    const u = await insertUser(ctx, app, `adder-${Math.random().toString(36).slice(2, 8)}`);
    const res = await ctx.call("POST", CONTACTS, { params: { app_id: app.id, user_id: u.id }, body });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
  });

  test("an account holds at most 10 contacts: the 11th is 409 CONTACT_LIMIT, nothing written", async () => {
    const u = await insertUser(ctx, app, "hoarder");
    const params = { app_id: app.id, user_id: u.id };
    for (let i = 1; i < 10; i++) {
      const res = await ctx.call("POST", CONTACTS, {
        params,
        body: { type: "email", value: `hoard-${i}@example.test` },
      });
      expect(res.status).toBe(201);
    }
    const res = await ctx.call("POST", CONTACTS, {
      params,
      body: { type: "email", value: "hoard-11@example.test", is_primary: true },
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("CONTACT_LIMIT");
    expect((await ctx.call("GET", CONTACTS, { params })).body.data).toHaveLength(10);
    // The refused primary did not demote the current one.
    expect((await contactRow(ctx, u.emailContactId!))!.isPrimary).toBe(true);
  });

  test("the primary email cannot be deleted → 409 CONTACT_IS_PRIMARY", async () => {
    const u = await insertUser(ctx, app, "keeper");
    const res = await ctx.call("DELETE", CONTACT, {
      params: { app_id: app.id, user_id: u.id, contact_id: u.emailContactId! },
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("CONTACT_IS_PRIMARY");
  });

  test.each([
    ["DELETE", CONTACT],
    ["POST", `${CONTACT}/promote`],
    ["POST", `${CONTACT}/resend-verification`],
  ])("%s %s with another account's contact → 404 CONTACT_NOT_FOUND", async (method, path) => {
    const u = await insertUser(ctx, app, `nosy-${Math.random().toString(36).slice(2, 8)}`);
    const victim = await insertUser(ctx, app, `victim-${Math.random().toString(36).slice(2, 8)}`);
    const res = await ctx.call(method, path, {
      params: { app_id: app.id, user_id: u.id, contact_id: victim.emailContactId! },
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("CONTACT_NOT_FOUND");
  });

  test("contacts of an unknown account → 404 USER_NOT_FOUND", async () => {
    const res = await ctx.call("GET", CONTACTS, {
      params: { app_id: app.id, user_id: "0190d8c4-0000-7000-8000-000000000002" },
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("USER_NOT_FOUND");
  });
});

describe("resend-verification", () => {
  let mailApp: TestApp;

  beforeAll(async () => {
    mailApp = await createApp(ctx, "eu-mail");
  });

  test("issues a code for the unverified primary email, which then verifies it", async () => {
    const u = await insertUser(ctx, app, "unverified");
    const res = await ctx.call("POST", `${USER}/resend-verification`, {
      params: { app_id: app.id, user_id: u.id },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body.code).toMatch(/^\d{6}$/);
    expect(Date.parse(res.body.expires_at)).toBe(ctx.clock.now() + 10 * 60 * 1000);
    // Email is off for this app: nothing queued, the operator delivers the code.
    expect(await outboxRows(ctx, app.id)).toHaveLength(0);
    expect((await auditRows(ctx, { app_id: app.id, action: "code.issued" })).at(-1)).toMatchObject({
      actor_type: "pak",
      resource_id: u.emailContactId,
      details: { purpose: "verification", delivery: "response" },
    });
    const verified = await submitVerify(ctx, app, res.body.code);
    expect(verified.status).toBe(200);
    expect((await contactRow(ctx, u.emailContactId!))!.verifiedAt).not.toBeNull();
  });

  test("with email on, the same code is also emailed", async () => {
    await enableEmail(ctx, mailApp.id);
    const u = await insertUser(ctx, mailApp, "mailed");
    const res = await ctx.call("POST", `${USER}/resend-verification`, {
      params: { app_id: mailApp.id, user_id: u.id },
    });
    expect(res.status).toBe(201);
    const mail = (await outboxRows(ctx, mailApp.id)).at(-1)!;
    expect(mail.to).toBe("mailed@example.test");
    expect(codeIn(deliveredMail(ctx, mail.id).text)).toBe(res.body.code);
    expect(mail.text).not.toContain(res.body.code);
    expect(
      (await auditRows(ctx, { app_id: mailApp.id, action: "contact.verification_sent" })).at(-1),
    ).toMatchObject({
      resource_id: u.emailContactId,
      details: { user_id: u.id, outbox_id: mail.id },
    });
  });

  test("a contact's own route issues for that contact; a new code supersedes the previous one", async () => {
    const u = await insertUser(ctx, app, "phoned", { phone: "+14155550123", emailVerified: true });
    const path = `${USER}/contacts/{contact_id}/resend-verification`;
    const params = { app_id: app.id, user_id: u.id, contact_id: u.phoneContactId! };
    const first = await ctx.call("POST", path, { params });
    const second = await ctx.call("POST", path, { params });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    if (first.body.code !== second.body.code) {
      expect((await submitVerify(ctx, app, first.body.code)).status).toBe(410);
    }
    expect((await submitVerify(ctx, app, second.body.code)).status).toBe(200);
    expect((await contactRow(ctx, u.phoneContactId!))!.verifiedAt).not.toBeNull();
  });

  test.each([
    ["an already verified primary email", { emailVerified: true }, 409, "CONTACT_ALREADY_VERIFIED"],
    ["no primary email", { email: null }, 404, "CONTACT_NOT_FOUND"],
  ])("%s → %d %s", async (_name, opts, status, code) => {
    const u = await insertUser(ctx, app, `resend-${Math.random().toString(36).slice(2, 8)}`, opts);
    const res = await ctx.call("POST", `${USER}/resend-verification`, {
      params: { app_id: app.id, user_id: u.id },
    });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
  });

  test("a PAK that may create but not mint codes → 403 POLICY_DENIED", async () => {
    const u = await insertUser(ctx, app, "guarded-code");
    const pak = (await insertPak(ctx, [allow(["heimdall.*"]), deny(["heimdall.user.verify.create"])])).token;
    const res = await ctx.call("POST", `${USER}/resend-verification`, {
      params: { app_id: app.id, user_id: u.id },
      auth: { pak },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("POLICY_DENIED");
  });
});

describe("access", () => {
  let target: string;
  let contactId: string;
  let foreignAppId: string;
  const paks: Record<string, string> = {};
  let viewerCookie: string;

  /** Every single-account route with a body that passes validation, and its policy action. */
  const ROUTES: { method: string; path: string; action: string; body?: unknown }[] = [
    { method: "GET", path: USER, action: "heimdall.read" },
    { method: "PATCH", path: USER, action: "heimdall.update", body: { display_name: "x" } },
    { method: "DELETE", path: USER, action: "heimdall.delete" },
    { method: "PATCH", path: `${USER}/role`, action: "heimdall.update", body: { role_name: "member" } },
    { method: "PATCH", path: `${USER}/status`, action: "heimdall.update", body: { status: "active" } },
    { method: "POST", path: `${USER}/sessions/revoke-all`, action: "heimdall.update" },
    { method: "POST", path: `${USER}/resend-verification`, action: "heimdall.create" },
    { method: "GET", path: `${USER}/contacts`, action: "heimdall.read" },
    {
      method: "POST",
      path: `${USER}/contacts`,
      action: "heimdall.create",
      body: { type: "phone", value: "+14155550199" },
    },
    { method: "DELETE", path: `${USER}/contacts/{contact_id}`, action: "heimdall.delete" },
    { method: "POST", path: `${USER}/contacts/{contact_id}/promote`, action: "heimdall.update" },
    { method: "POST", path: `${USER}/contacts/{contact_id}/resend-verification`, action: "heimdall.create" },
  ];
  const WRITES = ROUTES.filter((r) => r.method !== "GET");
  const call = (r: (typeof ROUTES)[number], appId: string, auth?: Auth) =>
    ctx.call(r.method, r.path, {
      params: { app_id: appId, user_id: target, contact_id: contactId },
      body: r.body,
      auth,
    });

  beforeAll(async () => {
    const u = await insertUser(ctx, app, "access-target", { phone: "+14155550150" });
    target = u.id;
    contactId = u.phoneContactId!;
    const ws = await insertWorkspace(ctx, "eu-elsewhere");
    foreignAppId = await insertBareApp(ctx, ws, "eu-foreign");
    paks.readOnly = (await insertPak(ctx, [allow(["heimdall.read"])])).token;
    paks.foreign = (await insertPak(ctx, [allow(["heimdall.*"])], ws)).token;
    paks.otherApp = (await insertPak(ctx, [allow(["heimdall.*"], [`pcft:heimdall:app/${other.id}`])])).token;
    const viewer = await insertMember(ctx, "eu-viewer@example.test", "viewer");
    viewerCookie = await ctx.signIn("eu-viewer@example.test", viewer.password);
  });

  test.each(ROUTES.map((r) => [r.method, r.path, r] as const))(
    "%s %s without a credential → 401",
    async (_m, _p, r) => {
      const res = await call(r, app.id, null);
      expect(res.status).toBe(401);
    },
  );

  test.each(ROUTES.map((r) => [r.method, r.path, r] as const))(
    "%s %s on an app of another workspace → 404 APP_NOT_FOUND",
    async (_m, _p, r) => {
      for (const [appId, auth] of [
        [foreignAppId, undefined],
        [app.id, { pak: paks.foreign! }],
      ] as const) {
        const res = await call(r, appId, auth);
        expect(res.status).toBe(404);
        expect(res.body.code).toBe("APP_NOT_FOUND");
      }
    },
  );

  test.each(WRITES.map((r) => [r.method, r.path, r.action, r] as const))(
    "%s %s with a read-only PAK → 403 POLICY_DENIED (%s)",
    async (_m, _p, _a, r) => {
      const res = await call(r, app.id, { pak: paks.readOnly! });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("POLICY_DENIED");
    },
  );

  test.each(ROUTES.map((r) => [r.method, r.path, r] as const))(
    "%s %s with a PAK limited to another app → 403 POLICY_DENIED",
    async (_m, _p, r) => {
      const res = await call(r, app.id, { pak: paks.otherApp! });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("POLICY_DENIED");
    },
  );

  test.each(WRITES.map((r) => [r.method, r.path, r] as const))(
    "%s %s as a workspace viewer → 403 FORBIDDEN",
    async (_m, _p, r) => {
      const res = await call(r, app.id, { cookie: viewerCookie });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("FORBIDDEN");
    },
  );

  test("a viewer may read", async () => {
    const res = await call(ROUTES[0]!, app.id, { cookie: viewerCookie });
    expect(res.status).toBe(200);
  });

  test("a console user's writes are audited as platform_user", async () => {
    const cookie = await ctx.signIn();
    const res = await ctx.call("PATCH", USER, {
      params: { app_id: app.id, user_id: target },
      body: { display_name: "By the console" },
      auth: { cookie },
    });
    expect(res.status).toBe(200);
    expect((await auditRows(ctx, { app_id: app.id, action: "user.updated" })).at(-1)).toMatchObject({
      actor_type: "platform_user",
      actor_id: ctx.ownerId,
    });
  });
});

describe("an archived app", () => {
  let archived: TestApp;
  let userId: string;
  let contactId: string;

  beforeAll(async () => {
    archived = await createApp(ctx, "eu-archived");
    const u = await insertUser(ctx, archived, "fossil", { phone: "+14155550177" });
    userId = u.id;
    contactId = u.phoneContactId!;
    await createEndUser(ctx, archived, "fossil-2");
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
      params: { app_id: archived.id },
      body: { status: "archived" },
    });
    expect(res.status).toBe(200);
  });

  test.each([
    ["PATCH", USER, { display_name: "x" }],
    ["PATCH", `${USER}/role`, { role_name: "admin" }],
    ["PATCH", `${USER}/status`, { status: "active" }],
    ["POST", `${USER}/contacts`, { type: "email", value: "new@example.test" }],
    ["POST", `${USER}/contacts/{contact_id}/promote`, undefined],
    ["POST", `${USER}/resend-verification`, undefined],
  ])("%s %s → 409 APP_ARCHIVED", async (method, path, body) => {
    const res = await ctx.call(method, path, {
      params: { app_id: archived.id, user_id: userId, contact_id: contactId },
      body,
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("APP_ARCHIVED");
  });

  test("taking access away stays possible: suspend, revoke sessions, delete", async () => {
    const params = { app_id: archived.id, user_id: userId };
    expect(
      (await ctx.call("PATCH", `${USER}/status`, { params, body: { status: "suspended" } })).status,
    ).toBe(200);
    expect((await ctx.call("POST", `${USER}/sessions/revoke-all`, { params })).status).toBe(204);
    expect((await ctx.call("DELETE", USER, { params })).status).toBe(204);
  });

  test("reads still work", async () => {
    const res = await ctx.call("GET", "/v1/apps/{app_id}/end-users", { params: { app_id: archived.id } });
    expect(res.status).toBe(200);
    expect(res.body.data.map((u: { username: string }) => u.username)).toEqual(["fossil-2"]);
  });
});

test("every write above left an intact audit chain", async () => {
  expect((await ctx.deps.audit.verify()).ok).toBe(true);
});
