/**
 * @module The CLI on a PostgreSQL store (`--database-url`): `init` bootstraps it, the commands that go through
 * the services (seed apply, export, users import) work on it, and the file commands (backup, restore) refuse it.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Io } from "../../src/cli/args.ts";
import { initialisePostgres } from "../../src/cli/data-dir.ts";
import { runCli } from "../../src/cli/index.ts";
import { loadConfig } from "../../src/config/index.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { createMasterKeyFile } from "../../src/vault/master-key.ts";
import { freshPostgresDatabase } from "../support/postgres.ts";

let dir: string;
let url: string;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const [name, ...rest] = argv;
  const code = await runCli([name!, ...rest, "--data-dir", dir, "--database-url", url], io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Fails with the command's stderr unless it exited 0. */
function ok(r: { code: number; err: string }): void {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.err}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "heimdall-cli-pg-"));
  url = await freshPostgresDatabase();
});

/** The first start of one instance of a deployment on `url`: its own data dir, the given master key file. */
const startInstance = (url: string, keyFile: string) =>
  initialisePostgres(
    loadConfig(
      {
        "data-dir": mkdtempSync(join(tmpdir(), "heimdall-instance-")),
        "database-url": url,
        "master-key-file": keyFile,
      },
      {},
    ),
    memoryLogger("info"),
  );

/** A new master key file, made the way `init` makes one. */
function newKeyFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), "heimdall-key-")), "master.key");
  createMasterKeyFile(file);
  return file;
}

describe("heimdall on PostgreSQL", () => {
  test("init bootstraps the database once and makes the master key file", async () => {
    const first = await cli("init");
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    expect(first.out).toContain("pcft_live_");
    expect(readFileSync(join(dir, "master.key"), "utf8").length).toBeGreaterThan(0);
    const again = await cli("init");
    expect(again.code).toBe(1);
    expect(again.err).toContain("already initialised");
  });

  test("seed apply, then export shows the app", async () => {
    const seed = join(dir, "seed.json");
    writeFileSync(
      seed,
      JSON.stringify({
        version: 1,
        apps: [{ slug: "demo", display_name: "Demo", roles: [{ name: "editor" }] }],
      }),
    );
    const applied = await cli("seed", "apply", seed);
    ok(applied);
    const again = await cli("seed", "apply", seed, "--json");
    ok(again);
    const file = join(dir, "export.json");
    const exported = await cli("export", file);
    ok(exported);
    const body = JSON.parse(readFileSync(file, "utf8"));
    expect(body.apps.map((a: { slug: string }) => a.slug)).toContain("demo");
    const demo = body.apps.find((a: { slug: string }) => a.slug === "demo");
    expect(demo.roles.map((r: { name: string }) => r.name)).toContain("editor");
  });

  test("users import writes the users through the service", async () => {
    const file = join(dir, "users.jsonl");
    writeFileSync(
      file,
      [
        { email: "ada@example.com", username: "ada", email_verified: true },
        { email: "grace@example.com", username: "grace" },
      ]
        .map((u) => JSON.stringify(u))
        .join("\n"),
    );
    const imported = await cli("users", "import", "--app", "demo", file, "--json");
    ok(imported);
    expect(JSON.parse(imported.out)).toMatchObject({ created: 2, updated: 0, failed: 0 });
    // Applied twice, the same file changes nothing.
    const twice = await cli("users", "import", "--app", "demo", file, "--json");
    ok(twice);
    expect(JSON.parse(twice.out)).toMatchObject({ created: 0, unchanged: 2, failed: 0 });
  });

  test("backup and restore refuse: the store is not a file", async () => {
    const backup = await cli("backup", join(dir, "b.db"));
    expect(backup.code).toBe(1);
    expect(backup.err).toContain("pg_dump");
    const restore = await cli("restore", join(dir, "b.db"));
    expect(restore.code).toBe(1);
    expect(restore.err).toContain("pg_restore");
  });

  test("migrate reports nothing left to apply", async () => {
    const migrated = await cli("migrate");
    ok(migrated);
    expect(migrated.out).toMatch(/^applied 0 migration\(s\); [1-9]\d* in total$/);
  });

  test("master-key rotate re-wraps the secrets in the database; the commands open them with the new key", async () => {
    const rotated = await cli("master-key", "rotate", "--retire-old");
    ok(rotated);
    expect(rotated.out).toMatch(/re-wrapped [1-9]\d* secret\(s\)/);
    expect(rotated.out).toContain("retired 1 old master key(s)");
    ok(await cli("export", join(dir, "after-rotation.json")));
  });

  test("instances started together on one empty database: one bootstraps, the others start on it", async () => {
    // As a deployment runs them: each instance its own data dir, all the same master key file.
    const raceUrl = await freshPostgresDatabase();
    const keyFile = newKeyFile();
    const results = await Promise.all([0, 1, 2].map(() => startInstance(raceUrl, keyFile)));
    // None failed; exactly one shows first-run credentials, the others start as instances of what it made.
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    const exported = await runCli(
      [
        "export",
        join(mkdtempSync(join(tmpdir(), "heimdall-race-export-")), "x.json"),
        "--data-dir",
        dir,
        "--database-url",
        raceUrl,
        "--master-key-file",
        keyFile,
      ],
      { out: () => {}, err: () => {} },
    );
    expect(exported).toBe(0);
    // Nothing but the first start has sealed anything yet, and still another key file is refused.
    await expect(startInstance(raceUrl, newKeyFile())).rejects.toThrow(
      /cannot be decrypted with the master key file/,
    );
  });

  test("instances started together without a shared key: the ones that lost refuse, and leave no key behind", async () => {
    const raceUrl = await freshPostgresDatabase();
    const keyFiles = [0, 1, 2].map((i) =>
      join(mkdtempSync(join(tmpdir(), `heimdall-own-key-${i}-`)), "master.key"),
    );
    const settled = await Promise.allSettled(keyFiles.map((keyFile) => startInstance(raceUrl, keyFile)));
    const won = settled.findIndex((r) => r.status === "fulfilled" && r.value !== null);
    expect(won).toBeGreaterThanOrEqual(0);
    settled.forEach((r, i) => {
      if (i === won) return;
      expect(r.status).toBe("rejected");
      expect(String((r as PromiseRejectedResult).reason)).toContain("point --master-key-file at the key");
      expect(existsSync(keyFiles[i]!)).toBe(false);
    });
    expect(existsSync(keyFiles[won]!)).toBe(true);
  });
});
