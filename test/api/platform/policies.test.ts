/** @module Managed workspace policies: CRUD, name rules, statement validation, human-only authoring, catalog. */
import { beforeEach, describe, expect, test } from "bun:test";
import { HEIMDALL_ACTIONS } from "../../../src/access/pak-policy.ts";
import { auditRows } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { userWithRole } from "./helpers.ts";

const WS = { workspace_slug: "default" };
const LIST = "/v1/workspaces/{workspace_slug}/policies";
const ONE = "/v1/workspaces/{workspace_slug}/policies/{policy_id}";
const READ = [{ effect: "allow", actions: ["heimdall.read"], resources: ["*"] }];

let ctx: TestContext;
let cookie: string;
beforeEach(async () => {
  ctx = await createTestContext();
  cookie = await ctx.signIn();
});

const create = (body: unknown, auth: object = { cookie }) =>
  ctx.call("POST", LIST, { params: WS, body, auth: auth as never });

describe("CRUD", () => {
  test("create, read, list, update, delete — each write audited", async () => {
    const created = await create({ name: "readers", description: "read only", policy: READ });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "readers",
      description: "read only",
      policy: READ,
      workspace_id: ctx.workspaceId,
      created_by: ctx.ownerId,
    });
    const id = created.body.id as string;

    const got = await ctx.call("GET", ONE, { params: { ...WS, policy_id: id } });
    expect(got.status).toBe(200);
    expect(got.body.binding_count).toEqual({ pak: 0, role: 0 });

    const list = await ctx.call("GET", LIST, { params: WS });
    expect(list.body.data.map((p: { name: string }) => p.name)).toEqual(["readers", "heimdall-admin"]);

    const patched = await ctx.call("PATCH", ONE, {
      params: { ...WS, policy_id: id },
      body: {
        name: "Readers 2",
        description: null,
        policy: [...READ, { effect: "deny", actions: ["heimdall.audit.read"], resources: ["*"] }],
      },
      auth: { cookie },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: "Readers 2", description: null });
    expect(patched.body.policy).toHaveLength(2);

    const del = await ctx.call("DELETE", ONE, { params: { ...WS, policy_id: id }, auth: { cookie } });
    expect(del.status).toBe(204);
    const gone = await ctx.call("GET", ONE, { params: { ...WS, policy_id: id } });
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe("POLICY_NOT_FOUND");

    for (const action of ["policy.created", "policy.updated", "policy.deleted"]) {
      const rows = await auditRows(ctx, { action, resource_id: id });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        chain: `workspace:${ctx.workspaceId}`,
        actor_type: "platform_user",
        actor_id: ctx.ownerId,
      });
    }
    expect((await auditRows(ctx, { action: "policy.updated", resource_id: id }))[0]!.details).toEqual({
      changed: ["name", "description", "policy"],
    });
  });

  test("binding_count counts the keys bound to the policy", async () => {
    const list = await ctx.call("GET", LIST, { params: WS });
    const admin = list.body.data.find((p: { name: string }) => p.name === "heimdall-admin");
    const got = await ctx.call("GET", ONE, { params: { ...WS, policy_id: admin.id } });
    expect(got.body.binding_count).toEqual({ pak: 1, role: 0 });
  });

  test("an empty statement list is a valid placeholder policy", async () => {
    const res = await create({ name: "placeholder", policy: [] });
    expect(res.status).toBe(201);
    expect(res.body.policy).toEqual([]);
  });

  test("names are unique per workspace: create and rename → 409 POLICY_NAME_TAKEN", async () => {
    expect((await create({ name: "dup", policy: [] })).status).toBe(201);
    const again = await create({ name: "dup", policy: READ });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("POLICY_NAME_TAKEN");
    const other = await create({ name: "other", policy: [] });
    const rename = await ctx.call("PATCH", ONE, {
      params: { ...WS, policy_id: other.body.id },
      body: { name: "dup" },
      auth: { cookie },
    });
    expect(rename.status).toBe(409);
    expect(rename.body.code).toBe("POLICY_NAME_TAKEN");
    const same = await ctx.call("PATCH", ONE, {
      params: { ...WS, policy_id: other.body.id },
      body: { name: "other" },
      auth: { cookie },
    });
    expect(same.status).toBe(200);
  });

  test.each([
    ["missing name", { policy: [] }],
    ["missing policy", { name: "p" }],
    ["empty name", { name: "", policy: [] }],
    ["name with a slash", { name: "a/b", policy: [] }],
    ["name too long", { name: "n".repeat(65), policy: [] }],
    ["bad effect", { name: "p", policy: [{ effect: "maybe", actions: ["*"], resources: ["*"] }] }],
    ["no actions", { name: "p", policy: [{ effect: "allow", actions: [], resources: ["*"] }] }],
    ["no resources", { name: "p", policy: [{ effect: "allow", actions: ["*"], resources: [] }] }],
    [
      "unknown action",
      { name: "p", policy: [{ effect: "allow", actions: ["heimdall.reed"], resources: ["*"] }] },
    ],
    [
      "wildcard of another service",
      { name: "p", policy: [{ effect: "allow", actions: ["mail.*"], resources: ["*"] }] },
    ],
    [
      "foreign resource",
      { name: "p", policy: [{ effect: "allow", actions: ["*"], resources: ["arn:aws:s3:::x"] }] },
    ],
    ["policy not an array", { name: "p", policy: { effect: "allow" } }],
  ])("create with %s → 400 VALIDATION_ERROR", async (_name, body) => {
    const res = await create(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details.length).toBeGreaterThan(0);
  });

  test("wildcards that match catalogued actions are accepted", async () => {
    const res = await create({
      name: "wild",
      policy: [
        {
          effect: "allow",
          actions: ["*.read", "heimdall.tenant.*", "*"],
          resources: ["pcft:heimdall:app/*"],
        },
      ],
    });
    expect(res.status).toBe(201);
  });

  test.each([
    ["GET", undefined],
    ["PATCH", { name: "x" }],
    ["DELETE", undefined],
  ])("%s of an unknown policy → 404 POLICY_NOT_FOUND", async (method, body) => {
    const res = await ctx.call(method, ONE, { params: { ...WS, policy_id: "nope" }, body, auth: { cookie } });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("POLICY_NOT_FOUND");
  });
});

describe("who may author", () => {
  test.each([
    ["POST", LIST, { name: "x", policy: [] }],
    ["PATCH", ONE, { name: "x" }],
    ["DELETE", ONE, undefined],
  ] as const)("a PAK, even with full rights, cannot %s → 403 PAK_NOT_ALLOWED", async (method, path, body) => {
    const res = await ctx.call(method, path, { params: { ...WS, policy_id: "any" }, body });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("PAK_NOT_ALLOWED");
  });

  test("a viewer reads policies (with created_by) but cannot write them", async () => {
    const viewer = await userWithRole(ctx, "viewer@example.test", "viewer");
    const list = await ctx.call("GET", LIST, { params: WS, auth: { cookie: viewer.cookie } });
    expect(list.status).toBe(200);
    expect(list.body.data[0].created_by).toBe(ctx.ownerId);
    const res = await create({ name: "mine", policy: [] }, { cookie: viewer.cookie });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("FORBIDDEN");
  });

  test("an admin may author", async () => {
    const admin = await userWithRole(ctx, "admin@example.test", "admin");
    expect((await create({ name: "by admin", policy: READ }, { cookie: admin.cookie })).status).toBe(201);
  });
});

describe("reading with a PAK", () => {
  test("a full PAK lists policies and the catalog", async () => {
    expect((await ctx.call("GET", LIST, { params: WS })).status).toBe(200);
    const cat = await ctx.call("GET", "/v1/workspaces/{workspace_slug}/policies/actions/catalog", {
      params: WS,
    });
    expect(cat.status).toBe(200);
    expect(cat.body.actions).toEqual([...HEIMDALL_ACTIONS]);
  });

  test("created_by is hidden from a PAK without heimdall.audit.read", async () => {
    const policy = await create({ name: "read only", policy: READ });
    const minted = await ctx.call("POST", "/v1/workspaces/{workspace_slug}/api-keys", {
      params: WS,
      body: { name: "reader", policy_ids: [policy.body.id] },
      auth: { cookie },
    });
    const res = await ctx.call("GET", ONE, {
      params: { ...WS, policy_id: policy.body.id },
      auth: { pak: minted.body.token },
    });
    expect(res.status).toBe(200);
    expect(res.body.created_by).toBeNull();
  });

  test("an app-scoped PAK cannot read workspace-level objects", async () => {
    const policy = await create({
      name: "one app",
      policy: [
        {
          effect: "allow",
          actions: ["heimdall.read"],
          resources: ["pcft:heimdall:app/0190a0a0-0000-7000-8000-000000000000"],
        },
      ],
    });
    const minted = await ctx.call("POST", "/v1/workspaces/{workspace_slug}/api-keys", {
      params: WS,
      body: { name: "scoped", policy_ids: [policy.body.id] },
      auth: { cookie },
    });
    const res = await ctx.call("GET", LIST, { params: WS, auth: { pak: minted.body.token } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("POLICY_DENIED");
  });
});
