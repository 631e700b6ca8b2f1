/**
 * @module Unknown body fields are a 400 VALIDATION_ERROR naming each one (with the snake_case field a
 * camelCase or misspelt key meant), on JSON and form bodies, nested objects and array items included;
 * `metadata` objects take any key, and the OAuth token and introspection endpoints still ignore extras.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { type AppBody, auditRows, createApp, userRow } from "../support/fixtures.ts";
import { createTestContext, type TestContext } from "../support/harness.ts";
import { expectErrorShape } from "../support/openapi.ts";
import { createEndUser, type TestEndUser } from "./consumer/verify-fixtures.ts";

const FORM = { "content-type": "application/x-www-form-urlencoded" };

let ctx: TestContext;
let app: AppBody;
let user: TestEndUser;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "unknown-fields");
  user = await createEndUser(ctx, app, "ursula", { role: "owner" });
});

const authConfig = async () =>
  (await ctx.call("GET", "/v1/apps/{app_id}/auth-config", { params: { app_id: app.id } })).body;

describe("the SDK README's authConfig.update({ passwordMinLength: 12 })", () => {
  test("is refused, naming the field and the one that was meant; nothing changes", async () => {
    const before = await authConfig();
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", {
      params: { app_id: app.id },
      body: { passwordMinLength: 14 },
    });
    expect(res.status).toBe(400);
    expectErrorShape(res.body, "VALIDATION_ERROR");
    expect(res.body.details).toEqual([
      { field: "passwordMinLength", reason: "unknown field; did you mean password_min_length?" },
    ]);
    expect(res.body.message).toBe("Unknown field: passwordMinLength");
    expect(await authConfig()).toEqual(before);
    expect(await auditRows(ctx, { app_id: app.id, action: "auth_config.updated" })).toEqual([]);
  });

  test("a known field beside an unknown one is not applied either: the request is refused whole", async () => {
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", {
      params: { app_id: app.id },
      body: { password_min_length: 14, passwordRequireNumber: true, "max-sessions": 3 },
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([
      { field: "passwordRequireNumber", reason: "unknown field; did you mean password_require_number?" },
      { field: "max-sessions", reason: "unknown field; did you mean max_sessions?" },
    ]);
    expect(res.body.message).toBe("Unknown fields: passwordRequireNumber, max-sessions");
    expect((await authConfig()).password_min_length).toBe(12);
  });

  test("the snake_case field is applied", async () => {
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", {
      params: { app_id: app.id },
      body: { password_min_length: 14 },
    });
    expect(res.status).toBe(200);
    expect(res.body.password_min_length).toBe(14);
    expect(await auditRows(ctx, { app_id: app.id, action: "auth_config.updated" })).toHaveLength(1);
  });
});

describe("what is named", () => {
  test("an unknown field and an invalid one are both reported; a misspelling gets its suggestion", async () => {
    const res = await ctx.call("POST", "/v1/apps/{app_id}/roles", {
      params: { app_id: app.id },
      body: { name: "Not A Name", descripton: "typo", colour: "red" },
    });
    expect(res.status).toBe(400);
    expectErrorShape(res.body, "VALIDATION_ERROR");
    expect(res.body.details).toEqual([
      { field: "descripton", reason: "unknown field; did you mean description?" },
      { field: "colour", reason: "unknown field" },
      { field: "name", reason: "must match ^[a-z][a-z0-9_-]{1,47}$" },
    ]);
    expect(res.body.message).toBe("Request validation failed");
  });

  test("fields inside a nested object are named by their path", async () => {
    const res = await ctx.call("POST", "/v1/apps/{app_id}/end-users/bulk-update-status", {
      params: { app_id: app.id },
      body: { selection: { mode: "filter", searchText: "ursula" }, status: "suspended" },
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: "selection.searchText", reason: "unknown field" }]);
    // Not applied to anyone.
    expect((await userRow(ctx, user.id))?.status).toBe("active");
  });

  test("fields inside array items are named by their index", async () => {
    const res = await ctx.call("POST", "/{app_slug}/v1/authorize/batch", {
      params: { app_slug: app.slug },
      auth: { bearer: user.token },
      body: {
        checks: [
          { id: "a", permission: "user.read" },
          { id: "b", Permission: "user.read" },
        ],
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toContainEqual({
      field: "checks.1.Permission",
      reason: "unknown field; did you mean permission?",
    });
  });

  test("a strict schema's extra key is named once, with its suggestion", async () => {
    const res = await ctx.call("POST", "/v1/apps/{app_id}/keys/rotate", {
      params: { app_id: app.id },
      body: { emergancy: true },
      unchecked: true,
    });
    expect(res.status).toBe(400);
    expectErrorShape(res.body, "VALIDATION_ERROR");
    expect(res.body.details).toEqual([
      { field: "emergancy", reason: "unknown field; did you mean emergency?" },
    ]);
    expect(res.body.message).toBe("Unknown field: emergancy");
  });

  test("inherited names are not fields", async () => {
    const res = await ctx.call("PATCH", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: { bearer: user.token },
      raw: '{"display_name":"U","constructor":1,"__proto__":{"admin":true}}',
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([
      { field: "constructor", reason: "unknown field" },
      { field: "__proto__", reason: "unknown field" },
    ]);
  });

  test("a body of junk keys names at most 20 of them", async () => {
    const junk = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`junk_${i}`, i]));
    const res = await ctx.call("PATCH", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: { bearer: user.token },
      body: junk,
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toHaveLength(20);
    expect(res.body.details[0]).toEqual({ field: "junk_0", reason: "unknown field" });
  });
});

describe("every surface", () => {
  test("Consumer sign-up: a camelCase display name is refused and no account is created", async () => {
    const res = await ctx.call("POST", "/{app_slug}/v1/auth/signup", {
      params: { app_slug: app.slug },
      auth: null,
      body: {
        username: "camel",
        email: "camel@example.test",
        password: "Tangerine-Orbit-47-Lantern",
        displayName: "Camel Case",
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([
      { field: "displayName", reason: "unknown field; did you mean display_name?" },
    ]);
    const { endUsers } = ctx.deps.db.tables;
    expect(await ctx.deps.db.select().from(endUsers).where(eq(endUsers.username, "camel"))).toEqual([]);
  });

  test("a form body on a JSON route is checked the same way", async () => {
    const res = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
      params: { app_slug: app.slug },
      auth: null,
      headers: FORM,
      raw: new URLSearchParams({ identifier: "ursula", password: "whatever", remember_me: "1" }).toString(),
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: "remember_me", reason: "unknown field" }]);
    expect(await auditRows(ctx, { app_id: app.id, action: "user.signin_failed" })).toEqual([]);
  });

  test("platform sign-in: sessionDuration points at session_duration and no session starts", async () => {
    const res = await ctx.call("POST", "/v1/auth/signin", {
      auth: null,
      body: {
        identifier: "owner@example.test",
        password: "correct horse battery staple",
        sessionDuration: "long",
      },
    });
    expect(res.status).toBe(400);
    expectErrorShape(res.body, "VALIDATION_ERROR");
    expect(res.body.details).toEqual([
      { field: "sessionDuration", reason: "unknown field; did you mean session_duration?" },
    ]);
    expect(res.headers.get("set-cookie")).toBeNull();
  });

  test("an appliance-only body (rotate-secret's grace) is checked too", async () => {
    const created = await ctx.call("POST", "/v1/apps/{app_id}/credentials", {
      params: { app_id: app.id },
      body: { name: "rotator" },
    });
    expect(created.status).toBe(201);
    const res = await ctx.call("POST", "/v1/apps/{app_id}/credentials/{client_id}/rotate", {
      params: { app_id: app.id, client_id: created.body.client_id },
      body: { gracePeriodSeconds: 60 },
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([
      { field: "gracePeriodSeconds", reason: "unknown field; did you mean grace_period_seconds?" },
    ]);
  });
});

describe("bodies that stay open", () => {
  test("metadata takes any key, nested or camelCase", async () => {
    const metadata = { billingTier: "gold", nested: { anyKey: [1, { deeper: true }] } };
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}", {
      params: { app_id: app.id },
      body: { metadata },
    });
    expect(res.status).toBe(200);
    expect(res.body.metadata).toEqual(metadata);
  });

  test("the token endpoint ignores parameters it does not know (RFC 6749 §3.2)", async () => {
    const created = await ctx.call("POST", "/v1/apps/{app_id}/credentials", {
      params: { app_id: app.id },
      body: { name: "backend" },
    });
    expect(created.status).toBe(201);
    const res = await ctx.call("POST", "/{app_slug}/v1/oauth/token", {
      params: { app_slug: app.slug },
      auth: null,
      headers: FORM,
      raw: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: created.body.client_id,
        client_secret: created.body.client_secret,
        clientId: "ignored",
        client_assertion_hint: "ignored",
      }).toString(),
    });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe("Bearer");
  });

  test("introspection ignores parameters it does not know (RFC 7662 §2.1), as a form or as JSON", async () => {
    for (const opts of [
      {
        headers: FORM,
        raw: new URLSearchParams({ token_type_hint: "access_token", resource: "x" }).toString(),
      },
      { body: { token_type_hint: "access_token", resource: "x" } },
    ]) {
      const res = await ctx.call("POST", "/{app_slug}/v1/oauth/introspect", {
        params: { app_slug: app.slug },
        auth: { bearer: user.token },
        ...opts,
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ active: true, sub: user.id });
    }
  });
});
