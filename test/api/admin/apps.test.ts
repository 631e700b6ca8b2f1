/** @module Admin API apps: create, read, update, status, delete through both lanes, with their DB and audit effects. */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { MINUTE } from "../../../src/core/clock.ts";
import { row } from "../../../src/db/query.ts";
import { type AppBody, auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { auditCount, bootstrapPakId, detailFields, errCode, expectLastAudit } from "./fixtures.ts";

let ctx: TestContext;
let cookie: string;
let pakId: string;

beforeAll(async () => {
  ctx = await createTestContext();
  cookie = await ctx.signIn();
  pakId = await bootstrapPakId(ctx);
});

describe("POST /v1/apps", () => {
  test("PAK lane: 201 with the app, its keys, default auth config and an app.created audit row", async () => {
    const res = await ctx.call<AppBody>("POST", "/v1/apps", {
      body: { slug: "acme-app", display_name: "Acme", workspace_id: ctx.workspaceId },
    });
    expect(res.status).toBe(201);
    const app = res.body;
    expect(app).toMatchObject({
      slug: "acme-app",
      display_name: "Acme",
      workspace_id: ctx.workspaceId,
      status: "active",
      created_by: pakId,
      metadata: {},
    });
    expect(app.created_at).toBe(new Date(ctx.clock.now()).toISOString());

    const { db } = ctx.deps;
    const { authConfigs, signingKeys } = db.tables;
    const keys = await db.select().from(signingKeys).where(eq(signingKeys.appId, app.id));
    expect(keys.map((k) => k.state).sort()).toEqual(["active", "next"]);
    expect(await db.select().from(authConfigs).where(eq(authConfigs.appId, app.id))).toHaveLength(1);
    expect(JSON.parse((await ctx.deps.keys.jwks(app.id))!.body).keys).toHaveLength(2);

    const row = await expectLastAudit(ctx, app.id, "app.created", "pak", pakId);
    expect(row.resource_type).toBe("app");
    expect(row.resource_id).toBe(app.id);
    expect(row.workspace_id).toBe(ctx.workspaceId);
    expect(row.details).toMatchObject({ slug: "acme-app", workspace_id: ctx.workspaceId });
  });

  test("cookie lane: workspace_id may be omitted by a one-workspace member; created_by is the user", async () => {
    const res = await ctx.call<AppBody>("POST", "/v1/apps", {
      body: { slug: "cookie-app", display_name: "  Cookie App  " },
      auth: { cookie },
    });
    expect(res.status).toBe(201);
    expect(res.body.created_by).toBe(ctx.ownerId);
    expect(res.body.workspace_id).toBe(ctx.workspaceId);
    expect(res.body.display_name).toBe("Cookie App");
    await expectLastAudit(ctx, res.body.id, "app.created", "platform_user", ctx.ownerId);
  });
});

describe("GET /v1/apps/{app_id}", () => {
  test.each([
    ["PAK by id", "id", undefined],
    ["PAK by slug", "slug", undefined],
    ["cookie by id", "id", "cookie"],
    ["cookie by slug", "slug", "cookie"],
  ] as const)("%s → 200", async (_name, by, lane) => {
    const app = await appBySlug("acme-app");
    const res = await ctx.call<AppBody>("GET", "/v1/apps/{app_id}", {
      params: { app_id: by === "id" ? app.id : app.slug },
      auth: lane === "cookie" ? { cookie } : undefined,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(app);
  });

  test("reads write no audit rows", async () => {
    const before = await auditCount(ctx);
    await ctx.call("GET", "/v1/apps/{app_id}", { params: { app_id: "acme-app" } });
    expect(await auditCount(ctx)).toBe(before);
  });
});

describe("PATCH /v1/apps/{app_id}", () => {
  test("PAK lane changes display_name and metadata; app.updated lists the changed fields", async () => {
    const app = await appBySlug("acme-app");
    ctx.clock.advance(MINUTE);
    const res = await ctx.call<AppBody>("PATCH", "/v1/apps/{app_id}", {
      params: { app_id: app.id },
      body: { display_name: "Acme Corp", metadata: { plan: "pro", nested: { a: [1, 2] } } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      display_name: "Acme Corp",
      metadata: { plan: "pro", nested: { a: [1, 2] } },
      slug: "acme-app",
    });
    expect(res.body.updated_at).toBe(new Date(ctx.clock.now()).toISOString());
    expect(res.body.created_at).toBe(app.created_at);
    const row = await expectLastAudit(ctx, app.id, "app.updated", "pak", pakId);
    expect(row.details).toEqual({ changed: ["display_name", "metadata"] });
  });

  test("cookie lane renames the slug; the old slug stops resolving, the new one does", async () => {
    const app = await appBySlug("cookie-app");
    const res = await ctx.call<AppBody>("PATCH", "/v1/apps/{app_id}", {
      params: { app_id: "cookie-app" },
      body: { slug: "cookie-renamed" },
      auth: { cookie },
    });
    expect(res.status).toBe(200);
    expect(res.body.slug).toBe("cookie-renamed");
    const row = await expectLastAudit(ctx, app.id, "app.updated", "platform_user", ctx.ownerId);
    expect(row.details).toEqual({ changed: ["slug"], previous_slug: "cookie-app", slug: "cookie-renamed" });
    expect((await ctx.call("GET", "/v1/apps/{app_id}", { params: { app_id: "cookie-app" } })).status).toBe(
      404,
    );
    expect(
      (await ctx.call("GET", "/v1/apps/{app_id}", { params: { app_id: "cookie-renamed" } })).status,
    ).toBe(200);
  });

  test("metadata replaces the previous object as a whole", async () => {
    const res = await ctx.call<AppBody>("PATCH", "/v1/apps/{app_id}", {
      params: { app_id: "acme-app" },
      body: { metadata: { region: "eu" } },
    });
    expect(res.status).toBe(200);
    expect(res.body.metadata).toEqual({ region: "eu" });
  });

  test("a patch that changes nothing writes nothing and keeps updated_at", async () => {
    const app = await appBySlug("acme-app");
    const before = await auditCount(ctx);
    ctx.clock.advance(MINUTE);
    for (const body of [{}, { display_name: app.display_name, slug: app.slug, metadata: app.metadata }]) {
      const res = await ctx.call<AppBody>("PATCH", "/v1/apps/{app_id}", { params: { app_id: app.id }, body });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(app);
    }
    expect(await auditCount(ctx)).toBe(before);
  });

  test.each([
    ["slug taken by another app", { slug: "cookie-renamed" }, 409, "SLUG_TAKEN", []],
    ["reserved slug", { slug: "admin" }, 400, "VALIDATION_ERROR", ["slug"]],
    ["malformed slug", { slug: "Not_A_Slug" }, 400, "VALIDATION_ERROR", ["slug"]],
    ["empty display_name", { display_name: " " }, 400, "VALIDATION_ERROR", ["display_name"]],
    ["display_name too long", { display_name: "x".repeat(121) }, 400, "VALIDATION_ERROR", ["display_name"]],
    ["metadata not an object", { metadata: [1, 2] }, 400, "VALIDATION_ERROR", ["metadata"]],
    ["metadata null", { metadata: null }, 400, "VALIDATION_ERROR", ["metadata"]],
    [
      "metadata over 16 KiB",
      { metadata: { blob: "x".repeat(16 * 1024) } },
      400,
      "VALIDATION_ERROR",
      ["metadata"],
    ],
  ] as const)("%s → %i %s", async (_name, body, status, code, fields) => {
    const before = await auditCount(ctx);
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}", { params: { app_id: "acme-app" }, body });
    expect(res.status).toBe(status);
    expect(errCode(res)).toBe(code);
    expect(detailFields(res)).toEqual([...fields]);
    expect(await auditCount(ctx)).toBe(before);
  });

  test("missing body → 400 VALIDATION_ERROR", async () => {
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}", { params: { app_id: "acme-app" } });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
  });
});

describe("PATCH /v1/apps/{app_id}/status", () => {
  let app: AppBody;
  beforeAll(async () => {
    app = await createApp(ctx, "status-app");
  });

  const setStatus = (status: string, auth?: { cookie: string }) =>
    ctx.call<AppBody>("PATCH", "/v1/apps/{app_id}/status", {
      params: { app_id: app.id },
      body: { status },
      auth,
    });

  test("active → suspended → active, each audited with {from, to}; both lanes", async () => {
    let res = await setStatus("suspended");
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("suspended");
    expect((await expectLastAudit(ctx, app.id, "app.status_changed", "pak")).details).toEqual({
      from: "active",
      to: "suspended",
    });

    res = await setStatus("active", { cookie });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("active");
    expect((await expectLastAudit(ctx, app.id, "app.status_changed", "platform_user")).details).toEqual({
      from: "suspended",
      to: "active",
    });
  });

  test("same status is a 200 no-op without an audit row", async () => {
    const before = await auditCount(ctx);
    const res = await setStatus("active");
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("active");
    expect(await auditCount(ctx)).toBe(before);
  });

  test("a suspended app can still be edited", async () => {
    expect((await setStatus("suspended")).status).toBe(200);
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}", {
      params: { app_id: app.id },
      body: { display_name: "Suspended but edited" },
    });
    expect(res.status).toBe(200);
  });

  test("suspended → archived; then the app is read-only and cannot leave archived", async () => {
    const res = await setStatus("archived");
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("archived");
    expect((await expectLastAudit(ctx, app.id, "app.status_changed", "pak")).details).toEqual({
      from: "suspended",
      to: "archived",
    });

    const before = await auditCount(ctx);
    for (const to of ["active", "suspended"]) {
      const r = await setStatus(to);
      expect(r.status).toBe(400);
      expect(errCode(r)).toBe("INVALID_STATUS_TRANSITION");
    }
    expect((await setStatus("archived")).status).toBe(200);

    const writes = [
      ctx.call("PATCH", "/v1/apps/{app_id}", { params: { app_id: app.id }, body: { display_name: "nope" } }),
      ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", {
        params: { app_id: app.id },
        body: { signup_enabled: false },
      }),
    ];
    for (const r of await Promise.all(writes)) {
      expect(r.status).toBe(409);
      expect(errCode(r)).toBe("APP_ARCHIVED");
    }
    expect(await auditCount(ctx)).toBe(before);
    // Reads still work.
    expect((await ctx.call("GET", "/v1/apps/{app_id}", { params: { app_id: app.id } })).status).toBe(200);
    expect(
      (await ctx.call("GET", "/v1/apps/{app_id}/auth-config", { params: { app_id: app.id } })).status,
    ).toBe(200);
  });

  test("active → archived directly is allowed", async () => {
    const other = await createApp(ctx, "archive-direct");
    const res = await ctx.call<AppBody>("PATCH", "/v1/apps/{app_id}/status", {
      params: { app_id: other.slug },
      body: { status: "archived" },
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("archived");
  });

  test.each([
    ["unknown status", { status: "deleted" }],
    ["missing status", {}],
    ["status not a string", { status: 1 }],
  ])("%s → 400 VALIDATION_ERROR on status", async (_name, body) => {
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}/status", { params: { app_id: app.id }, body });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toEqual(["status"]);
  });
});

describe("DELETE /v1/apps/{app_id}", () => {
  test.each([
    ["PAK lane", undefined, "pak"],
    ["cookie lane", "cookie", "platform_user"],
  ] as const)(
    "%s: 204, rows cascade, audit rows survive with app.deleted last",
    async (_name, lane, actorType) => {
      const app = await createApp(ctx, `doomed-${actorType.replace("_", "-")}`);
      await ctx.call("PATCH", "/v1/apps/{app_id}", {
        params: { app_id: app.id },
        body: { display_name: "About to go" },
      });
      const auth = lane === "cookie" ? { cookie } : undefined;

      const sealed = async () =>
        await row<{ n: number }>(
          ctx.deps.db,
          sql`SELECT CAST(count(*) AS INTEGER) AS n FROM vault_secrets WHERE aad LIKE ${`signing_key:${app.id}:%`}`,
        );
      expect(await sealed()).toEqual({ n: 2 });
      const res = await ctx.call("DELETE", "/v1/apps/{app_id}", { params: { app_id: app.slug }, auth });
      expect(res.status).toBe(204);
      expect(res.text).toBe("");

      const { db } = ctx.deps;
      const { apps, authConfigs, signingKeys } = db.tables;
      // The sealed private keys are shredded with the app.
      expect(await sealed()).toEqual({ n: 0 });
      expect(await db.select().from(apps).where(eq(apps.id, app.id))).toEqual([]);
      expect(await db.select().from(signingKeys).where(eq(signingKeys.appId, app.id))).toEqual([]);
      expect(await db.select().from(authConfigs).where(eq(authConfigs.appId, app.id))).toEqual([]);
      expect(await ctx.deps.keys.jwks(app.id)).toBeNull();

      expect((await auditRows(ctx, { app_id: app.id })).map((r) => r.action)).toEqual([
        "app.created",
        "app.updated",
        "app.deleted",
      ]);
      const last = await expectLastAudit(ctx, app.id, "app.deleted", actorType);
      expect(last.details).toMatchObject({ slug: app.slug });

      for (const [method, path] of [
        ["GET", "/v1/apps/{app_id}"],
        ["DELETE", "/v1/apps/{app_id}"],
        ["GET", "/v1/apps/{app_id}/audit-logs"],
      ] as const) {
        const again = await ctx.call(method, path, { params: { app_id: app.id } });
        expect(again.status).toBe(404);
        expect(errCode(again)).toBe("APP_NOT_FOUND");
      }
      // The slug is free again.
      const reuse = await createApp(ctx, app.slug);
      expect(reuse.id).not.toBe(app.id);
    },
  );

  test("an archived app can be deleted", async () => {
    const res = await ctx.call("DELETE", "/v1/apps/{app_id}", { params: { app_id: "archive-direct" } });
    expect(res.status).toBe(204);
  });
});

async function appBySlug(slug: string): Promise<AppBody> {
  const res = await ctx.call<AppBody>("GET", "/v1/apps/{app_id}", { params: { app_id: slug } });
  if (res.status !== 200) throw new Error(`app ${slug}: ${res.status}`);
  return res.body;
}
