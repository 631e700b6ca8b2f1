/** @module Sign-in, sessions, /v1/me and logout on the platform surface. */
import { beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { createApp } from "../../../src/app.ts";
import { loadConfig } from "../../../src/config/index.ts";
import { DAY, FakeClock, HOUR } from "../../../src/core/clock.ts";
import { sha256Hex } from "../../../src/core/crypto.ts";
import { memoryLogger } from "../../../src/core/logger.ts";
import { buildDeps } from "../../../src/deps.ts";
import { createMasterKeyFile } from "../../../src/vault/master-key.ts";
import { auditRows } from "../../support/fixtures.ts";
import {
  BOOT_EMAIL,
  BOOT_PASSWORD,
  createTestContext,
  type TestContext,
  testDatabase,
} from "../../support/harness.ts";
import { USER_PASSWORD, userWithRole } from "./helpers.ts";

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext();
});

const signin = (body: unknown) => ctx.call("POST", "/v1/auth/signin", { body, auth: null });

describe("POST /v1/auth/signin", () => {
  test("returns the session token and sets an HttpOnly SameSite=Strict cookie", async () => {
    const res = await signin({ identifier: BOOT_EMAIL, password: BOOT_PASSWORD });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe("Bearer");
    expect(res.body.access_token).toStartWith("hps_");
    expect(res.body.expires_in).toBe(30 * 24 * 3600);
    expect(res.body.refresh_token).toBeUndefined();
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toStartWith(`auth_token=${res.body.access_token};`);
    for (const attr of ["HttpOnly", "SameSite=Strict", "Path=/", `Max-Age=${30 * 24 * 3600}`]) {
      expect(cookie.split("; ")).toContain(attr);
    }
    expect(cookie).not.toContain("Secure"); // PUBLIC_URL is http in the harness
    const { platformSessions } = ctx.deps.db.tables;
    const [row] = await ctx.deps.db
      .select()
      .from(platformSessions)
      .where(eq(platformSessions.tokenHash, sha256Hex(res.body.access_token)));
    expect(row?.userId).toBe(ctx.ownerId);
    expect(JSON.stringify(row)).not.toContain(res.body.access_token);
    const audit = await auditRows(ctx, { action: "platform.signin" });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.chain).toBe(`workspace:${ctx.workspaceId}`);
    expect(audit[0]!.actor_id).toBe(ctx.ownerId);
  });

  test("accepts the username and a mixed-case email", async () => {
    expect((await signin({ identifier: "owner", password: BOOT_PASSWORD })).status).toBe(200);
    expect((await signin({ identifier: BOOT_EMAIL.toUpperCase(), password: BOOT_PASSWORD })).status).toBe(
      200,
    );
  });

  test.each([
    ["short", 24 * 3600],
    ["long", 90 * 24 * 3600],
    [3600, 3600],
    [7_776_000, 7_776_000],
  ])("session_duration %p gives expires_in %p", async (session_duration, seconds) => {
    const res = await signin({ identifier: BOOT_EMAIL, password: BOOT_PASSWORD, session_duration });
    expect(res.status).toBe(200);
    expect(res.body.expires_in).toBe(seconds);
    expect(res.headers.get("set-cookie")).toContain(`Max-Age=${seconds}`);
  });

  test("wrong password and unknown user fail alike, and are audited apart", async () => {
    const wrong = await signin({ identifier: BOOT_EMAIL, password: "not the password" });
    const unknown = await signin({ identifier: "nobody@example.test", password: "not the password" });
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("INVALID_CREDENTIALS");
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    expect(Object.keys(wrong.body).sort()).toEqual(Object.keys(unknown.body).sort());
    expect(wrong.body.message).toBe(unknown.body.message);
    const rows = await auditRows(ctx, { action: "platform.signin_failed" });
    expect(rows.map((r) => [r.chain, r.details?.reason])).toEqual([
      [`workspace:${ctx.workspaceId}`, "wrong_password"],
      ["platform", "unknown_user"],
    ]);
  });

  test.each([
    ["no body", undefined, "VALIDATION_ERROR"],
    ["missing password", { identifier: BOOT_EMAIL }, "VALIDATION_ERROR"],
    ["empty identifier", { identifier: "", password: "x" }, "VALIDATION_ERROR"],
    ["non-string password", { identifier: BOOT_EMAIL, password: 42 }, "VALIDATION_ERROR"],
    [
      "unknown duration word",
      { identifier: BOOT_EMAIL, password: BOOT_PASSWORD, session_duration: "forever" },
      "VALIDATION_ERROR",
    ],
    [
      "duration too short",
      { identifier: BOOT_EMAIL, password: BOOT_PASSWORD, session_duration: 60 },
      "VALIDATION_ERROR",
    ],
    [
      "duration too long",
      { identifier: BOOT_EMAIL, password: BOOT_PASSWORD, session_duration: 7_776_001 },
      "VALIDATION_ERROR",
    ],
  ])("%s → 400 %s", async (_name, body, code) => {
    const res = await signin(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
  });

  test("malformed JSON → 400 INVALID_JSON", async () => {
    const res = await ctx.call("POST", "/v1/auth/signin", { raw: "{nope", auth: null });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("INVALID_JSON");
  });

  test("adds Secure to the cookie when PUBLIC_URL is https", async () => {
    const dir = mkdtempSync(join(tmpdir(), "heimdall-test-"));
    createMasterKeyFile(join(dir, "master.key"));
    const config = loadConfig({ "data-dir": dir, "public-url": "https://id.example.test" }, {});
    const deps = await buildDeps(config, {
      clock: new FakeClock(),
      log: memoryLogger("error"),
      db: await testDatabase(),
    });
    await deps.provisioning.bootstrap({ email: BOOT_EMAIL, password: BOOT_PASSWORD });
    const res = await createApp(deps).handle(
      new Request("https://id.example.test/v1/auth/signin", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ identifier: BOOT_EMAIL, password: BOOT_PASSWORD }),
      }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("set-cookie")!.split("; ")).toContain("Secure");
  });
});

describe("sessions and /v1/me", () => {
  test("GET /v1/me returns the caller's profile by cookie and by Bearer", async () => {
    const cookie = await ctx.signIn();
    for (const auth of [{ cookie }, { bearer: cookie }]) {
      const res = await ctx.call("GET", "/v1/me", { auth });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: ctx.ownerId,
        email: BOOT_EMAIL,
        username: "owner",
        status: "active",
      });
      expect(res.body.avatar_url).toBeNull();
    }
  });

  test.each([
    ["no credential", null, 401, "UNAUTHORIZED"],
    ["a PAK", undefined, 403, "PAK_NOT_ALLOWED"],
    ["an unknown session token", { bearer: "hps_unknown" }, 401, "INVALID_TOKEN"],
    ["an unknown PAK", { pak: `pcft_live_${"x".repeat(43)}` }, 401, "INVALID_TOKEN"],
    ["a JWT-looking token", { bearer: "eyJhbGciOiJIUzI1NiJ9.e30.x" }, 401, "INVALID_TOKEN"],
    ["a garbage cookie", { cookie: "nope" }, 401, "INVALID_TOKEN"],
  ] as const)("GET /v1/me with %s → %d %s", async (_name, auth, status, code) => {
    for (const path of ["/v1/me", "/v1/session"]) {
      const res = await ctx.call("GET", path, { auth: auth as never });
      expect(res.status).toBe(status);
      expect(res.body.code).toBe(code);
    }
  });

  test("GET /v1/session lists the caller's live sessions only", async () => {
    const a = await ctx.signIn();
    ctx.clock.advance(1000);
    const b = await ctx.signIn();
    const other = await userWithRole(ctx, "viewer@example.test", "viewer");
    const res = await ctx.call("GET", "/v1/session", { auth: { cookie: a } });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(2);
    expect(res.body.every((s: { account_id: string }) => s.account_id === ctx.ownerId)).toBe(true);
    // Newest first; the second session has not been used yet.
    expect(res.body[0].last_used_at).toBeNull();
    expect(res.body[1].last_used_at).not.toBeNull();
    await ctx.call("POST", "/v1/auth/logout", { body: { refresh_token: b }, auth: null });
    const after = await ctx.call("GET", "/v1/session", { auth: { cookie: a } });
    expect(after.body).toHaveLength(1);
    const theirs = await ctx.call("GET", "/v1/session", { auth: { cookie: other.cookie } });
    expect(theirs.body).toHaveLength(1);
  });

  test("an expired session is rejected, and purge removes it after 30 more days", async () => {
    const res = await signin({ identifier: BOOT_EMAIL, password: BOOT_PASSWORD, session_duration: "short" });
    const token = res.body.access_token as string;
    ctx.clock.advance(24 * HOUR - 1000);
    expect((await ctx.call("GET", "/v1/me", { auth: { bearer: token } })).status).toBe(200);
    ctx.clock.advance(1000);
    const expired = await ctx.call("GET", "/v1/me", { auth: { bearer: token } });
    expect(expired.status).toBe(401);
    expect(expired.body.code).toBe("INVALID_TOKEN");
    expect(await ctx.deps.platformAuth.purge()).toBe(0);
    ctx.clock.advance(30 * DAY + 1);
    expect(await ctx.deps.platformAuth.purge()).toBe(1);
  });
});

describe("POST /v1/auth/logout", () => {
  test("with the cookie: revokes the session, clears the cookie, and the cookie stops working", async () => {
    const cookie = await ctx.signIn();
    const res = await ctx.call("POST", "/v1/auth/logout", { auth: { cookie } });
    expect(res.status).toBe(204);
    expect(res.headers.get("set-cookie")).toContain("Max-Age=0");
    const me = await ctx.call("GET", "/v1/me", { auth: { cookie } });
    expect(me.status).toBe(401);
    expect(me.body.code).toBe("INVALID_TOKEN");
    expect(await auditRows(ctx, { action: "platform.logout" })).toHaveLength(1);
  });

  test("with the token in the body (LogoutDto.refresh_token) and no other credential", async () => {
    const token = await ctx.signIn();
    const res = await ctx.call("POST", "/v1/auth/logout", { body: { refresh_token: token }, auth: null });
    expect(res.status).toBe(204);
    expect((await ctx.call("GET", "/v1/me", { auth: { bearer: token } })).status).toBe(401);
    const again = await ctx.call("POST", "/v1/auth/logout", { body: { refresh_token: token }, auth: null });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe("INVALID_SESSION_TOKEN");
  });

  test("a body token for another session does not clear the caller's cookie", async () => {
    const browser = await ctx.signIn();
    const other = await ctx.signIn();
    const res = await ctx.call("POST", "/v1/auth/logout", {
      body: { refresh_token: other },
      auth: { cookie: browser },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect((await ctx.call("GET", "/v1/me", { auth: { cookie: browser } })).status).toBe(200);
    expect((await ctx.call("GET", "/v1/me", { auth: { bearer: other } })).status).toBe(401);
  });

  test("a dead cookie is cleared even though logout fails", async () => {
    const res = await ctx.call("POST", "/v1/auth/logout", { auth: { cookie: "hps_dead" } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_TOKEN");
    expect(res.headers.get("set-cookie")).toContain("Max-Age=0");
  });

  test("with a Bearer session token", async () => {
    const token = await ctx.signIn();
    expect((await ctx.call("POST", "/v1/auth/logout", { auth: { bearer: token } })).status).toBe(204);
    expect((await ctx.call("GET", "/v1/me", { auth: { bearer: token } })).status).toBe(401);
  });

  test.each([
    ["nothing at all", { auth: null }, 400, "VALIDATION_ERROR"],
    ["a PAK", {}, 403, "PAK_NOT_ALLOWED"],
    [
      "an unknown body token",
      { body: { refresh_token: "hps_nope" }, auth: null },
      400,
      "INVALID_SESSION_TOKEN",
    ],
    ["a non-string body token", { body: { refresh_token: 5 }, auth: null }, 400, "VALIDATION_ERROR"],
  ] as const)("with %s → %d %s", async (_name, opts, status, code) => {
    const res = await ctx.call("POST", "/v1/auth/logout", opts as never);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
  });

  test("another user's sign-in is untouched by my logout", async () => {
    const mine = await ctx.signIn();
    const theirs = await userWithRole(ctx, "admin@example.test", "admin");
    await ctx.call("POST", "/v1/auth/logout", { auth: { cookie: mine } });
    expect((await ctx.call("GET", "/v1/me", { auth: { cookie: theirs.cookie } })).status).toBe(200);
    expect(
      (
        await ctx.call("GET", "/v1/me", {
          auth: { cookie: await ctx.signIn("admin@example.test", USER_PASSWORD) },
        })
      ).status,
    ).toBe(200);
  });
});
