/**
 * @module Admin API end-user invites (`/v1/apps/{app_id}/end-users/invites*`): create (defaults, role lookup,
 * supersede, idempotency, the invitation email), list (masked codes, pages, filters), revoke, every refusal,
 * and that no row anywhere holds a code.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { HOUR } from "../../../src/core/clock.ts";
import { sha256Hex } from "../../../src/core/crypto.ts";
import { GOOD_PASSWORD, queryRow, queryRows, signUp } from "../../support/end-users.ts";
import { auditRows, createApp, type TestApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { deliveredMail, enableEmail, outboxRows } from "../consumer/codes-fixtures.ts";
import { allow, insertPak } from "./fixtures.ts";

const INVITES = "/v1/apps/{app_id}/end-users/invites";
const INVITE = "/v1/apps/{app_id}/end-users/invites/{invite_id}";
const CODE = /^inv_[A-Za-z0-9_-]{43}$/;

let ctx: TestContext;
let app: TestApp;
let other: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "inv-admin", { display_name: "Acme Portal" });
  other = await createApp(ctx, "inv-other");
});

const create = (
  body: unknown,
  opts: { appId?: string; headers?: Record<string, string>; pak?: string } = {},
) =>
  ctx.call("POST", INVITES, {
    params: { app_id: opts.appId ?? app.id },
    body,
    headers: opts.headers,
    auth: opts.pak ? { pak: opts.pak } : undefined,
  });
const list = (query: Record<string, string> = {}, appId = app.id) =>
  ctx.call("GET", INVITES, { params: { app_id: appId }, query });
const revoke = (inviteId: string, appId = app.id) =>
  ctx.call("DELETE", INVITE, { params: { app_id: appId, invite_id: inviteId } });

/** A raw row with its epoch-millisecond columns as numbers (PostgreSQL's bigints arrive as strings). */
function withTimes(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [k, k.endsWith("_at") && v !== null ? Number(v) : v]),
  );
}
async function inviteRow(id: string) {
  return withTimes((await queryRow(ctx, "SELECT * FROM end_user_invites WHERE id = ?", id))!);
}
async function eventsOf(type: string, appId = app.id) {
  const rows = await queryRows(
    ctx,
    "SELECT data FROM events WHERE app_id = ? AND type = ? ORDER BY created_at, id",
    appId,
    type,
  );
  // jsonb arrives parsed on PostgreSQL, as text on SQLite.
  return rows.map(
    (r) => (typeof r.data === "string" ? JSON.parse(r.data) : r.data) as Record<string, unknown>,
  );
}
/** Every row of every table, as text: a code must appear in none of them. */
async function everyRowMentions(needle: string): Promise<string[]> {
  const catalogue =
    ctx.deps.db.engine === "postgres"
      ? "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
      : "SELECT name FROM sqlite_master WHERE type = 'table'";
  const tables = (await queryRows(ctx, catalogue)).map((r) => String(r.name));
  const found: string[] = [];
  for (const t of tables)
    if (JSON.stringify(await queryRows(ctx, `SELECT * FROM "${t}"`)).includes(needle)) found.push(t);
  return found;
}

describe("POST /end-users/invites", () => {
  test("201: the invite with its code, the defaults, one hashed row, its audit row and event", async () => {
    const res = await create({ email: "  Alice@Example.TEST " });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const member = (await queryRow(
      ctx,
      "SELECT id FROM roles WHERE app_id = ? AND name = 'member'",
      app.id,
    ))!;
    const now = ctx.clock.now();
    expect(res.body).toEqual({
      id: expect.any(String),
      code: expect.stringMatching(CODE),
      email: "alice@example.test",
      role_name: "member",
      role_id: member.id,
      max_uses: 1,
      use_count: 0,
      expires_at: new Date(now + 72 * HOUR).toISOString(),
      revoked_at: null,
      created_at: new Date(now).toISOString(),
    });
    const code: string = res.body.code;
    const row = await inviteRow(res.body.id);
    expect(row).toMatchObject({
      app_id: app.id,
      code_hash: sha256Hex(code),
      code_hint: code.slice(-4),
      email: "alice@example.test",
      role: "member",
      name: null,
      max_uses: 1,
      use_count: 0,
      revoked_at: null,
      superseded_by: null,
    });
    expect(await everyRowMentions(code)).toEqual([]);
    const [audit] = await auditRows(ctx, { action: "invite.created", resource_id: res.body.id });
    expect(audit).toMatchObject({ app_id: app.id, actor_type: "pak", resource_type: "invite" });
    expect(audit!.details).toMatchObject({
      email: "alice@example.test",
      role: "member",
      delivery: "operator",
    });
    expect((await eventsOf("invite.created")).at(-1)).toEqual({
      invite_id: res.body.id,
      email: "alice@example.test",
      role: "member",
      max_uses: 1,
      expires_at: res.body.expires_at,
    });
  });

  test("role_name in any case is stored as the role's name; expiry, uses and name as given", async () => {
    const res = await create({
      email: "bob@example.test",
      role_name: "ADMIN",
      expires_in_hours: 1,
      max_uses: 10000,
      name: "Bob Builder",
    });
    expect(res.status).toBe(201);
    const adminRole = (await queryRow(
      ctx,
      "SELECT id FROM roles WHERE app_id = ? AND name = 'admin'",
      app.id,
    ))!;
    expect(res.body).toMatchObject({ role_name: "admin", role_id: adminRole.id, max_uses: 10000 });
    expect(res.body.expires_at).toBe(new Date(ctx.clock.now() + HOUR).toISOString());
    expect(await inviteRow(res.body.id)).toMatchObject({ role: "admin", name: "Bob Builder" });
  });

  test("an unknown role → 400 UNKNOWN_ROLE, and nothing is written", async () => {
    const res = await create({ email: "carol@example.test", role_name: "wizard" });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("UNKNOWN_ROLE");
    expect(
      await queryRow(ctx, "SELECT id FROM end_user_invites WHERE email = 'carol@example.test'"),
    ).toBeUndefined();
  });

  test.each([
    ["no email", {}, "email"],
    ["a bad email", { email: "not-an-address" }, "email"],
    ["expires_in_hours 0", { email: "d@example.test", expires_in_hours: 0 }, "expires_in_hours"],
    ["expires_in_hours 721", { email: "d@example.test", expires_in_hours: 721 }, "expires_in_hours"],
    ["max_uses 0", { email: "d@example.test", max_uses: 0 }, "max_uses"],
    ["max_uses 10001", { email: "d@example.test", max_uses: 10001 }, "max_uses"],
    ["max_uses 1.5", { email: "d@example.test", max_uses: 1.5 }, "max_uses"],
    ["an unknown field", { email: "d@example.test", maxUses: 2 }, "maxUses"],
  ])("%s → 400 VALIDATION_ERROR naming the field", async (_name, body, field) => {
    const res = await create(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  test("an address the app already has an account for → 409 EMAIL_TAKEN", async () => {
    await signUp(ctx, app.slug, { username: "taken", email: "taken@example.test", password: GOOD_PASSWORD });
    const res = await create({ email: "TAKEN@example.test" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("EMAIL_TAKEN");
    // Another app's account does not count.
    expect((await create({ email: "taken@example.test" }, { appId: other.id })).status).toBe(201);
  });

  test("a new invite for the same address supersedes the live one, in one change with its audit and event", async () => {
    const first = await create({ email: "dave@example.test" });
    const second = await create({ email: "dave@example.test", role_name: "admin" });
    expect(second.status).toBe(201);
    expect(await inviteRow(first.body.id)).toMatchObject({
      revoked_at: ctx.clock.now(),
      superseded_by: second.body.id,
    });
    expect((await inviteRow(second.body.id)).revoked_at).toBeNull();
    const [revoked] = await auditRows(ctx, { action: "invite.revoked", resource_id: first.body.id });
    expect(revoked!.details).toMatchObject({ reason: "superseded", superseded_by: second.body.id });
    expect(
      (await auditRows(ctx, { action: "invite.created", resource_id: second.body.id }))[0]!.details,
    ).toMatchObject({
      superseded: [first.body.id],
    });
    expect((await eventsOf("invite.revoked")).at(-1)).toMatchObject({
      invite_id: first.body.id,
      reason: "superseded",
      superseded_by: second.body.id,
    });
  });

  test("Idempotency-Key: the same request replays the same invite (code included); no second row", async () => {
    const headers = { "idempotency-key": "invite-erin-1" };
    const first = await create({ email: "erin@example.test" }, { headers });
    const replay = await create({ email: "erin@example.test" }, { headers });
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toEqual(first.body);
    expect(
      await queryRows(ctx, "SELECT id FROM end_user_invites WHERE email = 'erin@example.test'"),
    ).toHaveLength(1);
    // The stored response is sealed: the code is in no row.
    expect(await everyRowMentions(first.body.code)).toEqual([]);
    const reuse = await create({ email: "other-erin@example.test" }, { headers });
    expect(reuse.status).toBe(409);
    expect(reuse.body.code).toBe("IDEMPOTENCY_KEY_REUSE");
  });

  test("lanes: no credential → 401; a PAK allowed only reads → 403; an unknown app → 404 APP_NOT_FOUND", async () => {
    const anonymous = await ctx.call("POST", INVITES, {
      params: { app_id: app.id },
      body: { email: "x@example.test" },
      auth: null,
    });
    expect(anonymous.status).toBe(401);
    const reader = await insertPak(ctx, [allow(["heimdall.read"])]);
    const refused = await create({ email: "x@example.test" }, { pak: reader.token });
    expect(refused.status).toBe(403);
    expect((await list({}, app.id)).status).toBe(200);
    const unknown = await create({ email: "x@example.test" }, { appId: "no-such-app" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("APP_NOT_FOUND");
  });
});

describe("the invitation email", () => {
  let mailApp: TestApp;
  beforeAll(async () => {
    mailApp = await createApp(ctx, "inv-mail", { display_name: "Mail & Co" });
  });

  test("queued with the app's sender, delivered with the code and the accept link; the row keeps no code", async () => {
    await enableEmail(ctx, mailApp.id, { web_origin: "https://portal.example.test" });
    const res = await create({ email: "frank@example.test", name: "Frank <F>" }, { appId: mailApp.id });
    expect(res.status).toBe(201);
    const code: string = res.body.code;
    const [row] = await outboxRows(ctx, mailApp.id);
    expect(row).toMatchObject({ to: "frank@example.test", from: "no-reply@acme.test", status: "sent" });
    expect(row!.subject).toBe("You're invited to Mail & Co");
    expect(row!.bodySecretId).toBeNull();
    const mail = deliveredMail(ctx, row!.id);
    expect(mail.text).toContain("Hello Frank <F>,");
    expect(mail.text).toContain(`Your invite code: ${code}`);
    expect(mail.text).toContain(`https://portal.example.test/accept-invite?code=${code}`);
    expect(mail.html).toContain("Frank &lt;F&gt;");
    expect(mail.html).toContain(`href="https://portal.example.test/accept-invite?code=${code}"`);
    // Delivered: neither the outbox row nor any other keeps the code.
    expect(await everyRowMentions(code)).toEqual([]);
    expect(
      (await auditRows(ctx, { action: "invite.created", resource_id: res.body.id }))[0]!.details,
    ).toMatchObject({
      delivery: "email",
      outbox_id: row!.id,
    });
  });

  test("without a web_origin the email carries the code only", async () => {
    await enableEmail(ctx, mailApp.id, { web_origin: null });
    const res = await create({ email: "gina@example.test" }, { appId: mailApp.id });
    const row = (await outboxRows(ctx, mailApp.id)).find((r) => r.to === "gina@example.test")!;
    const mail = deliveredMail(ctx, row.id);
    expect(mail.text).toContain(`Your invite code: ${res.body.code}`);
    expect(mail.text).not.toContain("accept-invite");
  });

  test("an app that sends no email queues nothing: the operator hands the code over", async () => {
    const res = await create({ email: "hank@example.test" });
    expect(res.status).toBe(201);
    expect(await outboxRows(ctx, app.id)).toEqual([]);
  });
});

describe("GET /end-users/invites", () => {
  let listApp: TestApp;
  const ids: string[] = [];
  const codes: string[] = [];
  beforeAll(async () => {
    listApp = await createApp(ctx, "inv-list");
    for (const email of ["l1@example.test", "l2@example.test", "l3@example.test"]) {
      ctx.clock.advance(1000);
      const res = await create({ email }, { appId: listApp.id });
      ids.push(res.body.id);
      codes.push(res.body.code);
    }
  });

  test("is the invite list (never the end-user route's USER_NOT_FOUND): newest first, codes masked", async () => {
    const res = await list({}, listApp.id);
    expect(res.status).toBe(200);
    expect(res.body.data.map((i: { id: string }) => i.id)).toEqual([...ids].reverse());
    expect(res.body.data[0].code).toBe(`inv_…${codes[2]!.slice(-4)}`);
    expect(res.body.pagination).toEqual({ has_more: false, next_cursor: null });
    expect(
      (await auditRows(ctx, { action: "invite.listed", app_id: listApp.id })).at(-1)!.details,
    ).toMatchObject({
      count: 3,
    });
  });

  test("pages with limit and cursor", async () => {
    const first = await list({ limit: "2" }, listApp.id);
    expect(first.body.data.map((i: { id: string }) => i.id)).toEqual([ids[2], ids[1]]);
    expect(first.body.pagination.has_more).toBe(true);
    const second = await list({ limit: "2", cursor: first.body.pagination.next_cursor }, listApp.id);
    expect(second.body.data.map((i: { id: string }) => i.id)).toEqual([ids[0]]);
    expect(second.body.pagination).toEqual({ has_more: false, next_cursor: null });
    const bad = await list({ cursor: "garbage" }, listApp.id);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("VALIDATION_ERROR");
  });

  test("filters by email and by status (live, revoked, expired, exhausted)", async () => {
    expect(
      (await list({ email: "L2@example.test" }, listApp.id)).body.data.map((i: { id: string }) => i.id),
    ).toEqual([ids[1]]);
    expect((await revoke(ids[0]!, listApp.id)).status).toBe(204);
    const idsOf = async (status: string) =>
      (await list({ status }, listApp.id)).body.data.map((i: { id: string }) => i.id);
    expect(await idsOf("revoked")).toEqual([ids[0]]);
    expect(await idsOf("live")).toEqual([ids[2], ids[1]]);
    ctx.clock.advance(73 * HOUR);
    expect(await idsOf("expired")).toEqual([ids[2], ids[1]]);
    expect(await idsOf("live")).toEqual([]);
    await queryRows(ctx, "UPDATE end_user_invites SET use_count = max_uses WHERE id = ?", ids[2]!);
    expect(await idsOf("exhausted")).toEqual([ids[2]]);
    const bad = await list({ status: "pending" }, listApp.id);
    expect(bad.status).toBe(400);
  });
});

describe("DELETE /end-users/invites/{invite_id}", () => {
  test("204: revoked (soft), audited and emitted; a second revoke is 204 and changes nothing", async () => {
    const { body } = await create({ email: "ivy@example.test" });
    const res = await revoke(body.id);
    expect(res.status).toBe(204);
    expect(await inviteRow(body.id)).toMatchObject({ revoked_at: ctx.clock.now(), superseded_by: null });
    expect(await auditRows(ctx, { action: "invite.revoked", resource_id: body.id })).toHaveLength(1);
    expect((await eventsOf("invite.revoked")).at(-1)).toMatchObject({
      invite_id: body.id,
      reason: "revoked",
    });
    ctx.clock.advance(1000);
    expect((await revoke(body.id)).status).toBe(204);
    expect((await inviteRow(body.id)).revoked_at).toBe(ctx.clock.now() - 1000);
    expect(await auditRows(ctx, { action: "invite.revoked", resource_id: body.id })).toHaveLength(1);
    const [listed] = (await list({ email: "ivy@example.test" })).body.data;
    expect(listed.revoked_at).toBe(new Date(ctx.clock.now() - 1000).toISOString());
  });

  test.each([
    ["an unknown id", () => "0190d8c4-0000-7000-8000-000000000000"],
    ["a malformed id", () => "not-a-uuid"],
  ])("%s → 404 INVITE_NOT_FOUND", async (_name, id) => {
    const res = await revoke(id());
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("INVITE_NOT_FOUND");
  });

  test("another app's invite → 404 INVITE_NOT_FOUND, and it stays live", async () => {
    const { body } = await create({ email: "jay@example.test" }, { appId: other.id });
    const res = await revoke(body.id, app.id);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("INVITE_NOT_FOUND");
    expect((await inviteRow(body.id)).revoked_at).toBeNull();
  });
});
