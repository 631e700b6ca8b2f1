/**
 * @module End-user listing at scale: seeds 1,000,000 accounts (with primary emails, some sessions) into one
 * app of a fresh SQLite file built with the real migrations, then times pages of `GET /v1/apps/{id}/end-users`
 * and `GET /{slug}/v1/admin/users` through `createApp(deps).handle(...)` in-process (target: every page
 * < 50 ms). Run by hand: `node_modules/.bin/bun bench/end-users-1m.ts [--users 1000000] [--requests 50]
 * [--explain] [--compare]`; prints a markdown table for docs/benchmarks.md. `--explain` prints the query plans,
 * `--compare` times the rejected newest-first search for contrast.
 *
 * Accounts: usernames `user<n>` (so `user1` matches 111,112 of them, clustered by creation time — the
 * hard case for a newest-first walk), emails `<first>.<last><n>@<domain>` (so `alice` is a dense prefix
 * found only through the email index), 2 % suspended, 1 % deactivated, every 20th with a live session.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { eq, sql } from "drizzle-orm";
import { createApp } from "../src/app.ts";
import { closeDb } from "../src/cli/data-dir.ts";
import { loadConfig } from "../src/config/index.ts";
import { systemClock } from "../src/core/clock.ts";
import { sha256Hex } from "../src/core/crypto.ts";
import { memoryLogger } from "../src/core/logger.ts";
import { openDatabase, tx } from "../src/db/client.ts";
import { openPostgresDatabase } from "../src/db/postgres.ts";
import { rows as queryRows } from "../src/db/query.ts";
import { buildDeps } from "../src/deps.ts";
import { createMasterKeyFile } from "../src/vault/master-key.ts";
import { BENCH_PAK, benchDatabaseUrl, cleanup, machineLine } from "./lib.ts";

const { values: opts } = parseArgs({
  options: {
    users: { type: "string", default: "1000000" },
    requests: { type: "string", default: "50" },
    explain: { type: "boolean", default: false },
    "no-analyze": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    compare: { type: "boolean", default: false },
  },
});
const N = Number(opts.users);
const REQUESTS = Number(opts.requests);
const PUBLIC_URL = "http://localhost:8080";
const SLUG = "million";

const FIRST = [
  "alice",
  "bob",
  "carol",
  "dave",
  "erin",
  "frank",
  "grace",
  "heidi",
  "ivan",
  "judy",
  "mallory",
  "niaj",
  "olivia",
  "peggy",
  "rupert",
  "sybil",
  "trent",
  "victor",
  "walter",
  "yolanda",
];
const LAST = [
  "smith",
  "jones",
  "garcia",
  "miller",
  "davis",
  "lopez",
  "wilson",
  "moore",
  "taylor",
  "lee",
  "white",
  "harris",
  "clark",
  "lewis",
  "young",
  "king",
  "wright",
  "hill",
  "scott",
  "green",
  "baker",
];
const DOMAINS = ["example.com", "mail.test", "corp.example", "inbox.test"];

const dir = mkdtempSync(join(tmpdir(), "heimdall-1m-"));
try {
  createMasterKeyFile(join(dir, "master.key"));
  const databaseUrl = await benchDatabaseUrl();
  const config = loadConfig(
    { "data-dir": dir, "public-url": PUBLIC_URL, ...(databaseUrl ? { "database-url": databaseUrl } : {}) },
    { HEIMDALL_LOG_LEVEL: "warn" },
  );
  const db = databaseUrl ? openPostgresDatabase(databaseUrl) : openDatabase(config.dbFile);
  const deps = await buildDeps(config, { clock: systemClock, log: memoryLogger("warn"), db });
  await deps.provisioning.bootstrap({
    email: "bench@example.test",
    password: "bench password long enough",
    pak: BENCH_PAK,
  });
  const app = createApp(deps);

  const call = async (method: string, path: string, body?: unknown, bearer = BENCH_PAK) => {
    const res = await app.handle(
      new Request(`${PUBLIC_URL}${path}`, {
        method,
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  const created = await call("POST", "/v1/apps", { slug: SLUG, display_name: "One million" });
  if (created.status !== 201) throw new Error(`app: ${created.status} ${JSON.stringify(created.body)}`);
  const appId: string = created.body.id;
  const key = await call("POST", `/v1/apps/${appId}/api-keys`, { name: "bench", permissions: ["user.list"] });
  if (key.status !== 201) throw new Error(`api key: ${key.status} ${JSON.stringify(key.body)}`);
  const apiKey: string = key.body.key;

  // ── Seeding: one transaction, prepared inserts (PostgreSQL: multi-row inserts of the same rows) ──
  const t0 = performance.now();
  const start = Date.now() - N * 1000 - 60_000;
  const farFuture = Date.now() + 365 * 24 * 3600 * 1000;
  const account = (n: number) => {
    const at = start + n * 1000;
    const first = FIRST[n % FIRST.length]!;
    const last = LAST[Math.floor(n / FIRST.length) % LAST.length]!;
    return {
      at,
      id: Bun.randomUUIDv7("hex", at),
      status: (n % 100 < 2 ? "suspended" : n % 100 === 2 ? "deactivated" : "active") as "active",
      displayName: `${first} ${last}`,
      email: `${first}.${last}${n}@${DOMAINS[n % DOMAINS.length]}`,
    };
  };
  if (db.engine === "postgres") {
    const { endUsers, endUserContacts, endUserSessions } = db.tables;
    await tx(db, async () => {
      for (let from = 1; from <= N; from += 1000) {
        const batch = Array.from({ length: Math.min(1000, N - from + 1) }, (_, i) => ({
          n: from + i,
          ...account(from + i),
        }));
        await db.insert(endUsers).values(
          batch.map((a) => ({
            id: a.id,
            appId,
            username: `user${a.n}`,
            displayName: a.displayName,
            status: a.status,
            role: "member",
            failedLoginCount: 0,
            createdAt: a.at,
            updatedAt: a.at,
          })),
        );
        await db.insert(endUserContacts).values(
          batch.map((a) => ({
            id: Bun.randomUUIDv7("hex", a.at),
            appId,
            userId: a.id,
            type: "email" as const,
            value: a.email,
            isPrimary: true,
            verifiedAt: a.n % 3 === 0 ? null : a.at,
            createdAt: a.at,
          })),
        );
        const sessions = batch.filter((a) => a.n % 20 === 0);
        if (sessions.length)
          await db.insert(endUserSessions).values(
            sessions.map((a) => ({
              id: Bun.randomUUIDv7("hex", a.at),
              appId,
              userId: a.id,
              refreshHash: sha256Hex(`s${a.n}`),
              amr: ["pwd"],
              createdAt: a.at,
              expiresAt: farFuture,
            })),
          );
      }
    });
  }
  const sqlite = db.$client;
  if (db.engine === "sqlite") {
    const insUser = sqlite.prepare(
      `INSERT INTO end_users (id, app_id, username, display_name, status, role, failed_login_count, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, 'member', 0, ?, ?)`,
    );
    const insContact = sqlite.prepare(
      `INSERT INTO end_user_contacts (id, app_id, user_id, type, value, is_primary, verified_at, created_at)
     VALUES (?, ?, ?, 'email', ?, 1, ?, ?)`,
    );
    const insSession = sqlite.prepare(
      `INSERT INTO end_user_sessions (id, app_id, user_id, refresh_hash, amr, created_at, expires_at)
     VALUES (?, ?, ?, ?, '["pwd"]', ?, ?)`,
    );
    sqlite.transaction(() => {
      for (let n = 1; n <= N; n++) {
        const at = start + n * 1000;
        const id = Bun.randomUUIDv7("hex", at);
        const status = n % 100 < 2 ? "suspended" : n % 100 === 2 ? "deactivated" : "active";
        const first = FIRST[n % FIRST.length]!;
        const last = LAST[Math.floor(n / FIRST.length) % LAST.length]!;
        insUser.run(id, appId, `user${n}`, `${first} ${last}`, status, at, at);
        insContact.run(
          Bun.randomUUIDv7("hex", at),
          appId,
          id,
          `${first}.${last}${n}@${DOMAINS[n % DOMAINS.length]}`,
          n % 3 === 0 ? null : at,
          at,
        );
        if (n % 20 === 0)
          insSession.run(Bun.randomUUIDv7("hex", at), appId, id, sha256Hex(`s${n}`), at, farFuture);
      }
    })();
  }
  const seedSeconds = (performance.now() - t0) / 1000;
  console.error(`seeded ${N} accounts in ${seedSeconds.toFixed(1)} s`);
  // PostgreSQL's autovacuum analyzes a table soon after a bulk change like this seed (within its one-minute
  // nap); measured at once, its plans would rest on an empty table's statistics. Done here, as it would be.
  // SQLite never analyzes on its own, so its run stays without statistics, as a fresh appliance is.
  if (db.engine === "postgres" && !opts["no-analyze"]) await queryRows(db, sql`ANALYZE`);

  if (opts.explain && db.engine === "sqlite") {
    for (const [name, text] of [
      [
        "newest",
        "SELECT id FROM end_users WHERE app_id = ? AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT 51",
      ],
      [
        "newest+status",
        "SELECT id FROM end_users WHERE app_id = ? AND status = ? ORDER BY created_at DESC, id DESC LIMIT 51",
      ],
      [
        "username range",
        "SELECT username AS k, id FROM end_users WHERE app_id = ? AND username >= ? AND username < ? AND +status = ? ORDER BY username LIMIT 51",
      ],
      [
        "email range",
        `SELECT c.value AS k, c.user_id AS id FROM end_user_contacts c CROSS JOIN end_users u ON u.id = c.user_id
         WHERE c.app_id = ? AND c.type = 'email' AND c.value >= ? AND c.value < ? AND c.is_primary = 1
           AND NOT (u.username >= ? AND u.username < ?) AND u.status = ? ORDER BY c.value LIMIT 51`,
      ],
    ] as const) {
      const plan = sqlite
        .query(`EXPLAIN QUERY PLAN ${text}`)
        .all(...Array(text.split("?").length - 1).fill("x"))
        .slice(0, 12) as { detail: string }[];
      console.error(`${name}: ${plan.map((p) => p.detail).join(" | ")}`);
    }
  }

  if (opts.explain && db.engine === "postgres") {
    for (const [name, query] of [
      [
        "username range",
        sql`EXPLAIN ANALYZE SELECT username AS k, id FROM end_users WHERE app_id = ${appId}
              AND username COLLATE "C" >= 'user1' AND username COLLATE "C" < 'user2' ORDER BY username COLLATE "C" LIMIT 51`,
      ],
      [
        "email range",
        sql`EXPLAIN ANALYZE SELECT c.value AS k, c.user_id AS id FROM end_user_contacts c JOIN end_users u ON u.id = c.user_id
             WHERE c.app_id = ${appId} AND c.type = 'email' AND c.value COLLATE "C" >= 'user1' AND c.value COLLATE "C" < 'user2'
               AND c.is_primary = true AND NOT (u.username COLLATE "C" >= 'user1' AND u.username COLLATE "C" < 'user2')
             ORDER BY c.value COLLATE "C" LIMIT 51`,
      ],
    ] as const) {
      const plan = await queryRows<{ "QUERY PLAN": string }>(db, query);
      console.error(`${name}:\n  ${plan.map((p) => p["QUERY PLAN"]).join("\n  ")}`);
    }
  }

  if (opts.compare && db.engine === "sqlite") {
    // The rejected shape: newest first over the created index, filtering every row by the prefix. Fast
    // when matches are dense among the newest accounts, a walk of the whole app when they are old or absent.
    const naive = sqlite.query(
      `SELECT u.id FROM end_users u
         LEFT JOIN end_user_contacts c ON c.user_id = u.id AND c.type = 'email' AND c.is_primary = 1
        WHERE u.app_id = ? AND (u.username LIKE ? ESCAPE '\\' OR c.value LIKE ? ESCAPE '\\')
        ORDER BY u.created_at DESC, u.id DESC LIMIT 51`,
    );
    for (const prefix of ["user1", "user99999", "alice", "zzz"]) {
      const t = performance.now();
      naive.all(appId, `${prefix}%`, `${prefix}%`);
      console.error(`newest-first scan, search=${prefix}: ${(performance.now() - t).toFixed(1)} ms`);
    }
  }

  // ── Measurement ───────────────────────────────────────────────────────────
  const adminPath = (q: string) => `/v1/apps/${appId}/end-users${q}`;
  const consumerPath = (q: string) => `/${SLUG}/v1/admin/users${q}`;
  const first = async (path: string, bearer: string) => {
    const r = await call("GET", path, undefined, bearer);
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as { data: { username: string }[]; pagination: { next_cursor: string | null } };
  };
  const cursorAfter = async (q: string, pages: number) => {
    let cursor: string | null = null;
    for (let i = 0; i < pages; i++) {
      const sep = q ? "&" : "?";
      const body = await first(adminPath(cursor ? `${q}${sep}cursor=${cursor}` : q), BENCH_PAK);
      cursor = body.pagination.next_cursor;
    }
    return cursor!;
  };

  const scenarios: { name: string; query: string }[] = [
    { name: "no search", query: "" },
    { name: "status=suspended", query: "?status=suspended" },
    { name: "search=user1 (111,112 username matches)", query: "?search=user1" },
    { name: "search=user99999 (11 matches)", query: "?search=user99999" },
    { name: "search=alice (50,000 email-only matches)", query: "?search=alice" },
    { name: "search=alice.smith4200 (3 email-only matches)", query: "?search=alice.smith4200" },
    { name: "search=zzz (no match)", query: "?search=zzz" },
    { name: "search=user1&status=deactivated", query: "?search=user1&status=deactivated" },
  ];
  const page2 = await cursorAfter("", 1);
  scenarios.push({ name: "page 2 via cursor", query: `?cursor=${page2}` });
  const searchPage2 = await cursorAfter("?search=user1", 1);
  scenarios.push({ name: "search=user1, page 2 via cursor", query: `?search=user1&cursor=${searchPage2}` });
  const deep = await cursorAfter("", 100);
  scenarios.push({ name: "page 101 via cursor", query: `?cursor=${deep}` });

  const pct = (xs: number[], p: number) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
  const rows: string[] = [];
  for (const s of scenarios) {
    const cells: string[] = [];
    let count = 0;
    for (const [path, bearer] of [
      [adminPath(s.query), BENCH_PAK],
      [consumerPath(s.query), apiKey],
    ] as const) {
      for (let i = 0; i < 3; i++) await first(path, bearer); // warm
      const times: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const t = performance.now();
        const body = await first(path, bearer);
        times.push(performance.now() - t);
        count = body.data.length;
      }
      cells.push(`${pct(times, 50).toFixed(2)} / ${pct(times, 99).toFixed(2)}`);
    }
    rows.push(`| ${s.name} | ${count} | ${cells[0]} | ${cells[1]} |`);
    console.error(rows.at(-1));
  }

  console.log(
    `\n${machineLine()}; ${N.toLocaleString("en")} accounts seeded in ${seedSeconds.toFixed(1)} s; ${REQUESTS} requests per cell after 3 warm-ups\n`,
  );
  console.log(
    "| page (limit 50) | rows | Admin `GET /v1/apps/{id}/end-users` p50 / p99 ms | Consumer `GET /{slug}/v1/admin/users` p50 / p99 ms |",
  );
  console.log("|---|---:|---:|---:|");
  for (const r of rows) console.log(r);

  // Bulk writes: one transaction each, with one audit row per changed account plus a summary.
  const bulkRows: string[] = [];
  for (const [name, op, body] of [
    [
      "suspend search=user99 (11,111 accounts)",
      "update-status",
      { selection: { mode: "filter", search: "user99" }, status: "suspended" },
    ],
    [
      "revoke sessions of status=suspended",
      "revoke-sessions",
      { selection: { mode: "filter", status: "suspended" } },
    ],
    ["delete 1,500 ids (as many UUIDs as fit the 64 KiB body cap)", "delete", null],
  ] as const) {
    let payload: unknown = body;
    if (payload === null) {
      const { endUsers } = db.tables;
      const ids = (
        await db.select({ id: endUsers.id }).from(endUsers).where(eq(endUsers.appId, appId)).limit(1500)
      ).map((r) => r.id);
      payload = { selection: { mode: "ids", ids } };
    }
    const t = performance.now();
    const r = await call("POST", `/v1/apps/${appId}/end-users/bulk-${op}`, payload);
    const ms = performance.now() - t;
    if (r.status !== 200) throw new Error(`bulk ${op}: ${r.status} ${JSON.stringify(r.body)}`);
    bulkRows.push(`| ${name} | ${r.body.affected_users} | ${ms.toFixed(0)} |`);
  }
  console.log("\n| bulk write | affected_users | ms |\n|---|---:|---:|");
  for (const r of bulkRows) console.log(r);
  await deps.scheduler.stop();
  await closeDb(db);
} finally {
  cleanup();
  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  else console.error(`kept ${dir}`);
}
