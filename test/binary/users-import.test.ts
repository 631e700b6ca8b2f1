/**
 * @module `heimdall users import` in the compiled binary, with password hashes made by tools nobody here wrote
 * (Debian's `htpasswd`, Python's passlib): the import on a stopped data dir, its refusal beside a running
 * server, a second run that changes nothing, and every imported user signing in over HTTP with the original
 * password, after which the stored hash is Heimdall's argon2id.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildBinary,
  freePort,
  type RunningServer,
  startServer,
  stopServer,
  waitHealthy,
} from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"U".repeat(43)}`;
const SLUG = "imported";
const PASSWORD = "Copper-Lantern-58-Orchard";

const work = mkdtempSync(join(tmpdir(), "heimdall-users-import-"));
const runDir = join(work, "run");
let binary = "";
let port = 0;
let baseUrl = "";

const env = (): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: process.env.HOME ?? work,
  HEIMDALL_PUBLIC_URL: baseUrl,
  HEIMDALL_BOOTSTRAP_PAK: PAK,
  HEIMDALL_LOG_LEVEL: "warn",
});

async function cli(args: string[]) {
  const proc = Bun.spawn([binary, ...args, "--data-dir", "./data"], {
    cwd: runDir,
    env: env(),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

async function serve(): Promise<RunningServer> {
  const server = startServer({ binary, cwd: runDir, port, env: env() });
  await waitHealthy(baseUrl, server);
  return server;
}

/** A hash of PASSWORD from a program outside this repository. */
function hashWith(argv: string[]): string {
  const out = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (out.exitCode !== 0) throw new Error(`${argv[0]} failed: ${out.stderr.toString()}`);
  return out.stdout.toString().trim();
}

const passlib = (scheme: string) =>
  hashWith([
    "/usr/bin/python3",
    "-c",
    `import sys; from passlib.hash import ${scheme} as h; print(h.hash(sys.argv[1]))`,
    PASSWORD,
  ]);

/** email → the hash it is imported with, one per format. */
const users: Record<string, string> = {};

beforeAll(async () => {
  binary = buildBinary(work, runDir);
  port = freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  // `htpasswd -nbB` prints `user:$2y$…` (bcrypt with Apache's prefix).
  users["htpasswd-bcrypt@example.test"] = hashWith(["htpasswd", "-nbB", "u", PASSWORD]).split(":")[1]!;
  users["passlib-bcrypt@example.test"] = passlib("bcrypt");
  users["passlib-pbkdf2@example.test"] = passlib("pbkdf2_sha256");
  users["passlib-scrypt@example.test"] = passlib("scrypt");
  users["passlib-argon2@example.test"] = passlib("argon2");
  users["django-pbkdf2@example.test"] = passlib("django_pbkdf2_sha256");
  expect(users["htpasswd-bcrypt@example.test"]).toStartWith("$2y$");
  expect(users["django-pbkdf2@example.test"]).toStartWith("pbkdf2_sha256$");

  expect((await cli(["init"])).code).toBe(0);
  // The app comes from the Admin API of a first run of the server.
  const server = await serve();
  try {
    const res = await fetch(`${baseUrl}/v1/apps`, {
      method: "POST",
      headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
      body: JSON.stringify({ slug: SLUG, display_name: "Imported" }),
    });
    expect(res.status).toBe(201);
    // Beside a running server the import is refused, pointing at what to do instead.
    writeFileSync(join(runDir, "one.jsonl"), `${JSON.stringify({ email: "x@example.test" })}\n`);
    const refused = await cli(["users", "import", "--app", SLUG, "one.jsonl"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("POST /v1/apps/{app_id}/end-users");
  } finally {
    expect(await stopServer(server)).toBe(0);
  }
}, TIMEOUT);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("heimdall users import", () => {
  test(
    "imports hashes of six foreign formats; bad lines are reported by number, exit 1",
    async () => {
      const lines = Object.entries(users).map(([email, hash]) =>
        JSON.stringify({ email, password_hash: hash, email_verified: true, role: "MEMBER" }),
      );
      lines.push(
        "{broken",
        JSON.stringify({ email: "sha512crypt@example.test", password_hash: "$6$salt$abc" }),
      );
      lines.push(JSON.stringify({ email: "htpasswd-bcrypt@example.test" }));
      writeFileSync(join(runDir, "users.jsonl"), `${lines.join("\n")}\n`);

      const out = await cli(["users", "import", "--app", SLUG, "users.jsonl"]);
      expect(out.stderr).toBe("");
      expect(out.code).toBe(1);
      const [summary, ...errors] = out.stdout.trim().split("\n");
      expect(summary).toBe(`users import ${SLUG}: 6 created, 0 updated, 0 unchanged, 3 failed`);
      expect(errors).toHaveLength(3);
      expect(errors[0]).toBe("line 7: malformed JSON");
      expect(errors[1]).toStartWith("line 8: password_hash:");
      expect(errors[2]).toBe("line 9: duplicate email in the file (first on line 1)");
    },
    TIMEOUT,
  );

  test(
    "the same file again changes nothing (--json); usage errors exit 2",
    async () => {
      const again = await cli([
        "users",
        "import",
        "--app",
        SLUG,
        "--workspace",
        "default",
        "users.jsonl",
        "--json",
      ]);
      expect(again.code).toBe(1);
      const body = JSON.parse(again.stdout);
      expect(body).toMatchObject({ app: SLUG, created: 0, updated: 0, unchanged: 6, failed: 3 });
      expect(body.errors.map((e: { line: number }) => e.line)).toEqual([7, 8, 9]);

      expect((await cli(["users", "import", "--app", SLUG, "missing.jsonl"])).code).toBe(2);
      expect((await cli(["users", "import", "--app", SLUG, "users.txt"])).code).toBe(2);
      expect((await cli(["users", "import", "--app", SLUG, "--format", "xml", "users.jsonl"])).code).toBe(2);
      writeFileSync(join(runDir, "bad.csv"), "email,nickname\na@example.test,a\n");
      const badCsv = await cli(["users", "import", "--app", SLUG, "bad.csv"]);
      expect(badCsv.code).toBe(2);
      expect(badCsv.stderr).toContain("nickname");
      writeFileSync(join(runDir, "latin1.jsonl"), Buffer.from([0x7b, 0xe9, 0x7d, 0x0a]));
      const latin1 = await cli(["users", "import", "--app", SLUG, "latin1.jsonl"]);
      expect(latin1.code).toBe(2);
      expect(latin1.stderr).toContain("not UTF-8");
      const otherWorkspace = await cli([
        "users",
        "import",
        "--app",
        SLUG,
        "--workspace",
        "elsewhere",
        "users.jsonl",
      ]);
      expect(otherWorkspace.code).toBe(1);
      expect(otherWorkspace.stderr).toContain('no app "imported" in workspace "elsewhere"');
      const noApp = await cli(["users", "import", "--app", "nope", "users.jsonl"]);
      expect(noApp.code).toBe(1);
      expect(noApp.stderr).toContain('no app with id or slug "nope"');
    },
    TIMEOUT,
  );

  test(
    "every imported user signs in with the original password; the stored hash is then argon2id",
    async () => {
      const server = await serve();
      const statuses: Record<string, number> = {};
      try {
        for (const email of Object.keys(users)) {
          const res = await fetch(`${baseUrl}/${SLUG}/v1/auth/signin`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ identifier: email, password: PASSWORD }),
          });
          statuses[email] = res.status;
        }
        const wrong = await fetch(`${baseUrl}/${SLUG}/v1/auth/signin`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ identifier: "passlib-pbkdf2@example.test", password: `${PASSWORD}x` }),
        });
        expect(wrong.status).toBe(401);
      } finally {
        expect(await stopServer(server)).toBe(0);
      }
      expect(statuses).toEqual(Object.fromEntries(Object.keys(users).map((e) => [e, 200])));

      const db = new Database(join(runDir, "data", "heimdall.db"), { readonly: true });
      try {
        const rows = db
          .query<{ value: string; password_hash: string }, []>(
            `SELECT c.value, u.password_hash FROM end_users u JOIN end_user_contacts c ON c.user_id = u.id
            JOIN apps a ON a.id = u.app_id WHERE a.slug = '${SLUG}' ORDER BY c.value`,
          )
          .all();
        expect(rows.map((r) => r.value)).toEqual(Object.keys(users).sort());
        for (const r of rows) expect(r.password_hash).toStartWith("$argon2id$v=19$m=19456,t=2,p=1$");
        const audit = db
          .query<{ details: string }, []>("SELECT details FROM audit_log WHERE action = 'users.imported'")
          .all();
        expect(audit).toHaveLength(1);
        expect(JSON.parse(audit[0]!.details)).toMatchObject({ source: "cli", created: 6, failed: 3 });
      } finally {
        db.close();
      }
    },
    TIMEOUT,
  );
});
