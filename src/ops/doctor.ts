/** @module The checks of `heimdall doctor` (docs/operations.md, "heimdall doctor"): each looks at one thing, read-only, and returns findings with a fix. */

import { existsSync, statfsSync, statSync } from "node:fs";
import { backupTime, listBackups } from "../backup/backup.ts";
import type { Config } from "../config/index.ts";
import { type Clock, DAY, HOUR, iso, MINUTE } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import { parseProxyEntry } from "../core/ip-ranges.ts";
import { type Db, databaseFileProblem } from "../db/client.ts";
import { JOURNAL } from "../db/migrations.ts";
import type { MailTransport } from "../email/transport.ts";
import type { AppKeyDiagnosis } from "../keys/health.ts";
import { PREPUBLISH, ROTATION_INTERVAL } from "../keys/rotation-schedule.ts";
import type { MasterKeys } from "../vault/master-key.ts";

export type Status = "ok" | "warn" | "fail";

/** One line of the report: `<status>  <check>: <finding> — <fix>`; `fix` is empty when there is nothing to do. */
export interface Finding {
  status: Status;
  check: string;
  finding: string;
  fix: string;
}

const ok = (check: string, finding: string): Finding => ({ status: "ok", check, finding, fix: "" });
const warn = (check: string, finding: string, fix: string): Finding => ({
  status: "warn",
  check,
  finding,
  fix,
});
const fail = (check: string, finding: string, fix: string): Finding => ({
  status: "fail",
  check,
  finding,
  fix,
});

const mode = (m: number) => (m & 0o777).toString(8).padStart(3, "0");
const GIB = 1024 ** 3;

// ─── Files ─────────────────────────────────────────────────────────────────

/**
 * The data dir and the master key file. The key must be private to its owner (the server refuses
 * anything else at start-up); a data dir others can enter exposes the database beside it, so it is a
 * warning, and one owned by somebody else usually means the server runs as another user than intended.
 */
export function checkFiles(
  config: Pick<Config, "dataDir" | "masterKeyFile" | "dbFile">,
  uid: number | null,
): Finding[] {
  const out: Finding[] = [];
  const { dataDir, masterKeyFile: key, dbFile } = config;
  if (!existsSync(dataDir)) {
    out.push(
      fail(
        "data dir",
        `${dataDir} does not exist`,
        "run `heimdall init`, or point --data-dir at the data dir",
      ),
    );
  } else {
    const st = statSync(dataDir);
    if (!st.isDirectory()) {
      out.push(fail("data dir", `${dataDir} is not a directory`, "point --data-dir at the data dir"));
    } else if (uid !== null && st.uid !== uid) {
      out.push(
        warn(
          "data dir",
          `${dataDir} is owned by uid ${st.uid}, not by this user (uid ${uid})`,
          `run doctor as the user the server runs as, or chown -R that user ${dataDir}`,
        ),
      );
    } else if ((st.mode & 0o077) !== 0) {
      out.push(
        warn(
          "data dir",
          `${dataDir} has mode ${mode(st.mode)}: other users can enter it`,
          `chmod 700 ${dataDir}`,
        ),
      );
    } else {
      out.push(ok("data dir", `${dataDir} (mode ${mode(st.mode)})`));
    }
  }
  if (!existsSync(key)) {
    out.push(
      fail(
        "master key file",
        `${key} does not exist`,
        existsSync(dbFile)
          ? "restore it from your backup (a new key cannot open the existing secrets), or point --master-key-file at it"
          : "run `heimdall init`",
      ),
    );
  } else {
    const st = statSync(key);
    if (!st.isFile()) {
      out.push(
        fail("master key file", `${key} is not a regular file`, "point --master-key-file at the key file"),
      );
    } else if ((st.mode & 0o077) !== 0) {
      out.push(
        fail(
          "master key file",
          `${key} has mode ${mode(st.mode)}: readable or writable by group or others (the server refuses to start)`,
          `chmod 600 ${key}, and treat the key as exposed if others could read it`,
        ),
      );
    } else if (uid !== null && st.uid !== uid) {
      out.push(
        warn(
          "master key file",
          `${key} is owned by uid ${st.uid}, not by this user (uid ${uid})`,
          `chown the file to the user the server runs as`,
        ),
      );
    } else {
      out.push(ok("master key file", `${key} (mode ${mode(st.mode)})`));
    }
  }
  return out;
}

// ─── Database ──────────────────────────────────────────────────────────────

/** The file itself: header, schema and `PRAGMA quick_check`, through a read-only connection. */
export function checkDatabaseFile(dbFile: string): Finding {
  if (!existsSync(dbFile))
    return fail(
      "database",
      `no database at ${dbFile}`,
      "run `heimdall init`, or point --data-dir at the data dir",
    );
  if (statSync(dbFile).size === 0)
    return fail(
      "database",
      `${dbFile} is empty (0 bytes)`,
      "restore it from a backup, or remove it to start fresh",
    );
  const problem = databaseFileProblem(dbFile);
  if (problem)
    return fail("database", `${dbFile} ${problem}`, "restore it (with its master key) from a backup");
  return ok("database", `${dbFile}: quick_check ok`);
}

/**
 * Applied migrations against the ones embedded in this binary, by their timestamps (what drizzle records).
 * Three ways to differ: the newest ones missing (an upgrade not applied yet), a hole in the middle (the
 * table was edited: the migrator only looks past the newest row, so it would never fill it), and rows
 * this binary does not know (a database from a newer Heimdall).
 */
export function checkMigrations(db: Pick<Db, "$client">): Finding {
  const check = "migrations";
  const applied = new Set(
    db.$client
      .query<{ at: number }, []>("SELECT created_at AS at FROM __drizzle_migrations")
      .all()
      .map((r) => Number(r.at)),
  );
  const known = new Set(JOURNAL.entries.map((e) => e.when));
  const newest = Math.max(-1, ...applied);
  const unknown = [...applied].filter((at) => !known.has(at));
  if (unknown.length > 0)
    return fail(
      check,
      `the database has ${unknown.length} migration(s) this binary does not know: it was written by a newer Heimdall`,
      "run the newer Heimdall binary (or restore a backup taken before the upgrade)",
    );
  const missing = JOURNAL.entries.filter((e) => !applied.has(e.when));
  const holes = missing.filter((e) => e.when < newest);
  if (holes.length > 0)
    return fail(
      check,
      `migration(s) ${holes.map((e) => e.tag).join(", ")} are not recorded although later ones are: the migrations table was edited`,
      "restore the database from a backup; `heimdall migrate` only applies migrations newer than the last recorded one",
    );
  if (missing.length > 0)
    return fail(
      check,
      `${missing.length} pending migration(s): ${missing.map((e) => e.tag).join(", ")}`,
      "stop the server and run `heimdall migrate` (or start the server, which migrates at start-up)",
    );
  return ok(check, `all ${JOURNAL.entries.length} migrations applied`);
}

/**
 * The system clock against the newest timestamps the database holds: a clock far behind them signs
 * tokens that are not valid yet and reorders audit rows and rotations.
 */
export function checkClock(db: Pick<Db, "$client">, clock: Clock): Finding {
  const check = "clock";
  const newest = Math.max(
    0,
    ...["audit_log", "signing_keys", "vault_secrets"].map((table) =>
      Number(
        db.$client.query<{ at: number | null }, []>(`SELECT max(created_at) AS at FROM ${table}`).get()?.at ??
          0,
      ),
    ),
  );
  const now = clock.now();
  if (newest === 0) return ok(check, `${iso(now)}; the database holds no timestamps to compare with`);
  const behind = newest - now;
  if (behind > MINUTE)
    return fail(
      check,
      `the system clock (${iso(now)}) is ${Math.round(behind / 1000)} s behind the newest row in the database (${iso(newest)})`,
      "synchronise the clock (NTP: `timedatectl set-ntp true`) before starting the server",
    );
  return ok(check, `${iso(now)}; newest row ${iso(newest)}`);
}

// ─── Keys ──────────────────────────────────────────────────────────────────

/**
 * Each app's signing keys: every unretired private key opens; there is one active key; the next key is
 * published at least PREPUBLISH before it signs (so no verifier's cached JWKS misses it); the rotation is
 * not overdue (the server's scheduler does it, so overdue means no server ran).
 */
export function checkSigningKeys(apps: readonly AppKeyDiagnosis[], clock: Clock): Finding[] {
  const now = clock.now();
  if (apps.length === 0) return [ok("signing keys", "no apps yet")];
  return apps.map((app) => {
    const check = `signing keys of ${app.slug}`;
    const broken = app.keys.filter((k) => k.error !== null);
    if (broken.length > 0) {
      const k = broken[0]!;
      const fix =
        k.state === "active"
          ? `the app cannot sign tokens: restore the database and its master key from a backup, or (server stopped) \`heimdall keys rotate --app ${app.slug} --emergency\` to sign with the next key`
          : "restore the database and its master key from a backup before this key is needed";
      return fail(check, `${broken.length} key(s) cannot be opened: ${k.kid} (${k.state}): ${k.error}`, fix);
    }
    const active = app.keys.find((k) => k.state === "active");
    const next = app.keys.find((k) => k.state === "next");
    const retiring = app.keys.filter((k) => k.state === "retiring").length;
    if (!active) {
      return app.status === "archived"
        ? ok(check, "archived app, no active key")
        : fail(
            check,
            "no active signing key: the app cannot issue tokens",
            `(server stopped) \`heimdall keys rotate --app ${app.slug}\` creates one`,
          );
    }
    const states = `active ${active.kid} since ${iso(active.activatesAt)}${retiring ? `, ${retiring} retiring` : ""}`;
    if (!next)
      return warn(
        check,
        `${states}; no next key is published`,
        "start the server: its scheduler publishes the next key within a minute",
      );
    const margin = next.activatesAt - next.createdAt;
    if (margin < PREPUBLISH)
      return warn(
        check,
        `${states}; next ${next.kid} signs at ${iso(next.activatesAt)}, only ${Math.round(margin / MINUTE)} min after it was published (under ${PREPUBLISH / HOUR} h)`,
        "verifiers caching the JWKS may not know it yet when it signs; nothing to do unless tokens fail to verify after the rotation",
      );
    if (next.activatesAt < now)
      return warn(
        check,
        `${states}; the rotation to ${next.kid} was due at ${iso(next.activatesAt)}`,
        "start the server: its scheduler rotates within a minute",
      );
    if (now - active.activatesAt > ROTATION_INTERVAL + DAY)
      return warn(check, `${states}; the active key is older than the rotation interval`, "start the server");
    return ok(check, `${states}; next ${next.kid} signs at ${iso(next.activatesAt)}`);
  });
}

/**
 * Master keys the sealed secrets are wrapped with against the lines of the key file: a missing one
 * makes those secrets unreadable; an unused old one is harmless but one more secret to guard.
 */
export function checkMasterKeys(keys: MasterKeys, inUse: readonly string[], file: string): Finding {
  const check = "master keys";
  const missing = inUse.filter((id) => !keys.all.has(id));
  if (missing.length > 0)
    return fail(
      check,
      `secrets are wrapped by ${missing.join(", ")}, which ${missing.length === 1 ? "is" : "are"} not in ${file}`,
      "restore the key file that holds those lines from your backup (a new key cannot open them)",
    );
  const unused = [...keys.all.keys()].filter((id) => id !== keys.active.id && !inUse.includes(id));
  if (unused.length > 0)
    return warn(
      check,
      `${unused.length} old key line(s) no secret uses: ${unused.join(", ")}`,
      "retire with `heimdall master-key rotate --retire-old` (server stopped), then back up the key file",
    );
  return ok(check, `active ${keys.active.id}; ${keys.all.size} line(s) in the file, every one in use`);
}

// ─── Email ─────────────────────────────────────────────────────────────────

/** The email settings as configured: the mode, the SMTP URL (parsed, credentials never shown) and the sender. */
export function checkEmailConfig(config: Pick<Config, "emailMode" | "smtpUrl" | "emailFrom">): Finding {
  const check = "email";
  const from = config.emailFrom ? `, sender ${config.emailFrom}` : "";
  if (config.emailMode === "log")
    return warn(
      check,
      `log mode: emails are written to the log, not sent${from}`,
      "for real delivery set HEIMDALL_SMTP_URL (smtp:// or smtps://) and HEIMDALL_EMAIL_FROM",
    );
  if (!config.smtpUrl)
    return fail(
      check,
      "HEIMDALL_EMAIL_MODE is smtp but no SMTP URL is set",
      "set HEIMDALL_SMTP_URL=smtp://host:587",
    );
  let url: URL;
  try {
    url = new URL(config.smtpUrl);
  } catch {
    return fail(
      check,
      "HEIMDALL_SMTP_URL does not parse as a URL",
      "set it as smtp://user:pass@host:587 or smtps://…:465",
    );
  }
  if (!["smtp:", "smtps:"].includes(url.protocol) || url.hostname === "")
    return fail(
      check,
      `HEIMDALL_SMTP_URL has no host or a scheme other than smtp/smtps`,
      "set it as smtp://host:587",
    );
  const where = `${url.protocol}//${url.hostname}:${url.port || (url.protocol === "smtps:" ? "465" : "587")}`;
  if (!config.emailFrom)
    return warn(
      check,
      `smtp mode via ${where}; no default sender`,
      "set HEIMDALL_EMAIL_FROM, or give every app a sender address",
    );
  return ok(check, `smtp mode via ${where}${from}`);
}

/** One message through the configured transport, as the outbox would send it. */
export async function sendTestEmail(
  transport: MailTransport,
  to: string,
  config: Pick<Config, "emailMode" | "emailFrom" | "publicUrl">,
  clock: Clock,
): Promise<Finding> {
  const check = "test email";
  const from = config.emailFrom ?? `heimdall@${new URL(config.publicUrl).hostname}`;
  const result = await transport.send({
    id: newId(clock),
    to,
    from,
    subject: "Heimdall test email",
    text: `This is a test email sent by \`heimdall doctor\` from ${config.publicUrl} at ${iso(clock.now())}.\n`,
    html: null,
  });
  if (!result.ok)
    return fail(
      check,
      `sending to ${to} failed: ${result.error}`,
      result.permanent
        ? "the SMTP server refused the message: check the sender (HEIMDALL_EMAIL_FROM), the recipient and the account's rights"
        : "check HEIMDALL_SMTP_URL (host, port, TLS, credentials) and that this machine can reach the SMTP server",
    );
  if (transport.kind === "log")
    return warn(
      check,
      `log mode: the message to ${to} was written to the log`,
      "set HEIMDALL_SMTP_URL to send it",
    );
  return ok(check, `sent to ${to} from ${from}; check that it arrived (and not as spam)`);
}

// ─── Network and host ──────────────────────────────────────────────────────

/**
 * Each entry must be what the address resolver understands (an IP address, a CIDR range or an `a.b.*`
 * prefix): the config refuses anything else at load, so this mostly shows what is trusted.
 */
export function checkTrustedProxies(proxies: readonly string[]): Finding {
  const check = "trusted proxies";
  if (proxies.length === 0)
    return ok(check, "none: X-Forwarded-For is ignored, the peer address is the client");
  const bad = proxies.filter((p) => parseProxyEntry(p) === null);
  if (bad.length > 0)
    return fail(
      check,
      `not understood (never match): ${bad.join(", ")}`,
      "set HEIMDALL_TRUSTED_PROXIES to IP addresses or CIDR ranges (e.g. 10.0.0.0/8), comma-separated",
    );
  return ok(check, proxies.join(", "));
}

/** `<public_url>/healthz` from this machine: a warning only, since doctor also runs with the server stopped. */
export async function checkPublicUrl(publicUrl: string, timeoutMs: number): Promise<Finding> {
  const check = "public URL";
  const target = `${publicUrl}/healthz`;
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    await res.arrayBuffer();
    if (res.status === 200) return ok(check, `${target} answers 200`);
    return warn(
      check,
      `${target} answers ${res.status}`,
      "check the reverse proxy in front of Heimdall and HEIMDALL_PUBLIC_URL",
    );
  } catch (err) {
    return warn(
      check,
      `${target} is not reachable from this machine (${(err as Error).message})`,
      "start the server; if it runs, check HEIMDALL_PUBLIC_URL, DNS and the reverse proxy (tokens' issuer is this URL)",
    );
  }
}

/** Free space where the database grows: under 1 GiB or 10 % is a warning (SQLite fails writes when full). */
export function checkDiskSpace(dataDir: string): Finding {
  const check = "disk space";
  if (!existsSync(dataDir)) return warn(check, `${dataDir} does not exist`, "create the data dir first");
  const fs = statfsSync(dataDir);
  const free = fs.bavail * fs.bsize;
  const share = fs.blocks > 0 ? fs.bavail / fs.blocks : 1;
  const shown = `${(free / GIB).toFixed(1)} GiB free (${Math.round(share * 100)} %)`;
  if (free < GIB || share < 0.1)
    return warn(
      check,
      `${shown} on the data dir's file system`,
      "free space or move the data dir: writes fail when the disk is full",
    );
  return ok(check, shown);
}

/**
 * The newest backup in the backup dir (the names `heimdall backup` and the scheduled backups give, which
 * carry their time); older than two days is a warning, as is no backup dir at all.
 */
export function checkLastBackup(dir: string | undefined, clock: Clock): Finding {
  const check = "last backup";
  if (!dir)
    return warn(
      check,
      "no backup dir configured",
      "set HEIMDALL_BACKUP_DIR (the server then takes scheduled backups), or take them with `heimdall backup --dir DIR` and pass --backup-dir DIR here",
    );
  if (!existsSync(dir))
    return warn(check, `${dir} does not exist`, "check the backup dir, then take a backup");
  const newest = listBackups(dir)[0];
  if (!newest)
    return warn(check, `no heimdall-<time>.db in ${dir}`, `take a backup: \`heimdall backup --dir ${dir}\``);
  const at = backupTime(newest) ?? statSync(newest).mtimeMs;
  const age = clock.now() - at;
  const finding = `${newest} from ${iso(Math.round(at))}`;
  if (age > 2 * DAY)
    return warn(
      check,
      `${finding}, ${Math.floor(age / DAY)} days old`,
      "take a backup now, and schedule them (HEIMDALL_BACKUP_DIR)",
    );
  return ok(check, finding);
}
