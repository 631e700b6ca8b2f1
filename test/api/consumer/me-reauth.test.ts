/**
 * @module Re-authentication on `/me`: promote, change-password and deleting a verified contact need a
 * password proof within 10 minutes; `POST /me/reauthenticate` gives one (rate-limited, audited); refresh
 * does not; security notices go to the old primary email and after a password change or reset.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { MINUTE, SECOND } from "../../../src/core/clock.ts";
import { signIn, signUp } from "../../support/end-users.ts";
import { auditRows, contactRow, createApp, openSession, userRow } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { expectErrorShape } from "../../support/openapi.ts";
import { deliveredMail, enableEmail, freshWindows, mintCode, submitReset } from "./codes-fixtures.ts";
import {
  bearer,
  createUser,
  DEFAULT_PASSWORD,
  sessionRow,
  type TestApp,
  type TestUser,
} from "./me-fixtures.ts";

let ctx: TestContext;
/** Email on: notices are queued. */
let app: TestApp;
/** Email off (the default): notices are skipped and the changes go ahead. */
let quiet: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "reauth-app");
  quiet = await createApp(ctx, "reauth-quiet");
  await enableEmail(ctx, app.id);
});

const WINDOW = 10 * MINUTE;
const NEW_PASSWORD = "an entirely new passphrase";

const addContact = async (u: TestUser, a: TestApp, type: "email" | "phone", value: string) => {
  const res = await ctx.call("POST", "/{app_slug}/v1/me/contacts", {
    params: { app_slug: a.slug },
    auth: bearer(u),
    body: { type, value },
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
};
/** Stands in for the verification flow. */
const markVerified = async (id: string) =>
  await ctx.deps.db
    .update(ctx.deps.db.tables.endUserContacts)
    .set({ verifiedAt: ctx.clock.now() })
    .where(eq(ctx.deps.db.tables.endUserContacts.id, id));
const outboxTo = async (to: string) =>
  await ctx.deps.db
    .select()
    .from(ctx.deps.db.tables.emailOutbox)
    .where(eq(ctx.deps.db.tables.emailOutbox.to, to));

const promote = (u: { token: string }, a: TestApp, id: string) =>
  ctx.call("POST", "/{app_slug}/v1/me/contacts/{id}/promote", {
    params: { app_slug: a.slug, id },
    auth: bearer(u),
  });
const remove = (u: { token: string }, a: TestApp, id: string) =>
  ctx.call("DELETE", "/{app_slug}/v1/me/contacts/{id}", {
    params: { app_slug: a.slug, id },
    auth: bearer(u),
  });
const change = (u: { token: string }, a: TestApp, current = DEFAULT_PASSWORD, next = NEW_PASSWORD) =>
  ctx.call("POST", "/{app_slug}/v1/me/change-password", {
    params: { app_slug: a.slug },
    auth: bearer(u),
    body: { current_password: current, new_password: next },
  });
/** Not in the vendored contract: successes are checked here, errors against the wire error shape. */
const reauth = async (u: { token: string }, a: TestApp, body: unknown) => {
  const res = await ctx.call("POST", "/{app_slug}/v1/me/reauthenticate", {
    params: { app_slug: a.slug },
    auth: bearer(u),
    body,
    unchecked: true,
  });
  if (res.status >= 400) expectErrorShape(res.body);
  else expect(Object.keys(res.body)).toEqual(["authenticated_at"]);
  return res;
};

/** A user with a verified secondary email and a verified phone, on `a`. */
async function userWithContacts(a: TestApp, name: string) {
  const u = await createUser(ctx, a, name);
  const email = await addContact(u, a, "email", `${name}.second@example.test`);
  const phone = await addContact(u, a, "phone", `+1415555${String(1000 + Math.floor(Math.random() * 8999))}`);
  await markVerified(email);
  await markVerified(phone);
  return { u, email, phone };
}

describe("a session that proved its password more than 10 minutes ago", () => {
  test("promote is 403 REAUTHENTICATION_REQUIRED and nothing changes or is sent", async () => {
    const { u, email } = await userWithContacts(app, "stale-promoter");
    ctx.clock.advance(WINDOW);
    const res = await promote(u, app, email);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("REAUTHENTICATION_REQUIRED");
    expect((await contactRow(ctx, email))!.isPrimary).toBe(false);
    expect((await contactRow(ctx, u.emailContactId!))!.isPrimary).toBe(true);
    expect(await auditRows(ctx, { app_id: app.id, action: "contact.promoted", resource_id: email })).toEqual(
      [],
    );
    expect(await outboxTo("stale-promoter@example.test")).toEqual([]);
  });

  test("change-password is 403 before the password is even checked; nothing changes", async () => {
    const u = await createUser(ctx, app, "stale-changer");
    const other = await openSession(ctx, app, u.id);
    const before = (await userRow(ctx, u.id))!.passwordHash;
    ctx.clock.advance(WINDOW + SECOND);
    for (const current of [DEFAULT_PASSWORD, "a wrong guess at it"]) {
      const res = await change(u, app, current);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("REAUTHENTICATION_REQUIRED");
    }
    expect((await userRow(ctx, u.id))!.passwordHash).toBe(before);
    expect((await sessionRow(ctx, other.sessionId))!.revokedAt).toBeNull();
    expect(
      await auditRows(ctx, { app_id: app.id, action: "user.password_change_failed", resource_id: u.id }),
    ).toEqual([]);
    expect(await outboxTo("stale-changer@example.test")).toEqual([]);
  });

  test("deleting a verified contact (email or phone, primary phone too) is 403; they stay", async () => {
    const { u, email, phone } = await userWithContacts(app, "stale-deleter");
    expect((await promote(u, app, phone)).status).toBe(204);
    ctx.clock.advance(WINDOW);
    for (const id of [email, phone]) {
      const res = await remove(u, app, id);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("REAUTHENTICATION_REQUIRED");
      expect(await contactRow(ctx, id)).toBeDefined();
    }
  });

  test("an unverified contact is not a recovery channel yet: deleting it needs no fresh proof", async () => {
    const u = await createUser(ctx, app, "stale-tidier");
    const typo = await addContact(u, app, "email", "stale-tidier.typo@example.test");
    ctx.clock.advance(WINDOW);
    expect((await remove(u, app, typo)).status).toBe(204);
    expect(await contactRow(ctx, typo)).toBeUndefined();
  });

  test("the rules of the contacts come first: the primary email is still 409, an unverified one still 409", async () => {
    const u = await createUser(ctx, app, "stale-rules");
    const unverified = await addContact(u, app, "email", "stale-rules.new@example.test");
    ctx.clock.advance(WINDOW);
    expect((await remove(u, app, u.emailContactId!)).body.code).toBe("CONTACT_IS_PRIMARY");
    expect((await promote(u, app, unverified)).body.code).toBe("CONTACT_NOT_VERIFIED");
    // Promoting the current primary changes nothing, so it needs nothing.
    expect((await promote(u, app, u.emailContactId!)).status).toBe(204);
  });

  test("just inside the window the same changes go through", async () => {
    const { u, email } = await userWithContacts(app, "in-time");
    ctx.clock.advance(WINDOW - SECOND);
    expect((await promote(u, app, email)).status).toBe(204);
    expect((await contactRow(ctx, email))!.isPrimary).toBe(true);
  });
});

describe("POST /{app_slug}/v1/me/reauthenticate", () => {
  test("the right password: 200 {authenticated_at: now}, the session is stamped and audited, and the changes go through", async () => {
    const { u, email, phone } = await userWithContacts(app, "reauthed");
    ctx.clock.advance(WINDOW + MINUTE);
    expect((await promote(u, app, email)).status).toBe(403);

    const res = await reauth(u, app, { password: DEFAULT_PASSWORD });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ authenticated_at: new Date(ctx.clock.now()).toISOString() });
    expect((await sessionRow(ctx, u.sessionId))!.authenticatedAt).toBe(ctx.clock.now());
    const row = (
      await auditRows(ctx, {
        app_id: app.id,
        action: "session.reauthenticated",
        resource_id: u.sessionId,
      })
    )[0];
    expect(row).toMatchObject({ actor_type: "end_user", actor_id: u.id, details: { user_id: u.id } });

    expect((await promote(u, app, email)).status).toBe(204);
    expect((await remove(u, app, phone)).status).toBe(204);
    expect((await change(u, app)).status).toBe(204);
  });

  test("a wrong password: 401 INVALID_CREDENTIALS, audited, the session stays stale", async () => {
    const { u, email } = await userWithContacts(app, "misremembered");
    ctx.clock.advance(WINDOW);
    const before = (await sessionRow(ctx, u.sessionId))!.authenticatedAt;
    const res = await reauth(u, app, { password: "not the password at all" });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_CREDENTIALS");
    expect((await sessionRow(ctx, u.sessionId))!.authenticatedAt).toBe(before);
    const rows = await auditRows(ctx, {
      app_id: app.id,
      action: "session.reauthentication_failed",
      resource_id: u.sessionId,
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor_id: u.id, details: { user_id: u.id, reason: "invalid_password" } });
    expect(
      await auditRows(ctx, { app_id: app.id, action: "session.reauthenticated", resource_id: u.sessionId }),
    ).toEqual([]);
    expect((await promote(u, app, email)).status).toBe(403);
  });

  test("an account without a password cannot re-authenticate (it sets one through the reset flow)", async () => {
    const p = await createUser(ctx, app, "passwordless", { password: null });
    const res = await reauth(p, app, { password: "anything at all here" });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_CREDENTIALS");
    const row = (
      await auditRows(ctx, {
        app_id: app.id,
        action: "session.reauthentication_failed",
        resource_id: p.sessionId,
      })
    )[0];
    expect(row?.details).toEqual({ user_id: p.id, reason: "no_password" });
  });

  test.each([
    ["no body", undefined],
    ["no password", {}],
    ["an empty password", { password: "" }],
    ["a numeric password", { password: 12345678 }],
  ])("%s is 400 VALIDATION_ERROR", async (_name, body) => {
    const u = await createUser(ctx, app, `reauth-invalid-${String(_name).replaceAll(" ", "-")}`);
    const res = await reauth(u, app, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
  });

  test("without an access token it is 401", async () => {
    const res = await ctx.call("POST", "/{app_slug}/v1/me/reauthenticate", {
      params: { app_slug: app.slug },
      auth: null,
      body: { password: DEFAULT_PASSWORD },
      unchecked: true,
    });
    expect(res.status).toBe(401);
    expectErrorShape(res.body);
  });
});

describe("guessing through re-authentication", () => {
  test("5 wrong passwords lock the account's re-authentication (and change-password) for 15 minutes", async () => {
    freshWindows(ctx);
    const u = await createUser(ctx, app, "reauth-guessed");
    for (let i = 0; i < 5; i++) {
      expect((await reauth(u, app, { password: `wrong guess ${i}` })).status).toBe(401);
    }
    const locked = await reauth(u, app, { password: DEFAULT_PASSWORD });
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe("RATE_LIMITED");
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    // The same count guards change-password: the same secret, guessed with the same token.
    const fresh = await openSession(ctx, app, u.id);
    expect((await change(fresh, app)).status).toBe(429);
    // Another account is not affected.
    const other = await createUser(ctx, app, "reauth-unguessed");
    expect((await reauth(other, app, { password: DEFAULT_PASSWORD })).status).toBe(200);

    ctx.clock.advance(15 * MINUTE + SECOND);
    expect((await reauth(u, app, { password: DEFAULT_PASSWORD })).status).toBe(200);
  });

  test("20 wrong passwords from one address, over any accounts, lock that address for 15 minutes", async () => {
    freshWindows(ctx);
    // The harness's requests all come from one client address.
    for (let n = 0; n < 4; n++) {
      const u = await createUser(ctx, app, `reauth-spray-${n}`);
      for (let i = 0; i < 5; i++) expect((await reauth(u, app, { password: `spray ${i}` })).status).toBe(401);
    }
    const next = await createUser(ctx, app, "reauth-spray-next");
    const res = await reauth(next, app, { password: DEFAULT_PASSWORD });
    expect(res.status).toBe(429);
    expect(res.body.code).toBe("RATE_LIMITED");
    freshWindows(ctx);
    expect((await reauth(next, app, { password: DEFAULT_PASSWORD })).status).toBe(200);
  });
});

describe("what renews the authentication time", () => {
  test("sign-in sets it; a refresh keeps it, so a refreshed token of an old sign-in is still stale", async () => {
    const tokens = await signUp(ctx, app.slug, {
      username: "refresher",
      email: "refresher@example.test",
      password: DEFAULT_PASSWORD,
    });
    const signedUpAt = ctx.clock.now();
    expect((await sessionRow(ctx, tokens.sessionId))!.authenticatedAt).toBe(signedUpAt);
    ctx.clock.advance(WINDOW + MINUTE);
    const refreshed = await ctx.call("POST", "/{app_slug}/v1/auth/refresh", {
      params: { app_slug: app.slug },
      body: { refresh_token: tokens.refresh_token },
      auth: null,
    });
    expect(refreshed.status).toBe(200);
    expect((await sessionRow(ctx, tokens.sessionId))!.authenticatedAt).toBe(signedUpAt);
    const res = await change({ token: refreshed.body.access_token }, app);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("REAUTHENTICATION_REQUIRED");

    // A new sign-in is a new proof.
    const again = await signIn(ctx, app.slug, "refresher", DEFAULT_PASSWORD);
    expect((await sessionRow(ctx, again.sessionId))!.authenticatedAt).toBe(ctx.clock.now());
    expect((await change({ token: again.access_token }, app)).status).toBe(204);
  });

  test("a successful change-password keeps the calling session, freshly authenticated", async () => {
    const u = await createUser(ctx, app, "renewed");
    ctx.clock.advance(WINDOW - MINUTE);
    expect((await change(u, app)).status).toBe(204);
    expect(await sessionRow(ctx, u.sessionId)).toMatchObject({
      revokedAt: null,
      authenticatedAt: ctx.clock.now(),
    });
    // Nine more minutes: stale by the sign-in, fresh by the change.
    ctx.clock.advance(WINDOW - MINUTE);
    expect((await change(u, app, NEW_PASSWORD, "yet another passphrase")).status).toBe(204);
  });
});

describe("security notices", () => {
  test("promoting another email tells the old primary address, which the job then delivers; no code, no new address", async () => {
    const { u, email } = await userWithContacts(app, "moved");
    expect((await promote(u, app, email)).status).toBe(204);
    const [notice] = await outboxTo("moved@example.test");
    expect(notice).toMatchObject({
      status: "pending",
      from: "no-reply@acme.test",
      subject: "The email address of your reauth-app account was changed",
    });
    expect(await outboxTo("moved.second@example.test")).toEqual([]);
    await ctx.deps.email.deliverDue();
    const sent = deliveredMail(ctx, notice!.id);
    expect(sent.text).toContain("no longer the primary email");
    expect(sent.text).not.toContain("moved.second@example.test");
    expect(sent.text).not.toMatch(/\d{6}/);
  });

  test("promoting a phone sends nothing: no email changed", async () => {
    const { u, phone } = await userWithContacts(app, "phoned");
    expect((await promote(u, app, phone)).status).toBe(204);
    expect(await outboxTo("phoned@example.test")).toEqual([]);
  });

  test("an operator's promote on the Admin API needs no re-authentication and tells the old address too", async () => {
    const { u, email } = await userWithContacts(app, "operated");
    ctx.clock.advance(WINDOW + MINUTE);
    const res = await ctx.call(
      "POST",
      "/v1/apps/{app_id}/end-users/{user_id}/contacts/{contact_id}/promote",
      {
        params: { app_id: app.id, user_id: u.id, contact_id: email },
      },
    );
    expect(res.status).toBe(204);
    expect((await contactRow(ctx, email))!.isPrimary).toBe(true);
    expect(await outboxTo("operated@example.test")).toEqual([
      expect.objectContaining({ subject: "The email address of your reauth-app account was changed" }),
    ]);
  });

  test("an operator replacing the primary email tells the replaced address", async () => {
    const u = await createUser(ctx, app, "replaced");
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}/end-users/{user_id}", {
      params: { app_id: app.id, user_id: u.id },
      body: { email: "replaced.new@example.test" },
    });
    expect(res.status).toBe(200);
    expect(await outboxTo("replaced@example.test")).toHaveLength(1);
    expect(await outboxTo("replaced.new@example.test")).toEqual([]);
  });

  test("a password change tells the primary email", async () => {
    const u = await createUser(ctx, app, "changed");
    expect((await change(u, app)).status).toBe(204);
    expect(await outboxTo("changed@example.test")).toEqual([
      expect.objectContaining({ status: "pending", subject: "Your reauth-app password was changed" }),
    ]);
  });

  test("a completed password reset tells the primary email", async () => {
    const u = await createUser(ctx, app, "reset-notified");
    freshWindows(ctx);
    const code = await mintCode(ctx, app, "password-reset", { email: "reset-notified@example.test" });
    expect((await submitReset(ctx, app, code, NEW_PASSWORD)).status).toBe(204);
    expect((await userRow(ctx, u.id))!.passwordChangedAt).toBe(ctx.clock.now());
    expect((await outboxTo("reset-notified@example.test")).map((r) => r.subject)).toEqual([
      "Your reauth-app password was changed",
    ]);
  });

  test("an unverified primary hears nothing: the address may not be the owner's", async () => {
    const u = await createUser(ctx, app, "unproven", { emailVerified: false });
    expect((await change(u, app)).status).toBe(204);
    expect(await outboxTo("unproven@example.test")).toEqual([]);
  });

  test("with the app's email off, the changes go through and nothing is queued", async () => {
    const { u, email } = await userWithContacts(quiet, "quiet");
    expect((await promote(u, quiet, email)).status).toBe(204);
    expect((await change(u, quiet)).status).toBe(204);
    expect(
      await ctx.deps.db
        .select()
        .from(ctx.deps.db.tables.emailOutbox)
        .where(eq(ctx.deps.db.tables.emailOutbox.appId, quiet.id)),
    ).toEqual([]);
  });
});

describe("GET /openapi.json", () => {
  test("documents the appliance's reauthenticate route with its request and response schemas", async () => {
    const doc = (await ctx.call("GET", "/openapi.json", { auth: null })).body;
    const op = doc.paths["/{app_slug}/v1/me/reauthenticate"].post;
    expect(op.operationId).toBe("reauthenticateMe");
    expect(op.tags).toEqual(["consumer"]);
    expect(op.security).toEqual([{ appBearer: [] }]);
    expect(op.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/ReauthenticationRequest",
    });
    expect(op.responses["200"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/Reauthentication",
    });
    expect(doc.components.schemas.Reauthentication.required).toEqual(["authenticated_at"]);
  });
});
