/** Seed files in process (docs/seed.md): validation with paths, apply, idempotence, convergence, prune, dry run, atomicity, export round trip. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { applySeed, type SeedDeps, SeedPlanError, SeedStepError } from "../../../src/seed/apply.ts";
import { exportSeed } from "../../../src/seed/export.ts";
import { parseSeed, type SeedFile, SeedFileError } from "../../../src/seed/schema.ts";
import { queryRow, queryRows } from "../../support/end-users.ts";
import { auditRows } from "../../support/fixtures.ts";
import { closeTestContext, createTestContext, type TestContext } from "../../support/harness.ts";

const ENV = { DEMO_BACKEND_SECRET: "s".repeat(40), DEMO_ALICE_PASSWORD: "alice's long passphrase 1" };

/** A bcrypt hash of "imported password" (cost 4), as another system would hand it over. */
const BCRYPT = await Bun.password.hash("imported password", { algorithm: "bcrypt", cost: 4 });

function demo(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    slug: "demo",
    display_name: "Demo",
    auth_config: { signup_enabled: false, password_min_length: 14 },
    notification_settings: { web_origin: "https://demo.example.com" },
    permissions: [
      { name: "invoice.read", description: "Read invoices" },
      { name: "invoice.write", description: "Write invoices" },
    ],
    roles: [
      { name: "billing", description: "Billing staff", permissions: ["invoice.read", "user.read"] },
      { name: "member", permissions: ["session.revoke", "invoice.read"] },
    ],
    m2m_clients: [
      { name: "backend", scopes: ["invoice.read"], client_secret_env: "DEMO_BACKEND_SECRET" },
      { name: "worker", scopes: ["user.read"] },
    ],
    api_keys: [{ name: "ci", permissions: ["user.list"] }],
    users: [
      {
        email: "alice@example.com",
        username: "alice",
        display_name: "Alice",
        role: "billing",
        email_verified: true,
        password_env: "DEMO_ALICE_PASSWORD",
      },
      { email: "bob@example.com", role: "admin", password_hash: BCRYPT },
    ],
    ...overrides,
  };
}

const seedOf = (apps: unknown[], env: Record<string, string> = ENV): SeedFile =>
  parseSeed({ version: 1, apps }, env);

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof SeedFileError || err instanceof SeedPlanError) return [...err.problems];
    throw err;
  }
  throw new Error("expected a seed error");
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
/** Row counts of `tables`, by table name. */
const counts = async (ctx: TestContext, tables: string[]) =>
  Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await count(ctx, t)] as const)));

const opts = (ctx: TestContext, more: { dryRun?: boolean; prune?: boolean } = {}) => ({
  workspaceId: ctx.workspaceId,
  ...more,
});

describe("seed file validation", () => {
  test("schema problems name their path, all at once", () => {
    const problems = problemsOf(() =>
      parseSeed(
        {
          version: 1,
          apps: [
            demo(),
            {
              slug: "Bad Slug",
              display_name: "x",
              colour: "red",
              auth_config: { signup_enabled: "yes", no_such_field: 1 },
              roles: [{ name: "owner", permissions: ["user.read"] }, { name: "ops" }, { name: "ops" }],
              users: [{ email: "not-an-email" }, { email: "c@example.com", password_hash: "plaintext" }],
            },
          ],
        },
        ENV,
      ),
    );
    expect(problems).toContain("apps[1].colour: unknown key");
    expect(problems).toContain("apps[1].auth_config.no_such_field: unknown key");
    expect(problems.some((p) => p.startsWith("apps[1].slug: "))).toBe(true);
    expect(problems.some((p) => p.startsWith("apps[1].auth_config.signup_enabled: "))).toBe(true);
    expect(problems.some((p) => p.startsWith("apps[1].users[0].email: "))).toBe(true);
    expect(problems.some((p) => p.startsWith("apps[1].users[1].password_hash: "))).toBe(true);
  });

  test("cross-references, duplicates and unset environment variables", () => {
    const problems = problemsOf(() =>
      seedOf(
        [
          demo({
            roles: [
              { name: "owner", permissions: ["user.read"] },
              { name: "ops" },
              { name: "ops" },
              { name: "assign" },
            ],
            permissions: [{ name: "user.read" }],
          }),
          demo(),
        ],
        { DEMO_ALICE_PASSWORD: ENV.DEMO_ALICE_PASSWORD },
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'apps[1]: duplicate slug "demo" (also at apps[0])',
        'apps[0].roles[2]: duplicate role "ops" (also at apps[0].roles[1])',
        'apps[0].roles[3].name: "assign" is reserved',
        "apps[0].roles[0].permissions: the owner role always holds every permission; leave it out",
        'apps[0].permissions[0].name: "user.read" is a system permission (they are implied)',
        "apps[0].m2m_clients[0].client_secret_env: environment variable DEMO_BACKEND_SECRET is not set",
      ]),
    );
  });

  test("a version other than 1 and a file that is not an object", () => {
    expect(problemsOf(() => parseSeed({ version: 2 }, {}))).toEqual(["version: must be 1"]);
    expect(problemsOf(() => parseSeed([], {})).length).toBeGreaterThan(0);
  });
});

describe("seed apply", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });

  test("references that do not resolve against the workspace: every problem by path, nothing applied", async () => {
    const before = await count(ctx, "audit_log");
    const file = seedOf([
      demo({
        roles: [{ name: "billing", permissions: ["invoice.read", "invoce.read"] }],
        users: [{ email: "carol@example.com", role: "auditor" }],
        auth_config: { signup_default_role: "nobody" },
      }),
    ]);
    const problems = await planProblems(applySeed(ctx.deps, file, opts(ctx)));
    expect(problems).toEqual([
      'apps[0].roles[0].permissions[1]: unknown permission "invoce.read"',
      'apps[0].auth_config.signup_default_role: unknown role "nobody"',
      'apps[0].users[0].role: unknown role "auditor"',
    ]);
    expect(await ctx.deps.apps.find("demo")).toBeUndefined();
    expect(await count(ctx, "audit_log")).toBe(before);
  });

  test("creates everything through the services, prints new secrets once, audits as system", async () => {
    const r = await applySeed(ctx.deps, seedOf([demo()]), opts(ctx));
    expect(r.changes[0]).toBe("+ app demo");
    expect(r.changes).toEqual(
      expect.arrayContaining([
        "+ permission demo/invoice.read",
        "+ role demo/billing",
        '~ role demo/billing permissions: [] → ["invoice.read","user.read"]',
        "~ app demo auth_config.signup_enabled: true → false",
        '~ app demo notification_settings.web_origin: null → "https://demo.example.com"',
        "+ m2m demo/backend",
        "+ m2m demo/worker",
        "+ api_key demo/ci",
        "+ user demo/alice@example.com",
        "+ user demo/bob@example.com",
      ]),
    );
    // A new app's system role is compared with the catalogue's seeded set (whatever it is today).
    expect(r.changes.filter((l) => l.startsWith("~ role demo/member permissions: "))).toEqual([
      expect.stringMatching(/→ \["invoice\.read","session\.revoke"\]$/),
    ]);
    expect(r.deleted).toBe(0);
    // The given secret is not printed; the generated ones are, once.
    expect(r.secrets.map((s) => `${s.kind} ${s.name}`)).toEqual(["m2m worker", "api_key ci"]);
    expect(r.secrets[0]!.secret).toMatch(/^hcs_/);
    expect(r.secrets[1]!.secret).toMatch(/^hdk_live_/);

    const app = (await ctx.deps.apps.find("demo"))!;
    expect(app.workspaceId).toBe(ctx.workspaceId);
    expect(await ctx.deps.apps.authConfigOf(app.id)).toMatchObject({
      signup_enabled: false,
      password_min_length: 14,
    });
    const billing = await ctx.call("GET", "/v1/apps/{app_id}/roles/{role_name}", {
      params: { app_id: "demo", role_name: "billing" },
    });
    expect(billing.status).toBe(200);
    expect(
      billing.body.permissions.map((x: { resource: string; action: string }) => `${x.resource}.${x.action}`),
    ).toEqual(["invoice.read", "user.read"]);
    const users = (await exportSeed(ctx.deps, { workspaceId: ctx.workspaceId, withUsers: true }))
      .document as {
      apps: { users: Record<string, unknown>[] }[];
    };
    expect(users.apps[0]!.users).toEqual([
      expect.objectContaining({
        email: "alice@example.com",
        username: "alice",
        role: "billing",
        email_verified: true,
      }),
      expect.objectContaining({ email: "bob@example.com", role: "admin", password_hash: BCRYPT }),
    ]);
    const alice = users.apps[0]!.users[0]!;
    expect(await ctx.deps.passwords.verify(alice.password_hash as string, ENV.DEMO_ALICE_PASSWORD)).toBe(
      true,
    );

    // Audit rows are the API's own, attributed to the system actor; no secret in any of them.
    const rows = await auditRows(ctx, { app_id: app.id });
    const actions = rows.map((x) => x.action);
    for (const a of [
      "app.created",
      "permission.created",
      "role.created",
      "role.permissions_set",
      "auth_config.updated",
      "notification_settings.updated",
      "m2m_client.created",
      "api_key.created",
      "users.imported",
    ])
      expect(actions).toContain(a);
    expect(rows.every((x) => x.actor_type === "system")).toBe(true);
    const text = JSON.stringify(rows);
    for (const s of [ENV.DEMO_BACKEND_SECRET, ENV.DEMO_ALICE_PASSWORD, ...r.secrets.map((x) => x.secret)])
      expect(text).not.toContain(s);
  });

  test("the given M2M secret works at the token endpoint", async () => {
    const clientId = String(
      (await queryRow(ctx, "SELECT client_id FROM m2m_clients WHERE name = 'backend'"))!.client_id,
    );
    const res = await ctx.call("POST", "/{app_slug}/v1/oauth/token", {
      params: { app_slug: "demo" },
      auth: null,
      unchecked: true,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      raw: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: clientId,
        client_secret: ENV.DEMO_BACKEND_SECRET,
      }).toString(),
    });
    expect(res.status).toBe(200);
    expect(typeof res.body.access_token).toBe("string");
  });

  test("a second apply of the same file changes nothing: no audit row, no updated_at", async () => {
    const app = (await ctx.deps.apps.find("demo"))!;
    const audits = await count(ctx, "audit_log");
    const stamps = await queryRows(ctx, "SELECT updated_at FROM roles ORDER BY id");
    ctx.clock.advance(60_000);
    const r = await applySeed(ctx.deps, seedOf([demo()]), opts(ctx));
    expect(r).toMatchObject({ created: 0, updated: 0, deleted: 0, changes: [], secrets: [] });
    expect(await count(ctx, "audit_log")).toBe(audits);
    expect((await ctx.deps.apps.find("demo"))!.updatedAt).toBe(app.updatedAt);
    expect(await queryRows(ctx, "SELECT updated_at FROM roles ORDER BY id")).toEqual(stamps);
  });

  test("converges: changed role permissions, auth config and user role are updated, nothing else", async () => {
    const file = demo({
      auth_config: { signup_enabled: true, password_min_length: 14 },
      roles: [
        { name: "billing", description: "Billing staff", permissions: ["invoice.read", "invoice.write"] },
        { name: "member", permissions: ["session.revoke", "invoice.read"] },
      ],
    });
    (file.users as Record<string, unknown>[])[1]!.role = "billing";
    const r = await applySeed(ctx.deps, seedOf([file]), opts(ctx));
    expect(r.changes).toEqual([
      '~ role demo/billing permissions: ["invoice.read","user.read"] → ["invoice.read","invoice.write"]',
      "~ app demo auth_config.signup_enabled: false → true",
      '~ user demo/bob@example.com role: "admin" → "billing"',
    ]);
    expect(r).toMatchObject({ created: 0, updated: 3, deleted: 0 });
    const app = (await ctx.deps.apps.find("demo"))!;
    expect((await ctx.deps.apps.authConfigOf(app.id)).signup_enabled).toBe(true);
    // And back to the first file: converges again.
    const back = await applySeed(ctx.deps, seedOf([demo()]), opts(ctx));
    expect(back.updated).toBe(3);
  });

  test("immutable things: a new permission description is refused by path; a changed API key is replaced; a new env secret rotates", async () => {
    const problems = await planProblems(
      applySeed(
        ctx.deps,
        seedOf([
          demo({ permissions: [{ name: "invoice.read", description: "Other" }, { name: "invoice.write" }] }),
        ]),
        opts(ctx),
      ),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith(
      "apps[0].permissions[0].description: differs from the existing permission's",
    );

    const rotated = "r".repeat(40);
    const r = await applySeed(
      ctx.deps,
      seedOf([demo({ api_keys: [{ name: "ci", permissions: ["user.list", "user.read"] }] })], {
        ...ENV,
        DEMO_BACKEND_SECRET: rotated,
      }),
      opts(ctx),
    );
    expect(r.changes).toEqual([
      "~ m2m demo/backend client_secret (from DEMO_BACKEND_SECRET)",
      '~ api_key demo/ci replaced (a new key): permissions ["user.list"] → ["user.list","user.read"]',
    ]);
    expect(r.secrets.map((x) => `${x.kind} ${x.name}`)).toEqual(["api_key ci"]);
    const app = (await ctx.deps.apps.find("demo"))!;
    expect(await auditRows(ctx, { app_id: app.id, action: "m2m_client.secret_rotated" })).toHaveLength(1);
    expect(await auditRows(ctx, { app_id: app.id, action: "api_key.deleted" })).toHaveLength(1);
    // Back to the first file: the secret and the key's permissions converge again.
    const back = await applySeed(ctx.deps, seedOf([demo()]), opts(ctx));
    expect(back.updated).toBe(2);
  });

  test("--dry-run prints the plan and changes nothing", async () => {
    const audits = await count(ctx, "audit_log");
    const file = seedOf([
      demo({ display_name: "Demo 2", api_keys: [] }),
      { slug: "other", display_name: "Other" },
    ]);
    const r = await applySeed(ctx.deps, file, opts(ctx, { dryRun: true, prune: true }));
    expect(r.dry_run).toBe(true);
    expect(r.changes).toEqual(
      expect.arrayContaining([
        '~ app demo display_name: "Demo" → "Demo 2"',
        "+ app other",
        "- api_key demo/ci",
      ]),
    );
    expect(r.secrets).toEqual([]);
    expect(await count(ctx, "audit_log")).toBe(audits);
    expect(await ctx.deps.apps.find("other")).toBeUndefined();
    expect((await ctx.deps.apps.find("demo"))!.displayName).toBe("Demo");
  });

  test("without --prune nothing is deleted; with it, unlisted custom permissions, roles and credentials go", async () => {
    const slim = demo({
      permissions: [{ name: "invoice.read", description: "Read invoices" }],
      roles: [{ name: "member", permissions: ["session.revoke", "invoice.read"] }],
      m2m_clients: [{ name: "worker", scopes: ["user.read"] }],
      api_keys: [],
      users: [
        { email: "alice@example.com", role: "member" },
        { email: "bob@example.com", role: "member" },
      ],
    });
    const kept = await applySeed(ctx.deps, seedOf([slim]), opts(ctx));
    expect(kept.deleted).toBe(0);
    expect(kept.changes).toEqual([
      '~ user demo/alice@example.com role: "billing" → "member"',
      '~ user demo/bob@example.com role: "admin" → "member"',
    ]);
    const pruned = await applySeed(ctx.deps, seedOf([slim]), opts(ctx, { prune: true }));
    expect(pruned.changes).toEqual([
      "- api_key demo/ci",
      "- m2m demo/backend",
      "- role demo/billing",
      "- permission demo/invoice.write",
    ]);
    const app = (await ctx.deps.apps.find("demo"))!;
    expect(await auditRows(ctx, { app_id: app.id, action: "role.deleted" })).toHaveLength(1);
    // Accounts and system roles stay.
    expect(await count(ctx, "end_users")).toBe(2);
    expect(await queryRows(ctx, "SELECT name FROM roles WHERE app_id = ? ORDER BY name", app.id)).toEqual([
      { name: "admin" },
      { name: "member" },
      { name: "owner" },
    ]);
  });

  test("atomic: a failure late in the apply leaves the database exactly as before", async () => {
    const tables = [
      "apps",
      "roles",
      "permissions",
      "m2m_clients",
      "app_api_keys",
      "end_users",
      "audit_log",
      "signing_keys",
    ];
    const before = await counts(ctx, tables);
    const file = seedOf([
      {
        slug: "doomed",
        display_name: "Doomed",
        permissions: [{ name: "thing.read" }],
        roles: [{ name: "reader", permissions: ["thing.read"] }],
        m2m_clients: [{ name: "svc" }],
        // Accepted by the schema, refused by the service at apply time (not in the future).
        api_keys: [{ name: "old", permissions: ["user.read"], expires_at: "2020-01-01T00:00:00Z" }],
      },
    ]);
    const failure = await applySeed(ctx.deps, file, opts(ctx)).catch((e) => e);
    expect(failure).toBeInstanceOf(SeedStepError);
    expect(failure.step).toBe("+ api_key doomed/old");
    expect(failure.cause).toMatchObject({ code: "VALIDATION_ERROR" });
    expect(await counts(ctx, tables)).toEqual(before);
    expect(await ctx.deps.apps.find("doomed")).toBeUndefined();
    expect(await ctx.deps.directory.bySlug("doomed")).toBeUndefined();
    // The connection is usable afterwards and nothing of the failed apply lingers in a transaction.
    // (SQLite's one connection says so itself; PostgreSQL's transaction ended with its own pooled connection.)
    if (ctx.deps.db.engine === "sqlite") expect(ctx.deps.db.$client.inTransaction).toBe(false);
    const r = await applySeed(ctx.deps, seedOf([{ slug: "doomed", display_name: "Doomed" }]), opts(ctx));
    expect(r.changes).toEqual(["+ app doomed"]);
  });

  test("an app slug of another workspace is refused by path", async () => {
    const problems = await planProblems(
      applySeed(ctx.deps, seedOf([{ slug: "demo", display_name: "x" }]), {
        workspaceId: "00000000-0000-7000-8000-000000000000",
      }),
    );
    expect(problems).toEqual(['apps[0].slug: "demo" is taken by an app of another workspace']);
  });
});

describe("export round trip", () => {
  let a: TestContext;
  let b: TestContext;
  beforeAll(async () => {
    [a, b] = await Promise.all([createTestContext(), createTestContext()]);
  });
  afterAll(async () => {
    await closeTestContext(a);
    await closeTestContext(b);
  });

  test("export → apply on a fresh database → the same export, field by field", async () => {
    const tenants = [
      {
        slug: "acme",
        display_name: "Acme",
        metadata: { plan: "pro" },
        members: [
          { email: "alice@example.com", role: "owner" },
          { email: "bob@example.com", role: "billing" },
        ],
      },
    ];
    const webhook = { url: "https://hooks.example.com/heimdall", event_types: ["tenant.created"] };
    await applySeed(
      a.deps,
      seedOf([
        demo({ tenants, webhook }),
        { slug: "zeta", display_name: "Zeta", metadata: { tier: "gold" } },
      ]),
      opts(a),
    );
    // An operator's later changes through the API are part of what is exported.
    expect(
      (
        await a.call("PATCH", "/v1/apps/{app_id}/auth-config", {
          params: { app_id: "zeta" },
          body: { mfa_required: true },
        })
      ).status,
    ).toBe(200);
    const first = (await exportSeed(a.deps, { workspaceId: a.workspaceId, withUsers: true })).document;
    const r = await applySeed(b.deps, parseSeed(first, {}), opts(b));
    expect(r.created).toBeGreaterThan(0);
    const second = (await exportSeed(b.deps, { workspaceId: b.workspaceId, withUsers: true })).document;
    expect(second).toEqual(first);
    // Tenants with their members and the webhook (a new secret) came across too.
    expect((second.apps as Record<string, unknown>[])[0]).toMatchObject({
      tenants: [{ ...tenants[0], status: "active" }],
      webhook,
    });
    expect(r.secrets.map((x) => x.kind)).toContain("webhook");
    const again = await applySeed(b.deps, parseSeed(second, {}), opts(b));
    expect(again.changes).toEqual([]);
  });

  test("--app exports one app, deterministic order", async () => {
    const one = (await exportSeed(a.deps, { workspaceId: a.workspaceId, app: "demo" })).document as {
      apps: { slug: string; roles: { name: string }[]; users?: unknown }[];
    };
    expect(one.apps.map((x) => x.slug)).toEqual(["demo"]);
    expect(one.apps[0]!.roles.map((x) => x.name)).toEqual(["admin", "billing", "member", "owner"]);
    expect(one.apps[0]!.users).toBeUndefined();
  });
});

// The `SeedDeps` a caller passes is the narrow interface, satisfied by the whole graph.
const _deps: (ctx: TestContext) => SeedDeps = (ctx) => ctx.deps;
void _deps;
