/**
 * @module `heimdall migrate-store` against a real PostgreSQL: a file-backed data dir filled through the API is
 * copied table for table, the copy serves (audit chain intact, a copied password signs in), a target that
 * holds rows is refused with nothing written, a running server's data dir is refused, the source is untouched.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { createApp } from "../../src/app.ts";
import { lockDataDir } from "../../src/cli/data-dir-lock.ts";
import { runCli } from "../../src/cli/index.ts";
import { type Config, loadConfig } from "../../src/config/index.ts";
import { FakeClock } from "../../src/core/clock.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { tablesInCopyOrder } from "../../src/db/copy.ts";
import { closePostgres } from "../../src/db/postgres.ts";
import { buildDeps } from "../../src/deps.ts";
import { createMasterKeyFile } from "../../src/vault/master-key.ts";
import { freshPostgresDatabase } from "../support/postgres.ts";

const PAK = `pcft_live_${"M".repeat(40)}`;
const PASSWORD = "a long and unusual passphrase 42";
const BASE = "http://localhost:8080";

let dir = "";
let config: Config;
let appSlug = "";
let sourceBytes: Buffer;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Row counts of every Heimdall table in the SQLite file (read-only). */
function sqliteCounts(): Record<string, number> {
  const db = new Database(config.dbFile, { readonly: true });
  try {
    return Object.fromEntries(
      tablesInCopyOrder().map(({ name }) => [
        name,
        db.query<{ n: number }, []>(`SELECT count(*) AS n FROM "${name}"`).get()!.n,
      ]),
    );
  } finally {
    db.close();
  }
}

function sourceMaxSeq(): number {
  const db = new Database(config.dbFile, { readonly: true });
  try {
    return db.query<{ top: number }, []>("SELECT max(seq) AS top FROM audit_log").get()!.top;
  } finally {
    db.close();
  }
}

/** Row counts of every Heimdall table in a PostgreSQL database, plus its applied migrations. */
async function postgresCounts(url: string): Promise<Record<string, number>> {
  const sql = new SQL(url, { max: 1 });
  try {
    const out: Record<string, number> = {};
    for (const { name } of tablesInCopyOrder()) {
      const [r] = await sql.unsafe(`SELECT count(*)::int AS n FROM "${name}"`);
      out[name] = r.n;
    }
    const [m] = await sql.unsafe("SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations");
    out.__migrations = m.n;
    return out;
  } finally {
    await sql.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "heimdall-migrate-store-"));
  createMasterKeyFile(join(dir, "master.key"));
  config = loadConfig({ "data-dir": dir, "public-url": BASE }, { HEIMDALL_LOG_LEVEL: "warn" });
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 12));
  const deps = await buildDeps(config, { clock, log: memoryLogger("warn") });
  await deps.provisioning.bootstrap({ email: "owner@example.test", password: PASSWORD, pak: PAK });
  const app = createApp(deps);
  const call = async (method: string, path: string, body?: unknown, bearer = PAK) => {
    const res = await app.handle(
      new Request(`${BASE}${path}`, {
        method,
        headers: {
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
          ...(body ? { "content-type": "application/json" } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      }),
    );
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const created = await call("POST", "/v1/apps", { slug: "copied", display_name: "Copied" });
  appSlug = created.slug;
  // Subscribed before the sign-ups, so their events and webhook deliveries are copied too.
  await call("PUT", `/v1/apps/${created.id}/webhook`, {
    url: "https://hooks.example.com/heimdall",
    event_types: ["user.signup", "tenant.created"],
  });
  await call("POST", `/v1/apps/${created.id}/tenants`, { display_name: "Acme" });
  await call("POST", "/v1/apps", { slug: "second", display_name: "Second" });
  for (const name of ["ada", "grace", "linus"]) {
    await call(
      "POST",
      `/${appSlug}/v1/auth/signup`,
      { username: name, email: `${name}@example.test`, password: PASSWORD },
      "",
    );
    clock.advance(60_000);
  }
  await call("POST", `/${appSlug}/v1/auth/signin`, { identifier: "ada", password: PASSWORD }, "");
  await deps.rateLimiter.flush();
  deps.db.$client.close();
  sourceBytes = readFileSync(config.dbFile);
});

describe("migrate-store", () => {
  let url = "";
  let copied: { code: number; out: string; err: string };

  beforeAll(async () => {
    url = await freshPostgresDatabase();
    copied = await cli("migrate-store", "--data-dir", dir, "--to", url);
  });

  test("copies every table: exit 0, per-table counts printed and equal to the source's", async () => {
    expect(copied.err).toBe("");
    expect(copied.code).toBe(0);
    const source = sqliteCounts();
    const { __migrations, ...target } = await postgresCounts(url);
    expect(target).toEqual(source);
    expect(__migrations).toBeGreaterThan(0);
    for (const table of ["apps", "end_users", "end_user_sessions", "signing_keys", "audit_log", "tenants"])
      expect(source[table]).toBeGreaterThan(0);
    expect(source.webhook_configs).toBe(1);
    for (const [table, n] of Object.entries(source))
      expect(copied.out).toMatch(new RegExp(`^ +${table} +${n}$`, "m"));
  });

  test("the source file is byte for byte what it was", () => {
    expect(readFileSync(config.dbFile).equals(sourceBytes)).toBe(true);
  });

  test("the copy serves: the audit chains verify, new audit rows continue the sequence, a copied password signs in", async () => {
    const deps = await buildDeps({ ...config, databaseUrl: url }, { log: memoryLogger("warn") });
    try {
      const verified = await deps.audit.verify();
      expect(verified.ok).toBe(true);
      const res = await createApp(deps).handle(
        new Request(`${BASE}/${appSlug}/v1/auth/signin`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ identifier: "grace", password: PASSWORD }),
        }),
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as { access_token: string };
      expect(body.access_token.split(".")).toHaveLength(3);
      const sql = new SQL(url, { max: 1 });
      try {
        // The sign-in's audit row took the next seq after the copied ones (seq is the key: a restarted
        // sequence would have failed the sign-in with a duplicate key).
        const [r] = await sql.unsafe("SELECT max(seq)::int AS top FROM audit_log");
        expect(r.top).toBeGreaterThan(sourceMaxSeq());
      } finally {
        await sql.close();
      }
      expect((await deps.audit.verify()).ok).toBe(true);
    } finally {
      await closePostgres(deps.db);
    }
  });

  test("doctor on the copy checks PostgreSQL: connected, every migration applied, the SQLite checks set aside", async () => {
    const res = await cli("doctor", "--data-dir", dir, "--database-url", url, "--json");
    const { checks } = JSON.parse(res.out) as {
      checks: { status: string; check: string; finding: string }[];
    };
    const by = (name: string) => checks.find((c) => c.check === name);
    expect(by("database")?.status).toBe("ok");
    expect(by("database")?.finding).toContain("PostgreSQL");
    expect(by("migrations")).toMatchObject({ status: "ok" });
    expect(by("migrations")?.finding).toMatch(/^all \d+ migrations applied$/);
    expect(by("data dir database")?.status).toBe("ok");
    expect(by("clock")?.status).toBe("ok");
    // No instance has served from the copy yet.
    expect(by("scheduler lease")).toMatchObject({
      status: "ok",
      finding: expect.stringContaining("never taken"),
    });
  });

  test("doctor on an empty PostgreSQL database: migrations fail; on an unreachable one: database fails, no password", async () => {
    const empty = await cli(
      "doctor",
      "--data-dir",
      dir,
      "--database-url",
      await freshPostgresDatabase(),
      "--json",
    );
    expect(empty.code).toBe(1);
    const checks = (JSON.parse(empty.out) as { checks: { status: string; check: string }[] }).checks;
    expect(checks.find((c) => c.check === "migrations")?.status).toBe("fail");
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const port = closed.port;
    closed.stop(true);
    const gone = await cli(
      "doctor",
      "--data-dir",
      dir,
      "--database-url",
      `postgres://heimdall:doctor-s3cret@127.0.0.1:${port}/heimdall`,
    );
    expect(gone.code).toBe(1);
    expect(gone.out).toMatch(
      /^fail {2}database: postgres:\/\/heimdall:\*\*\*@127\.0\.0\.1:\d+\/heimdall cannot be reached/m,
    );
    expect(gone.out + gone.err).not.toContain("doctor-s3cret");
  });

  test("a target that holds Heimdall rows is refused and nothing is written to it", async () => {
    const before = await postgresCounts(url);
    const again = await cli("migrate-store", "--data-dir", dir, "--to", url);
    expect(again.code).toBe(1);
    expect(again.err).toContain("refused");
    expect(await postgresCounts(url)).toEqual(before);
    expect(readFileSync(config.dbFile).equals(sourceBytes)).toBe(true);
  });
});

describe("refusals", () => {
  test("refused while the data dir is locked (a running server): the target stays empty", async () => {
    const url = await freshPostgresDatabase();
    const lock = lockDataDir(dir, "serve", "stop it");
    try {
      const res = await cli("migrate-store", "--data-dir", dir, "--to", url);
      expect(res.code).toBe(1);
      expect(res.err).toContain("heimdall.lock");
    } finally {
      lock.release();
    }
    const sql = new SQL(url, { max: 1 });
    try {
      const [r] = await sql.unsafe(
        "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
      );
      expect(r.n).toBe(0);
    } finally {
      await sql.close();
    }
  });

  test("an unreachable target is refused without its password in the message", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const port = closed.port;
    closed.stop(true);
    const res = await cli(
      "migrate-store",
      "--data-dir",
      dir,
      "--to",
      `postgres://heimdall:s3cret-pw@127.0.0.1:${port}/heimdall`,
    );
    expect(res.code).toBe(1);
    expect(res.err).toContain("cannot reach");
    expect(res.err).not.toContain("s3cret-pw");
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
