/** @module `heimdall doctor`'s network and host checks: trusted proxies, the public URL, disk space and the last backup. */
import { existsSync, statfsSync, statSync } from "node:fs";
import { backupTime, listBackups } from "../backup/backup.ts";
import { type Clock, DAY, iso } from "../core/clock.ts";
import { parseProxyEntry } from "../core/ip-ranges.ts";
import { type Finding, fail, ok, warn } from "./doctor.ts";

const GIB = 1024 ** 3;

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
