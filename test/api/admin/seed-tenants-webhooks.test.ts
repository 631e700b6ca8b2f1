/** Seed files' tenants and webhook sections in process (docs/seed.md): validation by path, apply, idempotence, convergence, prune, dry run, rollback, export. */
import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { applySeed, SeedPlanError, SeedStepError } from "../../../src/seed/apply.ts";
import { exportSeed } from "../../../src/seed/export.ts";
import { parseSeed, type SeedFile, SeedFileError } from "../../../src/seed/schema.ts";
import { queryRow, queryRows } from "../../support/end-users.ts";
import { auditRows } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";

const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
const OTHER_SECRET = `whsec_${Buffer.alloc(24, 9).toString("base64")}`;
const ENV = { DEMO_WEBHOOK_SECRET: SECRET };
const HOOK_URL = "https://hooks.example.com/heimdall";

function demo(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    slug: "demo",
    display_name: "Demo",
    users: [
      { email: "alice@example.com", role: "member" },
      { email: "bob@example.com", role: "member" },
    ],
    tenants: [
      {
        slug: "acme",
        display_name: "Acme",
        members: [
          { email: "alice@example.com", role: "owner" },
          { email: "bob@example.com", role: "member" },
        ],
      },
      { slug: "globex", display_name: "Globex", status: "suspended", metadata: { plan: "pro" } },
    ],
    webhook: {
      url: HOOK_URL,
      event_types: ["tenant.created", "user.signup"],
      signing_secret_env: "DEMO_WEBHOOK_SECRET",
    },
    ...overrides,
  };
}

const seedOf = (apps: unknown[], env: Record<string, string> = ENV): SeedFile =>
  parseSeed({ version: 1, apps }, env);

function fileProblems(apps: unknown[], env: Record<string, string> = ENV): string[] {
  try {
    seedOf(apps, env);
  } catch (err) {
    if (err instanceof SeedFileError) return [...err.problems];
    throw err;
  }
  throw new Error("expected a SeedFileError");
}

async function planProblems(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SeedPlanError) return [...err.problems];
    throw err;
  }
  throw new Error("expected a SeedPlanError");
}

const count = async (ctx: TestContext, table: string) =>
  Number((await queryRow(ctx, `SELECT CAST(count(*) AS INTEGER) AS n FROM ${table}`))!.n);

const opts = (ctx: TestContext, more: { dryRun?: boolean; prune?: boolean } = {}) => ({
  workspaceId: ctx.workspaceId,
  ...more,
});

/** Tenant slug → [email, role] of its members, from the tables. */
async function memberships(ctx: TestContext, appId: string): Promise<Record<string, string[][]>> {
  const rows = await queryRows(
    ctx,
    sql`SELECT t.slug, c.value AS email, m.role FROM tenant_members m
       JOIN tenants t ON t.id = m.tenant_id
       JOIN end_user_contacts c ON c.user_id = m.user_id AND c.type = 'email' AND c.is_primary = ${true}
       WHERE m.app_id = ${appId} ORDER BY t.slug, c.value`,
  );
  const out: Record<string, string[][]> = {};
  for (const r of rows) {
    const slug = String(r.slug);
    out[slug] = [...(out[slug] ?? []), [String(r.email), String(r.role)]];
  }
  return out;
}

/** A raw JSON column as SQLite stores it (text): PostgreSQL's jsonb arrives parsed. */
const jsonText = (v: unknown) => (typeof v === "string" || v === null ? v : JSON.stringify(v));

const tenantRow = async (ctx: TestContext, slug: string) => {
  const r = await queryRow(
    ctx,
    "SELECT display_name, status, metadata, updated_at FROM tenants WHERE slug = ?",
    slug,
  );
  return r
    ? {
        display_name: r.display_name as string,
        status: r.status as string,
        metadata: jsonText(r.metadata),
        updated_at: Number(r.updated_at),
      }
    : null;
};

const hookRow = async (ctx: TestContext, appId: string) => {
  const r = await queryRow(
    ctx,
    "SELECT url, event_types, secret_hint FROM webhook_configs WHERE app_id = ?",
    appId,
  );
  return r ? { url: r.url, event_types: jsonText(r.event_types), secret_hint: r.secret_hint } : null;
};

const local = (ctx: TestContext) => ({ kind: "local" as const, workspaceId: ctx.workspaceId });

describe("seed file: tenants and webhook, validation", () => {
  test("problems found from the file alone name their path", () => {
    const problems = fileProblems(
      [
        demo({
          tenants: [
            { slug: "Not A Slug!", display_name: "" },
            { slug: "acme", display_name: "Acme", colour: "red", members: [{ email: "x" }] },
            {
              slug: "acme",
              display_name: "Acme again",
              status: "gone",
              members: [
                { email: "a@example.com", role: "member" },
                { email: "A@example.com", role: "admin" },
              ],
            },
          ],
          webhook: { url: HOOK_URL, event_types: ["user.nope"], signing_secret_env: "DEMO_WEBHOOK_SECRET" },
        }),
      ],
      {},
    );
    expect(problems).toContain("apps[0].tenants[1].colour: unknown key");
    for (const prefix of [
      "apps[0].tenants[1].members[0].role: ",
      "apps[0].tenants[0].slug: ",
      "apps[0].tenants[0].display_name: ",
      "apps[0].tenants[1].members[0].email: ",
      "apps[0].tenants[2].status: ",
      "apps[0].webhook.event_types[0]: ",
    ])
      expect(problems.some((p) => p.startsWith(prefix))).toBe(true);

    // Duplicates (emails compare normalised) and the secret's variable, once the schema is satisfied.
    const second = fileProblems(
      [
        demo({
          tenants: [
            { slug: "acme", display_name: "Acme" },
            {
              slug: "acme",
              display_name: "Acme again",
              members: [
                { email: "a@example.com", role: "member" },
                { email: "A@example.com", role: "admin" },
              ],
            },
          ],
        }),
      ],
      {},
    );
    expect(second).toEqual(
      expect.arrayContaining([
        'apps[0].tenants[1]: duplicate slug "acme" (also at apps[0].tenants[0])',
        'apps[0].tenants[1].members[1]: duplicate email "a@example.com" (also at apps[0].tenants[1].members[0])',
        "apps[0].webhook.signing_secret_env: environment variable DEMO_WEBHOOK_SECRET is not set",
      ]),
    );
  });

  test("a signing secret must be in the Standard Webhooks form", () => {
    for (const bad of ["s".repeat(40), "whsec_short", `whsec_${Buffer.alloc(16).toString("base64")}`])
      expect(fileProblems([demo()], { DEMO_WEBHOOK_SECRET: bad })).toEqual([
        "apps[0].webhook.signing_secret_env: DEMO_WEBHOOK_SECRET must be a Standard Webhooks secret: whsec_ and the base64 of 24 to 64 random bytes",
      ]);
    expect(seedOf([demo()], { DEMO_WEBHOOK_SECRET: OTHER_SECRET }).apps[0]!.webhook).toMatchObject({
      signing_secret: OTHER_SECRET,
    });
  });
});

describe("seed file: tenants and webhook, apply", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });

  test("unknown member roles and emails no account holds: by path, nothing applied", async () => {
    const audits = await count(ctx, "audit_log");
    const file = demo({
      tenants: [
        { slug: "acme", display_name: "Acme", members: [{ email: "alice@example.com", role: "owner" }] },
        {
          slug: "initech",
          display_name: "Initech",
          members: [
            { email: "alice@example.com", role: "ownr" },
            { email: "nobody@example.com", role: "member" },
          ],
        },
      ],
    });
    expect(await planProblems(applySeed(ctx.deps, seedOf([file]), opts(ctx)))).toEqual([
      'apps[0].tenants[1].members[0].role: unknown role "ownr"',
      "apps[0].tenants[1].members[1].email: no account of demo has the email nobody@example.com, and the file's users do not list it",
    ]);
    expect(await ctx.deps.apps.find("demo")).toBeUndefined();
    expect(await count(ctx, "audit_log")).toBe(audits);
  });

  test("creates tenants, members (of accounts the same file seeds) and the webhook with the given secret", async () => {
    const r = await applySeed(ctx.deps, seedOf([demo()]), opts(ctx));
    expect(r.changes).toEqual([
      "+ app demo",
      "+ user demo/alice@example.com",
      "+ user demo/bob@example.com",
      "+ tenant demo/acme",
      "+ tenant_member demo/acme alice@example.com (owner)",
      "+ tenant_member demo/acme bob@example.com (member)",
      "+ tenant demo/globex",
      `+ webhook demo ${HOOK_URL}`,
    ]);
    // The given secret is not printed.
    expect(r.secrets).toEqual([]);
    const app = (await ctx.deps.apps.find("demo"))!;
    expect(await memberships(ctx, app.id)).toEqual({
      acme: [
        ["alice@example.com", "owner"],
        ["bob@example.com", "member"],
      ],
    });
    expect(await tenantRow(ctx, "globex")).toMatchObject({
      display_name: "Globex",
      status: "suspended",
      metadata: JSON.stringify({ plan: "pro" }),
    });
    expect(await hookRow(ctx, app.id)).toEqual({
      url: HOOK_URL,
      event_types: JSON.stringify(["user.signup", "tenant.created"]),
      secret_hint: SECRET.slice(-4),
    });
    expect(await ctx.deps.webhooks.secretMatches(local(ctx), "demo", SECRET)).toBe(true);

    const rows = await auditRows(ctx, { app_id: app.id });
    const actions = rows.map((x) => x.action);
    for (const a of ["tenant.created", "tenant.updated", "tenant.member.added", "webhook.created"])
      expect(actions).toContain(a);
    expect(actions.filter((a) => a === "tenant.member.added")).toHaveLength(2);
    expect(rows.every((x) => x.actor_type === "system")).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(SECRET);
  });

  test("a second apply changes nothing: no audit row, no updated_at", async () => {
    const audits = await count(ctx, "audit_log");
    const stamp = (await tenantRow(ctx, "acme"))!.updated_at;
    ctx.clock.advance(60_000);
    const r = await applySeed(ctx.deps, seedOf([demo()]), opts(ctx));
    expect(r).toMatchObject({ created: 0, updated: 0, deleted: 0, changes: [], secrets: [] });
    expect(await count(ctx, "audit_log")).toBe(audits);
    expect((await tenantRow(ctx, "acme"))!.updated_at).toBe(stamp);
  });

  test("converges: a member's role, a tenant's display name and the webhook's event types", async () => {
    const file = demo({
      tenants: [
        {
          slug: "acme",
          display_name: "Acme Corp",
          members: [
            { email: "alice@example.com", role: "owner" },
            { email: "bob@example.com", role: "admin" },
          ],
        },
        { slug: "globex", display_name: "Globex", status: "suspended", metadata: { plan: "pro" } },
      ],
      webhook: {
        url: HOOK_URL,
        event_types: ["user.signup", "tenant.created", "tenant.member.added"],
        signing_secret_env: "DEMO_WEBHOOK_SECRET",
      },
    });
    const r = await applySeed(ctx.deps, seedOf([file]), opts(ctx));
    expect(r.changes).toEqual([
      '~ tenant demo/acme display_name: "Acme" → "Acme Corp"',
      '~ tenant_member demo/acme bob@example.com role: "member" → "admin"',
      '~ webhook demo event_types: ["user.signup","tenant.created"] → ["user.signup","tenant.created","tenant.member.added"]',
    ]);
    expect(r).toMatchObject({ created: 0, updated: 3, deleted: 0 });
    const app = (await ctx.deps.apps.find("demo"))!;
    expect((await memberships(ctx, app.id)).acme).toContainEqual(["bob@example.com", "admin"]);
    expect((await tenantRow(ctx, "acme"))!.display_name).toBe("Acme Corp");
    expect(await auditRows(ctx, { app_id: app.id, action: "tenant.member.role_changed" })).toHaveLength(1);
    expect(await auditRows(ctx, { app_id: app.id, action: "webhook.updated" })).toHaveLength(1);
    // The replace kept the secret.
    expect(await ctx.deps.webhooks.secretMatches(local(ctx), "demo", SECRET)).toBe(true);
    // And back to the first file: converges again, then holds still.
    expect((await applySeed(ctx.deps, seedOf([demo()]), opts(ctx))).updated).toBe(3);
    expect((await applySeed(ctx.deps, seedOf([demo()]), opts(ctx))).changes).toEqual([]);
  });

  test("a new secret in the environment rotates to it; the tenant's owner can be handed over", async () => {
    const handover = demo({
      tenants: [
        {
          slug: "acme",
          display_name: "Acme",
          members: [
            { email: "alice@example.com", role: "member" },
            { email: "bob@example.com", role: "owner" },
          ],
        },
        { slug: "globex", display_name: "Globex", status: "suspended", metadata: { plan: "pro" } },
      ],
    });
    const r = await applySeed(ctx.deps, seedOf([handover], { DEMO_WEBHOOK_SECRET: OTHER_SECRET }), opts(ctx));
    // The promotion runs first, so the tenant never has no owner (the service refuses that).
    expect(r.changes).toEqual([
      '~ tenant_member demo/acme bob@example.com role: "member" → "owner"',
      '~ tenant_member demo/acme alice@example.com role: "owner" → "member"',
      "~ webhook demo signing_secret (from DEMO_WEBHOOK_SECRET)",
    ]);
    const app = (await ctx.deps.apps.find("demo"))!;
    expect(await ctx.deps.webhooks.secretMatches(local(ctx), "demo", OTHER_SECRET)).toBe(true);
    expect(await ctx.deps.webhooks.secretMatches(local(ctx), "demo", SECRET)).toBe(false);
    expect(await auditRows(ctx, { app_id: app.id, action: "webhook.secret_rotated" })).toHaveLength(1);
    expect(JSON.stringify(await auditRows(ctx, { app_id: app.id }))).not.toContain(OTHER_SECRET);
    expect((await applySeed(ctx.deps, seedOf([demo()]), opts(ctx))).updated).toBe(3);
  });

  test("a webhook without a secret variable gets a generated one, printed once", async () => {
    const r = await applySeed(
      ctx.deps,
      seedOf([{ slug: "gen", display_name: "Gen", webhook: { url: HOOK_URL, event_types: [] } }]),
      opts(ctx),
    );
    expect(r.changes).toEqual(["+ app gen", `+ webhook gen ${HOOK_URL}`]);
    expect(r.secrets).toHaveLength(1);
    expect(r.secrets[0]).toMatchObject({ kind: "webhook", app: "gen" });
    expect(r.secrets[0]!.secret).toMatch(/^whsec_/);
    expect(await ctx.deps.webhooks.secretMatches(local(ctx), "gen", r.secrets[0]!.secret)).toBe(true);
    const again = await applySeed(
      ctx.deps,
      seedOf([{ slug: "gen", display_name: "Gen", webhook: { url: HOOK_URL, event_types: [] } }]),
      opts(ctx),
    );
    expect(again).toMatchObject({ changes: [], secrets: [] });
  });

  test("--dry-run prints the plan and changes nothing", async () => {
    const audits = await count(ctx, "audit_log");
    const file = demo({
      tenants: [{ slug: "acme", display_name: "Acme Two", members: [] }],
      webhook: null,
    });
    const r = await applySeed(ctx.deps, seedOf([file]), opts(ctx, { dryRun: true, prune: true }));
    expect(r.changes).toEqual([
      '~ tenant demo/acme display_name: "Acme" → "Acme Two"',
      "- tenant_member demo/acme alice@example.com (owner)",
      "- tenant_member demo/acme bob@example.com (member)",
      "- tenant demo/globex — DELETES the organisation and its 0 membership(s)",
      `- webhook demo ${HOOK_URL} (deliveries stop; its signing secret is destroyed)`,
    ]);
    expect(await count(ctx, "audit_log")).toBe(audits);
    expect((await tenantRow(ctx, "acme"))!.display_name).toBe("Acme");
    expect(await count(ctx, "webhook_configs")).toBe(2);
  });

  test("rollback: a change the service refuses late leaves tenants, members and the webhook as they were", async () => {
    const tables = ["tenants", "tenant_members", "webhook_configs", "end_users", "audit_log"];
    const before = Object.fromEntries(
      await Promise.all(tables.map(async (t) => [t, await count(ctx, t)] as const)),
    );
    const file = {
      slug: "doomed",
      display_name: "Doomed",
      users: [{ email: "carol@example.com" }],
      tenants: [{ slug: "t1", display_name: "T1", members: [{ email: "carol@example.com", role: "owner" }] }],
      // Accepted by the file's schema; the webhook service refuses plain http to a public host.
      webhook: { url: "http://hooks.example.com/x", event_types: [] },
    };
    const failure = await applySeed(ctx.deps, seedOf([file]), opts(ctx)).catch((e) => e);
    expect(failure).toBeInstanceOf(SeedStepError);
    expect(failure.step).toBe("+ webhook doomed http://hooks.example.com/x");
    expect(failure.cause).toMatchObject({ code: "VALIDATION_ERROR" });
    expect(
      Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await count(ctx, t)] as const))),
    ).toEqual(before);
    expect(await ctx.deps.apps.find("doomed")).toBeUndefined();
  });

  test("prune: members and tenants only where the app lists tenants; the webhook only when set to null", async () => {
    const app = (await ctx.deps.apps.find("demo"))!;
    // Sections left out are not managed, even with --prune.
    const unmanaged = demo();
    delete unmanaged.tenants;
    delete unmanaged.webhook;
    expect((await applySeed(ctx.deps, seedOf([unmanaged]), opts(ctx, { prune: true }))).changes).toEqual([]);

    const slim = demo({
      tenants: [
        { slug: "acme", display_name: "Acme", members: [{ email: "alice@example.com", role: "owner" }] },
      ],
      webhook: null,
    });
    const kept = await applySeed(ctx.deps, seedOf([slim]), opts(ctx));
    expect(kept.changes).toEqual([]);
    const pruned = await applySeed(ctx.deps, seedOf([slim]), opts(ctx, { prune: true }));
    expect(pruned.changes).toEqual([
      "- tenant_member demo/acme bob@example.com (member)",
      "- tenant demo/globex — DELETES the organisation and its 0 membership(s)",
      `- webhook demo ${HOOK_URL} (deliveries stop; its signing secret is destroyed)`,
    ]);
    expect(await memberships(ctx, app.id)).toEqual({ acme: [["alice@example.com", "owner"]] });
    expect(await tenantRow(ctx, "globex")).toBeNull();
    expect(await hookRow(ctx, app.id)).toBeNull();
    for (const action of ["tenant.member.removed", "tenant.deleted", "webhook.deleted"])
      expect(await auditRows(ctx, { app_id: app.id, action })).toHaveLength(1);
    // Accounts are never pruned.
    expect(
      Number(
        (await queryRow(
          ctx,
          "SELECT CAST(count(*) AS INTEGER) AS n FROM end_users WHERE app_id = ?",
          app.id,
        ))!.n,
      ),
    ).toBe(2);
  });

  test("export: tenants by slug with members by email (with users only), the webhook without its secret", async () => {
    expect((await applySeed(ctx.deps, seedOf([demo()]), opts(ctx))).created).toBe(3);
    const withUsers = (
      await exportSeed(ctx.deps, { workspaceId: ctx.workspaceId, app: "demo", withUsers: true })
    ).document as { apps: Record<string, unknown>[] };
    expect(withUsers.apps[0]!.tenants).toEqual([
      {
        slug: "acme",
        display_name: "Acme",
        status: "active",
        members: [
          { email: "alice@example.com", role: "owner" },
          { email: "bob@example.com", role: "member" },
        ],
      },
      { slug: "globex", display_name: "Globex", status: "suspended", metadata: { plan: "pro" }, members: [] },
    ]);
    expect(withUsers.apps[0]!.webhook).toEqual({
      url: HOOK_URL,
      event_types: ["user.signup", "tenant.created"],
    });
    expect(JSON.stringify(withUsers)).not.toContain(SECRET);
    const without = (await exportSeed(ctx.deps, { workspaceId: ctx.workspaceId, app: "demo" })).document as {
      apps: { tenants: Record<string, unknown>[] }[];
    };
    expect(without.apps[0]!.tenants.map((t) => t.members)).toEqual([undefined, undefined]);
    // An app without tenants or a destination says so: an empty list, and null (JSON).
    await applySeed(ctx.deps, seedOf([{ slug: "plain", display_name: "Plain" }]), opts(ctx));
    const plain = (await exportSeed(ctx.deps, { workspaceId: ctx.workspaceId, app: "plain" })).document as {
      apps: Record<string, unknown>[];
    };
    expect(plain.apps[0]).toMatchObject({ tenants: [], webhook: null });
  });
});
