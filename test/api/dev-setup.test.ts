/**
 * @module `heimdall dev`'s pieces in process: its config defaults under env and flags, the app and `dev`
 * M2M client it keeps (rows and audit rows), the credentials file's repair, `--reset`'s guard, the email box.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliError } from "../../src/cli/args.ts";
import { formatEmail } from "../../src/cli/dev-output.ts";
import {
  type DevCredentialsFile,
  displayNameOf,
  ensureApp,
  ensureDevClient,
  readDevCredentials,
  resetDevDataDir,
  writeDevCredentials,
} from "../../src/cli/dev-setup.ts";
import { loadConfig } from "../../src/config/index.ts";
import type { CallMeta, LocalOperatorPrincipal } from "../../src/core/principal.ts";
import { auditRows } from "../support/fixtures.ts";
import { createTestContext, type TestContext } from "../support/harness.ts";

let ctx: TestContext;
let p: LocalOperatorPrincipal;
let tmp = "";
const meta: CallMeta = { requestId: "test-dev", ip: null, userAgent: "test" };

beforeAll(async () => {
  ctx = await createTestContext();
  p = await ctx.deps.provisioning.localOperator();
  tmp = mkdtempSync(join(tmpdir(), "heimdall-dev-unit-"));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("dev config defaults", () => {
  const defaults = {
    name: "heimdall dev",
    publicHost: "127.0.0.1",
    values: { host: "127.0.0.1", data_dir: "./.heimdall-dev", bootstrap_password: "heimdall-dev-password" },
  };

  test("sit under env and flags; the default public URL uses the dev host and the final port", () => {
    const c = loadConfig({ port: "9100" }, { HEIMDALL_BOOTSTRAP_PASSWORD: "from-the-environment" }, defaults);
    expect(c).toMatchObject({ host: "127.0.0.1", port: 9100, dataDir: "./.heimdall-dev" });
    expect(c.publicUrl).toBe("http://127.0.0.1:9100");
    expect(c.bootstrap.password).toBe("from-the-environment");
    expect(loadConfig({ host: "0.0.0.0" }, {}, defaults).host).toBe("0.0.0.0");
    // Without defaults nothing changes for serve.
    expect(loadConfig({}, {}).publicUrl).toBe("http://localhost:8080");
  });

  test("a bad default is named as the command's", () => {
    expect(() => loadConfig({}, {}, { name: "heimdall dev", values: { port: 0 } })).toThrow(
      "port (heimdall dev default): expected an integer 1–65535",
    );
  });
});

describe("apps and the dev client", () => {
  test("ensureApp creates once, with email on, audited as the local operator", async () => {
    expect(displayNameOf("my-shop")).toBe("My Shop");
    const app = await ensureApp(ctx.deps, p, "dev-demo", meta);
    expect(app).toMatchObject({ slug: "dev-demo", displayName: "Dev Demo", workspaceId: ctx.workspaceId });
    expect((await ctx.deps.email.getSettings(p, app.id)).notifications_via_envoi).toBe(true);
    const again = await ensureApp(ctx.deps, p, "dev-demo", meta);
    expect(again.id).toBe(app.id);
    expect(await auditRows(ctx, { app_id: app.id, action: "app.created" })).toEqual([
      expect.objectContaining({ actor_type: "system", actor_id: null }),
    ]);
  });

  test("ensureDevClient keeps a working secret, repairs a stale one, re-creates a deleted client", async () => {
    const app = await ensureApp(ctx.deps, p, "dev-m2m", meta);
    const file: DevCredentialsFile = { apps: {} };
    const first = await ensureDevClient(ctx.deps, p, app, file, meta);
    expect(await ctx.deps.m2m.secretMatches(app.id, first.m2mClientId, first.m2mClientSecret)).toBe(true);
    expect(file.apps[app.id]).toEqual({
      slug: "dev-m2m",
      m2m_client_id: first.m2mClientId,
      m2m_client_secret: first.m2mClientSecret,
    });
    const created = await auditRows(ctx, { app_id: app.id, action: "m2m_client.created" });
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({
      actor_type: "system",
      details: { name: "dev", client_id: first.m2mClientId },
    });
    expect(JSON.stringify(await auditRows(ctx, { app_id: app.id }))).not.toContain(first.m2mClientSecret);

    // The same file: nothing written.
    const rowsBefore = (await auditRows(ctx, { app_id: app.id })).length;
    expect(await ensureDevClient(ctx.deps, p, app, file, meta)).toEqual(first);
    expect(await auditRows(ctx, { app_id: app.id })).toHaveLength(rowsBefore);

    // A secret that no longer opens the client (wrong, or for another app): rotated, same client.
    expect(await ctx.deps.m2m.secretMatches("another-app", first.m2mClientId, first.m2mClientSecret)).toBe(
      false,
    );
    file.apps[app.id]!.m2m_client_secret = "hcs_stale";
    const rotated = await ensureDevClient(ctx.deps, p, app, file, meta);
    expect(rotated.m2mClientId).toBe(first.m2mClientId);
    expect(rotated.m2mClientSecret).not.toBe(first.m2mClientSecret);
    expect(await ctx.deps.m2m.secretMatches(app.id, rotated.m2mClientId, rotated.m2mClientSecret)).toBe(true);
    expect(await auditRows(ctx, { app_id: app.id, action: "m2m_client.secret_rotated" })).toHaveLength(1);

    // Deactivated through the API: the secret no longer counts; rotated and switched back on.
    await ctx.deps.m2m.update(p, app.id, first.m2mClientId, { is_active: false }, meta);
    expect(await ctx.deps.m2m.secretMatches(app.id, rotated.m2mClientId, rotated.m2mClientSecret)).toBe(
      false,
    );
    const revived = await ensureDevClient(ctx.deps, p, app, file, meta);
    expect(await ctx.deps.m2m.secretMatches(app.id, revived.m2mClientId, revived.m2mClientSecret)).toBe(true);

    // Deleted: a new `dev` client.
    await ctx.deps.m2m.remove(p, app.id, first.m2mClientId, meta);
    const recreated = await ensureDevClient(ctx.deps, p, app, file, meta);
    expect(recreated.m2mClientId).not.toBe(first.m2mClientId);
    expect(await ctx.deps.m2m.secretMatches(app.id, recreated.m2mClientId, recreated.m2mClientSecret)).toBe(
      true,
    );
  });

  test("the credentials file is private and a damaged one reads as empty", () => {
    const config = { dataDir: join(tmp, "creds") };
    mkdirSync(config.dataDir);
    writeDevCredentials(config, {
      apps: { a: { slug: "a", m2m_client_id: "m2m_x", m2m_client_secret: "hcs_y" } },
    });
    expect(statSync(join(config.dataDir, "dev-credentials.json")).mode & 0o777).toBe(0o600);
    expect(readDevCredentials(config).apps.a?.m2m_client_id).toBe("m2m_x");
    writeFileSync(join(config.dataDir, "dev-credentials.json"), "{ not json");
    expect(readDevCredentials(config)).toEqual({ apps: {} });
  });
});

describe("--reset", () => {
  const dirWith = (name: string, files: string[]) => {
    const dir = join(tmp, name);
    mkdirSync(dir);
    for (const f of files) writeFileSync(join(dir, f), "x");
    return dir;
  };
  const reset = (dataDir: string) => resetDevDataDir({ dataDir } as Parameters<typeof resetDevDataDir>[0]);

  test("empties a dev data dir but keeps the lock file", () => {
    const dir = dirWith("dev", [
      "heimdall.db",
      "heimdall.db-wal",
      "master.key",
      "dev-credentials.json",
      "heimdall.lock",
    ]);
    reset(dir);
    expect(readdirSync(dir)).toEqual(["heimdall.lock"]);
  });

  test("refuses a dir with other files, or a server's data dir, deleting nothing", () => {
    const project = dirWith("project", ["package.json", "heimdall.lock"]);
    expect(() => reset(project)).toThrow(CliError);
    expect(() => reset(project)).toThrow("it holds package.json");
    expect(existsSync(join(project, "package.json"))).toBe(true);
    const server = dirWith("server", ["heimdall.db", "master.key", "heimdall.lock"]);
    expect(() => reset(server)).toThrow("no dev-credentials.json");
    expect(readdirSync(server).sort()).toEqual(["heimdall.db", "heimdall.lock", "master.key"]);
  });
});

test("formatEmail: envelope, code and link on top, then the text", () => {
  const box = formatEmail({
    id: "o1",
    to: "ada@example.test",
    from: "heimdall@localhost",
    subject: "Verify your email for Demo",
    text: "Use this code.\n\nYour code: 123456\nOr open http://localhost:3000/verify?code=123456\n",
    html: "<p>ignored</p>",
  });
  const lines = box.split("\n");
  expect(lines[0]).toStartWith("╭─ email (log mode, not sent) ");
  expect(lines).toContain(`│ ${"Code:    123456".padEnd(lines[0]!.length - 4)} │`);
  expect(box).toContain("Link:    http://localhost:3000/verify?code=123456");
  expect(box).toContain("│ Your code: 123456");
  expect(box).not.toContain("ignored");
  expect(lines.at(-1)).toStartWith("╰");
  // Every line of the box is as wide as its frame.
  expect(new Set(lines.map((l) => l.length)).size).toBe(1);
});
