/**
 * @module Admin API bulk writes (`/v1/apps/{app_id}/end-users/bulk-*`): selections by ids and by filter,
 * `affected_users`, one transaction and one summary audit row per operation, and the refusals.
 */
import { beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { exec } from "../../../src/db/query.ts";
import { queryRow, queryRows } from "../../support/end-users.ts";
import { auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { insertUser } from "../consumer/codes-fixtures.ts";
import { createEndUser, type TestApp, type TestEndUser } from "../consumer/verify-fixtures.ts";
import { allow, deny, insertPak } from "./fixtures.ts";

const BULK = "/v1/apps/{app_id}/end-users/bulk-{op}";
type Op = "delete" | "revoke-sessions" | "update-role" | "update-status";

let ctx: TestContext;
let other: TestApp;
let outsider: TestEndUser;

beforeAll(async () => {
  ctx = await createTestContext();
  other = await createApp(ctx, "bulk-other");
  outsider = await createEndUser(ctx, other, "outsider");
});

const bulk = (app: TestApp, op: Op, body: unknown, auth?: { pak: string }) =>
  ctx.call("POST", BULK.replace("{op}", op), { params: { app_id: app.id }, body, auth });

const liveSessions = async (userId: string) =>
  Number(
    (await queryRow(
      ctx,
      "SELECT count(*) AS n FROM end_user_sessions WHERE user_id = ? AND revoked_at IS NULL",
      userId,
    ))!.n,
  );
const statusOf = async (userId: string) =>
  (await queryRow(ctx, "SELECT status FROM end_users WHERE id = ?", userId))?.status;
const roleOf = async (userId: string) =>
  (await queryRow(ctx, "SELECT role FROM end_users WHERE id = ?", userId))?.role;

/** A fresh app per test: bulk writes change many rows at once. */
async function population(slug: string) {
  const app = await createApp(ctx, slug);
  const users: Record<string, TestEndUser> = {};
  for (const name of ["anna", "annie", "bert", "berta", "carl"])
    users[name] = await createEndUser(ctx, app, name);
  const suspended = await insertUser(ctx, app, "sam", {
    email: "anna.sam@example.test",
    status: "suspended",
  });
  return { app, users, suspended };
}

let seq = 0;
const nextSlug = () => `bulk-${++seq}`;

describe("selection by ids", () => {
  test("revoke-sessions: only the app's own accounts count, each once", async () => {
    const { app, users } = await population(nextSlug());
    const ids = [
      users.anna!.id,
      users.bert!.id,
      users.anna!.id,
      outsider.id,
      "0190d8c4-0000-7000-8000-00000000000f",
    ];
    const res = await bulk(app, "revoke-sessions", { selection: { mode: "ids", ids } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ affected_users: 2 });
    expect(await liveSessions(users.anna!.id)).toBe(0);
    expect(await liveSessions(users.bert!.id)).toBe(0);
    expect(await liveSessions(users.carl!.id)).toBe(1);
    expect(await liveSessions(outsider.id)).toBe(1);
    const summary = await auditRows(ctx, { app_id: app.id, action: "end_user.bulk_revoke_sessions" });
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({
      actor_type: "pak",
      details: { selection: { mode: "ids", requested: 4 }, affected_users: 2, sessions_revoked: 2 },
    });
    const perUser = await auditRows(ctx, { app_id: app.id, action: "user.sessions_revoked" });
    expect(perUser.map((r) => r.resource_id).sort()).toEqual([users.anna!.id, users.bert!.id].sort());
    expect(perUser[0]!.details!.bulk_operation_id).toBe(summary[0]!.details!.operation_id);
  });

  test("delete: the accounts go, their audit rows stay", async () => {
    const { app, users } = await population(nextSlug());
    const res = await bulk(app, "delete", { selection: { mode: "ids", ids: [users.carl!.id, outsider.id] } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ affected_users: 1 });
    expect(await statusOf(users.carl!.id)).toBeUndefined();
    expect(await statusOf(outsider.id)).toBe("active");
    expect(
      await queryRows(ctx, "SELECT id FROM end_user_sessions WHERE user_id = ?", users.carl!.id),
    ).toEqual([]);
    expect(
      (await auditRows(ctx, { app_id: app.id, action: "user.deleted" })).map((r) => r.resource_id),
    ).toEqual([users.carl!.id]);
    expect((await ctx.deps.audit.verify()).ok).toBe(true);
  });

  test("update-role: a changed account gets a from → to row, an unchanged one none", async () => {
    const { app, users } = await population(nextSlug());
    await exec(ctx.deps.db, sql`UPDATE end_users SET role = 'admin' WHERE id = ${users.bert!.id}`);
    const res = await bulk(app, "update-role", {
      selection: { mode: "ids", ids: [users.anna!.id, users.bert!.id] },
      role_name: "admin",
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ affected_users: 2 });
    expect(await roleOf(users.anna!.id)).toBe("admin");
    expect(await auditRows(ctx, { app_id: app.id, action: "user.role_changed" })).toEqual([
      expect.objectContaining({
        resource_id: users.anna!.id,
        details: expect.objectContaining({ from: "member", to: "admin" }),
      }),
    ]);
  });

  test("an empty id list affects nobody", async () => {
    const { app } = await population(nextSlug());
    const res = await bulk(app, "update-status", {
      selection: { mode: "ids", ids: [] },
      status: "suspended",
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ affected_users: 0 });
  });
});

describe("selection by filter", () => {
  test("update-status by search suspends the matches and ends their sessions; by status reinstates them", async () => {
    const { app, users, suspended } = await population(nextSlug());
    // `ann` matches anna, annie, and sam through the primary email anna.sam@…
    const res = await bulk(app, "update-status", {
      selection: { mode: "filter", search: " ANN " },
      status: "suspended",
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ affected_users: 3 });
    for (const u of [users.anna!, users.annie!]) {
      expect(await statusOf(u.id)).toBe("suspended");
      expect(await liveSessions(u.id)).toBe(0);
    }
    expect(await statusOf(users.bert!.id)).toBe("active");
    expect(await liveSessions(users.bert!.id)).toBe(1);
    // sam was already suspended: selected (counted), but not changed.
    expect(
      (await auditRows(ctx, { app_id: app.id, action: "user.status_changed" }))
        .map((r) => r.resource_id)
        .sort(),
    ).toEqual([users.anna!.id, users.annie!.id].sort());
    expect(
      (await auditRows(ctx, { app_id: app.id, action: "end_user.bulk_update_status" }))[0]!.details,
    ).toMatchObject({
      selection: { mode: "filter", status: null, search: "ann" },
      status: "suspended",
      affected_users: 3,
    });

    const back = await bulk(app, "update-status", {
      selection: { mode: "filter", status: "suspended" },
      status: "active",
    });
    expect(back.body).toEqual({ affected_users: 3 });
    expect(await statusOf(suspended.id)).toBe("active");
  });

  test("update-role by search and status together", async () => {
    const { app, users } = await population(nextSlug());
    const res = await bulk(app, "update-role", {
      selection: { mode: "filter", search: "ber", status: "active" },
      role_name: "admin",
    });
    expect(res.body).toEqual({ affected_users: 2 });
    expect([
      await roleOf(users.bert!.id),
      await roleOf(users.berta!.id),
      await roleOf(users.anna!.id),
    ]).toEqual(["admin", "admin", "member"]);
  });

  test("a whole-app selection needs confirm_all_in_app, then takes exactly this app's accounts", async () => {
    const { app } = await population(nextSlug());
    const refused = await bulk(app, "delete", { selection: { mode: "filter" } });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe("VALIDATION_ERROR");
    expect(refused.body.details[0].field).toBe("confirm_all_in_app");
    const res = await bulk(app, "delete", { selection: { mode: "filter" }, confirm_all_in_app: true });
    expect(res.body).toEqual({ affected_users: 6 });
    expect(await queryRows(ctx, "SELECT id FROM end_users WHERE app_id = ?", app.id)).toEqual([]);
    expect(await statusOf(outsider.id)).toBe("active");
  });

  test.each([
    ["revoke-sessions", {}],
    ["update-role", { role_name: "member" }],
    ["update-status", { status: "active" }],
    ["delete", { confirm_all_in_app: false }],
    ["delete", { selection: { mode: "filter", search: "   " } }],
  ] as const)("%s of the whole app without confirmation → 400 and nothing changes", async (op, extra) => {
    const { app, users } = await population(nextSlug());
    const res = await bulk(app, op, { selection: { mode: "filter" }, ...extra });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(await liveSessions(users.anna!.id)).toBe(1);
    expect(await auditRows(ctx, { app_id: app.id, action: `end_user.bulk_${op.replace("-", "_")}` })).toEqual(
      [],
    );
  });
});

describe("refusals", () => {
  let app: TestApp;
  let anna: string;

  beforeAll(async () => {
    const p = await population(nextSlug());
    app = p.app;
    anna = p.users.anna!.id;
  });

  beforeEach(async () => {
    expect(await statusOf(anna)).toBe("active");
  });

  test.each([
    ["no selection", "revoke-sessions", {}, "selection"],
    ["an unknown mode", "revoke-sessions", { selection: { mode: "all" } }, "selection.mode"],
    ["mode ids without ids", "revoke-sessions", { selection: { mode: "ids" } }, "selection.ids"],
    [
      "mode ids with a filter",
      "delete",
      { selection: { mode: "ids", ids: [], status: "active" } },
      "selection.status",
    ],
    [
      "mode filter with ids",
      "delete",
      { selection: { mode: "filter", ids: ["x"], status: "active" } },
      "selection.ids",
    ],
    [
      "more than 5000 ids",
      "delete",
      { selection: { mode: "ids", ids: Array(5001).fill("x") } },
      "selection.ids",
    ],
    ["a non-string id", "delete", { selection: { mode: "ids", ids: [1] } }, "selection.ids.0"],
    [
      "an unknown status filter",
      "delete",
      { selection: { mode: "filter", status: "gone" } },
      "selection.status",
    ],
    ["update-role without role_name", "update-role", { selection: { mode: "ids", ids: [] } }, "role_name"],
    ["update-status without status", "update-status", { selection: { mode: "ids", ids: [] } }, "status"],
    [
      "update-status to an unknown status",
      "update-status",
      { selection: { mode: "ids", ids: [] }, status: "x" },
      "status",
    ],
  ] as const)("%s → 400 VALIDATION_ERROR on %s", async (_name, op, body, field) => {
    const res = await bulk(app, op, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  // 5,000 UUIDs are ~190 KB of JSON: bulk routes get a larger body allowance than the usual 64 KiB.
  test("exactly 5000 real account ids are accepted", async () => {
    const ids = [anna, ...Array.from({ length: 4999 }, () => crypto.randomUUID())];
    expect(JSON.stringify({ selection: { mode: "ids", ids } }).length).toBeGreaterThan(64 * 1024);
    const res = await bulk(app, "revoke-sessions", { selection: { mode: "ids", ids } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ affected_users: 1 });
  });

  test("the larger allowance is for bulk routes only", async () => {
    const res = await ctx.call("PATCH", "/v1/apps/{app_id}/end-users/{user_id}", {
      params: { app_id: app.id, user_id: anna },
      body: { display_name: "x".repeat(70 * 1024) },
    });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe("PAYLOAD_TOO_LARGE");
  });

  test("update-role to an unknown role → 400 UNKNOWN_ROLE, nobody changed", async () => {
    const res = await bulk(app, "update-role", {
      selection: { mode: "ids", ids: [anna] },
      role_name: "emperor",
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("UNKNOWN_ROLE");
    expect(await roleOf(anna)).toBe("member");
  });

  test.each([
    ["read-only", [allow(["heimdall.read"])], "revoke-sessions"],
    ["no delete", [allow(["heimdall.*"]), deny(["heimdall.delete"])], "delete"],
    ["no update", [allow(["heimdall.*"]), deny(["heimdall.update"])], "update-status"],
  ] as const)("a %s PAK → 403 POLICY_DENIED on %s", async (_name, statements, op) => {
    const pak = (await insertPak(ctx, [...statements])).token;
    // `status` belongs to update-status only: the other bulk bodies do not define it.
    const body = {
      selection: { mode: "ids", ids: [anna] },
      ...(op === "update-status" && { status: "suspended" }),
    };
    const res = await bulk(app, op, body, { pak });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("POLICY_DENIED");
  });

  test("an unknown app → 404 APP_NOT_FOUND", async () => {
    const res = await bulk({ id: "no-such-app", slug: "no-such-app" }, "delete", {
      selection: { mode: "ids", ids: [] },
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("APP_NOT_FOUND");
  });

  test("no credential → 401", async () => {
    const res = await ctx.call("POST", BULK.replace("{op}", "delete"), {
      params: { app_id: app.id },
      body: { selection: { mode: "ids", ids: [anna] } },
      auth: null,
    });
    expect(res.status).toBe(401);
  });
});

describe("bulk writes racing on the same accounts", () => {
  // On PostgreSQL two bulk transactions run side by side; each must see the other's committed change to an
  // account before it writes its own, so the history it records is the history that happened.
  test("two status changes: each account's rows chain (from = the previous to), ending at its stored status", async () => {
    const { app, users } = await population(nextSlug());
    const ids = Object.values(users).map((u) => u.id);
    const results = await Promise.all(
      (["suspended", "deactivated", "suspended", "deactivated"] as const).map((status) =>
        bulk(app, "update-status", { selection: { mode: "ids", ids }, status }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const changed = await auditRows(ctx, { app_id: app.id, action: "user.status_changed" });
    for (const id of ids) {
      const chain = changed
        .filter((r) => r.resource_id === id)
        .map((r) => r.details as { from: string; to: string });
      expect(chain.length).toBeGreaterThan(0);
      expect(chain[0]!.from).toBe("active");
      for (let i = 1; i < chain.length; i++) expect(chain[i]!.from).toBe(chain[i - 1]!.to);
      expect(await statusOf(id)).toBe(chain.at(-1)!.to);
    }
    expect((await ctx.deps.audit.verify()).ok).toBe(true);
  });

  test("two deletes of the same accounts: each account is deleted, audited and announced once", async () => {
    const { app, users } = await population(nextSlug());
    const ids = [users.anna!.id, users.bert!.id, users.carl!.id];
    const results = await Promise.all(
      [0, 1, 2].map(() => bulk(app, "delete", { selection: { mode: "ids", ids } })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(results.map((r) => r.body.affected_users).reduce((a, b) => a + b, 0)).toBe(3);
    const deleted = await auditRows(ctx, { app_id: app.id, action: "user.deleted" });
    expect(deleted.map((r) => r.resource_id).sort()).toEqual([...ids].sort());
    const events = await queryRows(
      ctx,
      "SELECT data FROM events WHERE app_id = ? AND type = 'user.deleted'",
      app.id,
    );
    expect(events).toHaveLength(3);
  });
});
