/** @module The judgements behind `heimdall doctor` (src/ops/doctor*.ts) on made-up inputs: key timings and the pre-publish margin, master-key lines, the clock, trusted proxies, email settings and the last backup. */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DAY, FakeClock, HOUR, MINUTE } from "../../src/core/clock.ts";
import type { AppKeyDiagnosis, KeyDiagnosis } from "../../src/keys/health.ts";
import { checkClock } from "../../src/ops/doctor.ts";
import { checkEmailConfig } from "../../src/ops/doctor-email.ts";
import { checkLastBackup, checkTrustedProxies } from "../../src/ops/doctor-host.ts";
import { checkMasterKeys, checkSigningKeys } from "../../src/ops/doctor-keys.ts";

const NOW = Date.UTC(2026, 11, 5, 12, 0, 0);
const clock = new FakeClock(NOW);

function key(over: Partial<KeyDiagnosis> & Pick<KeyDiagnosis, "kid" | "state">): KeyDiagnosis {
  return { createdAt: NOW - DAY, activatesAt: NOW - DAY, retireAt: null, error: null, ...over };
}

function app(keys: KeyDiagnosis[], status = "active"): AppKeyDiagnosis {
  return { appId: "a1", slug: "acme", status, keys };
}

const active = key({ kid: "k-active", state: "active", activatesAt: NOW - 10 * DAY });
const next = key({ kid: "k-next", state: "next", createdAt: NOW - 10 * DAY, activatesAt: NOW + 80 * DAY });

describe("signing keys", () => {
  test("an active key and a next key published well ahead: ok, with both named", () => {
    const [f] = checkSigningKeys([app([active, next])], clock);
    expect(f!.status).toBe("ok");
    expect(f!.check).toBe("signing keys of acme");
    expect(f!.finding).toContain("active k-active since 2026-11-25T12:00:00.000Z");
    expect(f!.finding).toContain("next k-next signs at 2027-02-23T12:00:00.000Z");
  });

  test("a next key that signs less than 2 h after it was published warns about the pre-publish margin", () => {
    const early = key({
      kid: "k-next",
      state: "next",
      createdAt: NOW - 30 * MINUTE,
      activatesAt: NOW + 30 * MINUTE,
    });
    const [f] = checkSigningKeys([app([active, early])], clock);
    expect(f!.status).toBe("warn");
    expect(f!.finding).toContain("only 60 min after it was published (under 2 h)");
  });

  test("an overdue rotation and a missing next key warn: start the server", () => {
    const overdue = key({
      kid: "k-next",
      state: "next",
      createdAt: NOW - 100 * DAY,
      activatesAt: NOW - HOUR,
    });
    const [late] = checkSigningKeys([app([active, overdue])], clock);
    expect(late!.status).toBe("warn");
    expect(late!.finding).toContain("the rotation to k-next was due at");
    const [none] = checkSigningKeys([app([active])], clock);
    expect(none!.status).toBe("warn");
    expect(none!.finding).toContain("no next key is published");
    expect(none!.fix).toContain("start the server");
  });

  test("a key that does not open fails; no active key fails unless the app is archived", () => {
    const broken = { ...next, error: "secret x failed authentication" };
    const [f] = checkSigningKeys([app([active, broken])], clock);
    expect(f!.status).toBe("fail");
    expect(f!.finding).toBe("1 key(s) cannot be opened: k-next (next): secret x failed authentication");
    expect(f!.fix).toContain("before this key is needed");
    expect(checkSigningKeys([app([next])], clock)[0]!.status).toBe("fail");
    expect(checkSigningKeys([app([], "archived")], clock)[0]!.status).toBe("ok");
  });
});

describe("master keys", () => {
  const keys = (...ids: string[]) => ({
    active: { id: ids[0]!, key: Buffer.alloc(32) },
    all: new Map(ids.map((id) => [id, Buffer.alloc(32)])),
  });

  test("every line in use: ok; an unused old line: warn with --retire-old; a missing one: fail", () => {
    expect(checkMasterKeys(keys("mk-2"), ["mk-2"], "master.key").status).toBe("ok");
    const unused = checkMasterKeys(keys("mk-2", "mk-1"), ["mk-2"], "master.key");
    expect(unused.status).toBe("warn");
    expect(unused.finding).toBe("1 old key line(s) no secret uses: mk-1");
    expect(unused.fix).toContain("retire with `heimdall master-key rotate --retire-old`");
    const missing = checkMasterKeys(keys("mk-2"), ["mk-2", "mk-0"], "master.key");
    expect(missing.status).toBe("fail");
    expect(missing.finding).toBe("secrets are wrapped by mk-0, which is not in master.key");
  });
});

describe("clock", () => {
  function db(newest: number) {
    const raw = new Database(":memory:");
    for (const t of ["audit_log", "signing_keys", "vault_secrets"])
      raw.exec(`CREATE TABLE ${t} (created_at INTEGER)`);
    raw.query("INSERT INTO audit_log VALUES (?)").run(newest);
    return { $client: raw };
  }

  test("a clock more than a minute behind the newest row fails; a few seconds is fine", () => {
    const behind = checkClock(db(NOW + 2 * HOUR), clock);
    expect(behind.status).toBe("fail");
    expect(behind.finding).toContain("is 7200 s behind the newest row in the database");
    expect(behind.fix).toContain("synchronise the clock");
    expect(checkClock(db(NOW + 5_000), clock).status).toBe("ok");
  });
});

describe("configuration", () => {
  test("trusted proxies: addresses, CIDR and prefixes are ok; anything else fails naming it", () => {
    expect(checkTrustedProxies([]).status).toBe("ok");
    expect(checkTrustedProxies(["10.0.0.1", "10.0.0.0/8", "fd00::/8", "192.168.*"]).status).toBe("ok");
    const bad = checkTrustedProxies(["10.0.0.1", "proxy.internal"]);
    expect(bad.status).toBe("fail");
    expect(bad.finding).toBe("not understood (never match): proxy.internal");
  });

  test("email: log mode warns, smtp with a sender is ok, smtp without a URL fails", () => {
    expect(checkEmailConfig({ emailMode: "log" }).status).toBe("warn");
    expect(checkEmailConfig({ emailMode: "smtp" }).status).toBe("fail");
    const good = checkEmailConfig({
      emailMode: "smtp",
      smtpUrl: "smtps://u:secret@mail.example.com",
      emailFrom: "a@b.c",
    });
    expect(good).toEqual({
      status: "ok",
      check: "email",
      finding: "smtp mode via smtps://mail.example.com:465, sender a@b.c",
      fix: "",
    });
    // The password in the URL never reaches the report.
    expect(JSON.stringify(good)).not.toContain("secret");
  });
});

describe("last backup", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  test("the newest backup by its name: fresh is ok, older than two days warns", () => {
    const dir = mkdtempSync(join(tmpdir(), "heimdall-doctor-backups-"));
    dirs.push(dir);
    mkdirSync(join(dir, "not-a-backup"));
    writeFileSync(join(dir, "heimdall-20261201T000000Z.db"), "");
    const old = checkLastBackup(dir, clock);
    expect(old.status).toBe("warn");
    expect(old.finding).toBe(
      `${join(dir, "heimdall-20261201T000000Z.db")} from 2026-12-01T00:00:00.000Z, 4 days old`,
    );
    writeFileSync(join(dir, "heimdall-20261205T110000Z.db"), "");
    const fresh = checkLastBackup(dir, clock);
    expect(fresh.status).toBe("ok");
    expect(fresh.finding).toContain("heimdall-20261205T110000Z.db");
  });
});
