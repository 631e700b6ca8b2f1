/** @module The compiled binary guarding its data dir: the lock against a running server, and the start-up checks of the database and key files. */

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
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
const PAK = `pcft_live_${"D".repeat(43)}`;

const work = mkdtempSync(join(tmpdir(), "heimdall-datadir-"));
let binary = "";

function env(baseUrl = "http://127.0.0.1:1", extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? work,
    HEIMDALL_PUBLIC_URL: baseUrl,
    HEIMDALL_BOOTSTRAP_PAK: PAK,
    HEIMDALL_LOG_LEVEL: "warn",
    ...extra,
  };
}

/** A directory of its own per scenario; the binary always runs there with `./data` as its data dir. */
function scenario(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  return dir;
}

async function cli(cwd: string, args: string[], extra: Record<string, string> = {}) {
  const proc = Bun.spawn([binary, ...args, "--data-dir", "./data"], {
    cwd,
    env: env(undefined, extra),
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

function serve(cwd: string, extra: Record<string, string> = {}): { server: RunningServer; baseUrl: string } {
  const port = freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  return { server: startServer({ binary, cwd, port, env: env(baseUrl, extra) }), baseUrl };
}

/** A refusal is one line on stderr: no stack trace, no raw driver error. */
function expectOneLine(stderr: string): void {
  const lines = stderr.trim().split("\n");
  expect(lines.length).toBe(1);
  expect(stderr).not.toContain("SQLiteError");
  expect(stderr).not.toMatch(/^\s+at /m);
}

async function createApp(baseUrl: string, slug: string): Promise<void> {
  const res = await fetch(`${baseUrl}/v1/apps`, {
    method: "POST",
    headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
    body: JSON.stringify({ slug, display_name: slug }),
  });
  expect(res.status).toBe(201);
}

const jwks = async (baseUrl: string, slug: string) => {
  const res = await fetch(`${baseUrl}/${slug}/v1/.well-known/jwks.json`);
  expect(res.status).toBe(200);
  return res.text();
};

/** Folds the WAL into the database file and removes it, as a clean stop would. */
function checkpoint(dbFile: string): void {
  const db = new Database(dbFile);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  rmSync(`${dbFile}-wal`, { force: true });
  rmSync(`${dbFile}-shm`, { force: true });
}

/** An initialised data dir (via `heimdall init`) with its WAL folded in. */
async function initialised(name: string): Promise<string> {
  const dir = scenario(name);
  const init = await cli(dir, ["init"]);
  expect(init.code).toBe(0);
  checkpoint(join(dir, "data", "heimdall.db"));
  return dir;
}

beforeAll(() => {
  binary = buildBinary(work, join(work, "bin"));
}, TIMEOUT);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the data-dir lock", () => {
  test(
    "beside a running server, master-key rotate --retire-old is refused; the server keeps working, restarts, loses nothing",
    async () => {
      const dir = scenario("rotate");
      const keyFile = join(dir, "data", "master.key");
      let { server, baseUrl } = serve(dir);
      let before = "";
      try {
        await waitHealthy(baseUrl, server);
        await createApp(baseUrl, "first");
        before = await jwks(baseUrl, "first");
        const keyBefore = readFileSync(keyFile, "utf8");

        const rotated = await cli(dir, ["master-key", "rotate", "--retire-old"]);
        expect(rotated.code).toBe(1);
        expectOneLine(rotated.stderr);
        expect(rotated.stderr).toContain(`in use by a running Heimdall server (pid ${server.proc.pid}`);
        expect(rotated.stderr).toContain("heimdall.lock");
        expect(rotated.stderr).toContain("stop it first");
        expect(rotated.stdout).toBe("");
        expect(readFileSync(keyFile, "utf8")).toBe(keyBefore);

        // The server goes on sealing secrets (a new app's signing keys) under the key it holds.
        await createApp(baseUrl, "second");
        expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
      } finally {
        expect(await stopServer(server)).toBe(0);
      }
      let secondKeys = "";
      ({ server, baseUrl } = serve(dir));
      try {
        await waitHealthy(baseUrl, server);
        expect(await jwks(baseUrl, "first")).toBe(before);
        secondKeys = await jwks(baseUrl, "second");
      } finally {
        expect(await stopServer(server)).toBe(0);
      }

      // Stopped, the rotation runs; the next start reads every secret, old and new.
      const rotated = await cli(dir, ["master-key", "rotate", "--retire-old"]);
      expect(rotated.code).toBe(0);
      ({ server, baseUrl } = serve(dir));
      try {
        await waitHealthy(baseUrl, server);
        expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
        expect(await jwks(baseUrl, "first")).toBe(before);
        expect(await jwks(baseUrl, "second")).toBe(secondKeys);
      } finally {
        expect(await stopServer(server)).toBe(0);
      }
    },
    TIMEOUT,
  );

  test(
    "every writing command but keys rotate is refused beside a server; the read-only ones work; a second serve exits 1",
    async () => {
      const dir = scenario("writers");
      const { server, baseUrl } = serve(dir);
      try {
        await waitHealthy(baseUrl, server);
        await createApp(baseUrl, "app");
        const auditRows = () => {
          const db = new Database(join(dir, "data", "heimdall.db"), { readonly: true });
          const n = db.query<{ n: number }, []>("SELECT count(*) AS n FROM audit_log").get()!.n;
          db.close();
          return n;
        };
        const rowsBefore = auditRows();
        for (const args of [
          ["pak", "create", "--name", "ci"],
          ["user", "create", "--email", "late@example.test"],
          ["migrate"],
          ["init"],
          ["master-key", "rotate"],
        ]) {
          const r = await cli(dir, args);
          expect(r.code).toBe(1);
          expectOneLine(r.stderr);
          expect(r.stderr).toContain(`pid ${server.proc.pid}`);
        }
        // keys rotate works beside the server (it reloads its keys on its own); for an app made a moment
        // ago its only refusal is the pre-publish rule, not the lock, and it changes nothing.
        const rotate = await cli(dir, ["keys", "rotate", "--app", "app"]);
        expect(rotate.code).toBe(1);
        expectOneLine(rotate.stderr);
        expect(rotate.stderr).toContain("ROTATION_TOO_SOON");
        expect(rotate.stderr).not.toContain("in use by");
        expect(auditRows()).toBe(rowsBefore);

        const list = await cli(dir, ["keys", "list", "--app", "app", "--json"]);
        expect(list.code).toBe(0);
        expect((JSON.parse(list.stdout) as unknown[]).length).toBe(2);
        const verify = await cli(dir, ["audit", "verify"]);
        expect(verify.code).toBe(0);
        expect(verify.stdout).toContain("intact");
        const version = Bun.spawn([binary, "version"], { cwd: dir, env: env(), stdout: "pipe" });
        expect(await version.exited).toBe(0);

        const second = serve(dir);
        expect(await second.server.proc.exited).toBe(1);
        const stderr = await second.server.stderr;
        expectOneLine(stderr);
        expect(stderr).toContain(`in use by a running Heimdall server (pid ${server.proc.pid}`);
        // The first one is untouched by the attempt.
        expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
      } finally {
        expect(await stopServer(server)).toBe(0);
      }
    },
    TIMEOUT,
  );

  test(
    "the lock dies with the server: after kill -9 a writing command works and the server starts again",
    async () => {
      const dir = scenario("killed");
      let { server, baseUrl } = serve(dir);
      await waitHealthy(baseUrl, server);
      await createApp(baseUrl, "app");
      const keys = await jwks(baseUrl, "app");
      server.proc.kill("SIGKILL");
      await server.proc.exited;

      // The WAL the killed server left is its own: the start-up checks accept it.
      const pak = await cli(dir, ["pak", "create", "--name", "after-crash", "--quiet"]);
      expect(pak.code).toBe(0);
      const token = pak.stdout.trim();
      ({ server, baseUrl } = serve(dir));
      try {
        await waitHealthy(baseUrl, server);
        expect(await jwks(baseUrl, "app")).toBe(keys);
        expect(
          (await fetch(`${baseUrl}/v1/apps`, { headers: { authorization: `Bearer ${token}` } })).status,
        ).toBe(200);
      } finally {
        expect(await stopServer(server)).toBe(0);
      }
    },
    TIMEOUT,
  );
});

describe("start-up checks", () => {
  test(
    "a zero-byte database beside master.key is refused by serve and init; nothing is created, the key is untouched",
    async () => {
      const dir = await initialised("empty-db");
      const data = join(dir, "data");
      truncateSync(join(data, "heimdall.db"), 0);
      const key = readFileSync(join(data, "master.key"), "utf8");
      const listing = readdirSync(data).sort();

      const { server } = serve(dir);
      expect(await server.proc.exited).toBe(1);
      const stderr = await server.stderr;
      expectOneLine(stderr);
      expect(stderr).toContain(
        "data/heimdall.db is empty (0 bytes) but data/master.key exists: restore the database from a backup, or move both away to start fresh",
      );
      expect(await server.stdout).not.toContain(PAK);

      const init = await cli(dir, ["init"]);
      expect(init.code).toBe(1);
      expect(init.stderr).toContain("is empty (0 bytes)");

      expect(statSync(join(data, "heimdall.db")).size).toBe(0);
      expect(readFileSync(join(data, "master.key"), "utf8")).toBe(key);
      expect(readdirSync(data).sort()).toEqual(listing);
    },
    TIMEOUT,
  );

  test(
    "a master key in the data dir without a database is refused; an empty key file is refused",
    async () => {
      const dir = await initialised("key-only");
      const data = join(dir, "data");
      // First: a zero-byte key beside a sound database.
      const keyText = readFileSync(join(data, "master.key"), "utf8");
      writeFileSync(join(data, "master.key"), "");
      const emptyKey = await cli(dir, ["keys", "list", "--app", "x"]);
      expect(emptyKey.code).toBe(1);
      expectOneLine(emptyKey.stderr);
      expect(emptyKey.stderr).toContain(
        "master key file data/master.key is empty; restore it from your backup",
      );
      writeFileSync(join(data, "master.key"), keyText);
      rmSync(join(data, "heimdall.db"));
      const r = await cli(dir, ["init"]);
      expect(r.code).toBe(1);
      expectOneLine(r.stderr);
      expect(r.stderr).toContain(
        "data/master.key exists but data/heimdall.db does not: restore the database from a backup, or move data/master.key away to start fresh",
      );
      expect(existsSync(join(data, "heimdall.db"))).toBe(false);

      writeFileSync(join(data, "master.key"), "");
      chmodSync(join(data, "master.key"), 0o600);
      const { server } = serve(dir);
      expect(await server.proc.exited).toBe(1);
      expect(await server.stderr).toContain("master.key exists but data/heimdall.db does not");
      expect(existsSync(join(data, "heimdall.db"))).toBe(false);
    },
    TIMEOUT,
  );

  test(
    "a master key file mounted from outside the data dir is a legitimate first start, and is used as it is",
    async () => {
      const dir = scenario("mounted-key");
      const secrets = join(dir, "secrets");
      mkdirSync(secrets);
      // Made by a throwaway init, then moved out: a valid key the data dir has never seen.
      const donor = await cli(dir, ["init", "--master-key-file", "./secrets/master.key"]);
      expect(donor.code).toBe(0);
      rmSync(join(dir, "data"), { recursive: true });
      const key = readFileSync(join(secrets, "master.key"), "utf8");

      const { server, baseUrl } = serve(dir, { HEIMDALL_MASTER_KEY_FILE: "./secrets/master.key" });
      try {
        await waitHealthy(baseUrl, server);
        await createApp(baseUrl, "app");
        expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
      } finally {
        expect(await stopServer(server)).toBe(0);
      }
      expect(await server.stdout).toContain(PAK);
      expect(readFileSync(join(secrets, "master.key"), "utf8")).toBe(key);
      expect(existsSync(join(dir, "data", "master.key"))).toBe(false);
      expect(readdirSync(join(dir, "data"))).not.toContain(".first-start");
    },
    TIMEOUT,
  );

  test(
    "a truncated database, a file of garbage and a text file: exit 1, one line naming the file and the fix",
    async () => {
      const dir = await initialised("corrupt");
      const dbFile = join(dir, "data", "heimdall.db");
      const good = readFileSync(dbFile);
      const cases: [string, () => void, string][] = [
        ["truncated", () => truncateSync(dbFile, Math.floor(good.length / 2)), "is truncated"],
        [
          "garbage",
          () => writeFileSync(dbFile, crypto.getRandomValues(new Uint8Array(65536))),
          "is not a SQLite database",
        ],
        [
          "text",
          () => writeFileSync(dbFile, "id,email\n1,a@example.test\n".repeat(200)),
          "is not a SQLite database",
        ],
        // A header that promises pages the file does not have is caught before SQLite reads it.
        ["cut after the header", () => truncateSync(dbFile, 4096), "is truncated"],
      ];
      for (const [name, damage, problem] of cases) {
        writeFileSync(dbFile, good);
        damage();
        const damaged = readFileSync(dbFile);
        const { server } = serve(dir);
        expect(await server.proc.exited, name).toBe(1);
        const stderr = await server.stderr;
        expectOneLine(stderr);
        expect(stderr, name).toContain(`data/heimdall.db ${problem}`);
        expect(stderr, name).toContain("restore it");
        expect(stderr, name).toContain("from a backup");
        expect(readFileSync(dbFile).equals(damaged), name).toBe(true);

        const cmd = await cli(dir, ["keys", "list", "--app", "x"]);
        expect(cmd.code, name).toBe(1);
        expectOneLine(cmd.stderr);
        expect(cmd.stderr, name).toContain(problem);
      }
      writeFileSync(dbFile, good);
      const { server, baseUrl } = serve(dir);
      try {
        await waitHealthy(baseUrl, server);
      } finally {
        expect(await stopServer(server)).toBe(0);
      }
    },
    TIMEOUT,
  );

  test(
    "a WAL from another database beside heimdall.db is refused without touching the database file",
    async () => {
      const dir = await initialised("foreign-wal");
      const data = join(dir, "data");
      const dbFile = join(data, "heimdall.db");
      const good = readFileSync(dbFile);

      // A WAL that another database left behind: open writer, no checkpoint, file copied away.
      const other = new Database(join(dir, "other.db"));
      other.exec("PRAGMA journal_mode = WAL");
      other.exec("PRAGMA wal_autocheckpoint = 0");
      other.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body BLOB)");
      for (let i = 0; i < 40; i++) other.exec("INSERT INTO notes (body) VALUES (randomblob(3000))");
      copyFileSync(join(dir, "other.db-wal"), `${dbFile}-wal`);
      other.close();

      const { server } = serve(dir);
      expect(await server.proc.exited).toBe(1);
      const stderr = await server.stderr;
      expectOneLine(stderr);
      expect(stderr).toContain("data/heimdall.db");
      expect(stderr).toContain("when read with the WAL beside it (data/heimdall.db-wal)");
      // SQLite would have checkpointed the foreign pages into the file on close; the check never opens it for writing.
      expect(readFileSync(dbFile).equals(good)).toBe(true);

      rmSync(`${dbFile}-wal`);
      rmSync(`${dbFile}-shm`, { force: true });
      const again = serve(dir);
      try {
        await waitHealthy(again.baseUrl, again.server);
      } finally {
        expect(await stopServer(again.server)).toBe(0);
      }
    },
    TIMEOUT,
  );
});
