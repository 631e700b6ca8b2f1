/** @module GET/PATCH /v1/apps/{app_id}/auth-config: defaults, partial updates, normalisation, bounds and audit. */
import { beforeAll, describe, expect, test } from "bun:test";
import { type AppBody, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { auditCount, detailFields, errCode, expectLastAudit } from "./fixtures.ts";

const DEFAULTS = {
  signup_enabled: true,
  signin_enabled: true,
  signup_allowed_email_domains: [],
  signup_default_role: "member",
  session_duration_minutes: 10080,
  max_failed_login_attempts: 5,
  password_min_length: 12,
  password_require_uppercase: false,
  password_require_number: false,
  password_require_symbol: false,
  max_sessions: 5,
  // Secure by default (the hosted API defaults to false).
  enforce_app_permissions: true,
  oauth_link_policy: "confirm",
  allowed_redirect_origins: [],
  signup_requires_pak: false,
  mfa_required: false,
  mfa_required_roles: [],
  signing_alg: "RS256",
};

let ctx: TestContext;
let cookie: string;
let app: AppBody;
let current: Record<string, unknown>;

beforeAll(async () => {
  ctx = await createTestContext();
  cookie = await ctx.signIn();
  app = await createApp(ctx, "config-app");
});

const patch = (body: unknown, auth?: { cookie: string }) =>
  ctx.call<Record<string, unknown>>("PATCH", "/v1/apps/{app_id}/auth-config", {
    params: { app_id: app.id },
    body,
    auth,
  });

describe("GET", () => {
  test.each([
    ["PAK by id", undefined, () => app.id],
    ["cookie by slug", "cookie", () => app.slug],
  ] as const)("%s: a new app has every default", async (_n, lane, ref) => {
    const res = await ctx.call("GET", "/v1/apps/{app_id}/auth-config", {
      params: { app_id: ref() },
      auth: lane ? { cookie } : undefined,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(DEFAULTS);
    current = res.body;
  });
});

describe("PATCH", () => {
  test("PAK lane changes only the fields passed; auth_config.updated names them", async () => {
    const res = await patch({ signup_enabled: false, max_sessions: 3, oauth_link_policy: "auto" });
    expect(res.status).toBe(200);
    current = { ...current, signup_enabled: false, max_sessions: 3, oauth_link_policy: "auto" };
    expect(res.body).toEqual(current);
    const row = await expectLastAudit(ctx, app.id, "auth_config.updated", "pak");
    expect(row.resource_type).toBe("auth_config");
    expect(row.details).toEqual({ changed: ["signup_enabled", "max_sessions", "oauth_link_policy"] });
    const again = await ctx.call("GET", "/v1/apps/{app_id}/auth-config", { params: { app_id: app.id } });
    expect(again.body).toEqual(current);
  });

  test("cookie lane: lists are normalised (lower case, exact origins, no duplicates)", async () => {
    const res = await patch(
      {
        signup_allowed_email_domains: ["Acme.COM", "acme.com", " acme.io ", "xn--bcher-kva.example"],
        allowed_redirect_origins: [
          "https://App.Example.com/",
          "https://app.example.com:443",
          "https://app.example.com:8443",
          "http://localhost:3000",
          "http://127.0.0.1:5173",
        ],
        signup_requires_pak: true,
        signup_default_role: "end_user-2",
      },
      { cookie },
    );
    expect(res.status).toBe(200);
    expect(res.body.signup_allowed_email_domains).toEqual(["acme.com", "acme.io", "xn--bcher-kva.example"]);
    expect(res.body.allowed_redirect_origins).toEqual([
      "https://app.example.com",
      "https://app.example.com:8443",
      "http://localhost:3000",
      "http://127.0.0.1:5173",
    ]);
    expect(res.body.signup_requires_pak).toBe(true);
    expect(res.body.signup_default_role).toBe("end_user-2");
    const row = await expectLastAudit(ctx, app.id, "auth_config.updated", "platform_user", ctx.ownerId);
    expect(row.details).toEqual({
      changed: [
        "signup_allowed_email_domains",
        "signup_default_role",
        "allowed_redirect_origins",
        "signup_requires_pak",
      ],
    });
    current = res.body;
  });

  test("bounds are inclusive", async () => {
    for (const body of [
      { max_failed_login_attempts: 1, max_sessions: 1, password_min_length: 8, session_duration_minutes: 1 },
      {
        max_failed_login_attempts: 100,
        max_sessions: 50,
        password_min_length: 128,
        session_duration_minutes: 43200,
      },
    ]) {
      const res = await patch(body);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject(body);
      current = res.body;
    }
  });

  test("an empty list clears it", async () => {
    const res = await patch({ allowed_redirect_origins: [], signup_allowed_email_domains: [] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ allowed_redirect_origins: [], signup_allowed_email_domains: [] });
    current = res.body;
  });

  test("a patch that changes nothing (or is empty) writes no audit row", async () => {
    const before = await auditCount(ctx);
    for (const body of [{}, { max_sessions: current.max_sessions, signup_enabled: current.signup_enabled }]) {
      const res = await patch(body);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(current);
    }
    expect(await auditCount(ctx)).toBe(before);
  });

  test("an unknown field → 400 VALIDATION_ERROR naming it; nothing changes, no audit row", async () => {
    const before = await auditCount(ctx);
    const res = await patch({ unknown_field: 1, max_sessions: 7 });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(res.body.details).toEqual([{ field: "unknown_field", reason: "unknown field" }]);
    const after = await ctx.call("GET", "/v1/apps/{app_id}/auth-config", { params: { app_id: app.id } });
    expect(after.body).toEqual(current);
    expect(await auditCount(ctx)).toBe(before);
  });

  const cases: [string, Record<string, unknown>, string][] = [
    ["max_failed_login_attempts 0", { max_failed_login_attempts: 0 }, "max_failed_login_attempts"],
    ["max_failed_login_attempts 101", { max_failed_login_attempts: 101 }, "max_failed_login_attempts"],
    ["max_failed_login_attempts 2.5", { max_failed_login_attempts: 2.5 }, "max_failed_login_attempts"],
    ["max_failed_login_attempts as string", { max_failed_login_attempts: "5" }, "max_failed_login_attempts"],
    ["max_sessions 0", { max_sessions: 0 }, "max_sessions"],
    ["max_sessions 51", { max_sessions: 51 }, "max_sessions"],
    ["password_min_length 7", { password_min_length: 7 }, "password_min_length"],
    ["password_min_length 129", { password_min_length: 129 }, "password_min_length"],
    ["session_duration_minutes 0", { session_duration_minutes: 0 }, "session_duration_minutes"],
    ["session_duration_minutes 43201", { session_duration_minutes: 43201 }, "session_duration_minutes"],
    ["session_duration_minutes null", { session_duration_minutes: null }, "session_duration_minutes"],
    ["signup_enabled as string", { signup_enabled: "true" }, "signup_enabled"],
    ["signup_requires_pak as number", { signup_requires_pak: 1 }, "signup_requires_pak"],
    ["mfa_required as string", { mfa_required: "yes" }, "mfa_required"],
    ["mfa_required_roles not slugs", { mfa_required_roles: ["Admin"] }, "mfa_required_roles.0"],
    ["oauth_link_policy unknown", { oauth_link_policy: "sometimes" }, "oauth_link_policy"],
    ["signup_default_role upper case", { signup_default_role: "Member" }, "signup_default_role"],
    ["signup_default_role one char", { signup_default_role: "m" }, "signup_default_role"],
    ["signup_default_role leading digit", { signup_default_role: "1member" }, "signup_default_role"],
    ["signup_default_role 49 chars", { signup_default_role: `m${"x".repeat(48)}` }, "signup_default_role"],
    [
      "email domains not a list",
      { signup_allowed_email_domains: "acme.com" },
      "signup_allowed_email_domains",
    ],
    ["email domains null", { signup_allowed_email_domains: null }, "signup_allowed_email_domains"],
    [
      "email domains over 100",
      { signup_allowed_email_domains: Array.from({ length: 101 }, (_, i) => `d${i}.com`) },
      "signup_allowed_email_domains",
    ],
    ...[
      "*.acme.com",
      "acme",
      "-acme.com",
      "acme-.com",
      "a..com",
      "1.2.3.4",
      "@acme.com",
      "acme.com.",
      "ac me.com",
      "",
      7,
    ].map((d): [string, Record<string, unknown>, string] => [
      `email domain ${JSON.stringify(d)}`,
      { signup_allowed_email_domains: ["ok.com", d] },
      "signup_allowed_email_domains.1",
    ]),
    ["origins not a list", { allowed_redirect_origins: "https://a.com" }, "allowed_redirect_origins"],
    ...[
      "https://a.com/path",
      "https://a.com/?",
      "https://a.com?x=1",
      "https://a.com#frag",
      "https://*.a.com",
      "*",
      "http://a.com",
      "http://192.168.1.10",
      "ftp://a.com",
      "a.com",
      "not a url",
      "https://user:pw@a.com",
      "https://a.com//",
      "javascript:alert(1)",
      "",
    ].map((o): [string, Record<string, unknown>, string] => [
      `origin ${JSON.stringify(o)}`,
      { allowed_redirect_origins: ["https://ok.com", o] },
      "allowed_redirect_origins.1",
    ]),
  ];

  test.each(cases)("%s → 400 VALIDATION_ERROR naming the field", async (_n, body, field) => {
    const before = await auditCount(ctx);
    const res = await patch(body);
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toEqual([field]);
    expect(await auditCount(ctx)).toBe(before);
    const after = await ctx.call("GET", "/v1/apps/{app_id}/auth-config", { params: { app_id: app.id } });
    expect(after.body).toEqual(current);
  });

  test("one bad field rejects the whole patch", async () => {
    const res = await patch({ signup_enabled: true, max_sessions: 0 });
    expect(res.status).toBe(400);
    expect(detailFields(res)).toEqual(["max_sessions"]);
    expect(
      (await ctx.call("GET", "/v1/apps/{app_id}/auth-config", { params: { app_id: app.id } })).body,
    ).toEqual(current);
  });

  test("missing body → 400 VALIDATION_ERROR", async () => {
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", { params: { app_id: app.id } });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
  });
});
