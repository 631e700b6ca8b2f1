/**
 * @module User import at scale: writes 100,000 JSON-lines users (a mix of argon2id, bcrypt, PBKDF2 and Django
 * hashes, computed once and reused; some without a password), imports them into a fresh data dir through
 * `deps.userImport` reading the file as `heimdall users import` does, then imports the same file again (every
 * line unchanged). The baseline inserts the same rows (user and email contact) into another fresh database with
 * raw prepared `INSERT`s in transactions of the same size: no parsing, no validation, no lookups. With
 * `HEIMDALL_BENCH_DB=postgres` both go to fresh databases on a durable PostgreSQL cluster (the baseline through
 * Bun's client). Run by hand: `node_modules/.bin/bun bench/import.ts [--users 100000] [--rounds 3]`.
 */
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { closeDb } from "../src/cli/data-dir.ts";
import { fileLines } from "../src/cli/users.ts";
import { loadConfig } from "../src/config/index.ts";
import { systemClock } from "../src/core/clock.ts";
import { memoryLogger } from "../src/core/logger.ts";
import { openDatabase } from "../src/db/client.ts";
import { postgresOf } from "../src/db/postgres.ts";
import { buildDeps } from "../src/deps.ts";
import { jsonlRecords } from "../src/users/import-model.ts";
import { createMasterKeyFile } from "../src/vault/master-key.ts";
import { BENCH_PAK, benchDatabaseUrl, cleanup, machineLine, work } from "./lib.ts";

const { values: opts } = parseArgs({
  options: {
    users: { type: "string", default: "100000" },
    rounds: { type: "string", default: "3" },
  },
});
const N = Number(opts.users);
const ROUNDS = Number(opts.rounds);
const CHUNK = 1000;
const PASSWORD = "Bench-Import-Password-1";

/** A handful of hashes, each computed once (the import never computes a hash it is given). */
async function hashes(deps: Awaited<ReturnType<typeof buildDeps>>): Promise<(string | null)[]> {
  const salt = randomBytes(12)
    .toString("base64")
    .replace(/[^a-zA-Z0-9]/g, "")
    .slice(0, 12);
  const django = `pbkdf2_sha256$260000$${salt}$${pbkdf2Sync(PASSWORD, salt, 260000, 32, "sha256").toString("base64")}`;
  const ab64 = (b: Buffer) => b.toString("base64").replace(/=+$/, "").replaceAll("+", ".");
  const s = randomBytes(16);
  const passlib = `$pbkdf2-sha256$29000$${ab64(s)}$${ab64(pbkdf2Sync(PASSWORD, s, 29000, 32, "sha256"))}`;
  return [
    await deps.passwords.hash(PASSWORD),
    await Bun.password.hash(PASSWORD, { algorithm: "bcrypt", cost: 10 }),
    passlib,
    django,
    null,
  ];
}

async function freshDeps(name: string) {
  const dir = join(work, name);
  const keyFile = join(dir, "master.key");
  createMasterKeyFile(keyFile);
  const databaseUrl = await benchDatabaseUrl();
  const config = loadConfig(
    {
      "data-dir": dir,
      "public-url": "http://localhost:8080",
      ...(databaseUrl ? { "database-url": databaseUrl } : {}),
    },
    { HEIMDALL_LOG_LEVEL: "warn" },
  );
  return await buildDeps(config, {
    clock: systemClock,
    log: memoryLogger("warn"),
    ...(databaseUrl ? {} : { db: openDatabase(config.dbFile) }),
  });
}

async function freshApp(deps: Awaited<ReturnType<typeof buildDeps>>): Promise<string> {
  const boot = await deps.provisioning.bootstrap({
    email: "bench@example.test",
    password: "bench password long enough",
    pak: BENCH_PAK,
  });
  const app = await deps.apps.create(
    { kind: "local", workspaceId: boot.workspace.id },
    { slug: "imported", display_name: "Imported" },
    { requestId: "bench", ip: null, userAgent: null },
  );
  return app.id;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const results = { first: [] as number[], again: [] as number[], raw: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const deps = await freshDeps(`import-${round}`);
    const appId = await freshApp(deps);
    const mix = await hashes(deps);
    const file = join(work, `users-${round}.jsonl`);
    const records = Array.from({ length: N }, (_, n) => ({
      email: `user${n}@example.test`,
      display_name: `User ${n}`,
      email_verified: n % 3 !== 0,
      ...(mix[n % mix.length] ? { password_hash: mix[n % mix.length] } : {}),
    }));
    writeFileSync(file, `${records.map((r) => JSON.stringify(r)).join("\n")}\n`);

    let t = performance.now();
    const first = await deps.userImport.importUsers(appId, jsonlRecords(fileLines(file)), {
      source: "bench",
    });
    results.first.push((performance.now() - t) / 1000);
    if (first.created !== N)
      throw new Error(
        `expected ${N} created: ${JSON.stringify({ ...first, errors: first.errors.slice(0, 3) })}`,
      );
    t = performance.now();
    const again = await deps.userImport.importUsers(appId, jsonlRecords(fileLines(file)), {
      source: "bench",
    });
    results.again.push((performance.now() - t) / 1000);
    if (again.unchanged !== N) throw new Error("expected every line unchanged on the second run");
    await closeDb(deps.db);

    // Baseline: the same rows, raw prepared INSERTs into a fresh, migrated database, same transaction size.
    const bare = await freshDeps(`raw-${round}`);
    const rawApp = await freshApp(bare);
    if (bare.db.engine === "postgres") {
      const pg = postgresOf(bare.db).$client;
      t = performance.now();
      for (let start = 0; start < N; start += CHUNK) {
        await pg.begin(async (q) => {
          const now = Date.now();
          for (let n = start; n < Math.min(N, start + CHUNK); n++) {
            const r = records[n]!;
            const id = Bun.randomUUIDv7("hex", now);
            await q`INSERT INTO end_users (id, app_id, username, display_name, password_hash, status, role, failed_login_count, created_at, updated_at)
                    VALUES (${id}, ${rawApp}, ${`user${n}`}, ${r.display_name}, ${r.password_hash ?? null}, 'active', 'member', 0, ${now}, ${now})`;
            await q`INSERT INTO end_user_contacts (id, app_id, user_id, type, value, is_primary, verified_at, created_at)
                    VALUES (${Bun.randomUUIDv7("hex", now)}, ${rawApp}, ${id}, 'email', ${r.email}, true, ${r.email_verified ? now : null}, ${now})`;
          }
        });
      }
      results.raw.push((performance.now() - t) / 1000);
      await closeDb(bare.db);
      console.error(
        `round ${round + 1}: import ${results.first.at(-1)!.toFixed(2)} s, again ${results.again.at(-1)!.toFixed(2)} s, raw ${results.raw.at(-1)!.toFixed(2)} s`,
      );
      continue;
    }
    const sqlite = bare.db.$client;
    const insUser = sqlite.prepare(
      `INSERT INTO end_users (id, app_id, username, display_name, password_hash, status, role, failed_login_count, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'active', 'member', 0, ?, ?)`,
    );
    const insContact = sqlite.prepare(
      `INSERT INTO end_user_contacts (id, app_id, user_id, type, value, is_primary, verified_at, created_at)
       VALUES (?, ?, ?, 'email', ?, 1, ?, ?)`,
    );
    t = performance.now();
    for (let start = 0; start < N; start += CHUNK) {
      sqlite.transaction(() => {
        const now = Date.now();
        for (let n = start; n < Math.min(N, start + CHUNK); n++) {
          const r = records[n]!;
          const id = Bun.randomUUIDv7("hex", now);
          insUser.run(id, rawApp, `user${n}`, r.display_name, r.password_hash ?? null, now, now);
          insContact.run(
            Bun.randomUUIDv7("hex", now),
            rawApp,
            id,
            r.email,
            r.email_verified ? now : null,
            now,
          );
        }
      })();
    }
    results.raw.push((performance.now() - t) / 1000);
    sqlite.close();
    console.error(
      `round ${round + 1}: import ${results.first.at(-1)!.toFixed(2)} s, again ${results.again.at(-1)!.toFixed(2)} s, raw ${results.raw.at(-1)!.toFixed(2)} s`,
    );
  }
  const first = median(results.first);
  const again = median(results.again);
  const raw = median(results.raw);
  const rate = (s: number) => Math.round(N / s).toLocaleString("en-US");
  console.log(`machine: ${machineLine()}; ${N} users, ${ROUNDS} rounds, medians`);
  console.log("| | seconds | rows/s |");
  console.log("|---|---:|---:|");
  console.log(`| \`users import\`, new accounts | ${first.toFixed(2)} | ${rate(first)} |`);
  console.log(`| the same file again (all unchanged) | ${again.toFixed(2)} | ${rate(again)} |`);
  console.log(`| raw prepared \`INSERT\`s, same rows | ${raw.toFixed(2)} | ${rate(raw)} |`);
  console.log(`| ratio, import / raw (throughput) | **${(raw / first).toFixed(3)}** | |`);
} finally {
  cleanup();
}
