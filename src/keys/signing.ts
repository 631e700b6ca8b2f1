/** @module Per-app signing keys in memory: sign JWTs, serve the JWKS and the verify keys, reload what another connection committed. */

import { createPrivateKey, sign as signOnLoop } from "node:crypto";
import { availableParallelism } from "node:os";
import { sql } from "drizzle-orm";
import { importJWK, type JWTPayload } from "jose";
import type { Clock } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import type { Db } from "../db/client.ts";
import { row } from "../db/query.ts";
import type { Vault } from "../vault/vault.ts";
import { buildJwks, type JwksDocument } from "./jwks.ts";
import type { PublicJwk, SigningAlg } from "./material.ts";
import type { createKeyStore, KeyRow } from "./store.ts";

export interface SignOptions {
  /** Sets `exp = iat + ttlSeconds`; without it the claims' own `exp` (if any) is kept. */
  ttlSeconds?: number;
  /** JWT `typ` header; access tokens use the default `at+jwt` (RFC 9068). */
  typ?: string;
}

/** What one app's keys look like from memory: everything a request needs is a Map lookup away. */
interface AppKeys {
  jwks: JwksDocument;
  activeKid: string | null;
  /** The active key's algorithm: the `alg` header of every token signed now. */
  activeAlg: SigningAlg;
  activeSince: number | null;
  published: Map<
    string,
    { jwk: PublicJwk; alg: SigningAlg; verifier?: Promise<CryptoKey>; ready?: CryptoKey }
  >;
}

/**
 * Makes the signature of a JWS signing input (RFC 7515 §5.1) with one private key. ES256 and EdDSA sign with
 * node:crypto's one-shot `sign` on the event loop: ~20 and ~15 µs of CPU, against ~36 and ~29 µs through
 * WebCrypto, whose every call is a hop to its thread pool and back through a promise. An RSA-2048 signature
 * takes ~0.6 ms, so with a core to spare it goes to WebCrypto's pool and the event loop keeps serving; on one
 * core the hop buys nothing and RSA signs inline too (docs/decisions.md, "Token signatures").
 */
type Signer = (input: Buffer<ArrayBuffer>) => Buffer | Promise<ArrayBuffer>;

/** node:crypto's digest of each algorithm (none for Ed25519, which hashes internally). */
const DIGEST: Record<SigningAlg, string | null> = { RS256: "sha256", ES256: "sha256", EdDSA: null };
const RSA_POOLED = { name: "RSASSA-PKCS1-v1_5" } as const;

const base64url = (bytes: Buffer | ArrayBuffer) =>
  (bytes instanceof ArrayBuffer ? Buffer.from(bytes) : bytes).toString("base64url");

/** A row's algorithm; rows only ever hold the three (anything else is read as the historical RS256). */
const algOf = (row: Pick<KeyRow, "alg">): SigningAlg =>
  row.alg === "ES256" || row.alg === "EdDSA" ? row.alg : "RS256";

/** The vault AAD of a signing key's sealed private half: a sealed key opens only as its own app's kid. */
export const signingKeyAad = (appId: string, kid: string) => `signing_key:${appId}:${kid}`;

export interface KeySigningDeps {
  db: Db;
  vault: Vault;
  clock: Clock;
  store: ReturnType<typeof createKeyStore>;
  /** RSA signatures on WebCrypto's thread pool rather than the event loop; by default when there is more than one core. */
  rsaOffLoop?: boolean;
}

export function createKeySigning({
  db,
  vault,
  clock,
  store,
  rsaOffLoop = availableParallelism() > 1,
}: KeySigningDeps) {
  const apps = new Map<string, AppKeys>();
  /** Each active key's signer, so the vault is opened once per kid, not per token. */
  const signers = new Map<string, Promise<Signer>>();
  /** The encoded protected header of each kid and `typ`: the same bytes for every token. */
  const headers = new Map<string, string>();

  function install(appId: string, rows: KeyRow[]): AppKeys | null {
    const prev = apps.get(appId);
    const activeRow = rows.find((r) => r.state === "active");
    const activeKid = activeRow?.kid ?? null;
    const activeAlg = activeRow ? algOf(activeRow) : "RS256";
    const activeSince = activeRow?.activatesAt ?? null;
    if (prev?.activeKid && prev.activeKid !== activeKid) {
      signers.delete(prev.activeKid);
      headers.clear();
    }
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
      rows.map((r) => [
        r.kid,
        { jwk: r.publicJwk, alg: algOf(r), verifier: prev?.published.get(r.kid)?.verifier },
      ]),
    );
    const next: AppKeys = { jwks, activeKid, activeAlg, activeSince, published };
    apps.set(appId, next);
    return next;
  }

  const refresh = async (appId: string) => install(appId, await store.published(appId));
  const cached = async (appId: string) => apps.get(appId) ?? (await refresh(appId));

  // SQLite: `PRAGMA data_version` changes only when another connection commits, never for this one's writes.
  // PostgreSQL has no such counter: a fingerprint of `signing_keys` (one scan of a small table) changes with
  // every insert, delete and state change, since each of those sets a timestamp; this instance's own writes
  // change it too, which costs one needless reload. Other instances' changes may also arrive by notification.
  const dataVersion = async (): Promise<string | number> => {
    if (db.engine === "sqlite")
      return db.$client.query<{ data_version: number }, []>("PRAGMA data_version").get()?.data_version ?? 0;
    const v = await row<Record<string, unknown>>(
      db,
      sql`SELECT count(*) AS n, max(created_at) AS c, count(*) FILTER (WHERE state = 'active') AS a,
                 sum(activates_at + coalesce(rotated_at, 0) + coalesce(retire_at, 0) + coalesce(retired_at, 0)) AS t
            FROM signing_keys`,
    );
    return `${v?.n}:${v?.c}:${v?.a}:${v?.t}`;
  };
  /** The data version the cache reflects; read before the keys, so a commit in between reloads again. */
  let loadedVersion: string | number | null = null;

  async function load(): Promise<void> {
    loadedVersion = await dataVersion();
    const byApp = new Map<string, KeyRow[]>();
    for (const row of await store.published()) {
      const rows = byApp.get(row.appId);
      if (rows) rows.push(row);
      else byApp.set(row.appId, [row]);
    }
    for (const appId of apps.keys()) if (!byApp.has(appId)) install(appId, []);
    for (const [appId, rows] of byApp) install(appId, rows);
    const active = new Set([...apps.values()].map((a) => a.activeKid));
    for (const kid of signers.keys()) if (!active.has(kid)) signers.delete(kid);
  }

  async function signer(appId: string, kid: string): Promise<Signer> {
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

  async function importSigner(appId: string, kid: string): Promise<Signer> {
    const row = await store.byKid(kid);
    if (row?.appId !== appId) throw new Error(`signing key ${kid} does not belong to app ${appId}`);
    if (row.vaultSecretId === null)
      throw new Error(`signing key ${kid} is retired; its private key is destroyed`);
    const alg = algOf(row);
    const der = await vault.open(row.vaultSecretId, signingKeyAad(appId, kid));
    try {
      if (alg === "RS256" && rsaOffLoop) {
        const key = await crypto.subtle.importKey("pkcs8", der, { ...RSA_POOLED, hash: "SHA-256" }, false, [
          "sign",
        ]);
        return (input) => crypto.subtle.sign(RSA_POOLED, key, input);
      }
      const key = createPrivateKey({
        key: Buffer.from(der.buffer, der.byteOffset, der.byteLength),
        format: "der",
        type: "pkcs8",
      });
      const digest = DIGEST[alg];
      // ECDSA as JWS wants it (RFC 7518 §3.4): R and S side by side, not DER.
      return (input) => signOnLoop(digest, input, { key, dsaEncoding: "ieee-p1363" });
    } finally {
      der.fill(0);
    }
  }

  return {
    load,
    refresh,
    /** Drops an app's entry without rebuilding it (the caller's transaction may still roll back); first use reloads. */
    forget: (appId: string) => void apps.delete(appId),

    async sign(appId: string, claims: JWTPayload, opts: SignOptions = {}): Promise<string> {
      const keys = await cached(appId);
      const kid = keys?.activeKid;
      if (!kid) throw fail("SIGNING_KEY_MISSING", { message: `app ${appId} has no active signing key` });
      const signWith = await signer(appId, kid);
      const iat = Math.floor(clock.now() / 1000);
      const exp = opts.ttlSeconds === undefined ? {} : { exp: iat + opts.ttlSeconds };
      const typ = opts.typ ?? "at+jwt";
      const headerKey = `${kid} ${typ}`;
      let header = headers.get(headerKey);
      if (header === undefined) {
        header = Buffer.from(JSON.stringify({ alg: keys.activeAlg, kid, typ })).toString("base64url");
        headers.set(headerKey, header);
      }
      // The JWS Compact Serialization (RFC 7515 §7.1) of claims this module builds itself; every token is
      // verified by jose, and tested to be the bytes jose's `CompactSign` makes of the same input.
      const input = `${header}.${Buffer.from(JSON.stringify({ ...claims, iat, ...exp })).toString("base64url")}`;
      return `${input}.${base64url(await signWith(Buffer.from(input, "latin1")))}`;
    },

    jwks: async (appId: string): Promise<JwksDocument | null> => (await cached(appId))?.jwks ?? null,

    async verifyKey(appId: string, kid: string): Promise<CryptoKey | null> {
      const entry = (await cached(appId))?.published.get(kid);
      if (!entry) return Promise.resolve(null);
      entry.verifier ??= (importJWK({ ...entry.jwk, alg: entry.alg }, entry.alg) as Promise<CryptoKey>).then(
        (k) => {
          entry.ready = k;
          return k;
        },
      );
      return entry.verifier;
    },

    verifyKeySync: (appId: string, kid: string): CryptoKey | undefined =>
      apps.get(appId)?.published.get(kid)?.ready,

    /** The app's JWKS when its keys are loaded already (the JWKS route's answer without a promise). */
    jwksIfLoaded: (appId: string): JwksDocument | null | undefined => {
      const keys = apps.get(appId);
      return keys === undefined ? undefined : (keys?.jwks ?? null);
    },

    activeKid: async (appId: string): Promise<string | null> => (await cached(appId))?.activeKid ?? null,

    activeKeyAges() {
      const now = clock.now();
      const ages: { appId: string; kid: string; ageSeconds: number }[] = [];
      for (const [appId, a] of apps) {
        if (a.activeKid && a.activeSince !== null)
          ages.push({ appId, kid: a.activeKid, ageSeconds: (now - a.activeSince) / 1000 });
      }
      return ages;
    },

    invalidate(appId: string): void {
      install(appId, []);
    },

    async reloadIfChanged(): Promise<boolean> {
      if (loadedVersion !== null && (await dataVersion()) === loadedVersion) return false;
      await load();
      return true;
    },
  };
}
