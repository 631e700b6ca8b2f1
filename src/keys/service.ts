/** @module Per-app signing keys (RS256, ES256 or EdDSA): sign JWTs, serve the JWKS from memory, rotate on schedule or on demand. The service composes its concerns: `signing.ts` (the in-memory keys), `rotation.ts`, `health.ts`. */
import type { JWTPayload } from "jose";
import { type Clock, iso } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Db } from "../db/client.ts";
import type { Vault } from "../vault/vault.ts";
import { type AppKeyDiagnosis, createKeyHealth, type SigningHealth } from "./health.ts";
import type { JwksDocument } from "./jwks.ts";
import { generateKeyMaterial, type Material, type SigningAlg } from "./material.ts";
import {
  type AlgorithmSchedule,
  createKeyRotation,
  type KeyAuditEvent,
  type RotateOptions,
  type RotationResult,
  type TickResult,
} from "./rotation.ts";
import { nextActivatesAt } from "./rotation-schedule.ts";
import { createKeySigning, type SignOptions } from "./signing.ts";
import { createKeyStore, type KeyState } from "./store.ts";

export interface KeyServiceDeps {
  db: Db;
  vault: Vault;
  clock: Clock;
  rsaBits: number;
  log: Logger;
  /** Called inside the rotation's transaction, so the audit row commits or rolls back with it. */
  audit?: (event: KeyAuditEvent) => Promise<void>;
  /** RSA signatures on WebCrypto's thread pool (`signing.ts`); by default when there is more than one core. */
  rsaOffLoop?: boolean;
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

export interface KeyService {
  /** Off the event loop; RS256 (`rsaBits`) unless another algorithm is asked for. */
  generateKeyMaterial(alg?: SigningAlg): Promise<Material>;
  insertInitialKeys(appId: string, active: Material, next: Material): Promise<void>;
  /**
   * Publishes `next` (of the app's new algorithm) as the app's next key in place of one of another
   * algorithm. Synchronous: call it inside the transaction that changes the app's `signing_alg`.
   */
  scheduleAlgorithm(appId: string, next: Material): Promise<AlgorithmSchedule>;
  sign(appId: string, claims: JWTPayload, opts?: SignOptions): Promise<string>;
  jwks(appId: string): Promise<JwksDocument | null>;
  verifyKey(appId: string, kid: string): Promise<CryptoKey | null>;
  /** The verification key if it is already imported (the hot path: no promise, no await). */
  verifyKeySync(appId: string, kid: string): CryptoKey | undefined;
  /** The JWKS if the app's keys are in memory already (`undefined` when they must be read first). */
  jwksIfLoaded(appId: string): JwksDocument | null | undefined;
  activeKid(appId: string): Promise<string | null>;
  /** For the key-age gauge: every cached app's active key and how long it has been signing. */
  activeKeyAges(): { appId: string; kid: string; ageSeconds: number }[];
  list(appId: string): Promise<KeyListItem[]>;
  rotate(appId: string, opts?: RotateOptions): Promise<RotationResult>;
  tick(): Promise<TickResult>;
  invalidate(appId: string): void;
  /**
   * Reloads every app's keys when another connection (a `heimdall keys rotate` beside the server) has
   * committed to the database since the last load; true when it reloaded. Cheap enough to poll twice a
   * second: one `PRAGMA data_version` on SQLite (bumped only for commits by other connections), one
   * fingerprint of `signing_keys` on PostgreSQL.
   */
  reloadIfChanged(): Promise<boolean>;
  /**
   * Deletes every key of an app together with its sealed private key (crypto-shredding). Synchronous:
   * call it inside the app's delete transaction, before the app row goes.
   */
  deleteApp(appId: string): Promise<void>;
  load(): Promise<void>;
  /**
   * For readiness: opens the sealed private key of every active app's active signing key, bypassing the
   * in-memory signers (a key imported before its vault row went bad would still sign here, but not in a
   * restarted or second process). `failing` lists the apps that could not sign now, for the log.
   */
  signingHealth(): Promise<SigningHealth>;
  /**
   * For `heimdall doctor`: every app's keys with their timings, each unretired key's sealed private half
   * opened through the vault (`error` says why it does not open). Reads only.
   */
  diagnose(): Promise<AppKeyDiagnosis[]>;
}

export function createKeyService(deps: KeyServiceDeps): KeyService {
  const { db, vault, clock, rsaBits, log, audit } = deps;
  if (!Number.isInteger(rsaBits) || rsaBits < 2048) {
    throw new Error(`rsaBits must be an integer ≥ 2048, got ${rsaBits}`);
  }
  const store = createKeyStore(db);
  const signing = createKeySigning({ db, vault, clock, store, rsaOffLoop: deps.rsaOffLoop });
  const rotation = createKeyRotation({
    db,
    vault,
    clock,
    rsaBits,
    log,
    audit,
    store,
    refresh: signing.refresh,
    load: signing.load,
  });
  const health = createKeyHealth({ db, vault, store });

  return {
    generateKeyMaterial: (alg = "RS256") => generateKeyMaterial(clock, rsaBits, alg),

    async insertInitialKeys(appId, active, next) {
      if ((await store.countForApp(appId)) > 0) {
        throw fail("SIGNING_KEYS_EXIST", { message: `app ${appId} already has signing keys` });
      }
      const now = clock.now();
      await rotation.insertKey(appId, active, "active", now, now);
      await rotation.insertKey(appId, next, "next", nextActivatesAt(now, now), now);
      // Dropped rather than rebuilt: the caller's transaction may still roll back. First use reloads.
      signing.forget(appId);
    },

    async scheduleAlgorithm(appId, next) {
      const r = await rotation.scheduleAlgorithm(appId, next);
      signing.forget(appId);
      return r;
    },

    sign: signing.sign,
    jwks: signing.jwks,
    verifyKey: signing.verifyKey,
    verifyKeySync: signing.verifyKeySync,
    jwksIfLoaded: signing.jwksIfLoaded,
    activeKid: signing.activeKid,
    activeKeyAges: signing.activeKeyAges,

    async list(appId) {
      return (await store.all(appId)).map((r) => ({
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

    rotate: rotation.rotate,
    tick: rotation.tick,
    invalidate: signing.invalidate,
    reloadIfChanged: signing.reloadIfChanged,
    signingHealth: health.signingHealth,
    diagnose: health.diagnose,

    async deleteApp(appId) {
      const secretIds = (await store.all(appId)).flatMap((k) => (k.vaultSecretId ? [k.vaultSecretId] : []));
      await store.deleteForApp(appId);
      await deps.vault.destroy(secretIds);
    },

    load: signing.load,
  };
}
