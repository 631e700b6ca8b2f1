/** @module GET `/{app_slug}/v1/me/activity`: the caller's own audit trail, newest first, cursor-paginated, nobody else's. */
import { beforeAll, describe, expect, test } from "bun:test";
import { SECOND } from "../../../src/core/clock.ts";
import { createApp, openSession } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { bearer, createUser, DEFAULT_PASSWORD, type TestApp, type TestUser } from "./me-fixtures.ts";

let ctx: TestContext;
let app: TestApp;
let u: TestUser;
let neighbour: TestUser;
let elsewhere: TestUser;
let elsewhereApp: TestApp;

const activity = (who: TestUser, query: Record<string, string | number> = {}, a: TestApp = app) =>
  ctx.call("GET", "/{app_slug}/v1/me/activity", { params: { app_slug: a.slug }, auth: bearer(who), query });

const act = (who: TestUser, method: string, path: string, body?: unknown, a: TestApp = app) =>
  ctx.call(method, path, { params: { app_slug: a.slug }, auth: bearer(who), body });

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "activity-app");
  // Members sign their own devices out here: the operator binds session.revoke (the documented member lacks it).
  const bound = await ctx.call("PUT", "/v1/apps/{app_id}/roles/{role_name}/permissions", {
    params: { app_id: app.id, role_name: "member" },
    body: { permissions: ["user.read", "role.read", "session.revoke"] },
  });
  expect(bound.status).toBe(200);
  elsewhereApp = await createApp(ctx, "activity-other");
  u = await createUser(ctx, app, "actor");
  neighbour = await createUser(ctx, app, "neighbour");
  elsewhere = await createUser(ctx, elsewhereApp, "elsewhere");

  // The caller's own doings, one second apart.
  expect((await act(u, "PATCH", "/{app_slug}/v1/me", { display_name: "Actor" })).status).toBe(200);
  ctx.clock.advance(SECOND);
  expect(
    (await act(u, "POST", "/{app_slug}/v1/me/contacts", { type: "phone", value: "+14155550111" })).status,
  ).toBe(201);
  ctx.clock.advance(SECOND);
  const device = await openSession(ctx, app, u.id);
  expect((await act(u, "DELETE", `/{app_slug}/v1/me/sessions/${device.sessionId}`)).status).toBe(204);
  ctx.clock.advance(SECOND);
  expect(
    (
      await act(u, "POST", "/{app_slug}/v1/me/change-password", {
        current_password: "wrong password here",
        new_password: "x",
      })
    ).status,
  ).toBe(400);
  expect(
    (
      await act(u, "POST", "/{app_slug}/v1/me/change-password", {
        current_password: "wrong password here",
        new_password: "a new good passphrase",
      })
    ).status,
  ).toBe(401);
  ctx.clock.advance(SECOND);
  // An operator acting on the account: shown, but without the operator's id.
  await ctx.deps.audit.record({
    appId: app.id,
    action: "user.suspended",
    resourceType: "user",
    resourceId: u.id,
    actor: { type: "pak", id: "pak-operator-id" },
    details: { reason: "test" },
  });

  // Other people's doings, in the same app and in another.
  expect((await act(neighbour, "PATCH", "/{app_slug}/v1/me", { display_name: "Neighbour" })).status).toBe(
    200,
  );
  expect(
    (await act(elsewhere, "PATCH", "/{app_slug}/v1/me", { display_name: "Elsewhere" }, elsewhereApp)).status,
  ).toBe(200);
  // A row that mentions the user only in its details is not theirs.
  await ctx.deps.audit.record({
    appId: app.id,
    action: "user.updated",
    resourceType: "user",
    resourceId: neighbour.id,
    actor: { type: "end_user", id: neighbour.id },
    details: { mentions: u.id },
  });
});

const EXPECTED = [
  "user.suspended",
  "user.password_change_failed",
  "session.revoked",
  "contact.added",
  "user.updated",
];

describe("GET /{app_slug}/v1/me/activity", () => {
  test("lists what the caller did and what was done to the account, newest first", async () => {
    const res = await activity(u);
    expect(res.status).toBe(200);
    expect(res.body.pagination).toEqual({ has_more: false, next_cursor: null });
    expect(res.body.data.map((e: { action: string }) => e.action)).toEqual(EXPECTED);
    const updated = res.body.data.at(-1);
    expect(updated).toEqual({
      id: expect.any(String),
      app_id: app.id,
      action: "user.updated",
      resource_type: "user",
      resource_id: u.id,
      actor_id: u.id,
      details: { fields: ["display_name"] },
      created_at: expect.any(String),
    });
    // Only the DTO's fields: no ip, request id or hash chain.
    expect(Object.keys(updated).sort()).toEqual(
      ["action", "actor_id", "app_id", "created_at", "details", "id", "resource_id", "resource_type"].sort(),
    );
  });

  test("an operator's action on the account is shown without the operator's id", async () => {
    const res = await activity(u);
    const suspended = res.body.data.find((e: { action: string }) => e.action === "user.suspended");
    expect(suspended).toMatchObject({ resource_id: u.id, actor_id: null, details: { reason: "test" } });
  });

  test("never shows another user's rows, in this app or another", async () => {
    const mine = (await activity(u)).body.data;
    for (const e of mine) expect([e.actor_id, e.resource_id]).not.toContain(neighbour.id);
    const theirs = await activity(neighbour);
    expect(theirs.body.data.map((e: { action: string }) => e.action)).toEqual([
      "user.updated",
      "user.updated",
    ]);
    for (const e of theirs.body.data) {
      expect(e.resource_id).toBe(neighbour.id);
      expect(e.app_id).toBe(app.id);
    }
    const far = await activity(elsewhere, {}, elsewhereApp);
    expect(far.body.data.map((e: { app_id: string }) => e.app_id)).toEqual([elsewhereApp.id]);
  });

  test("pages with limit and an opaque cursor, without gaps or repeats", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await activity(u, cursor ? { limit: 2, cursor } : { limit: 2 });
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.map((e: { action: string }) => e.action));
      cursor = res.body.pagination.next_cursor ?? undefined;
      expect(res.body.pagination.has_more).toBe(cursor !== undefined);
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(EXPECTED);
  });

  test("a new event shows up first", async () => {
    const changed = await act(u, "POST", "/{app_slug}/v1/me/change-password", {
      current_password: DEFAULT_PASSWORD,
      new_password: "a new good passphrase",
    });
    expect(changed.status).toBe(204);
    const res = await activity(u, { limit: 1 });
    expect(res.body.data.map((e: { action: string }) => e.action)).toEqual(["user.password_changed"]);
    expect(res.body.pagination.has_more).toBe(true);
  });

  const invalid: [string, Record<string, string | number>, string][] = [
    ["limit=0", { limit: 0 }, "limit"],
    ["limit=201", { limit: 201 }, "limit"],
    ["a non-numeric limit", { limit: "ten" }, "limit"],
    ["a garbage cursor", { cursor: "!!!" }, "cursor"],
    [
      "a cursor of another shape",
      { cursor: Buffer.from(JSON.stringify({ c: 1, i: "x" })).toString("base64url") },
      "cursor",
    ],
  ];
  test.each(invalid)("%s is 400 VALIDATION_ERROR", async (_name, query, field) => {
    const res = await activity(u, query);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
  });
});
