/**
 * @module /readyz on PostgreSQL: ready on a fresh database; 503 with the database check failed, and a reason in
 * words without the password, when the server is unreachable or only takes reads (a standby).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { createApp } from "../../src/app.ts";
import { type Config, loadConfig } from "../../src/config/index.ts";
import { FakeClock } from "../../src/core/clock.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { openDatabase } from "../../src/db/client.ts";
import { closePostgres, migratePostgres, openPostgresDatabase } from "../../src/db/postgres.ts";
import { buildDeps, type Deps } from "../../src/deps.ts";
import { healthRoutes } from "../../src/http/health.ts";
import { createMasterKeyFile } from "../../src/vault/master-key.ts";
import { freshPostgresDatabase } from "../support/postgres.ts";

interface Readiness {
  status: string;
  checks: { db: string; keys: string };
  reasons?: { db?: string; keys?: string };
}

let dir = "";
let config: Config;
/** The signing keys and vault the probes check, on SQLite: here only the database check is under test. */
let keysOnSqlite: Deps;
const log = memoryLogger("warn");

const readyz = async (handle: (r: Request) => Promise<Response> | Response) => {
  const res = await handle(new Request("http://localhost/readyz"));
  return { status: res.status, body: (await res.json()) as Readiness };
};

/** A port nothing listens on: bound for an instant and released. */
function closedPort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "heimdall-readyz-pg-"));
  createMasterKeyFile(join(dir, "master.key"));
  config = loadConfig({ "data-dir": dir }, { HEIMDALL_LOG_LEVEL: "warn" });
  keysOnSqlite = await buildDeps(config, {
    clock: new FakeClock(Date.UTC(2026, 10, 1, 12)),
    log,
    db: openDatabase(":memory:"),
  });
});

afterAll(() => {
  keysOnSqlite.db.$client.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the database check on PostgreSQL", () => {
  test("a fresh, migrated database is ready, and the probe leaves no row behind", async () => {
    const url = await freshPostgresDatabase();
    const db = openPostgresDatabase(url, { max: 2 });
    try {
      await migratePostgres(db);
      const health = healthRoutes({ ...keysOnSqlite, db });
      for (let i = 0; i < 3; i++) {
        const { status, body } = await readyz((r) => health.handle(r));
        expect(status).toBe(200);
        expect(body).toEqual({ status: "ready", checks: { db: "ok", keys: "ok" } });
      }
      const sql = new SQL(url, { max: 1 });
      try {
        const [r] = await sql.unsafe("SELECT count(*)::int AS n FROM rate_limits");
        expect(r.n).toBe(0);
      } finally {
        await sql.close();
      }
    } finally {
      await closePostgres(db);
    }
  });

  test("an unreachable server: 503, db failed, a reason in words without the password", async () => {
    const password = `pw-${crypto.randomUUID()}`;
    const db = openPostgresDatabase(`postgres://heimdall:${password}@127.0.0.1:${closedPort()}/heimdall`, {
      max: 1,
    });
    try {
      const health = healthRoutes({ ...keysOnSqlite, db });
      const { status, body } = await readyz((r) => health.handle(r));
      expect(status).toBe(503);
      expect(body.status).toBe("unavailable");
      expect(body.checks).toEqual({ db: "failed", keys: "ok" });
      expect(body.reasons?.db).toBe("connect failed (connection refused)");
      expect(JSON.stringify(body)).not.toContain(password);
      expect(log.lines.some((l) => l.includes("readiness: database check failed"))).toBe(true);
      expect(log.lines.join("\n")).not.toContain(password);
    } finally {
      await closePostgres(db);
    }
  });

  test("a server that only takes reads (a standby): 503 at the write stage", async () => {
    const url = await freshPostgresDatabase();
    const setup = openPostgresDatabase(url, { max: 1 });
    await migratePostgres(setup);
    await closePostgres(setup);
    const admin = new SQL(url, { max: 1 });
    try {
      const name = new URL(url).pathname.slice(1);
      await admin.unsafe(`ALTER DATABASE "${name}" SET default_transaction_read_only = on`);
    } finally {
      await admin.close();
    }
    const db = openPostgresDatabase(url, { max: 1 });
    try {
      const { status, body } = await readyz((r) => healthRoutes({ ...keysOnSqlite, db }).handle(r));
      expect(status).toBe(503);
      expect(body.checks.db).toBe("failed");
      expect(body.reasons?.db).toBe("write failed (read-only transaction: a standby, not the primary)");
    } finally {
      await closePostgres(db);
    }
  });
});

describe("the whole server on PostgreSQL", () => {
  test("GET /readyz is 200 on a fresh database once the server has started on it", async () => {
    const url = await freshPostgresDatabase();
    const deps = await buildDeps(
      { ...config, databaseUrl: url },
      { clock: new FakeClock(Date.UTC(2026, 10, 1, 12)), log: memoryLogger("warn") },
    );
    try {
      await deps.provisioning.bootstrap({
        email: "owner@example.test",
        password: "correct horse battery staple",
        pak: `pcft_live_${"R".repeat(40)}`,
      });
      const app = createApp(deps);
      const { status, body } = await readyz((r) => app.handle(r));
      expect(status).toBe(200);
      expect(body).toEqual({ status: "ready", checks: { db: "ok", keys: "ok" } });
    } finally {
      await closePostgres(deps.db);
    }
  });
});
