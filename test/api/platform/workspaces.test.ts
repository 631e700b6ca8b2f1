/** @module Workspaces and members: visibility per caller, cursor pagination, cross-workspace isolation. */
import { beforeEach, describe, expect, test } from "bun:test";
import { SECOND } from "../../../src/core/clock.ts";
import { auditRows, insertWorkspace } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { userWithRole } from "./helpers.ts";

let ctx: TestContext;
let cookie: string;
beforeEach(async () => {
  ctx = await createTestContext();
  cookie = await ctx.signIn();
});

describe("GET /v1/workspaces", () => {
  test("a user sees its workspaces with its role; a PAK sees only its own, with no role", async () => {
    ctx.clock.advance(SECOND);
    await insertWorkspace(ctx, "second", "viewer");
    await insertWorkspace(ctx, "not-mine");
    const mine = await ctx.call("GET", "/v1/workspaces", { auth: { cookie } });
    expect(mine.status).toBe(200);
    expect(mine.body.data.map((w: { slug: string; member_role: string }) => [w.slug, w.member_role])).toEqual(
      [
        ["second", "viewer"],
        ["default", "owner"],
      ],
    );
    expect(mine.body.data[1].member_role_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(mine.body.data[0].member_role_id).not.toBe(mine.body.data[1].member_role_id);

    const pak = await ctx.call("GET", "/v1/workspaces");
    expect(pak.body.data).toHaveLength(1);
    expect(pak.body.data[0]).toMatchObject({
      slug: "default",
      id: ctx.workspaceId,
      member_role: null,
      member_role_id: null,
    });
    expect(pak.body.pagination).toEqual({ has_more: false, next_cursor: null });
  });

  test("pages newest first with an opaque cursor and no overlap", async () => {
    const slugs = ["default"];
    for (let i = 0; i < 6; i++) {
      // Two workspaces per millisecond exercise the id tie-break of the (created_at, id) cursor.
      if (i % 2 === 0) ctx.clock.advance(1);
      slugs.push(`ws-${i}`);
      await insertWorkspace(ctx, `ws-${i}`, "admin");
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await ctx.call("GET", "/v1/workspaces", { auth: { cookie }, query: { limit: 3, cursor } });
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.data.map((w: { slug: string }) => w.slug));
      cursor = res.body.pagination.next_cursor ?? undefined;
      expect(res.body.pagination.has_more).toBe(cursor !== undefined);
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(slugs.reverse());
  });

  test.each([
    ["limit=0", { limit: 0 }, "limit"],
    ["limit=201", { limit: 201 }, "limit"],
    ["limit=abc", { limit: "abc" }, "limit"],
    ["a cursor that is not base64url JSON", { cursor: "!!!" }, "cursor"],
    ["a cursor of the wrong shape", { cursor: Buffer.from('{"x":1}').toString("base64url") }, "cursor"],
  ])("%s → 400 VALIDATION_ERROR on %s", async (_name, query, field) => {
    const res = await ctx.call("GET", "/v1/workspaces", { auth: { cookie }, query });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details[0].field).toBe(field);
  });

  test("limit=200 is accepted", async () => {
    expect((await ctx.call("GET", "/v1/workspaces", { query: { limit: 200 } })).status).toBe(200);
  });

  test("no credential → 401 UNAUTHORIZED", async () => {
    const res = await ctx.call("GET", "/v1/workspaces", { auth: null });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("UNAUTHORIZED");
    expect(res.headers.get("www-authenticate")).toStartWith("Bearer");
  });
});

describe("cross-workspace isolation", () => {
  const PATHS = [
    ["GET", "/v1/workspaces/{workspace_slug}"],
    ["GET", "/v1/workspaces/{workspace_slug}/members"],
    ["GET", "/v1/workspaces/{workspace_slug}/api-keys"],
    ["GET", "/v1/workspaces/{workspace_slug}/policies"],
    ["GET", "/v1/workspaces/{workspace_slug}/policies/actions/catalog"],
    ["POST", "/v1/workspaces/{workspace_slug}/policies"],
    ["POST", "/v1/workspaces/{workspace_slug}/api-keys"],
  ] as const;

  test.each(PATHS)(
    "%s %s of a workspace I am not in → 404 WORKSPACE_NOT_FOUND (user and PAK)",
    async (method, path) => {
      await insertWorkspace(ctx, "hidden");
      // Each POST gets a body of its own shape: a field of the other route's body would be refused first.
      const body =
        method === "GET"
          ? undefined
          : path.endsWith("/policies")
            ? { name: "x", policy: [] }
            : { name: "x", policy_ids: ["x"] };
      const asUser = await ctx.call(method, path, {
        params: { workspace_slug: "hidden" },
        body,
        auth: { cookie },
      });
      expect(asUser.status).toBe(404);
      expect(asUser.body.code).toBe("WORKSPACE_NOT_FOUND");
      if (method === "GET") {
        const asPak = await ctx.call(method, path, { params: { workspace_slug: "hidden" } });
        expect(asPak.status).toBe(404);
        expect(asPak.body.code).toBe("WORKSPACE_NOT_FOUND");
      }
      // The same answer as for a workspace that does not exist at all.
      const missing = await ctx.call(method, path, {
        params: { workspace_slug: "no-such" },
        body,
        auth: { cookie },
      });
      expect(missing.status).toBe(404);
      expect(missing.body.code).toBe("WORKSPACE_NOT_FOUND");
    },
  );

  test("a policy id from another workspace is not found through mine", async () => {
    await insertWorkspace(ctx, "theirs", "owner");
    const theirs = await ctx.call("POST", "/v1/workspaces/{workspace_slug}/policies", {
      params: { workspace_slug: "theirs" },
      body: { name: "secret", policy: [] },
      auth: { cookie },
    });
    const res = await ctx.call("GET", "/v1/workspaces/{workspace_slug}/policies/{policy_id}", {
      params: { workspace_slug: "default", policy_id: theirs.body.id },
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("POLICY_NOT_FOUND");
  });
});

describe("GET /v1/workspaces/{workspace_slug}", () => {
  test("returns the workspace to a member and to its PAK", async () => {
    for (const auth of [{ cookie }, undefined]) {
      const res = await ctx.call("GET", "/v1/workspaces/{workspace_slug}", {
        params: { workspace_slug: "default" },
        auth,
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: ctx.workspaceId,
        slug: "default",
        display_name: "Default",
        status: "active",
        settings: {},
      });
    }
  });
});

describe("GET /v1/workspaces/{workspace_slug}/members", () => {
  test("lists members with their system roles, and the read is audited", async () => {
    const viewer = await userWithRole(ctx, "Viewer.Person@Example.test", "viewer");
    const res = await ctx.call("GET", "/v1/workspaces/{workspace_slug}/members", {
      params: { workspace_slug: "default" },
      auth: { cookie: viewer.cookie },
    });
    expect(res.status).toBe(200);
    expect(
      res.body.data.map((m: { primary_email: string; role: string; username: string }) => [
        m.primary_email,
        m.role,
        m.username,
      ]),
    ).toEqual([
      ["viewer.person@example.test", "viewer", "viewer.person"],
      ["owner@example.test", "owner", "owner"],
    ]);
    expect(res.body.data.every((m: { role_is_system: boolean }) => m.role_is_system)).toBe(true);
    const rows = await auditRows(ctx, { action: "workspace.members_listed" });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_type: "platform_user",
      actor_id: viewer.id,
      workspace_id: ctx.workspaceId,
    });
  });

  test("pages with limit and cursor", async () => {
    await userWithRole(ctx, "a@example.test", "viewer");
    const first = await ctx.call("GET", "/v1/workspaces/{workspace_slug}/members", {
      params: { workspace_slug: "default" },
      query: { limit: 1 },
    });
    expect(first.body.data).toHaveLength(1);
    expect(first.body.pagination.has_more).toBe(true);
    const second = await ctx.call("GET", "/v1/workspaces/{workspace_slug}/members", {
      params: { workspace_slug: "default" },
      query: { limit: 1, cursor: first.body.pagination.next_cursor },
    });
    expect(second.body.data).toHaveLength(1);
    expect(second.body.data[0].id).not.toBe(first.body.data[0].id);
    expect(second.body.pagination).toEqual({ has_more: false, next_cursor: null });
  });
});
