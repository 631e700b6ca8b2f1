/** @module The compiled binary's backups: `backup` beside a running server under 100 concurrent sign-ups, `restore` of it with every acknowledged sign-up present, and restore's refusals (a running server, a foreign master key). */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
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
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRemoteJWKSet, jwtVerify } from "jose";
import {
  buildBinary,
  freePort,
  type RunningServer,
  startServer,
  stopServer,
  waitHealthy,
} from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"B".repeat(43)}`;
const SLUG = "backups";
const SIGNUPS = 100;

const work = mkdtempSync(join(tmpdir(), "heimdall-backup-"));
let binary = "";

const env = (baseUrl = "http://127.0.0.1:1"): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: process.env.HOME ?? work,
  HEIMDALL_PUBLIC_URL: baseUrl,
  HEIMDALL_BOOTSTRAP_PAK: PAK,
  HEIMDALL_LOG_LEVEL: "warn",
});

async function cli(cwd: string, args: string[]) {
  const proc = Bun.spawn([binary, ...args, "--data-dir", "./data"], {
    cwd,
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

const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const keyIdOf = (keyFile: string) => readFileSync(keyFile, "utf8").split(" ")[0]!;
const dataFiles = (dir: string) => readdirSync(join(dir, "data")).sort();

/** Usernames of the app's end users that have a primary email contact: an account written whole. */
function usersIn(file: string): { all: string[]; complete: string[] } {
  const db = new Database(file, { readonly: true });
  try {
    const all = db
      .query<{ username: string }, []>(
        "SELECT u.username FROM end_users u JOIN apps a ON a.id = u.app_id WHERE a.slug = 'backups'",
      )
      .all()
      .map((r) => r.username);
    const complete = db
      .query<{ username: string }, []>(
        `SELECT u.username FROM end_users u JOIN apps a ON a.id = u.app_id
         JOIN end_user_contacts c ON c.user_id = u.id AND c.type = 'email' AND c.is_primary = 1
         WHERE a.slug = 'backups' AND c.value = u.username || '@example.test'`,
      )
      .all()
      .map((r) => r.username);
    return { all, complete };
  } finally {
    db.close();
  }
}

function integrity(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()!.integrity_check;
  } finally {
    db.close();
  }
}

/** A server on its own data dir with one app (so the vault holds its signing key). */
async function startWithApp(dir: string): Promise<{ server: RunningServer; baseUrl: string }> {
  const port = freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = startServer({ binary, cwd: dir, port, env: env(baseUrl) });
  await waitHealthy(baseUrl, server);
  const app = await fetch(`${baseUrl}/v1/apps`, {
    method: "POST",
    headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
    body: JSON.stringify({ slug: SLUG, display_name: "Backups" }),
  });
  expect(app.status).toBe(201);
  return { server, baseUrl };
}

beforeAll(() => {
  binary = buildBinary(work, join(work, "bin"));
}, TIMEOUT);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe("heimdall backup and restore", () => {
  const live = join(work, "live");
  let server: RunningServer | undefined;
  /** Usernames whose sign-up was acknowledged (200). */
  const acknowledged: string[] = [];

  afterAll(async () => {
    if (server && server.proc.exitCode === null) await stopServer(server);
  });

  test(
    "a backup taken while 100 sign-ups are in flight is consistent; one taken after they returned restores every acknowledged one",
    async () => {
      mkdirSync(live);
      const started = await startWithApp(live);
      server = started.server;
      let answered = 0;
      const signup = async (i: number) => {
        const username = `user${String(i).padStart(3, "0")}`;
        // The PAK exempts the burst from the per-address sign-up limit; 429s (password-check queue full) may remain.
        const res = await fetch(`${started.baseUrl}/${SLUG}/v1/auth/signup`, {
          method: "POST",
          headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
          body: JSON.stringify({
            username,
            email: `${username}@example.test`,
            password: `Correct-Horse-${i}-Battery`,
          }),
        });
        answered++;
        if (res.status === 200) acknowledged.push(username);
        return res.status;
      };
      const inFlight = Promise.all(Array.from({ length: SIGNUPS }, (_, i) => signup(i)));
      // Taken once the first ten are acknowledged, while the rest are still being answered.
      while (acknowledged.length < 10) await Bun.sleep(5);
      const answeredAtStart = answered;
      const mid = await cli(live, ["backup", "mid.db"]);
      const statuses = await inFlight;
      expect(mid.code).toBe(0);
      expect(answeredAtStart).toBeLessThan(SIGNUPS);
      expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
      expect(acknowledged.length).toBeGreaterThan(0);

      const late = await cli(live, ["backup", "late.db"]);
      expect(late.code).toBe(0);
      expect(late.stdout).toContain("integrity check ok");
      // What to keep beside it: the key file, and the key id its secrets are sealed under.
      expect(late.stdout).toContain(join(live, "data", "master.key"));
      expect(late.stdout).toContain(keyIdOf(join(live, "data", "master.key")));
      expect(late.stdout).toContain("never inside a backup");
      expect(dataFiles(live)).not.toContain(expect.stringMatching(/partial/));

      // The mid-flight copy: sound, and every account in it written whole (no user without its contact).
      expect(integrity(join(live, "mid.db"))).toBe("ok");
      const midUsers = usersIn(join(live, "mid.db"));
      expect(midUsers.complete.sort()).toEqual(midUsers.all.sort());
      // Only committed sign-ups are in it, and every committed one was acknowledged.
      for (const u of midUsers.all) expect(acknowledged).toContain(u);
      expect(midUsers.all.length).toBeGreaterThanOrEqual(10);

      // Restore is refused while the server holds the data dir, and nothing is replaced.
      const dbBefore = sha(join(live, "data", "heimdall.db"));
      const filesBefore = dataFiles(live);
      const refused = await cli(live, ["restore", "late.db"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("in use by a running Heimdall server");
      expect(refused.stderr).toContain("stop it first");
      expect(dataFiles(live)).toEqual(filesBefore);
      expect(sha(join(live, "data", "heimdall.db"))).toBe(dbBefore);

      expect(await stopServer(server)).toBe(0);
      const restored = await cli(live, ["restore", "late.db"]);
      expect(restored.stderr).toBe("");
      expect(restored.code).toBe(0);
      expect(restored.stdout).toContain("applied 0 migration(s)");
      // The replaced database is kept aside, and no -wal/-shm of it is left beside the restored one.
      const after = dataFiles(live);
      expect(after.filter((f) => /^heimdall\.db\.replaced-\d{8}T\d{6}Z$/.test(f))).toHaveLength(1);
      expect(after).not.toContain("heimdall.db-wal");
      expect(after).not.toContain("heimdall.db-shm");

      const restoredUsers = usersIn(join(live, "data", "heimdall.db"));
      expect(restoredUsers.complete.sort()).toEqual([...acknowledged].sort());
      expect((await cli(live, ["audit", "verify"])).code).toBe(0);
    },
    TIMEOUT,
  );

  test(
    "restore refuses a backup sealed under a master key the key file does not hold, naming that key, and replaces nothing",
    async () => {
      const other = join(work, "other");
      mkdirSync(other);
      const init = await cli(other, ["init"]);
      expect(init.code).toBe(0);
      const dbBefore = sha(join(other, "data", "heimdall.db"));
      const filesBefore = dataFiles(other);

      const foreign = await cli(other, ["restore", join(live, "late.db")]);
      expect(foreign.code).toBe(1);
      expect(foreign.stderr).toContain("not restoring");
      expect(foreign.stderr).toContain(
        `sealed under master key ${keyIdOf(join(live, "data", "master.key"))}`,
      );
      expect(foreign.stdout).toBe("");
      expect(dataFiles(other)).toEqual(filesBefore);
      expect(sha(join(other, "data", "heimdall.db"))).toBe(dbBefore);
    },
    TIMEOUT,
  );

  test(
    "the restore drill: on a fresh data dir with only the key file copied, the restored server signs its users in",
    async () => {
      const fresh = join(work, "drill");
      mkdirSync(join(fresh, "data"), { recursive: true, mode: 0o700 });
      copyFileSync(join(live, "data", "master.key"), join(fresh, "data", "master.key"));
      chmodSync(join(fresh, "data", "master.key"), 0o600);

      const restored = await cli(fresh, ["restore", join(live, "late.db")]);
      expect(restored.code).toBe(0);
      // Nothing was there to replace, so nothing is kept aside.
      expect(dataFiles(fresh).filter((f) => f.includes("replaced"))).toEqual([]);
      const verify = await cli(fresh, ["audit", "verify"]);
      expect(verify.code).toBe(0);
      expect(verify.stdout).toContain("audit log intact");

      const port = freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const drill = startServer({ binary, cwd: fresh, port, env: env(baseUrl) });
      try {
        await waitHealthy(baseUrl, drill);
        // The first start of a restored dir is not a first start: no new credentials are printed.
        const username = acknowledged[0]!;
        const i = Number(username.slice(4));
        const signin = await fetch(`${baseUrl}/${SLUG}/v1/auth/signin`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ identifier: username, password: `Correct-Horse-${i}-Battery` }),
        });
        expect(signin.status).toBe(200);
        // The access token is signed with the restored (sealed) signing key and verifies against the JWKS.
        const { access_token } = (await signin.json()) as { access_token: string };
        const jwks = createRemoteJWKSet(new URL(`${baseUrl}/${SLUG}/v1/.well-known/jwks.json`));
        const { payload } = await jwtVerify(access_token, jwks, {
          issuer: `${baseUrl}/${SLUG}`,
          audience: SLUG,
        });
        expect(payload.type).toBe("end_user");
      } finally {
        expect(await stopServer(drill)).toBe(0);
      }
      expect(await drill.stdout).not.toContain("First-run credentials");
    },
    TIMEOUT,
  );

  test("backup --dir creates a missing directory, private, and writes the copy there", async () => {
    const fresh = join(work, "dir-target");
    mkdirSync(fresh);
    expect((await cli(fresh, ["init"])).code).toBe(0);
    const target = join(fresh, "backups", "nightly");
    const r = await cli(fresh, ["backup", "--dir", target]);
    expect(r.code).toBe(0);
    const files = readdirSync(target).filter((f) => /^heimdall-\d{8}T\d{6}Z\.db$/.test(f));
    expect(files).toHaveLength(1);
    expect(statSync(target).mode & 0o777).toBe(0o700);
    expect(integrity(join(target, files[0]!))).toBe("ok");
  });

  test("restore refuses a file that is not a sound database before it touches the data dir", async () => {
    const junk = join(work, "junk.db");
    await Bun.write(junk, "not a database at all, but long enough to have a header-sized prefix ".repeat(4));
    const fresh = join(work, "fresh");
    mkdirSync(fresh);
    const r = await cli(fresh, ["restore", junk]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not a SQLite database");
    expect(existsSync(join(fresh, "data"))).toBe(false);
  });

  test("backup and restore explain themselves in --help; the top-level usage lists both", async () => {
    const b = await cli(work, ["backup", "--help"]);
    expect(b.code).toBe(0);
    expect(b.stdout).toContain("Usage: heimdall backup [options] [FILE]");
    expect(b.stdout).toContain("VACUUM INTO");
    const r = await cli(work, ["restore", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: heimdall restore [options] FILE");
    const missing = await cli(work, ["restore"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("FILE is required");
    const top = Bun.spawnSync([binary, "--help"]);
    expect(top.stdout.toString()).toMatch(/backup\s+Write a consistent copy/);
    expect(top.stdout.toString()).toMatch(/restore\s+Replace the database with a backup/);
  });
});
