/**
 * @module The Admin API's per-user detail routes (appliance additions the console's end-user page reads):
 * an account's live sessions and ending one, its tenant memberships, its MFA factors, and sending it a
 * password reset through the codes module's one reset-email flow.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import {
  endUserFactorListSchema,
  endUserSessionListSchema,
  endUserTenantListSchema,
} from "../../../src/http/openapi-schemas.ts";
import { auditRows, createApp, insertEndUser, openSession, type TestApp } from "../../support/fixtures.ts";
import { type Auth, createTestContext, type TestContext } from "../../support/harness.ts";
import { addTenantMember, insertTenant } from "../../support/tenants.ts";
import {
  codeIn,
  codeRows,
  deliveredMail,
  enableEmail,
  freshWindows,
  outboxRows,
} from "../consumer/codes-fixtures.ts";
import { userWithFactor } from "../consumer/mfa-signin-fixtures.ts";
import { allow, deny, insertMember, insertPak } from "./fixtures.ts";

const USER = "/v1/apps/{app_id}/end-users/{user_id}";

let ctx: TestContext;
let app: TestApp;
let other: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "details");
  other = await createApp(ctx, "details-other");
  await enableEmail(ctx, app.id);
});

const get = (suffix: string, userId: string, auth?: Auth, appId = app.id) =>
  ctx.call("GET", `${USER}${suffix}`, { params: { app_id: appId, user_id: userId }, auth, unchecked: true });

describe("GET …/sessions", () => {
  test("→ 200 the live sessions with address, agent, amr and tenant; never a token; ended ones left out", async () => {
    const u = await insertEndUser(ctx, app, "sess-list");
    const a = await openSession(ctx, app, u.id, { ip: "198.51.100.4", userAgent: "Firefox/130" });
    const b = await openSession(ctx, app, u.id);
    await ctx.deps.sessions.revoke(b.sessionId, "test");
    const res = await get("/sessions", u.id);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = endUserSessionListSchema.parse(res.body);
    expect(body.data).toEqual([
      {
        id: a.sessionId,
        created_at: expect.any(String),
        last_used_at: expect.any(String),
        expires_at: expect.any(String),
        ip: "198.51.100.4",
        user_agent: "Firefox/130",
        amr: ["pwd"],
        tenant_id: null,
      },
    ]);
    expect(res.text).not.toContain(a.refreshToken);
  });

  test("an unknown account, or one of another app → 404 USER_NOT_FOUND", async () => {
    const u = await insertEndUser(ctx, other, "sess-foreign");
    for (const id of [u.id, "00000000-0000-0000-0000-000000000000"]) {
      const res = await get("/sessions", id);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("USER_NOT_FOUND");
    }
  });
});

describe("DELETE …/sessions/{session_id}", () => {
  const revoke = (userId: string, sessionId: string, auth?: Auth) =>
    ctx.call("DELETE", `${USER}/sessions/{session_id}`, {
      params: { app_id: app.id, user_id: userId, session_id: sessionId },
      auth,
      unchecked: true,
    });

  test("→ 204: that session ends (its token stops working), the others stay; audited session.revoked", async () => {
    const u = await insertEndUser(ctx, app, "sess-revoke");
    const a = await openSession(ctx, app, u.id);
    const b = await openSession(ctx, app, u.id);
    const res = await revoke(u.id, a.sessionId);
    expect(res.status).toBe(204);
    const live = (await get("/sessions", u.id)).body.data.map((s: { id: string }) => s.id);
    expect(live).toEqual([b.sessionId]);
    const me = await ctx.call("GET", "/{app_slug}/v1/me", {
      params: { app_slug: app.slug },
      auth: { bearer: a.token },
    });
    expect(me.status).toBe(401);
    expect(
      await auditRows(ctx, { app_id: app.id, action: "session.revoked", resource_id: a.sessionId }),
    ).toEqual([
      expect.objectContaining({
        actor_type: "pak",
        resource_type: "session",
        details: { user_id: u.id, reason: "admin_revoked" },
      }),
    ]);
  });

  test("an ended session, another account's and an unknown id → 404 SESSION_NOT_FOUND, no audit row", async () => {
    const u = await insertEndUser(ctx, app, "sess-revoke-404");
    const someoneElse = await insertEndUser(ctx, app, "sess-revoke-other");
    const theirs = await openSession(ctx, app, someoneElse.id);
    const ended = await openSession(ctx, app, u.id);
    await ctx.deps.sessions.revoke(ended.sessionId, "test");
    const before = (await auditRows(ctx, { app_id: app.id, action: "session.revoked" })).length;
    for (const id of [theirs.sessionId, ended.sessionId, "nope"]) {
      const res = await revoke(u.id, id);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("SESSION_NOT_FOUND");
    }
    expect(await auditRows(ctx, { app_id: app.id, action: "session.revoked" })).toHaveLength(before);
    expect((await get("/sessions", someoneElse.id)).body.data).toHaveLength(1);
  });
});

describe("GET …/tenants", () => {
  test("→ 200 every membership with the role there and the tenant's status, oldest first", async () => {
    const u = await insertEndUser(ctx, app, "tenant-member");
    const t1 = await insertTenant(ctx, app.id, { slug: "acme-det" });
    await addTenantMember(ctx, app.id, t1.id, u.id, "member");
    ctx.clock.advance(1000);
    const t2 = await insertTenant(ctx, app.id, { slug: "globex-det", status: "suspended" });
    await addTenantMember(ctx, app.id, t2.id, u.id, "admin");
    const res = await get("/tenants", u.id);
    expect(res.status).toBe(200);
    const body = endUserTenantListSchema.parse(res.body);
    expect(body.data).toEqual([
      {
        tenant_id: t1.id,
        display_id: t1.displayId,
        tenant_slug: "acme-det",
        display_name: t1.displayName,
        tenant_status: "active",
        role_name: "member",
        joined_at: expect.any(String),
      },
      expect.objectContaining({ tenant_id: t2.id, tenant_status: "suspended", role_name: "admin" }),
    ]);
  });

  test("none → an empty list; another app's account → 404 USER_NOT_FOUND", async () => {
    const u = await insertEndUser(ctx, app, "tenant-none");
    expect((await get("/tenants", u.id)).body).toEqual({ data: [] });
    const foreign = await insertEndUser(ctx, other, "tenant-foreign");
    const res = await get("/tenants", foreign.id);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("USER_NOT_FOUND");
  });
});

describe("GET …/factors", () => {
  test("→ 200 type, state and dates; never the secret or a recovery code", async () => {
    const u = await userWithFactor(ctx, app, "factor-holder");
    const res = await get("/factors", u.userId);
    expect(res.status).toBe(200);
    const body = endUserFactorListSchema.parse(res.body);
    expect(body.data).toEqual([
      {
        id: u.factorId,
        type: "totp",
        label: null,
        enabled: true,
        created_at: expect.any(String),
        enabled_at: expect.any(String),
      },
    ]);
    expect(res.text).not.toContain(u.secret.base32);
    for (const c of u.recoveryCodes) expect(res.text).not.toContain(c);
  });

  test("no factor → an empty list; another app's account → 404 USER_NOT_FOUND", async () => {
    const u = await insertEndUser(ctx, app, "factor-none");
    expect((await get("/factors", u.id)).body).toEqual({ data: [] });
    const foreign = await insertEndUser(ctx, other, "factor-foreign");
    expect((await get("/factors", foreign.id)).status).toBe(404);
  });
});

describe("POST …/password-reset", () => {
  const send = (userId: string, auth?: Auth, appId = app.id) =>
    ctx.call("POST", `${USER}/password-reset`, {
      params: { app_id: appId, user_id: userId },
      auth,
      unchecked: true,
    });

  test("→ 204 with no body: a reset code emailed to the verified primary address, redeemable; audited", async () => {
    freshWindows(ctx);
    const u = await insertEndUser(ctx, app, "reset-me");
    const before = (await outboxRows(ctx, app.id)).length;
    const res = await send(u.id);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    const rows = await outboxRows(ctx, app.id);
    expect(rows).toHaveLength(before + 1);
    const mail = deliveredMail(ctx, rows.at(-1)!.id);
    expect(mail.to).toBe("reset-me@example.test");
    const code = codeIn(mail.text);
    expect(
      (await codeRows(ctx, app.id)).filter((c) => c.userId === u.id && c.purpose === "reset"),
    ).toHaveLength(1);
    const issued = (await auditRows(ctx, { app_id: app.id, action: "code.issued" })).at(-1)!;
    expect(issued).toMatchObject({
      actor_type: "pak",
      details: { purpose: "password_reset", delivery: "email" },
    });
    expect(JSON.stringify(issued)).not.toContain(code);
    const reset = await ctx.call("POST", "/{app_slug}/v1/auth/reset-password", {
      params: { app_slug: app.slug },
      body: { code, new_password: "Tangerine-Orbit-47-Lantern" },
      auth: null,
    });
    expect(reset.status).toBe(204);
  });

  test.each([
    ["an unverified email", { emailVerified: false }, 409, "CONTACT_NOT_VERIFIED"],
    ["no email at all", { email: null }, 404, "CONTACT_NOT_FOUND"],
    ["a suspended account", { status: "suspended" as const }, 403, "ACCOUNT_SUSPENDED"],
  ])("%s → refused with its code, nothing sent", async (_name, opts, status, code) => {
    freshWindows(ctx);
    const u = await insertEndUser(ctx, app, `reset-${Math.random().toString(36).slice(2, 8)}`, opts);
    const before = (await outboxRows(ctx, app.id)).length;
    const res = await send(u.id);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(await outboxRows(ctx, app.id)).toHaveLength(before);
  });

  test("an app that sends no email → the Consumer route's email error, nothing minted", async () => {
    const u = await insertEndUser(ctx, other, "reset-no-mail");
    const res = await send(u.id, undefined, other.id);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(typeof res.body.code).toBe("string");
    expect(await codeRows(ctx, other.id)).toHaveLength(0);
  });

  test("a PAK that may update but not send reset emails → 403 POLICY_DENIED", async () => {
    const u = await insertEndUser(ctx, app, "reset-guarded");
    const pak = (
      await insertPak(ctx, [allow(["heimdall.*"]), deny(["heimdall.user.password-reset.send-email"])])
    ).token;
    const res = await send(u.id, { pak });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("POLICY_DENIED");
  });
});

describe("access", () => {
  test("reads need heimdall.read; writes heimdall.update; a viewer reads but may not write; no credential → 401", async () => {
    const u = await insertEndUser(ctx, app, "access-details");
    const s = await openSession(ctx, app, u.id);
    const readOnly = (await insertPak(ctx, [allow(["heimdall.read"])])).token;
    const viewer = await insertMember(ctx, "details-viewer@example.test", "viewer");
    const viewerCookie = await ctx.signIn("details-viewer@example.test", viewer.password);
    for (const suffix of ["/sessions", "/tenants", "/factors"]) {
      expect((await get(suffix, u.id, { pak: readOnly })).status).toBe(200);
      expect((await get(suffix, u.id, { cookie: viewerCookie })).status).toBe(200);
      expect((await get(suffix, u.id, null)).status).toBe(401);
    }
    const writes = [
      { method: "DELETE", path: `${USER}/sessions/{session_id}` },
      { method: "POST", path: `${USER}/password-reset` },
    ];
    for (const w of writes) {
      const params = { app_id: app.id, user_id: u.id, session_id: s.sessionId };
      const pakRes = await ctx.call(w.method, w.path, { params, auth: { pak: readOnly }, unchecked: true });
      expect(pakRes.status).toBe(403);
      expect(pakRes.body.code).toBe("POLICY_DENIED");
      const viewerRes = await ctx.call(w.method, w.path, {
        params,
        auth: { cookie: viewerCookie },
        unchecked: true,
      });
      expect(viewerRes.status).toBe(403);
      expect(viewerRes.body.code).toBe("FORBIDDEN");
      expect((await ctx.call(w.method, w.path, { params, auth: null, unchecked: true })).status).toBe(401);
    }
    expect((await get("/sessions", u.id)).body.data).toHaveLength(1);
  });

  test("a console user's session revocation is audited as platform_user", async () => {
    const u = await insertEndUser(ctx, app, "access-console");
    const s = await openSession(ctx, app, u.id);
    const cookie = await ctx.signIn();
    const res = await ctx.call("DELETE", `${USER}/sessions/{session_id}`, {
      params: { app_id: app.id, user_id: u.id, session_id: s.sessionId },
      auth: { cookie },
      unchecked: true,
    });
    expect(res.status).toBe(204);
    expect(
      await auditRows(ctx, { app_id: app.id, action: "session.revoked", resource_id: s.sessionId }),
    ).toEqual([expect.objectContaining({ actor_type: "platform_user", actor_id: ctx.ownerId })]);
  });
});
