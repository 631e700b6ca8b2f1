/** @module GET/PATCH /v1/apps/{app_id}/notification-settings and the appliance's GET /v1/apps/{app_id}/outbox. */
import { beforeAll, describe, expect, test } from "bun:test";
import { MINUTE } from "../../../src/core/clock.ts";
import { type AppBody, createApp, insertEndUser } from "../../support/fixtures.ts";
import { type Auth, createTestContext, type TestContext } from "../../support/harness.ts";
import { expectErrorShape } from "../../support/openapi.ts";
import {
  allow,
  auditCount,
  detailFields,
  errCode,
  expectLastAudit,
  insertMember,
  insertPak,
} from "./fixtures.ts";

let ctx: TestContext;
let app: AppBody;
let cookie: string;
let viewerCookie: string;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "notify-app");
  cookie = await ctx.signIn();
  const viewer = await insertMember(ctx, "viewer@example.test", "viewer");
  viewerCookie = await ctx.signIn("viewer@example.test", viewer.password);
});

const get = (auth?: Auth, ref = app.id) =>
  ctx.call("GET", "/v1/apps/{app_id}/notification-settings", { params: { app_id: ref }, auth });
const patch = (body: unknown, auth?: Auth, ref = app.id) =>
  ctx.call("PATCH", "/v1/apps/{app_id}/notification-settings", { params: { app_id: ref }, body, auth });

const DEFAULTS = {
  notifications_via_envoi: false,
  default_sender_address: null,
  verification_template_name: null,
  welcome_template_name: null,
  password_reset_template_name: null,
  web_origin: null,
};

describe("GET", () => {
  test("an app without a row reads as the defaults, dated like the app (by id and by slug, PAK and cookie)", async () => {
    for (const [auth, ref] of [
      [undefined, app.id],
      [{ cookie }, app.slug],
      [{ cookie: viewerCookie }, app.id],
    ] as const) {
      const res = await get(auth, ref);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        app_id: app.id,
        ...DEFAULTS,
        created_at: app.created_at,
        updated_at: app.created_at,
      });
    }
  });
});

describe("PATCH", () => {
  test("sets the fields given, leaves the rest; audit names what changed", async () => {
    ctx.clock.advance(MINUTE);
    const res = await patch({
      notifications_via_envoi: true,
      default_sender_address: "  no-reply@acme.test ",
      verification_template_name: "heimdall-verification",
      web_origin: "https://Portal.Acme.test:8443/",
    });
    expect(res.status).toBe(200);
    const now = new Date(ctx.clock.now()).toISOString();
    expect(res.body).toEqual({
      app_id: app.id,
      ...DEFAULTS,
      notifications_via_envoi: true,
      default_sender_address: "no-reply@acme.test",
      verification_template_name: "heimdall-verification",
      web_origin: "https://portal.acme.test:8443",
      created_at: now,
      updated_at: now,
    });
    const row = await expectLastAudit(ctx, app.id, "notification_settings.updated", "pak");
    expect(row.details).toEqual({
      changed: [
        "notifications_via_envoi",
        "default_sender_address",
        "verification_template_name",
        "web_origin",
      ],
    });
    expect((await get()).body).toEqual(res.body);
  });

  test("null clears a slot; an unchanged value is not a change", async () => {
    ctx.clock.advance(MINUTE);
    const res = await patch(
      {
        verification_template_name: null,
        notifications_via_envoi: true,
        welcome_template_name: "heimdall-welcome",
      },
      { cookie },
    );
    expect(res.status).toBe(200);
    expect(res.body.verification_template_name).toBeNull();
    expect(res.body.welcome_template_name).toBe("heimdall-welcome");
    expect(res.body.updated_at).toBe(new Date(ctx.clock.now()).toISOString());
    expect(res.body.created_at).not.toBe(res.body.updated_at);
    const row = await expectLastAudit(
      ctx,
      app.id,
      "notification_settings.updated",
      "platform_user",
      ctx.ownerId,
    );
    expect(row.details).toEqual({ changed: ["verification_template_name", "welcome_template_name"] });
  });

  test("a patch that changes nothing writes nothing", async () => {
    const before = (await get()).body;
    const audits = await auditCount(ctx);
    ctx.clock.advance(MINUTE);
    const res = await patch({ notifications_via_envoi: true, web_origin: "https://portal.acme.test:8443" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(before);
    expect((await patch({})).body).toEqual(before);
    expect(await auditCount(ctx)).toBe(audits);
  });

  test("an unknown field → 400 VALIDATION_ERROR naming it and the field meant; nothing changes", async () => {
    const before = (await get()).body;
    const audits = await auditCount(ctx);
    const res = await patch({ notifications_via_envoi: false, webOrigin: "https://other.acme.test" });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(res.body.details).toEqual([
      { field: "webOrigin", reason: "unknown field; did you mean web_origin?" },
    ]);
    expect((await get()).body).toEqual(before);
    expect(await auditCount(ctx)).toBe(audits);
  });

  test.each([
    ["http on a public host", { web_origin: "http://portal.acme.test" }, "web_origin"],
    ["a path", { web_origin: "https://portal.acme.test/app" }, "web_origin"],
    ["userinfo", { web_origin: "https://user:pw@portal.acme.test" }, "web_origin"],
    ["a query", { web_origin: "https://portal.acme.test?x=1" }, "web_origin"],
    ["not a URL", { web_origin: "portal.acme.test" }, "web_origin"],
    ["an empty string", { web_origin: "" }, "web_origin"],
    ["a sender that is no email", { default_sender_address: "Acme" }, "default_sender_address"],
    ["an unknown template", { verification_template_name: "my-template" }, "verification_template_name"],
    [
      "a template of another kind",
      { password_reset_template_name: "heimdall-welcome" },
      "password_reset_template_name",
    ],
    [
      "a welcome slot with a code template",
      { welcome_template_name: "heimdall-verification" },
      "welcome_template_name",
    ],
    ["a non-boolean switch", { notifications_via_envoi: "yes" }, "notifications_via_envoi"],
    ["a numeric sender", { default_sender_address: 5 }, "default_sender_address"],
  ])("%s → 400 VALIDATION_ERROR on the field", async (_name, body, field) => {
    const res = await patch(body);
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toEqual([field]);
  });

  test("no body → 400", async () => {
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}/notification-settings", {
      params: { app_id: app.id },
    });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
  });

  test("http://localhost with a port is accepted for development", async () => {
    const res = await patch({ web_origin: "http://localhost:3000" });
    expect(res.status).toBe(200);
    expect(res.body.web_origin).toBe("http://localhost:3000");
  });

  test("an archived app is read-only → 409 APP_ARCHIVED; it still reads", async () => {
    const archived = await createApp(ctx, "notify-archived");
    const status = await ctx.call("PATCH", "/v1/apps/{app_id}/status", {
      params: { app_id: archived.id },
      body: { status: "archived" },
    });
    expect(status.status).toBe(200);
    const res = await patch({ notifications_via_envoi: true }, undefined, archived.id);
    expect(res.status).toBe(409);
    expect(errCode(res)).toBe("APP_ARCHIVED");
    expect((await get(undefined, archived.id)).status).toBe(200);
  });
});

describe("access", () => {
  test.each([
    ["no credential", "GET", null, 401, "UNAUTHORIZED"],
    ["no credential", "PATCH", null, 401, "UNAUTHORIZED"],
    ["a viewer", "PATCH", "viewer", 403, "FORBIDDEN"],
    ["a PAK with read only", "PATCH", "read-pak", 403, "POLICY_DENIED"],
    ["a PAK with update only", "GET", "update-pak", 403, "POLICY_DENIED"],
  ] as const)("%s: %s → %d %s", async (_name, method, who, status, code) => {
    let auth: Auth = null;
    if (who === "viewer") auth = { cookie: viewerCookie };
    if (who === "read-pak") auth = { pak: (await insertPak(ctx, [allow(["heimdall.read"])])).token };
    if (who === "update-pak") auth = { pak: (await insertPak(ctx, [allow(["heimdall.update"])])).token };
    const res = method === "GET" ? await get(auth) : await patch({ notifications_via_envoi: false }, auth);
    expect(res.status).toBe(status);
    expect(errCode(res)).toBe(code);
  });

  test("an unknown app → 404 APP_NOT_FOUND", async () => {
    for (const res of [await get(undefined, "no-such-app"), await patch({}, undefined, "no-such-app")]) {
      expect(res.status).toBe(404);
      expect(errCode(res)).toBe("APP_NOT_FOUND");
    }
  });
});

describe("GET /v1/apps/{app_id}/outbox (appliance addition)", () => {
  let mailApp: AppBody;

  beforeAll(async () => {
    mailApp = await createApp(ctx, "outbox-app");
    expect(
      (
        await patch(
          {
            notifications_via_envoi: true,
            default_sender_address: "no-reply@acme.test",
            verification_template_name: "heimdall-verification",
          },
          undefined,
          mailApp.id,
        )
      ).status,
    ).toBe(200);
    for (const name of ["first", "second", "third"]) {
      await insertEndUser(ctx, mailApp, name, { emailVerified: false });
      ctx.clock.advance(1000);
      const res = await ctx.call("POST", "/{app_slug}/v1/auth/send-verification-email", {
        params: { app_slug: mailApp.slug },
        body: { email: `${name}@example.test` },
      });
      expect(res.status).toBe(201);
    }
  });

  // Not in the vendored contract: successes are checked here, errors against the wire error shape.
  const list = async (query: Record<string, string> = {}, auth?: Auth) => {
    const res = await ctx.call("GET", "/v1/apps/{app_id}/outbox", {
      params: { app_id: mailApp.id },
      query,
      auth,
      unchecked: true,
    });
    if (res.status >= 400) expectErrorShape(res.body);
    return res;
  };

  test("newest first, every field, the code masked in the text (bodies are sealed); the read is audited", async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.body.data.map((m: { to: string }) => m.to)).toEqual([
      "third@example.test",
      "second@example.test",
      "first@example.test",
    ]);
    const m = res.body.data[0];
    expect(Object.keys(m).sort()).toEqual(
      [
        "attempts",
        "created_at",
        "delivered_text",
        "from",
        "id",
        "last_error",
        "sent_at",
        "status",
        "subject",
        "text",
        "to",
      ].sort(),
    );
    expect(m).toMatchObject({ from: "no-reply@acme.test", status: "sent", attempts: 1, last_error: null });
    expect(m.text).toContain("Your code: ******");
    expect(m.text).not.toMatch(/\d{6}/);
    expect(res.body.pagination).toEqual({ has_more: false, next_cursor: null });
    const row = await expectLastAudit(ctx, mailApp.id, "outbox.read", "pak");
    expect(row.details).toEqual({ count: 3 });
  });

  test("pages with limit and cursor", async () => {
    const first = await list({ limit: "2" });
    expect(first.body.data).toHaveLength(2);
    expect(first.body.pagination.has_more).toBe(true);
    const second = await list({ limit: "2", cursor: first.body.pagination.next_cursor });
    expect(second.body.data.map((m: { to: string }) => m.to)).toEqual(["first@example.test"]);
    expect(second.body.pagination).toEqual({ has_more: false, next_cursor: null });
    const bad = await list({ cursor: "garbage!" });
    expect(bad.status).toBe(400);
  });

  test("another app's outbox is its own", async () => {
    const res = await ctx.call("GET", "/v1/apps/{app_id}/outbox", {
      params: { app_id: app.id },
      unchecked: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([]);
  });

  test.each([
    ["a viewer (reads, but cannot mint codes)", "viewer", 403, "FORBIDDEN"],
    ["a PAK with heimdall.read only", "read-pak", 403, "POLICY_DENIED"],
    ["a PAK without heimdall.read", "mint-pak", 403, "POLICY_DENIED"],
    ["no credential", null, 401, "UNAUTHORIZED"],
  ] as const)("%s → %d", async (_name, who, status, code) => {
    let auth: Auth = null;
    if (who === "viewer") auth = { cookie: viewerCookie };
    if (who === "read-pak") auth = { pak: (await insertPak(ctx, [allow(["heimdall.read"])])).token };
    if (who === "mint-pak") {
      auth = {
        pak: (
          await insertPak(ctx, [
            allow(["heimdall.user.verify.create", "heimdall.user.password-reset.create"]),
          ])
        ).token,
      };
    }
    const res = await list({}, auth);
    expect(res.status).toBe(status);
    expect(errCode(res)).toBe(code);
  });

  test("a PAK with read and both minting actions may read it", async () => {
    const pak = await insertPak(ctx, [
      allow(["heimdall.read", "heimdall.user.verify.create", "heimdall.user.password-reset.create"]),
    ]);
    const res = await list({}, { pak: pak.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(3);
  });
});
