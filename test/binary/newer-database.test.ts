/** @module The compiled binary refuses a database written by a newer Heimdall (a migration it does not know) in every command that opens it, with one line and exit 1. */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JOURNAL } from "../../src/db/migrations.ts";
import { buildBinary, freePort, startServer } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"N".repeat(43)}`;

const work = mkdtempSync(join(tmpdir(), "heimdall-newer-db-"));
const dir = join(work, "run");
const dbFile = join(dir, "data", "heimdall.db");
let binary = "";
/** When the "newer" migration was made: a day after this binary's newest. */
const FUTURE = JOURNAL.entries.at(-1)!.when + 86_400_000;

const env = () => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: process.env.HOME ?? work,
  HEIMDALL_PUBLIC_URL: "http://127.0.0.1:1",
  HEIMDALL_BOOTSTRAP_PAK: PAK,
  HEIMDALL_LOG_LEVEL: "warn",
});

async function cli(args: string[]) {
  const proc = Bun.spawn([binary, ...args, "--data-dir", "./data"], {
    cwd: dir,
    env: env(),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

const migrationRows = () => {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.query("SELECT hash, created_at FROM __drizzle_migrations ORDER BY created_at").all();
  } finally {
    db.close();
  }
};

function expectNewerRefusal(stderr: string): void {
  const lines = stderr.trim().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]).toContain(`${join("data", "heimdall.db")} was written by a newer Heimdall`);
  expect(lines[0]).toContain("1 migration(s) this binary does not know");
  expect(lines[0]).toContain(new Date(FUTURE).toISOString());
  expect(lines[0]).toContain("Run the newer heimdall binary");
  expect(stderr).not.toMatch(/^\s+at /m);
}

beforeAll(async () => {
  binary = buildBinary(work, dir);
  const init = await cli(["init"]);
  expect(init.code).toBe(0);
  // What a newer binary's migrate would leave behind: one more row in the migrations table.
  const db = new Database(dbFile);
  db.query("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('from-the-future', ?)").run(FUTURE);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
}, TIMEOUT);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("a database from a newer Heimdall", () => {
  test(
    "serve refuses it at start-up: exit 1, one line, nothing served, the database unchanged",
    async () => {
      const before = migrationRows();
      const bytes = readFileSync(dbFile);
      const server = startServer({ binary, cwd: dir, port: freePort(), env: env() });
      expect(await server.proc.exited).toBe(1);
      expectNewerRefusal(await server.stderr);
      expect(migrationRows()).toEqual(before);
      expect(readFileSync(dbFile).equals(bytes)).toBe(true);
    },
    TIMEOUT,
  );

  test.each([
    ["migrate", ["migrate"]],
    ["audit verify (a reader)", ["audit", "verify"]],
    ["master-key rotate", ["master-key", "rotate"]],
  ])(
    "%s refuses it too",
    async (_name, args) => {
      const before = migrationRows();
      const res = await cli(args);
      expect(res.code).toBe(1);
      expectNewerRefusal(res.stderr);
      expect(migrationRows()).toEqual(before);
    },
    TIMEOUT,
  );
});
