/** @module Admin API access rules: credentials, PAK policy, workspace roles and cross-workspace hiding, for every app route. */
import { beforeAll, describe, expect, test } from "bun:test";
import { type AppBody, createApp, insertWorkspace } from "../../support/fixtures.ts";
import { type Auth, createTestContext, type TestContext } from "../../support/harness.ts";
import {
  allow,
  auditCount,
  deny,
  errCode,
  expectLastAudit,
  insertBareApp,
  insertMember,
  insertPak,
} from "./fixtures.ts";

let ctx: TestContext;
let app: AppBody;
let sibling: AppBody;
let foreignAppId: string;
let foreignWs: string;
let cookie: string;
let viewerCookie: string;
const paks: Record<string, string> = {};

/** Every app-scoped Admin route of this slice with a body that would pass validation, and its policy action. */
const ROUTES = [
  { method: "GET", path: "/v1/apps/{app_id}", action: "heimdall.read" },
  {
    method: "PATCH",
    path: "/v1/apps/{app_id}",
    action: "heimdall.update",
    body: { display_name: "Renamed" },
  },
  {
    method: "PATCH",
    path: "/v1/apps/{app_id}/status",
    action: "heimdall.update",
    body: { status: "suspended" },
  },
  { method: "DELETE", path: "/v1/apps/{app_id}", action: "heimdall.delete" },
  { method: "GET", path: "/v1/apps/{app_id}/auth-config", action: "heimdall.read" },
  {
    method: "PATCH",
    path: "/v1/apps/{app_id}/auth-config",
    action: "heimdall.update",
    body: { max_sessions: 7 },
  },
  { method: "GET", path: "/v1/apps/{app_id}/audit-logs", action: "heimdall.audit.read" },
] as const;

const WRITES = ROUTES.filter((r) => r.method !== "GET");

beforeAll(async () => {
  ctx = await createTestContext();
  cookie = await ctx.signIn();
  app = await createApp(ctx, "guarded");
  sibling = await createApp(ctx, "sibling");
  foreignWs = await insertWorkspace(ctx, "elsewhere");
  foreignAppId = await insertBareApp(ctx, foreignWs, "foreign-app");
  const viewer = await insertMember(ctx, "viewer@example.test", "viewer");
  viewerCookie = await ctx.signIn("viewer@example.test", viewer.password);
  paks.readOnly = (await insertPak(ctx, [allow(["heimdall.read"])])).token;
  paks.noAudit = (await insertPak(ctx, [allow(["heimdall.*"]), deny(["heimdall.audit.read"])])).token;
  paks.siblingOnly = (
    await insertPak(ctx, [allow(["heimdall.*"], [`pcft:heimdall:app/${sibling.id}`])])
  ).token;
  paks.noDelete = (
    await insertPak(ctx, [allow(["*"]), deny(["heimdall.delete"], [`pcft:heimdall:app/${app.id}`])])
  ).token;
  paks.foreign = (await insertPak(ctx, [allow(["heimdall.*"])], foreignWs)).token;
  paks.empty = (await insertPak(ctx, [])).token;
});

function call(route: (typeof ROUTES)[number], appId: string, auth?: Auth) {
  return ctx.call(route.method, route.path, {
    params: { app_id: appId },
    body: "body" in route ? route.body : undefined,
    auth,
  });
}

describe("no or bad credential → 401", () => {
  const all = [
    ...ROUTES,
    { method: "GET", path: "/v1/apps" },
    { method: "POST", path: "/v1/apps", body: { slug: "x-y-z", display_name: "X" } },
    { method: "GET", path: "/v1/stats/me" },
  ] as const;
  test.each(all.map((r) => [`${r.method} ${r.path}`, r] as const))("%s", async (_name, route) => {
    for (const auth of [
      null,
      { pak: `pcft_live_${"x".repeat(40)}` },
      { bearer: "hps_not-a-session" },
      { cookie: "hps_forged" },
    ] as Auth[]) {
      const res = await ctx.call(route.method, route.path, {
        params: { app_id: app.id },
        body: "body" in route ? route.body : undefined,
        auth,
      });
      expect(res.status).toBe(401);
      expect(["UNAUTHORIZED", "INVALID_TOKEN"]).toContain(errCode(res)!);
    }
  });
});

describe("PAK policy", () => {
  test.each(WRITES.map((r) => [`read-only PAK: ${r.method} ${r.path}`, r] as const))(
    "%s → 403 POLICY_DENIED",
    async (_n, route) => {
      const before = await auditCount(ctx);
      const res = await call(route, app.id, { pak: paks.readOnly! });
      expect(res.status).toBe(403);
      expect(errCode(res)).toBe("POLICY_DENIED");
      // The refusal changes nothing but is itself recorded, once (issue 10: denials are audited).
      expect(await auditCount(ctx)).toBe(before + 1);
      await expectLastAudit(ctx, app.id, "access.denied", "pak");
    },
  );

  test.each(ROUTES.map((r) => [`empty policy: ${r.method} ${r.path}`, r] as const))(
    "%s → 403 POLICY_DENIED",
    async (_n, route) => {
      const res = await call(route, app.id, { pak: paks.empty! });
      expect(res.status).toBe(403);
      expect(errCode(res)).toBe("POLICY_DENIED");
    },
  );

  test("read-only PAK may read", async () => {
    for (const route of ROUTES.filter((r) => r.action === "heimdall.read")) {
      expect((await call(route, app.id, { pak: paks.readOnly! })).status).toBe(200);
    }
  });

  test("deny wins: audit.read denied → 403 on audit-logs, other reads pass", async () => {
    const audit = ROUTES.find((r) => r.path.endsWith("audit-logs"))!;
    const res = await call(audit, app.id, { pak: paks.noAudit! });
    expect(res.status).toBe(403);
    expect(errCode(res)).toBe("POLICY_DENIED");
    expect((await call(ROUTES[0], app.id, { pak: paks.noAudit! })).status).toBe(200);
  });

  test("a deny on one app's delete refuses only that app", async () => {
    const del = ROUTES.find((r) => r.method === "DELETE")!;
    const res = await call(del, app.id, { pak: paks.noDelete! });
    expect(res.status).toBe(403);
    expect(errCode(res)).toBe("POLICY_DENIED");
  });

  test.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))(
    "PAK scoped to another app: %s → 403 POLICY_DENIED",
    async (_n, route) => {
      const res = await call(route, app.id, { pak: paks.siblingOnly! });
      expect(res.status).toBe(403);
      expect(errCode(res)).toBe("POLICY_DENIED");
    },
  );

  test("PAK scoped to one app may use it but not create apps", async () => {
    expect((await call(ROUTES[0], sibling.id, { pak: paks.siblingOnly! })).status).toBe(200);
    const res = await ctx.call("POST", "/v1/apps", {
      body: { slug: "by-scoped-pak", display_name: "X" },
      auth: { pak: paks.siblingOnly! },
    });
    expect(res.status).toBe(403);
    expect(errCode(res)).toBe("POLICY_DENIED");
  });

  test("read-only PAK cannot create", async () => {
    const res = await ctx.call("POST", "/v1/apps", {
      body: { slug: "by-ro-pak", display_name: "X" },
      auth: { pak: paks.readOnly! },
    });
    expect(res.status).toBe(403);
    expect(errCode(res)).toBe("POLICY_DENIED");
  });
});

describe("workspace role (cookie lane)", () => {
  test.each(WRITES.map((r) => [`${r.method} ${r.path}`, r] as const))(
    "viewer: %s → 403 FORBIDDEN",
    async (_n, route) => {
      const res = await call(route, app.id, { cookie: viewerCookie });
      expect(res.status).toBe(403);
      expect(errCode(res)).toBe("FORBIDDEN");
    },
  );

  test("viewer may read every read route and list", async () => {
    for (const route of ROUTES.filter((r) => r.method === "GET")) {
      expect((await call(route, app.id, { cookie: viewerCookie })).status).toBe(200);
    }
    expect((await ctx.call("GET", "/v1/apps", { auth: { cookie: viewerCookie } })).status).toBe(200);
  });

  test("viewer cannot create", async () => {
    const res = await ctx.call("POST", "/v1/apps", {
      body: { slug: "by-viewer", display_name: "X" },
      auth: { cookie: viewerCookie },
    });
    expect(res.status).toBe(403);
    expect(errCode(res)).toBe("FORBIDDEN");
  });

  test("a cookie write without a matching Origin is refused", async () => {
    const route = ROUTES.find((r) => r.method === "PATCH")!;
    const res = await call(route, app.id, { cookie, csrf: false });
    expect(res.status).toBe(403);
    expect(errCode(res)).toBe("CSRF_REJECTED");
  });
});

describe("hidden and unknown apps → 404 APP_NOT_FOUND", () => {
  const targets = [
    ["an app of another workspace by id", () => foreignAppId],
    ["an app of another workspace by slug", () => "foreign-app"],
    ["an unknown UUID", () => "00000000-0000-7000-8000-000000000000"],
    ["an unknown slug", () => "no-such-app"],
  ] as const;
  for (const [lane, auth] of [
    ["PAK", () => undefined],
    ["cookie", () => ({ cookie })],
  ] as const) {
    test.each(
      targets.flatMap(([what, id]) =>
        ROUTES.map((r) => [`${lane}: ${r.method} ${r.path} on ${what}`, r, id] as const),
      ),
    )("%s", async (_n, route, id) => {
      const res = await call(route, id(), auth());
      expect(res.status).toBe(404);
      expect(errCode(res)).toBe("APP_NOT_FOUND");
    });
  }

  test("a PAK of the other workspace cannot see this workspace's app", async () => {
    for (const route of ROUTES) {
      const res = await call(route, app.id, { pak: paks.foreign! });
      expect(res.status).toBe(404);
      expect(errCode(res)).toBe("APP_NOT_FOUND");
    }
  });
});
