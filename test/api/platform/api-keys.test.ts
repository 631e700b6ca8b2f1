/** @module Platform API keys: mint once, hash at rest, human-only minting, grant ceiling, revoke, last use. */
import { beforeEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { SECOND } from "../../../src/core/clock.ts";
import { sha256Hex } from "../../../src/core/crypto.ts";
import { auditRows, insertWorkspace } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { userWithRole } from "./helpers.ts";

const WS = { workspace_slug: "default" };
const KEYS = "/v1/workspaces/{workspace_slug}/api-keys";
const KEY = "/v1/workspaces/{workspace_slug}/api-keys/{id}";
const POLICIES = "/v1/workspaces/{workspace_slug}/policies";

let ctx: TestContext;
let cookie: string;
beforeEach(async () => {
  ctx = await createTestContext();
  cookie = await ctx.signIn();
});

async function pakRow(id: string) {
  const { paks } = ctx.deps.db.tables;
  return (await ctx.deps.db.select().from(paks).where(eq(paks.id, id)).limit(1))[0];
}

async function policy(name: string, statements: unknown[]): Promise<string> {
  const res = await ctx.call("POST", POLICIES, {
    params: WS,
    body: { name, policy: statements },
    auth: { cookie },
  });
  if (res.status !== 201) throw new Error(`policy ${name}: ${res.status} ${res.text}`);
  return res.body.id;
}

async function adminPolicyId(): Promise<string> {
  const res = await ctx.call("GET", POLICIES, { params: WS });
  return res.body.data.find((p: { name: string }) => p.name === "heimdall-admin").id;
}

async function mint(body: Record<string, unknown>, auth: object = { cookie }) {
  return ctx.call("POST", KEYS, { params: WS, body, auth: auth as never });
}

describe("minting", () => {
  test("returns the token once; the database keeps only its hash and a 14-char prefix", async () => {
    const readOnly = await policy("read only", [
      { effect: "allow", actions: ["heimdall.read"], resources: ["*"] },
    ]);
    const res = await mint({ name: "ci", description: "for CI", policy_ids: [readOnly] });
    expect(res.status).toBe(201);
    const { token, record } = res.body;
    expect(token).toMatch(/^pcft_live_[A-Za-z0-9_-]{43}$/);
    expect(record).toMatchObject({
      name: "ci",
      description: "for CI",
      workspace_id: ctx.workspaceId,
      created_by: ctx.ownerId,
      token_prefix: token.slice(0, 14),
      last_used_at: null,
      revoked_at: null,
    });
    expect(record.policies).toEqual([{ id: readOnly, name: "read only", description: null }]);

    const row = (await pakRow(record.id))!;
    expect(row.tokenHash).toBe(sha256Hex(token));
    expect(JSON.stringify(row)).not.toContain(token);
    expect(JSON.stringify(row)).not.toContain(token.slice(14));

    const list = await ctx.call("GET", KEYS, { params: WS });
    const got = await ctx.call("GET", KEY, { params: { ...WS, id: record.id } });
    for (const text of [list.text, got.text]) expect(text).not.toContain(token);
    expect(got.body).toEqual(record);
    expect(list.body.map((k: { id: string }) => k.id)).toContain(record.id);

    const audit = await auditRows(ctx, { action: "pak.created", resource_id: record.id });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor_type).toBe("platform_user");
    expect(JSON.stringify(audit[0])).not.toContain(token);
  });

  test("the minted key authenticates with exactly its policy", async () => {
    const readOnly = await policy("read only", [
      { effect: "allow", actions: ["heimdall.read"], resources: ["*"] },
    ]);
    const { token, record } = (await mint({ name: "reader", policy_ids: [readOnly] })).body;
    const list = await ctx.call("GET", KEYS, { params: WS, auth: { pak: token } });
    expect(list.status).toBe(200);
    const revoke = await ctx.call("DELETE", KEY, { params: { ...WS, id: record.id }, auth: { pak: token } });
    expect(revoke.status).toBe(403);
    expect(revoke.body.code).toBe("POLICY_DENIED");
  });

  test("a PAK cannot mint a PAK", async () => {
    const res = await mint({ name: "child", policy_ids: [await adminPolicyId()] }, { pak: ctx.pak });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("PAK_NOT_ALLOWED");
  });

  test("a viewer cannot grant more than it holds, but can mint a read-only key", async () => {
    const viewer = await userWithRole(ctx, "viewer@example.test", "viewer");
    const writer = await policy("writer", [
      { effect: "allow", actions: ["heimdall.update"], resources: ["*"] },
    ]);
    const reader = await policy("reader", [
      { effect: "allow", actions: ["heimdall.read", "heimdall.audit.read"], resources: ["*"] },
    ]);
    const scoped = await policy("one app", [
      {
        effect: "allow",
        actions: ["heimdall.read"],
        resources: ["pcft:heimdall:app/0190a0a0-0000-7000-8000-000000000000"],
      },
      { effect: "deny", actions: ["*"], resources: ["*"] },
    ]);
    for (const ids of [[await adminPolicyId()], [writer], [reader, writer]]) {
      const res = await mint({ name: "too much", policy_ids: ids }, { cookie: viewer.cookie });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("GRANT_EXCEEDS_CALLER");
    }
    const ok = await mint({ name: "fine", policy_ids: [reader, scoped] }, { cookie: viewer.cookie });
    expect(ok.status).toBe(201);
    expect(ok.body.record.created_by).toBe(viewer.id);
  });

  test.each([
    ["missing name", { policy_ids: ["x"] }],
    ["empty name", { name: " ", policy_ids: ["x"] }],
    ["name too long", { name: "n".repeat(121), policy_ids: ["x"] }],
    ["missing policy_ids", { name: "k" }],
    ["empty policy_ids", { name: "k", policy_ids: [] }],
    ["policy_ids not an array", { name: "k", policy_ids: "x" }],
    ["description too long", { name: "k", description: "d".repeat(501), policy_ids: ["x"] }],
  ])("%s → 400 VALIDATION_ERROR", async (_name, body) => {
    const res = await mint(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
  });

  test("policy_ids must name policies of this workspace", async () => {
    const otherWs = await insertWorkspace(ctx, "other", "owner");
    const otherCookie = await ctx.signIn(); // memberships are read per request, a new session is not needed
    const foreign = await ctx.call("POST", POLICIES, {
      params: { workspace_slug: "other" },
      body: { name: "theirs", policy: [] },
      auth: { cookie: otherCookie },
    });
    expect(foreign.status).toBe(201);
    expect(foreign.body.workspace_id).toBe(otherWs);
    const res = await mint({ name: "k", policy_ids: [await adminPolicyId(), foreign.body.id] });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details).toEqual([{ field: "policy_ids.1", reason: expect.any(String) }]);
    expect(await ctx.deps.db.select().from(ctx.deps.db.tables.paks)).toHaveLength(1); // only the bootstrap key
  });
});

describe("revoking and updating", () => {
  test("DELETE revokes at once, keeps the row, and is idempotent", async () => {
    const { token, record } = (await mint({ name: "doomed", policy_ids: [await adminPolicyId()] })).body;
    expect((await ctx.call("GET", "/v1/workspaces", { auth: { pak: token } })).status).toBe(200);
    const del = await ctx.call("DELETE", KEY, { params: { ...WS, id: record.id }, auth: { cookie } });
    expect(del.status).toBe(204);
    const use = await ctx.call("GET", "/v1/workspaces", { auth: { pak: token } });
    expect(use.status).toBe(401);
    expect(use.body.code).toBe("INVALID_TOKEN");
    const got = await ctx.call("GET", KEY, { params: { ...WS, id: record.id } });
    expect(got.body.revoked_at).toBe(new Date(ctx.clock.now()).toISOString());
    expect(
      (await ctx.call("DELETE", KEY, { params: { ...WS, id: record.id }, auth: { cookie } })).status,
    ).toBe(204);
    expect(await auditRows(ctx, { action: "pak.revoked", resource_id: record.id })).toHaveLength(1);
  });

  test("a PAK with heimdall.delete may revoke itself, and is refused from then on", async () => {
    const boot = (await ctx.call("GET", KEYS, { params: WS })).body[0];
    expect((await ctx.call("DELETE", KEY, { params: { ...WS, id: boot.id } })).status).toBe(204);
    expect((await ctx.call("GET", KEYS, { params: WS })).status).toBe(401);
    expect((await auditRows(ctx, { action: "pak.revoked", resource_id: boot.id }))[0]!.actor_type).toBe(
      "pak",
    );
  });

  test("PATCH changes name and description only, and is audited", async () => {
    const { record } = (await mint({ name: "old", description: "d", policy_ids: [await adminPolicyId()] }))
      .body;
    ctx.clock.advance(SECOND);
    // Any other field is refused, and the request with it changes nothing.
    const refused = await ctx.call("PATCH", KEY, {
      params: { ...WS, id: record.id },
      body: { name: "new", description: null, token_prefix: "pcft_live_XXXXXX" },
      auth: { cookie },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe("VALIDATION_ERROR");
    expect(refused.body.details).toEqual([{ field: "token_prefix", reason: "unknown field" }]);
    expect(await auditRows(ctx, { action: "pak.updated", resource_id: record.id })).toEqual([]);
    const res = await ctx.call("PATCH", KEY, {
      params: { ...WS, id: record.id },
      body: { name: "new", description: null },
      auth: { cookie },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: "new", description: null, token_prefix: record.token_prefix });
    expect(res.body.updated_at).not.toBe(record.updated_at);
    expect(res.body.policies).toEqual(record.policies);
    expect((await auditRows(ctx, { action: "pak.updated", resource_id: record.id }))[0]!.details).toEqual({
      changed: ["name", "description"],
    });
  });

  test.each([
    ["a viewer", "viewer", "PATCH", 403, "FORBIDDEN"],
    ["a viewer", "viewer", "DELETE", 403, "FORBIDDEN"],
    ["an admin", "admin", "DELETE", 204, undefined],
  ] as const)("%s %s → %d", async (_who, role, method, status, code) => {
    const { record } = (await mint({ name: "target", policy_ids: [await adminPolicyId()] })).body;
    const user = await userWithRole(ctx, `${role}@example.test`, role);
    const res = await ctx.call(method, KEY, {
      params: { ...WS, id: record.id },
      body: method === "PATCH" ? { name: "x" } : undefined,
      auth: { cookie: user.cookie },
    });
    expect(res.status).toBe(status);
    if (code) expect(res.body.code).toBe(code);
  });

  test.each([
    ["GET", undefined],
    ["PATCH", { name: "x" }],
    ["DELETE", undefined],
  ])("%s of an unknown key → 404 PAK_NOT_FOUND", async (method, body) => {
    const res = await ctx.call(method, KEY, { params: { ...WS, id: "nope" }, body });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("PAK_NOT_FOUND");
  });

  test("PATCH with an invalid body → 400", async () => {
    const boot = (await ctx.call("GET", KEYS, { params: WS })).body[0];
    for (const body of [{ name: "" }, { name: 5 }, { description: "d".repeat(501) }]) {
      const res = await ctx.call("PATCH", KEY, { params: { ...WS, id: boot.id }, body });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
    }
  });
});

describe("last use", () => {
  test("last_used_at and the pak.used audit row are written at most once a minute", async () => {
    const { token, record } = (await mint({ name: "busy", policy_ids: [await adminPolicyId()] })).body;
    const t0 = ctx.clock.now();
    for (let i = 0; i < 3; i++) {
      expect((await ctx.call("GET", "/v1/workspaces", { auth: { pak: token } })).status).toBe(200);
      ctx.clock.advance(10 * SECOND);
    }
    let row = (await pakRow(record.id))!;
    expect(row.lastUsedAt).toBe(t0);
    expect(await auditRows(ctx, { action: "pak.used", resource_id: record.id })).toHaveLength(1);
    ctx.clock.set(t0 + 60 * SECOND);
    await ctx.call("GET", "/v1/workspaces", { auth: { pak: token } });
    row = (await pakRow(record.id))!;
    expect(row.lastUsedAt).toBe(t0 + 60 * SECOND);
    const used = await auditRows(ctx, { action: "pak.used", resource_id: record.id });
    expect(used).toHaveLength(2);
    expect(used[1]!).toMatchObject({
      chain: `workspace:${ctx.workspaceId}`,
      actor_type: "pak",
      actor_id: record.id,
    });
    const got = await ctx.call("GET", KEY, { params: { ...WS, id: record.id } });
    expect(got.body.last_used_at).toBe(new Date(t0 + 60 * SECOND).toISOString());
  });

  test("a refused PAK call (human-only route) records no use", async () => {
    const before = (await auditRows(ctx, { action: "pak.used" })).length;
    ctx.clock.advance(120 * SECOND);
    await ctx.call("GET", "/v1/me");
    expect(await auditRows(ctx, { action: "pak.used" })).toHaveLength(before);
  });
});

describe("policy bindings", () => {
  test("a key's rights are the union of its policies, and deleting a policy removes its part", async () => {
    const reads = await policy("reads", [{ effect: "allow", actions: ["heimdall.read"], resources: ["*"] }]);
    const deletes = await policy("deletes", [
      { effect: "allow", actions: ["heimdall.delete"], resources: ["*"] },
    ]);
    const { token, record } = (await mint({ name: "both", policy_ids: [reads, deletes, reads] })).body;
    expect(record.policies.map((p: { name: string }) => p.name)).toEqual(["deletes", "reads"]);
    const { pakPolicies } = ctx.deps.db.tables;
    expect(await ctx.deps.db.select().from(pakPolicies).where(eq(pakPolicies.pakId, record.id))).toHaveLength(
      2,
    );
    expect((await ctx.call("GET", KEYS, { params: WS, auth: { pak: token } })).status).toBe(200);
    await ctx.call("DELETE", `${POLICIES}/{policy_id}`, {
      params: { ...WS, policy_id: reads },
      auth: { cookie },
    });
    const denied = await ctx.call("GET", KEYS, { params: WS, auth: { pak: token } });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe("POLICY_DENIED");
  });
});
