/** @module Per-app RSA signing keys: sign JWTs, serve the JWKS from memory, rotate on schedule or on demand. */
import { importJWK, type JWTPayload, SignJWT } from "jose";
import { type Clock, iso } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Logger } from "../core/logger.ts";
import type { AuditActor, CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { Vault } from "../vault/vault.ts";
import { buildJwks, type JwksDocument } from "./jwks.ts";
import { generateKeyMaterial, Material, type PublicJwk } from "./material.ts";
import {
  earliestPromotion,
  JWKS_MAX_AGE,
  nextActivatesAt,
  OVERLAP,
  PREPUBLISH,
} from "./rotation-schedule.ts";
import { createKeyStore, type KeyRow, type KeyState } from "./store.ts";

export type { JwksDocument } from "./jwks.ts";
export type { Material } from "./material.ts";

export interface KeyAuditEvent {
  appId: string;
  action: "app.key_rotated";
  details: {
    old_kid: string | null;
    new_kid: string;
    next_kid: string | null;
    emergency: boolean;
    trigger: "manual" | "scheduled";
  };
  /** Who asked, for a manual rotation; absent for the scheduler (the audit writer records `system`). */
  actor?: AuditActor;
  meta?: Partial<CallMeta>;
}

export interface RotateOptions {
  emergency?: boolean;
  actor?: AuditActor;
  meta?: Partial<CallMeta>;
}

export interface KeyServiceDeps {
  db: Db;
  vault: Vault;
  clock: Clock;
  rsaBits: number;
  log: Logger;
  /** Called inside the rotation's transaction, so the audit row commits or rolls back with it. */
  audit?: (event: KeyAuditEvent) => void;
}

export interface SignOptions {
  /** Sets `exp = iat + ttlSeconds`; without it the claims' own `exp` (if any) is kept. */
  ttlSeconds?: number;
  /** JWT `typ` header; access tokens use the default `at+jwt` (RFC 9068). */
  typ?: string;
}

export interface KeyListItem {
  kid: string;
  alg: string;
  state: KeyState;
  created_at: string;
  activates_at: string;
  rotated_at: string | null;
  retire_at: string | null;
  retired_at: string | null;
}

export interface RotationResult {
  oldKid: string | null;
  newKid: string;
  nextKid: string | null;
  /** When the key that signs from now on entered the JWKS (its `created_at`). */
  newKeyPublishedAt: number;
  /** An emergency rotation's caveat about verifier caches; null for an ordinary rotation, which has none. */
  warning: string | null;
}

export interface TickResult {
  rotated: number;
  retired: number;
  created: number;
}

export interface KeyService {
  generateKeyMaterial(): Promise<Material>;
  insertInitialKeys(appId: string, active: Material, next: Material): void;
  sign(appId: string, claims: JWTPayload, opts?: SignOptions): Promise<string>;
  jwks(appId: string): JwksDocument | null;
  verifyKey(appId: string, kid: string): Promise<CryptoKey | null>;
  /** The verification key if it is already imported (the hot path: no promise, no await). */
  verifyKeySync(appId: string, kid: string): CryptoKey | undefined;
  activeKid(appId: string): string | null;
  /** For the key-age gauge: every cached app's active key and how long it has been signing. */
  activeKeyAges(): { appId: string; kid: string; ageSeconds: number }[];
  list(appId: string): KeyListItem[];
  rotate(appId: string, opts?: RotateOptions): Promise<RotationResult>;
  tick(): Promise<TickResult>;
  invalidate(appId: string): void;
  /**
   * Reloads every app's keys when another connection (a `heimdall keys rotate` beside the server) has
   * committed to the database since the last load; true when it reloaded. Cheap enough to poll twice a
   * second: one `PRAGMA data_version`, which SQLite bumps only for commits by other connections.
   */
  reloadIfChanged(): boolean;
  /**
   * Deletes every key of an app together with its sealed private key (crypto-shredding). Synchronous:
   * call it inside the app's delete transaction, before the app row goes.
   */
  deleteApp(appId: string): void;
  load(): void;
  /**
   * For readiness: opens the sealed private key of every active app's active signing key, bypassing the
   * in-memory signers (a key imported before its vault row went bad would still sign here, but not in a
   * restarted or second process). `failing` lists the apps that could not sign now, for the log.
   */
  signingHealth(): { apps: number; failing: { appId: string; kid: string | null; error: string }[] };
  /**
   * For `heimdall doctor`: every app's keys with their timings, each unretired key's sealed private half
   * opened through the vault (`error` says why it does not open). Reads only.
   */
  diagnose(): AppKeyDiagnosis[];
}

export interface KeyDiagnosis {
  kid: string;
  state: KeyState;
  createdAt: number;
  activatesAt: number;
  retireAt: number | null;
  /** Null when the private key opens (or is destroyed because the key is retired, as it should be). */
  error: string | null;
}

export interface AppKeyDiagnosis {
  appId: string;
  slug: string;
  status: string;
  keys: KeyDiagnosis[];
}

/** What one app's keys look like from memory: everything a request needs is a Map lookup away. */
interface AppKeys {
  jwks: JwksDocument;
  activeKid: string | null;
  activeSince: number | null;
  published: Map<string, { jwk: PublicJwk; verifier?: Promise<CryptoKey>; ready?: CryptoKey }>;
}

const RS256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

const minutes = (ms: number) => `${Math.ceil(ms / 60_000)} min`;

/**
 * 409 ROTATION_TOO_SOON for a next key published under PREPUBLISH ago: when it becomes possible, as a
 * time in the message and as `Retry-After`, and the emergency way out with its cost.
 */
function rotationTooSoon(next: Pick<KeyRow, "kid" | "createdAt">, now: number) {
  const at = earliestPromotion(next.createdAt);
  const seconds = Math.max(1, Math.ceil((at - now) / 1000));
  return fail("ROTATION_TOO_SOON", {
    message:
      `The next signing key ${next.kid} was published at ${iso(next.createdAt)}; verifiers cache the JWKS for up to ` +
      `${minutes(JWKS_MAX_AGE)}, so it may start signing from ${iso(at)} (in ${minutes(at - now)}). Nothing was rotated: ` +
      "retry then, or rotate with emergency: true to promote it now (verifiers with a cached JWKS then reject new tokens until they refetch).",
    headers: { "retry-after": String(seconds) },
  });
}

/** What an emergency rotation leaves to verifier caches, said in the response and the CLI output. */
function emergencyWarning(oldKid: string | null, promoted: { kid: string; createdAt: number }, now: number) {
  const parts: string[] = [];
  if (oldKid)
    parts.push(
      `${oldKid} left the JWKS now, but verifiers that cached the JWKS keep accepting its tokens until they refetch (up to ${minutes(JWKS_MAX_AGE)}).`,
    );
  if (now - promoted.createdAt < PREPUBLISH)
    parts.push(
      `${promoted.kid} was published ${now === promoted.createdAt ? "just now" : `only ${minutes(now - promoted.createdAt)} ago`}: verifier caches may miss it, so they may reject new tokens until they refetch the JWKS (on the unknown kid, or after up to ${minutes(JWKS_MAX_AGE)}).`,
    );
  return parts.length ? parts.join(" ") : "Verifier caches already hold the new key.";
}

export function createKeyService(deps: KeyServiceDeps): KeyService {
  const { db, vault, clock, rsaBits, log, audit } = deps;
  if (!Number.isInteger(rsaBits) || rsaBits < 2048) {
    throw new Error(`rsaBits must be an integer ≥ 2048, got ${rsaBits}`);
  }
  const store = createKeyStore(db);
  const apps = new Map<string, AppKeys>();
  /** Private keys, imported non-extractable, so the vault is opened once per kid, not per token. */
  const signers = new Map<string, Promise<CryptoKey>>();

  const aadFor = (appId: string, kid: string) => `signing_key:${appId}:${kid}`;
  // Compiled on first use (readiness only), so building the service needs no more than its own table.
  const activeSigners = () =>
    db.$client.query<{ app_id: string; kid: string | null; vault_secret_id: string | null }, []>(
      `SELECT a.id AS app_id, k.kid, k.vault_secret_id FROM apps a
       LEFT JOIN signing_keys k ON k.app_id = a.id AND k.state = 'active'
       WHERE a.status = 'active'`,
    );

  // ─── Cache ────────────────────────────────────────────────────────────────

  function install(appId: string, rows: KeyRow[]): AppKeys | null {
    const prev = apps.get(appId);
    const activeRow = rows.find((r) => r.state === "active");
    const activeKid = activeRow?.kid ?? null;
    const activeSince = activeRow?.activatesAt ?? null;
    if (prev?.activeKid && prev.activeKid !== activeKid) signers.delete(prev.activeKid);
    if (rows.length === 0) {
      apps.delete(appId);
      return null;
    }
    const jwks = buildJwks(rows);
    // Unchanged keys keep the very same entry (and its ETag, and the imported verify keys).
    const unchanged =
      prev?.jwks.body === jwks.body && prev.activeKid === activeKid && prev.activeSince === activeSince;
    if (prev && unchanged) return prev;
    const published = new Map(
      rows.map((r) => [r.kid, { jwk: r.publicJwk, verifier: prev?.published.get(r.kid)?.verifier }]),
    );
    const next: AppKeys = { jwks, activeKid, activeSince, published };
    apps.set(appId, next);
    return next;
  }

  const refresh = (appId: string) => install(appId, store.published(appId));
  const cached = (appId: string) => apps.get(appId) ?? refresh(appId);

  // `PRAGMA data_version` changes only when another connection commits, never for this one's writes.
  const dataVersion = () =>
    db.$client.query<{ data_version: number }, []>("PRAGMA data_version").get()?.data_version ?? 0;
  /** The data version the cache reflects; read before the keys, so a commit in between reloads again. */
  let loadedVersion: number | null = null;

  function load(): void {
    loadedVersion = dataVersion();
    const byApp = new Map<string, KeyRow[]>();
    for (const row of store.published()) {
      const rows = byApp.get(row.appId);
      if (rows) rows.push(row);
      else byApp.set(row.appId, [row]);
    }
    for (const appId of apps.keys()) if (!byApp.has(appId)) install(appId, []);
    for (const [appId, rows] of byApp) install(appId, rows);
    const active = new Set([...apps.values()].map((a) => a.activeKid));
    for (const kid of signers.keys()) if (!active.has(kid)) signers.delete(kid);
  }

  function signer(appId: string, kid: string): Promise<CryptoKey> {
    let key = signers.get(kid);
    if (!key) {
      const pending = importSigner(appId, kid);
      // A failed import must not stick: the next request retries instead of failing forever.
      pending.catch(() => signers.get(kid) === pending && signers.delete(kid));
      signers.set(kid, pending);
      key = pending;
    }
    return key;
  }

  async function importSigner(appId: string, kid: string): Promise<CryptoKey> {
    const row = store.byKid(kid);
    if (row?.appId !== appId) throw new Error(`signing key ${kid} does not belong to app ${appId}`);
    if (row.vaultSecretId === null)
      throw new Error(`signing key ${kid} is retired; its private key is destroyed`);
    const der = vault.open(row.vaultSecretId, aadFor(appId, kid));
    try {
      return await crypto.subtle.importKey("pkcs8", der, RS256, false, ["sign"]);
    } finally {
      der.fill(0);
    }
  }

  // ─── Writes (synchronous, inside a transaction) ───────────────────────────

  function insertKey(appId: string, m: Material, state: KeyState, activatesAt: number, now: number): string {
    const id = newId(clock);
    const vaultSecretId = vault.seal(aadFor(appId, m.kid), Material.privateKeyDer(m));
    store.insert({
      id,
      appId,
      kid: m.kid,
      alg: "RS256",
      bits: m.bits,
      state,
      publicJwk: m.publicJwk,
      vaultSecretId,
      createdAt: now,
      activatesAt,
    });
    return id;
  }

  function recordRotation(
    appId: string,
    details: KeyAuditEvent["details"],
    who: Omit<RotateOptions, "emergency"> = {},
  ): void {
    audit?.({ appId, action: "app.key_rotated", details, ...who });
    log.info("signing key rotated", { app_id: appId, ...details });
  }

  /** Creates the missing next key of one app; false when someone else created it while we generated. */
  async function addNextKey(appId: string): Promise<boolean> {
    const material = await generateKeyMaterial(clock, rsaBits);
    return tx(db, () => {
      if (store.inState(appId, "next")) return false;
      const active = store.inState(appId, "active");
      if (!active) return false;
      const now = clock.now();
      const activatesAt = nextActivatesAt(now, active.activatesAt);
      insertKey(appId, material, "next", activatesAt, now);
      log.info("next signing key published", {
        app_id: appId,
        kid: material.kid,
        activates_at: iso(activatesAt),
      });
      return true;
    });
  }

  return {
    generateKeyMaterial: () => generateKeyMaterial(clock, rsaBits),

    insertInitialKeys(appId, active, next) {
      if (store.countForApp(appId) > 0) {
        throw fail("SIGNING_KEYS_EXIST", { message: `app ${appId} already has signing keys` });
      }
      const now = clock.now();
      insertKey(appId, active, "active", now, now);
      insertKey(appId, next, "next", nextActivatesAt(now, now), now);
      // Dropped rather than rebuilt: the caller's transaction may still roll back. First use reloads.
      apps.delete(appId);
    },

    async sign(appId, claims, opts = {}) {
      const kid = cached(appId)?.activeKid;
      if (!kid) throw fail("SIGNING_KEY_MISSING", { message: `app ${appId} has no active signing key` });
      const key = await signer(appId, kid);
      const iat = Math.floor(clock.now() / 1000);
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid, typ: opts.typ ?? "at+jwt" })
        .setIssuedAt(iat);
      if (opts.ttlSeconds !== undefined) jwt.setExpirationTime(iat + opts.ttlSeconds);
      return jwt.sign(key);
    },

    jwks: (appId) => cached(appId)?.jwks ?? null,

    verifyKey(appId, kid) {
      const entry = cached(appId)?.published.get(kid);
      if (!entry) return Promise.resolve(null);
      entry.verifier ??= (importJWK({ ...entry.jwk, alg: "RS256" }, "RS256") as Promise<CryptoKey>).then(
        (k) => {
          entry.ready = k;
          return k;
        },
      );
      return entry.verifier;
    },

    verifyKeySync: (appId, kid) => cached(appId)?.published.get(kid)?.ready,

    activeKid: (appId) => cached(appId)?.activeKid ?? null,

    activeKeyAges() {
      const now = clock.now();
      const ages: { appId: string; kid: string; ageSeconds: number }[] = [];
      for (const [appId, a] of apps) {
        if (a.activeKid && a.activeSince !== null)
          ages.push({ appId, kid: a.activeKid, ageSeconds: (now - a.activeSince) / 1000 });
      }
      return ages;
    },

    list(appId) {
      return store.all(appId).map((r) => ({
        kid: r.kid,
        alg: r.alg,
        state: r.state,
        created_at: iso(r.createdAt),
        activates_at: iso(r.activatesAt),
        rotated_at: iso(r.rotatedAt),
        retire_at: iso(r.retireAt),
        retired_at: iso(r.retiredAt),
      }));
    },

    async rotate(appId, { emergency = false, actor, meta } = {}) {
      // Keygen takes ~100 ms of CPU on the thread pool: done before the transaction, never inside it.
      const fresh = await generateKeyMaterial(clock, rsaBits);
      const outcome = tx(db, (): RotationResult | { tooSoon: KeyRow } => {
        const now = clock.now();
        const next = store.inState(appId, "next");
        const active = store.inState(appId, "active");
        if (!next && !active) {
          throw fail("SIGNING_KEYS_NOT_FOUND", { message: `app ${appId} has no signing keys` });
        }
        if (!emergency) {
          // A non-emergency rotation never promotes a key verifiers may not have yet (docs/decisions.md,
          // "Rotation never outruns verifier caches"). Without a next key the fresh one is published
          // now, as the scheduler would, so the refusal can name the moment the rotation becomes possible.
          if (!next) {
            insertKey(appId, fresh, "next", nextActivatesAt(now, active!.activatesAt), now);
            return { tooSoon: store.byKid(fresh.kid)! };
          }
          if (now < earliestPromotion(next.createdAt)) return { tooSoon: next };
        }
        // Emergency: the pre-published next key signs from now on, whatever its age (the caller was
        // told that caches may miss); without a next key the fresh key signs at once instead, and the
        // next tick publishes a new next key.
        let activeId: string;
        let promoted: { kid: string; createdAt: number };
        let nextKid: string | null = null;
        if (next) {
          store.promote(next.id, now);
          insertKey(appId, fresh, "next", nextActivatesAt(now, now), now);
          [activeId, promoted, nextKid] = [next.id, next, fresh.kid];
        } else {
          activeId = insertKey(appId, fresh, "active", now, now);
          promoted = { kid: fresh.kid, createdAt: now };
        }
        // Emergency drops the old key from the JWKS at once (tokens it signed stop verifying, which is
        // the point after a compromise). The next key is kept: it never signed, and replacing it too
        // would leave verifiers nothing pre-published.
        const [oldKid = null] = store.demoteActive(appId, activeId, now, emergency ? "now" : now + OVERLAP);
        const details = {
          old_kid: oldKid,
          new_kid: promoted.kid,
          next_kid: nextKid,
          emergency,
          trigger: "manual" as const,
        };
        recordRotation(appId, details, { actor, meta });
        vault.destroy(store.detachRetiredSecrets());
        return {
          oldKid,
          newKid: promoted.kid,
          nextKid,
          newKeyPublishedAt: promoted.createdAt,
          warning: emergency ? emergencyWarning(oldKid, promoted, now) : null,
        };
      });
      refresh(appId);
      if ("tooSoon" in outcome) throw rotationTooSoon(outcome.tooSoon, clock.now());
      return outcome;
    },

    async tick() {
      const now = clock.now();
      // One BEGIN IMMEDIATE transaction that re-reads state; the conditional promote makes a racing
      // tick (another connection or process) a no-op rather than a double rotation.
      const { rotated, retired } = tx(db, () => {
        const retired = store.retireDue(now);
        let rotated = 0;
        for (const next of store.dueNext(now)) {
          if (!store.promote(next.id, now, now)) continue;
          const [oldKid = null] = store.demoteActive(next.appId, next.id, now, now + OVERLAP);
          rotated++;
          recordRotation(next.appId, {
            old_kid: oldKid,
            new_kid: next.kid,
            next_kid: null,
            emergency: false,
            trigger: "scheduled",
          });
        }
        // A retired key never signs again, and what it signed has expired: its private half is destroyed.
        vault.destroy(store.detachRetiredSecrets());
        return { rotated, retired };
      });
      // One app at a time: keygen is CPU-bound, and a burst after downtime should not starve requests.
      let created = 0;
      for (const appId of store.appsWithoutNext()) {
        try {
          if (await addNextKey(appId)) created++;
        } catch (err) {
          log.error("could not create the next signing key", { app_id: appId, err });
        }
      }
      // A full reload, not only the apps touched here: a backstop for what another process changed
      // (`reloadIfChanged` normally picks that up within half a second). Unchanged apps keep their document.
      load();
      return { rotated, retired, created };
    },

    invalidate(appId) {
      install(appId, []);
    },

    reloadIfChanged() {
      if (loadedVersion !== null && dataVersion() === loadedVersion) return false;
      load();
      return true;
    },

    signingHealth() {
      const rows = activeSigners().all();
      const failing: { appId: string; kid: string | null; error: string }[] = [];
      for (const r of rows) {
        try {
          if (r.kid === null) throw new Error("no active signing key");
          if (r.vault_secret_id === null) throw new Error("the active key's private half is destroyed");
          vault.open(r.vault_secret_id, aadFor(r.app_id, r.kid)).fill(0);
        } catch (err) {
          failing.push({ appId: r.app_id, kid: r.kid, error: (err as Error).message });
        }
      }
      return { apps: rows.length, failing };
    },

    diagnose() {
      const apps = db.$client
        .query<{ id: string; slug: string; status: string }, []>(
          "SELECT id, slug, status FROM apps ORDER BY slug",
        )
        .all();
      return apps.map((app) => ({
        appId: app.id,
        slug: app.slug,
        status: app.status,
        keys: store.all(app.id).map((k) => {
          let error: string | null = null;
          if (k.vaultSecretId !== null) {
            try {
              vault.open(k.vaultSecretId, aadFor(app.id, k.kid)).fill(0);
            } catch (err) {
              error = (err as Error).message;
            }
          } else if (k.state !== "retired") {
            error = "its private key is missing (no sealed secret)";
          }
          return {
            kid: k.kid,
            state: k.state,
            createdAt: k.createdAt,
            activatesAt: k.activatesAt,
            retireAt: k.retireAt,
            error,
          };
        }),
      }));
    },

    deleteApp(appId) {
      const secretIds = store.all(appId).flatMap((k) => (k.vaultSecretId ? [k.vaultSecretId] : []));
      store.deleteForApp(appId);
      deps.vault.destroy(secretIds);
    },

    load,
  };
}
