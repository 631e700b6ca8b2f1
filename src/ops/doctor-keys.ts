/** @module `heimdall doctor`'s key checks: each app's signing keys and their timings, and the master key lines the sealed secrets need. */
import { type Clock, DAY, HOUR, iso, MINUTE } from "../core/clock.ts";
import type { AppKeyDiagnosis } from "../keys/health.ts";
import { PREPUBLISH, ROTATION_INTERVAL } from "../keys/rotation-schedule.ts";
import type { MasterKeys } from "../vault/master-key.ts";
import { type Finding, fail, ok, warn } from "./doctor.ts";

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
