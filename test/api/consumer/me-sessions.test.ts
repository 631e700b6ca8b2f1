/** @module `/{app_slug}/v1/me/sessions`: the caller's live sessions, and signing one of them out. */
import { beforeAll, describe, expect, test } from "bun:test";
import { MINUTE } from "../../../src/core/clock.ts";
import { tx } from "../../../src/db/client.ts";
import { auditRows, createApp, openSession } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { bearer, createUser, sessionRow, type TestApp, type TestUser } from "./me-fixtures.ts";

let ctx: TestContext;
let app: TestApp;

/** The operator's remedy for the documented `member`, which lacks `session.revoke` (docs/decisions.md). */
const letMembersRevoke = async (appId: string) => {
  const res = await ctx.call("PUT", "/v1/apps/{app_id}/roles/{role_name}/permissions", {
    params: { app_id: appId, role_name: "member" },
    body: { permissions: ["user.read", "role.read", "session.revoke"] },
  });
  expect(res.status).toBe(200);
};

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "sessions-app");
  await letMembersRevoke(app.id);
});

const list = (u: { token: string }) =>
  ctx.call("GET", "/{app_slug}/v1/me/sessions", { params: { app_slug: app.slug }, auth: bearer(u) });
const revoke = (u: { token: string }, id: string) =>
  ctx.call("DELETE", "/{app_slug}/v1/me/sessions/{id}", {
    params: { app_slug: app.slug, id },
    auth: bearer(u),
  });

describe("GET /{app_slug}/v1/me/sessions", () => {
  test("lists the caller's live sessions newest first, flagging the current one", async () => {
    const u = await createUser(ctx, app, "lister");
    ctx.clock.advance(MINUTE);
    const laptop = await openSession(ctx, app, u.id, { ip: "198.51.100.4", userAgent: "Laptop/2" });
    ctx.clock.advance(MINUTE);
    const ended = await openSession(ctx, app, u.id);
    await ctx.deps.sessions.revoke(ended.sessionId, "test");
    const stranger = await createUser(ctx, app, "stranger");

    const res = await list(laptop);
    expect(res.status).toBe(200);
    expect(res.body.pagination).toEqual({ has_more: false, next_cursor: null });
    expect(res.body.data.map((s: { id: string }) => s.id)).toEqual([laptop.sessionId, u.sessionId]);
    const [first, second] = res.body.data;
    expect(first).toEqual({
      id: laptop.sessionId,
      ip: "198.51.100.4",
      user_agent: "Laptop/2",
      created_at: new Date((await sessionRow(ctx, laptop.sessionId))!.createdAt).toISOString(),
      last_used_at: expect.any(String),
      expires_at: new Date((await sessionRow(ctx, laptop.sessionId))!.expiresAt).toISOString(),
      is_current: true,
    });
    expect(second.is_current).toBe(false);
    expect(res.body.data.some((s: { id: string }) => s.id === stranger.sessionId)).toBe(false);

    const fromOld = await list(u);
    expect(fromOld.body.data.map((s: { is_current: boolean }) => s.is_current)).toEqual([false, true]);
  });
});

describe("DELETE /{app_slug}/v1/me/sessions/{id}", () => {
  let u: TestUser;
  beforeAll(async () => {
    u = await createUser(ctx, app, "revoker");
  });

  test("signs one of the caller's other devices out at once", async () => {
    const phone = await openSession(ctx, app, u.id);
    const res = await revoke(u, phone.sessionId);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(await sessionRow(ctx, phone.sessionId)).toMatchObject({
      revokeReason: "user_revoked",
      revokedAt: ctx.clock.now(),
    });

    const dead = await list(phone);
    expect(dead.status).toBe(401);
    expect(dead.body.code).toBe("TOKEN_REVOKED");
    expect((await list(u)).body.data.map((s: { id: string }) => s.id)).toEqual([u.sessionId]);

    const row = (
      await auditRows(ctx, {
        app_id: app.id,
        action: "session.revoked",
        resource_id: phone.sessionId,
      })
    )[0];
    expect(row).toMatchObject({
      actor_type: "end_user",
      actor_id: u.id,
      resource_type: "session",
      details: { user_id: u.id, reason: "user_revoked", current: false },
    });
  });

  test("the refresh token of a revoked session no longer refreshes", async () => {
    const { session, refreshToken } = await tx(
      ctx.deps.db,
      async () =>
        await ctx.deps.sessions.create({
          appId: app.id,
          userId: u.id,
          amr: ["pwd"],
          durationMinutes: 60,
          maxSessions: 5,
          meta: {},
        }),
    );
    expect((await revoke(u, session.id)).status).toBe(204);
    let code: string | undefined;
    try {
      await ctx.deps.sessions.rotate(app.id, refreshToken, {});
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    expect(code).toBe("INVALID_REFRESH_TOKEN");
  });

  const notFound: [string, () => Promise<string>][] = [
    [
      "another user's session",
      async () => (await createUser(ctx, app, `victim-${Math.random().toString(36).slice(2, 8)}`)).sessionId,
    ],
    ["an unknown id", async () => "01900000-0000-7000-8000-000000000000"],
    [
      "a session already revoked",
      async () => {
        const s = await openSession(ctx, app, u.id);
        await ctx.deps.sessions.revoke(s.sessionId, "test");
        return s.sessionId;
      },
    ],
    [
      "a session of another app",
      async () => (await createUser(ctx, await otherApp(), "elsewhere")).sessionId,
    ],
  ];
  test.each(notFound)("%s is 404 SESSION_NOT_FOUND and stays as it was", async (_name, make) => {
    const id = await make();
    const before = await sessionRow(ctx, id);
    const res = await revoke(u, id);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("SESSION_NOT_FOUND");
    expect(await sessionRow(ctx, id)).toEqual(before);
  });

  test("revoking the current session is allowed and ends the caller's own token", async () => {
    const self = await createUser(ctx, app, "self-revoker");
    const before = (await auditRows(ctx, { app_id: app.id, action: "session.revoked" })).length;
    expect((await revoke(self, self.sessionId)).status).toBe(204);
    const after = await list(self);
    expect(after.status).toBe(401);
    expect(after.body.code).toBe("TOKEN_REVOKED");
    const rows = await auditRows(ctx, { app_id: app.id, action: "session.revoked" });
    expect(rows).toHaveLength(before + 1);
    expect(rows.at(-1)!.details).toMatchObject({ current: true });
  });
});

let other: TestApp | undefined;
async function otherApp(): Promise<TestApp> {
  other ??= await createApp(ctx, "sessions-other");
  return other;
}

describe("DELETE /{app_slug}/v1/me/sessions/{id} under enforce_app_permissions", () => {
  test("a new app's member lacks session.revoke: 403 PERMISSION_DENIED, as the contract says; a password change signs the other devices out", async () => {
    const enforced = await createApp(ctx, "sessions-enforced");
    const config = await ctx.call("GET", "/v1/apps/{app_id}/auth-config", {
      params: { app_id: enforced.id },
    });
    expect(config.body.enforce_app_permissions).toBe(true);
    const member = await createUser(ctx, enforced, "plain-member");
    const lost = await openSession(ctx, enforced, member.id);
    const refused = await ctx.call("DELETE", "/{app_slug}/v1/me/sessions/{id}", {
      params: { app_slug: enforced.slug, id: lost.sessionId },
      auth: bearer(member),
    });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("PERMISSION_DENIED");
    expect((await sessionRow(ctx, lost.sessionId))!.revokedAt).toBeNull();
    const list = await ctx.call("GET", "/v1/apps/{app_id}/permissions/enforcement", {
      params: { app_id: enforced.id },
    });
    expect(list.body.data).toContain("session.revoke");

    const changed = await ctx.call("POST", "/{app_slug}/v1/me/change-password", {
      params: { app_slug: enforced.slug },
      auth: bearer(member),
      body: { current_password: member.password, new_password: "a new good passphrase" },
    });
    expect(changed.status).toBe(204);
    expect(await sessionRow(ctx, lost.sessionId)).toMatchObject({ revokeReason: "password_changed" });
    expect((await sessionRow(ctx, member.sessionId))!.revokedAt).toBeNull();
  });

  test("an operator who binds session.revoke to member lets members sign their own devices out", async () => {
    const enforced = await createApp(ctx, "sessions-bound");
    await letMembersRevoke(enforced.id);
    const member = await createUser(ctx, enforced, "plain-member");
    const other = await openSession(ctx, enforced, member.id);
    const allowed = await ctx.call("DELETE", "/{app_slug}/v1/me/sessions/{id}", {
      params: { app_slug: enforced.slug, id: other.sessionId },
      auth: bearer(member),
    });
    expect(allowed.status).toBe(204);
    expect((await sessionRow(ctx, other.sessionId))!.revokedAt).not.toBeNull();
  });
});
