/** @module `/{app_slug}/v1/me/contacts*`: listing, adding (normalised, unverified), deleting and promoting contacts. */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { auditRows, contactRow, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { bearer, createUser, type TestApp, type TestUser } from "./me-fixtures.ts";

let ctx: TestContext;
let app: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "contacts-app");
});

const list = (u: TestUser) =>
  ctx.call("GET", "/{app_slug}/v1/me/contacts", { params: { app_slug: app.slug }, auth: bearer(u) });
const add = (u: TestUser, body: unknown, a: TestApp = app) =>
  ctx.call("POST", "/{app_slug}/v1/me/contacts", { params: { app_slug: a.slug }, auth: bearer(u), body });
const remove = (u: TestUser, id: string) =>
  ctx.call("DELETE", "/{app_slug}/v1/me/contacts/{id}", {
    params: { app_slug: app.slug, id },
    auth: bearer(u),
  });
const promote = (u: TestUser, id: string) =>
  ctx.call("POST", "/{app_slug}/v1/me/contacts/{id}/promote", {
    params: { app_slug: app.slug, id },
    auth: bearer(u),
  });

/** Stands in for the verification flow, which another module owns. */
const markVerified = async (id: string) =>
  await ctx.deps.db
    .update(ctx.deps.db.tables.endUserContacts)
    .set({ verifiedAt: ctx.clock.now() })
    .where(eq(ctx.deps.db.tables.endUserContacts.id, id));

describe("GET /{app_slug}/v1/me/contacts", () => {
  test("lists the caller's contacts only, oldest first", async () => {
    const u = await createUser(ctx, app, "lister");
    await createUser(ctx, app, "someone-else");
    const phone = await add(u, { type: "phone", value: "+44 20 7946 0000" });
    expect(phone.status).toBe(201);
    const res = await list(u);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([
      {
        id: u.emailContactId,
        type: "email",
        value: "lister@example.test",
        is_primary: true,
        verified_at: new Date((await contactRow(ctx, u.emailContactId!))!.verifiedAt!).toISOString(),
        created_at: expect.any(String),
      },
      phone.body,
    ]);
  });

  test("an account without contacts gets an empty list", async () => {
    const u = await createUser(ctx, app, "bare", { email: null });
    expect((await list(u)).body).toEqual({ data: [] });
  });
});

describe("POST /{app_slug}/v1/me/contacts", () => {
  let u: TestUser;
  beforeAll(async () => {
    u = await createUser(ctx, app, "adder");
  });

  test("adds an email, normalised, unverified and not primary, and records contact.added", async () => {
    const res = await add(u, { type: "email", value: "  Ada.Second@Example.TEST " });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      type: "email",
      value: "ada.second@example.test",
      is_primary: false,
      verified_at: null,
      created_at: new Date(ctx.clock.now()).toISOString(),
    });
    expect(await contactRow(ctx, res.body.id)).toMatchObject({
      userId: u.id,
      appId: app.id,
      isPrimary: false,
      verifiedAt: null,
    });
    const row = (
      await auditRows(ctx, { app_id: app.id, action: "contact.added", resource_id: res.body.id })
    )[0];
    expect(row).toMatchObject({
      actor_type: "end_user",
      actor_id: u.id,
      resource_type: "contact",
      details: { user_id: u.id, type: "email" },
    });
    // The profile's email is still the primary one.
    const me = await ctx.call("GET", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: bearer(u),
    });
    expect(me.body.email).toBe("adder@example.test");
  });

  test("adds a phone reduced to + and digits", async () => {
    const res = await add(u, { type: "phone", value: "+1 (415) 555-0134" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      type: "phone",
      value: "+14155550134",
      is_primary: false,
      verified_at: null,
    });
  });

  test("is_primary: false is accepted", async () => {
    const res = await add(u, { type: "email", value: "explicit-false@example.test", is_primary: false });
    expect(res.status).toBe(201);
    expect(res.body.is_primary).toBe(false);
  });

  test("is_primary: true is 409 CONTACT_NOT_VERIFIED: a new contact is unverified, and only verified ones are primary", async () => {
    const res = await add(u, { type: "email", value: "wants-primary@example.test", is_primary: true });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("CONTACT_NOT_VERIFIED");
    expect(
      await ctx.deps.db
        .select()
        .from(ctx.deps.db.tables.endUserContacts)
        .where(eq(ctx.deps.db.tables.endUserContacts.value, "wants-primary@example.test")),
    ).toEqual([]);
  });

  const invalid: [string, unknown, string][] = [
    ["a malformed email", { type: "email", value: "not-an-email" }, "value"],
    ["an email with spaces inside", { type: "email", value: "a b@example.test" }, "value"],
    ["a phone with too few digits", { type: "phone", value: "+1 555" }, "value"],
    ["a phone with letters only", { type: "phone", value: "call me" }, "value"],
    ["an unknown type", { type: "fax", value: "+14155550100" }, "type"],
    ["no value", { type: "email" }, "value"],
    ["an empty value", { type: "email", value: "" }, "value"],
    ["an overlong value", { type: "email", value: `${"a".repeat(320)}@example.test` }, "value"],
    ["a non-boolean is_primary", { type: "email", value: "x@example.test", is_primary: "yes" }, "is_primary"],
    ["no body", undefined, "body"],
  ];
  test.each(invalid)("%s is 400 VALIDATION_ERROR", async (_name, body, field) => {
    const res = await add(u, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  test("an address anyone in the app holds is 409 CONTACT_TAKEN, whatever its spelling", async () => {
    const other = await createUser(ctx, app, "holder");
    for (const value of ["holder@example.test", "HOLDER@example.test", "adder@example.test"]) {
      const res = await add(u, { type: "email", value });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("CONTACT_TAKEN");
    }
    const phone = await add(other, { type: "phone", value: "+14155550177" });
    expect(phone.status).toBe(201);
    const clash = await add(u, { type: "phone", value: "+1 415 555 0177" });
    expect(clash.status).toBe(409);
    expect(clash.body.code).toBe("CONTACT_TAKEN");
  });

  test("the same address is free in another app", async () => {
    const elsewhere = await createApp(ctx, "contacts-other");
    const stranger = await createUser(ctx, elsewhere, "stranger");
    const res = await add(stranger, { type: "email", value: "adder@example.test" }, elsewhere);
    expect(res.status).toBe(201);
  });

  test("an account holds at most 10 contacts: the 11th is 409 CONTACT_LIMIT", async () => {
    const many = await createUser(ctx, app, "collector");
    for (let i = 1; i < 10; i++) {
      expect((await add(many, { type: "email", value: `collect-${i}@example.test` })).status).toBe(201);
    }
    const res = await add(many, { type: "email", value: "collect-11@example.test" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("CONTACT_LIMIT");
    expect((await list(many)).body.data).toHaveLength(10);
  });
});

describe("DELETE /{app_slug}/v1/me/contacts/{id}", () => {
  let u: TestUser;
  beforeAll(async () => {
    u = await createUser(ctx, app, "deleter");
  });

  test("deletes one of the caller's contacts and records contact.deleted", async () => {
    const c = await add(u, { type: "email", value: "old-address@example.test" });
    const res = await remove(u, c.body.id);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(await contactRow(ctx, c.body.id)).toBeUndefined();
    const row = (
      await auditRows(ctx, { app_id: app.id, action: "contact.deleted", resource_id: c.body.id })
    )[0];
    expect(row).toMatchObject({
      actor_id: u.id,
      details: { user_id: u.id, type: "email", was_primary: false },
    });
    // The address is free again.
    expect((await add(u, { type: "email", value: "old-address@example.test" })).status).toBe(201);
  });

  test("the primary email is 409 CONTACT_IS_PRIMARY and stays", async () => {
    const res = await remove(u, u.emailContactId!);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("CONTACT_IS_PRIMARY");
    expect(await contactRow(ctx, u.emailContactId!)).toBeDefined();
  });

  test("a primary phone can be deleted", async () => {
    const p = await add(u, { type: "phone", value: "+14155550188" });
    await markVerified(p.body.id);
    expect((await promote(u, p.body.id)).status).toBe(204);
    expect((await remove(u, p.body.id)).status).toBe(204);
    expect(await contactRow(ctx, p.body.id)).toBeUndefined();
  });

  test("another user's contact is 404 CONTACT_NOT_FOUND and stays", async () => {
    const victim = await createUser(ctx, app, "contact-victim");
    const extra = await add(victim, { type: "email", value: "victim-extra@example.test" });
    for (const id of [extra.body.id, victim.emailContactId!, "01900000-0000-7000-8000-000000000000"]) {
      const res = await remove(u, id);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("CONTACT_NOT_FOUND");
    }
    expect(await contactRow(ctx, extra.body.id)).toBeDefined();
  });
});

describe("POST /{app_slug}/v1/me/contacts/{id}/promote", () => {
  let u: TestUser;
  beforeAll(async () => {
    u = await createUser(ctx, app, "promoter");
  });

  test("an unverified contact is 409 CONTACT_NOT_VERIFIED; the primary stays", async () => {
    const c = await add(u, { type: "email", value: "unproven@example.test" });
    const res = await promote(u, c.body.id);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("CONTACT_NOT_VERIFIED");
    expect((await contactRow(ctx, c.body.id))!.isPrimary).toBe(false);
    expect((await contactRow(ctx, u.emailContactId!))!.isPrimary).toBe(true);
  });

  test("a verified contact becomes primary, the previous primary of its type is demoted, in one step", async () => {
    const c = await add(u, { type: "email", value: "new-primary@example.test" });
    await markVerified(c.body.id);
    const phone = await add(u, { type: "phone", value: "+14155550199" });
    await markVerified(phone.body.id);
    expect((await promote(u, phone.body.id)).status).toBe(204);

    const res = await promote(u, c.body.id);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect((await contactRow(ctx, c.body.id))!.isPrimary).toBe(true);
    expect((await contactRow(ctx, u.emailContactId!))!.isPrimary).toBe(false);
    // Another type's primary is untouched.
    expect((await contactRow(ctx, phone.body.id))!.isPrimary).toBe(true);

    const me = await ctx.call("GET", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: bearer(u),
    });
    expect(me.body.email).toBe("new-primary@example.test");
    const row = (
      await auditRows(ctx, { app_id: app.id, action: "contact.promoted", resource_id: c.body.id })
    )[0];
    expect(row).toMatchObject({
      actor_id: u.id,
      details: { user_id: u.id, type: "email", previous_contact_id: u.emailContactId },
    });

    // The old primary is now an ordinary contact and may go.
    expect((await remove(u, u.emailContactId!)).status).toBe(204);
  });

  test("promoting the current primary changes and records nothing", async () => {
    const p = await createUser(ctx, app, "already-primary");
    const before = (await auditRows(ctx, { app_id: app.id, action: "contact.promoted" })).length;
    expect((await promote(p, p.emailContactId!)).status).toBe(204);
    expect((await contactRow(ctx, p.emailContactId!))!.isPrimary).toBe(true);
    expect(await auditRows(ctx, { app_id: app.id, action: "contact.promoted" })).toHaveLength(before);
  });

  test("another user's contact is 404 CONTACT_NOT_FOUND", async () => {
    const victim = await createUser(ctx, app, "promote-victim");
    const extra = await add(victim, { type: "email", value: "promote-victim-2@example.test" });
    await markVerified(extra.body.id);
    const res = await promote(u, extra.body.id);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("CONTACT_NOT_FOUND");
    expect((await contactRow(ctx, extra.body.id))!.isPrimary).toBe(false);
  });
});
