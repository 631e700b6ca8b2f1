/** @module `heimdall doctor` in the compiled binary: a healthy data dir (beside a running server) exits 0; each injected fault is reported with its fix and exit 1; a test email arrives at a local SMTP server. */

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMTPServer } from "smtp-server";
import { JOURNAL } from "../../src/db/migrations.ts";
import { buildBinary, freePort, startServer, stopServer, waitHealthy } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"E".repeat(43)}`;

const work = mkdtempSync(join(tmpdir(), "heimdall-doctor-"));
let binary = "";

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? work,
    // Nothing listens there: the reachability check warns, which must not fail the run.
    HEIMDALL_PUBLIC_URL: "http://127.0.0.1:1",
    HEIMDALL_BOOTSTRAP_PAK: PAK,
    HEIMDALL_LOG_LEVEL: "warn",
    ...extra,
  };
}

async function cli(cwd: string, args: string[], extra: Record<string, string> = {}) {
  const proc = Bun.spawn([binary, ...args, "--data-dir", "./data"], {
    cwd,
    env: env(extra),
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

const doctor = (cwd: string, args: string[] = [], extra: Record<string, string> = {}) =>
  cli(cwd, ["doctor", ...args], extra);

/** The report's line for `check`, e.g. `fail  migrations: … — …`. */
function line(stdout: string, check: string): string {
  const found = stdout.split("\n").find((l) => l.slice(6).startsWith(`${check}:`));
  if (!found) throw new Error(`no "${check}" line in:\n${stdout}`);
  return found;
}

const failures = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("fail"));

async function initialised(name: string): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir);
  const init = await cli(dir, ["init"]);
  expect(init.code).toBe(0);
  return dir;
}

const dbFile = (dir: string) => join(dir, "data", "heimdall.db");

beforeAll(() => {
  binary = buildBinary(work, join(work, "bin"));
}, TIMEOUT);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("heimdall doctor", () => {
  test(
    "a healthy data dir beside a running server exits 0; corrupting an app's active signing key then fails its check with the fix",
    async () => {
      const dir = join(work, "served");
      mkdirSync(dir);
      const port = freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const server = startServer({ binary, cwd: dir, port, env: env({ HEIMDALL_PUBLIC_URL: baseUrl }) });
      try {
        await waitHealthy(baseUrl, server);
        const created = await fetch(`${baseUrl}/v1/apps`, {
          method: "POST",
          headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
          body: JSON.stringify({ slug: "acme", display_name: "Acme" }),
        });
        expect(created.status).toBe(201);

        const healthy = await doctor(dir, [], { HEIMDALL_PUBLIC_URL: baseUrl });
        expect(healthy.code).toBe(0);
        expect(failures(healthy.stdout)).toEqual([]);
        expect(line(healthy.stdout, "master key file")).toStartWith("ok ");
        expect(line(healthy.stdout, "database")).toContain("quick_check ok");
        expect(line(healthy.stdout, "migrations")).toBe(
          `ok    migrations: all ${JOURNAL.entries.length} migrations applied`,
        );
        expect(line(healthy.stdout, "signing keys of acme")).toMatch(
          /^ok {4}signing keys of acme: active \S+ since .*; next \S+ signs at /,
        );
        expect(line(healthy.stdout, "public URL")).toBe(`ok    public URL: ${baseUrl}/healthz answers 200`);
        expect(healthy.stdout).toContain("0 failure(s)");

        const json = await doctor(dir, ["--json"], { HEIMDALL_PUBLIC_URL: baseUrl });
        expect(json.code).toBe(0);
        const parsed = JSON.parse(json.stdout) as {
          ok: boolean;
          checks: { status: string; check: string }[];
        };
        expect(parsed.ok).toBe(true);
        expect(parsed.checks.find((c) => c.check === "master keys")?.status).toBe("ok");
      } finally {
        expect(await stopServer(server)).toBe(0);
      }

      // The active key's sealed private half, tampered: the vault can no longer open it.
      const db = new Database(dbFile(dir));
      const key = db
        .query<{ kid: string; secret: string }, []>(
          "SELECT kid, vault_secret_id AS secret FROM signing_keys WHERE state = 'active'",
        )
        .get()!;
      const { ciphertext } = db
        .query<{ ciphertext: string }, [string]>("SELECT ciphertext FROM vault_secrets WHERE id = ?")
        .get(key.secret)!;
      const bytes = Buffer.from(ciphertext, "base64");
      bytes[0] = bytes[0]! ^ 0xff;
      db.query("UPDATE vault_secrets SET ciphertext = ? WHERE id = ?").run(
        bytes.toString("base64"),
        key.secret,
      );
      db.close();

      const broken = await doctor(dir);
      expect(broken.code).toBe(1);
      const keys = line(broken.stdout, "signing keys of acme");
      expect(keys).toStartWith("fail  signing keys of acme: 1 key(s) cannot be opened: ");
      expect(keys).toContain(`${key.kid} (active)`);
      expect(keys).toContain("failed authentication");
      expect(keys).toContain(
        "— the app cannot sign tokens: restore the database and its master key from a backup",
      );
      expect(keys).toContain("heimdall keys rotate --app acme --emergency");
      expect(failures(broken.stdout)).toEqual([keys]);
    },
    TIMEOUT,
  );

  test("a world-readable master key file fails with chmod 600 as the fix", async () => {
    const dir = await initialised("key-mode");
    const keyFile = join(dir, "data", "master.key");
    chmodSync(keyFile, 0o644);
    const r = await doctor(dir);
    expect(r.code).toBe(1);
    const keyLine = line(r.stdout, "master key file");
    expect(keyLine).toStartWith("fail  master key file: data/master.key has mode 644");
    expect(keyLine).toContain("— chmod 600 data/master.key");
    // What needs the key is reported as not checked, not as a failure of its own.
    expect(line(r.stdout, "signing keys")).toStartWith("warn  signing keys: not checked:");
    expect(failures(r.stdout)).toEqual([keyLine]);
    expect(r.stdout).toContain("1 failure(s)");
  });

  test("after master-key rotate without --retire-old, the unused old line warns (exit 0) with the command that retires it", async () => {
    const dir = await initialised("master-keys");
    const rotated = await cli(dir, ["master-key", "rotate"]);
    expect(rotated.code).toBe(0);
    const r = await doctor(dir);
    expect(r.code).toBe(0);
    const keys = line(r.stdout, "master keys");
    expect(keys).toMatch(/^warn {2}master keys: 1 old key line\(s\) no secret uses: mk-\S+ — /);
    expect(keys).toContain("retire with `heimdall master-key rotate --retire-old`");
  });

  test("a pending migration fails with `heimdall migrate` as the fix, and doctor applies nothing", async () => {
    const dir = await initialised("migration");
    const last = JOURNAL.entries.at(-1)!;
    const db = new Database(dbFile(dir));
    db.query("DELETE FROM __drizzle_migrations WHERE created_at = ?").run(last.when);
    db.close();

    const r = await doctor(dir);
    expect(r.code).toBe(1);
    expect(line(r.stdout, "migrations")).toBe(
      `fail  migrations: 1 pending migration(s): ${last.tag} — stop the server and run \`heimdall migrate\` (or start the server, which migrates at start-up)`,
    );
    const after = new Database(dbFile(dir), { readonly: true });
    const rows = after.query<{ n: number }, []>("SELECT count(*) AS n FROM __drizzle_migrations").get()!.n;
    after.close();
    expect(rows).toBe(JOURNAL.entries.length - 1);
  });

  test("a hole in the migrations table and a migration from a newer Heimdall are told apart", async () => {
    const dir = await initialised("migration-hole");
    const middle = JOURNAL.entries[1]!;
    const db = new Database(dbFile(dir));
    db.query("DELETE FROM __drizzle_migrations WHERE created_at = ?").run(middle.when);
    db.close();
    const hole = await doctor(dir);
    expect(hole.code).toBe(1);
    expect(line(hole.stdout, "migrations")).toStartWith(
      `fail  migrations: migration(s) ${middle.tag} are not recorded although later ones are`,
    );
    expect(line(hole.stdout, "migrations")).toContain("— restore the database from a backup");

    const newer = await initialised("migration-newer");
    const db2 = new Database(dbFile(newer));
    db2
      .query("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('future', ?)")
      .run(JOURNAL.entries.at(-1)!.when + 1000);
    db2.close();
    const r = await doctor(newer);
    expect(r.code).toBe(1);
    expect(line(r.stdout, "migrations")).toBe(
      "fail  migrations: the database has 1 migration(s) this binary does not know: it was written by a newer Heimdall — run the newer Heimdall binary (or restore a backup taken before the upgrade)",
    );
  });

  test("--send-test-email to an unreachable SMTP server fails with the SMTP URL as the fix", async () => {
    const dir = await initialised("smtp-down");
    const port = freePort();
    const r = await doctor(dir, ["--send-test-email", "ops@example.com"], {
      HEIMDALL_EMAIL_MODE: "smtp",
      HEIMDALL_SMTP_URL: `smtp://127.0.0.1:${port}`,
      HEIMDALL_EMAIL_FROM: "Heimdall <no-reply@heimdall.test>",
    });
    expect(r.code).toBe(1);
    expect(line(r.stdout, "email")).toBe(
      `ok    email: smtp mode via smtp://127.0.0.1:${port}, sender Heimdall <no-reply@heimdall.test>`,
    );
    const sent = line(r.stdout, "test email");
    expect(sent).toStartWith("fail  test email: sending to ops@example.com failed: ");
    expect(sent).toContain("ECONNREFUSED");
    expect(sent).toContain("— check HEIMDALL_SMTP_URL (host, port, TLS, credentials)");
    expect(failures(r.stdout)).toEqual([sent]);
  });

  test("the last backup: none configured, an empty backup dir and one taken by `heimdall backup` are told apart", async () => {
    const dir = await initialised("backups");
    const none = await doctor(dir);
    expect(none.code).toBe(0);
    expect(line(none.stdout, "last backup")).toStartWith(
      "warn  last backup: no backup dir configured — set HEIMDALL_BACKUP_DIR",
    );

    mkdirSync(join(dir, "backups"));
    const empty = await doctor(dir, ["--backup-dir", "./backups"]);
    expect(empty.code).toBe(0);
    expect(line(empty.stdout, "last backup")).toBe(
      "warn  last backup: no heimdall-<time>.db in ./backups — take a backup: `heimdall backup --dir ./backups`",
    );

    const backup = await cli(dir, ["backup", "--dir", "./backups"]);
    expect(backup.code).toBe(0);
    const taken = await doctor(dir, [], { HEIMDALL_BACKUP_DIR: "./backups" });
    expect(taken.code).toBe(0);
    expect(line(taken.stdout, "last backup")).toMatch(
      /^ok {4}last backup: backups\/heimdall-\d{8}T\d{6}Z\.db from \d{4}-\d\d-\d\dT/,
    );
  });

  test(
    "--send-test-email delivers through the configured SMTP server",
    async () => {
      const received: { from: string; to: string[]; raw: string }[] = [];
      const smtp = new SMTPServer({
        authOptional: true,
        disabledCommands: ["STARTTLS", "AUTH"],
        logger: false,
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => {
            received.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
              to: session.envelope.rcptTo.map((a) => a.address),
              raw: Buffer.concat(chunks).toString("utf8"),
            });
            callback();
          });
        },
      });
      await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
      try {
        const { port } = smtp.server.address() as { port: number };
        const dir = await initialised("smtp-up");
        const r = await doctor(dir, ["--send-test-email", "ops@example.com"], {
          HEIMDALL_EMAIL_MODE: "smtp",
          HEIMDALL_SMTP_URL: `smtp://127.0.0.1:${port}`,
          HEIMDALL_EMAIL_FROM: "Heimdall <no-reply@heimdall.test>",
        });
        expect(r.code).toBe(0);
        expect(line(r.stdout, "test email")).toBe(
          "ok    test email: sent to ops@example.com from Heimdall <no-reply@heimdall.test>; check that it arrived (and not as spam)",
        );
        expect(received.length).toBe(1);
        expect(received[0]!.from).toBe("no-reply@heimdall.test");
        expect(received[0]!.to).toEqual(["ops@example.com"]);
        expect(received[0]!.raw).toContain("Subject: Heimdall test email");
      } finally {
        await new Promise<void>((resolve) => smtp.close(() => resolve()));
      }
    },
    TIMEOUT,
  );
});
