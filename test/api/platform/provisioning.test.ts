/** @module Bootstrap and the CLI-facing provisioning calls (`user create`, `pak create` with its policy file), checked through the API. */
import { beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { readPolicyFile } from "../../../src/cli/pak.ts";
import { loadConfig } from "../../../src/config/index.ts";
import { FakeClock } from "../../../src/core/clock.ts";
import { memoryLogger } from "../../../src/core/logger.ts";
import { buildDeps } from "../../../src/deps.ts";
import { createMasterKeyFile } from "../../../src/vault/master-key.ts";
import { auditRows, codeOf } from "../../support/fixtures.ts";
import { BOOT_PAK, createTestContext, type TestContext, testDatabase } from "../../support/harness.ts";

async function freshDeps() {
  const dir = mkdtempSync(join(tmpdir(), "heimdall-test-"));
  createMasterKeyFile(join(dir, "master.key"));
  const config = loadConfig({ "data-dir": dir }, {});
  return await buildDeps(config, {
    clock: new FakeClock(),
    log: memoryLogger("error"),
    db: await testDatabase(),
  });
}

describe("bootstrap", () => {
  test("with nothing given, generates the password and the PAK, and seeds the admin policy", async () => {
    const deps = await freshDeps();
    const r = await deps.provisioning.bootstrap({});
    expect(r.generated).toEqual({ password: true, pak: true });
    expect(r.password.length).toBeGreaterThanOrEqual(24);
    expect(r.pakToken).toMatch(/^pcft_live_[A-Za-z0-9_-]{43}$/);
    expect(r.workspace.slug).toBe("default");
    const { paks, platformUsers, workspacePolicies } = deps.db.tables;
    const user = (await deps.db.select().from(platformUsers))[0]!;
    expect(user.email).toBe(r.email);
    expect(user.passwordHash).toStartWith("$argon2id$v=19$m=19456,t=2,p=1$");
    expect(JSON.stringify(user)).not.toContain(r.password);
    const policy = (await deps.db.select().from(workspacePolicies))[0]!;
    expect(policy).toMatchObject({
      name: "heimdall-admin",
      statements: [{ effect: "allow", actions: ["heimdall.*"], resources: ["*"] }],
    });
    const pak = (await deps.db.select().from(paks))[0]!;
    expect(pak.name).toBe("bootstrap");
    expect(JSON.stringify(pak)).not.toContain(r.pakToken);
    expect(await deps.audit.verify()).toMatchObject({ ok: true });
  });

  test("runs once: a second bootstrap fails and changes nothing", async () => {
    const deps = await freshDeps();
    await deps.provisioning.bootstrap({ email: "a@example.test", password: "long enough password" });
    expect(await codeOf(deps.provisioning.bootstrap({}))).toBe("ALREADY_BOOTSTRAPPED");
    expect(await deps.db.select().from(deps.db.tables.platformUsers)).toHaveLength(1);
  });

  test.each([
    ["a malformed PAK", { pak: "pcft_live_short" }],
    ["a short password", { password: "short" }],
    ["a malformed email", { email: "not-an-email" }],
  ])("rejects %s", async (_name, input) => {
    const deps = await freshDeps();
    expect(await codeOf(deps.provisioning.bootstrap(input))).toBe("VALIDATION_ERROR");
    expect(await deps.db.select().from(deps.db.tables.platformUsers)).toHaveLength(0);
  });
});

describe("CLI calls on a bootstrapped instance", () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext();
  });

  test("user create: the new user signs in with its role; duplicates and unknown workspaces are refused", async () => {
    const r = await ctx.deps.provisioning.createUser({ email: "Ops@Example.test", role: "viewer" });
    expect(r.generated.password).toBe(true);
    expect(r.user).toMatchObject({ email: "ops@example.test", username: "ops" });
    const cookie = await ctx.signIn("ops@example.test", r.password);
    const list = await ctx.call("GET", "/v1/workspaces", { auth: { cookie } });
    expect(list.body.data[0].member_role).toBe("viewer");
    expect(await auditRows(ctx, { action: "member.added" })).toHaveLength(1);

    expect(await codeOf(ctx.deps.provisioning.createUser({ email: "ops@example.test" }))).toBe("EMAIL_TAKEN");
    expect(
      await codeOf(ctx.deps.provisioning.createUser({ email: "x@example.test", workspace: "nope" })),
    ).toBe("WORKSPACE_NOT_FOUND");
    // A colliding username gets a suffix.
    const twin = await ctx.deps.provisioning.createUser({
      email: "ops@elsewhere.test",
      password: "long enough password",
    });
    expect(twin.user.username).toBe("ops-2");
  });

  test("pak create without a policy file binds heimdall-admin; the key works", async () => {
    const r = await ctx.deps.provisioning.createPak({ workspaceSlug: "default", name: "ci" });
    expect(r.record.policies.map((p) => p.name)).toEqual(["heimdall-admin"]);
    expect(r.record.created_by).toBeNull();
    const res = await ctx.call("GET", "/v1/workspaces/{workspace_slug}/api-keys", {
      params: { workspace_slug: "default" },
      auth: { pak: r.token },
    });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(2);
    expect((await auditRows(ctx, { action: "pak.created" })).at(-1)!.actor_type).toBe("system");
  });

  test("pak create with a policy file binds a new policy holding exactly those statements", async () => {
    const dir = mkdtempSync(join(tmpdir(), "heimdall-policy-"));
    const file = join(dir, "policy.json");
    writeFileSync(
      file,
      JSON.stringify({ policy: [{ effect: "allow", actions: ["heimdall.read"], resources: ["*"] }] }),
    );
    const r = await ctx.deps.provisioning.createPak({
      workspaceSlug: "default",
      name: "reader/ci",
      policy: readPolicyFile(file),
    });
    const { workspacePolicies } = ctx.deps.db.tables;
    const bound = (
      await ctx.deps.db
        .select()
        .from(workspacePolicies)
        .where(eq(workspacePolicies.id, r.record.policies[0]!.id))
    )[0]!;
    expect(bound.statements).toEqual([{ effect: "allow", actions: ["heimdall.read"], resources: ["*"] }]);
    const read = await ctx.call("GET", "/v1/workspaces/{workspace_slug}/api-keys", {
      params: { workspace_slug: "default" },
      auth: { pak: r.token },
    });
    expect(read.status).toBe(200);
    const write = await ctx.call("DELETE", "/v1/workspaces/{workspace_slug}/api-keys/{id}", {
      params: { workspace_slug: "default", id: r.record.id },
      auth: { pak: r.token },
    });
    expect(write.status).toBe(403);
    // The same name again gets a distinct policy name rather than a conflict.
    const again = await ctx.deps.provisioning.createPak({
      workspaceSlug: "default",
      name: "reader/ci",
      policy: readPolicyFile(file),
    });
    expect(again.record.policies[0]!.name).not.toBe(r.record.policies[0]!.name);
  });

  test.each([
    ["a missing file", "/nonexistent/policy.json", undefined],
    ["invalid JSON", "policy.json", "{nope"],
    [
      "an unknown action",
      "policy.json",
      JSON.stringify([{ effect: "allow", actions: ["nope"], resources: ["*"] }]),
    ],
  ])("pak create with %s → VALIDATION_ERROR", async (_name, path, content) => {
    let file = path;
    if (content !== undefined) {
      file = join(mkdtempSync(join(tmpdir(), "heimdall-policy-")), path);
      writeFileSync(file, content);
    }
    expect(
      await codeOf(
        async () =>
          await ctx.deps.provisioning.createPak({
            workspaceSlug: "default",
            name: "k",
            policy: readPolicyFile(file),
          }),
      ),
    ).toBe("VALIDATION_ERROR");
    expect(
      await codeOf(async () => await ctx.deps.provisioning.createPak({ workspaceSlug: "nope", name: "k" })),
    ).toBe("WORKSPACE_NOT_FOUND");
    expect(await ctx.deps.db.select().from(ctx.deps.db.tables.paks)).toHaveLength(1);
  });

  test("the harness bootstrap PAK is the configured one", async () => {
    const row = (await ctx.deps.db.select().from(ctx.deps.db.tables.paks))[0]!;
    expect(row.tokenPrefix).toBe(BOOT_PAK.slice(0, 14));
  });
});
