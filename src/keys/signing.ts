/** @module Per-app signing keys in memory: sign JWTs, serve the JWKS and the verify keys, reload what another connection committed. */

import { sql } from "drizzle-orm";
import { CompactSign, importJWK, type JWTPayload } from "jose";
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

const UTF8 = new TextEncoder();

/** WebCrypto parameters of each algorithm's private key (PKCS#8). */
const IMPORT_PARAMS: Record<SigningAlg, Parameters<typeof crypto.subtle.importKey>[2]> = {
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
};

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
}

export function createKeySigning({ db, vault, clock, store }: KeySigningDeps) {
  const apps = new Map<string, AppKeys>();
  /** Private keys, imported non-extractable, so the vault is opened once per kid, not per token. */
  const signers = new Map<string, Promise<CryptoKey>>();

  function install(appId: string, rows: KeyRow[]): AppKeys | null {
    const prev = apps.get(appId);
    const activeRow = rows.find((r) => r.state === "active");
    const activeKid = activeRow?.kid ?? null;
    const activeAlg = activeRow ? algOf(activeRow) : "RS256";
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

  async function signer(appId: string, kid: string): Promise<CryptoKey> {
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
    const row = await store.byKid(kid);
    if (row?.appId !== appId) throw new Error(`signing key ${kid} does not belong to app ${appId}`);
    if (row.vaultSecretId === null)
      throw new Error(`signing key ${kid} is retired; its private key is destroyed`);
    const der = await vault.open(row.vaultSecretId, signingKeyAad(appId, kid));
    try {
      return await crypto.subtle.importKey("pkcs8", der, IMPORT_PARAMS[algOf(row)], false, ["sign"]);
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
      const alg = keys.activeAlg;
      const key = await signer(appId, kid);
      const iat = Math.floor(clock.now() / 1000);
      const exp = opts.ttlSeconds === undefined ? {} : { exp: iat + opts.ttlSeconds };
      // jose's JWS layer over claims serialised here: `SignJWT` would deep-copy and re-validate claims this
      // module builds itself, a measurable share of a grant's CPU (docs/benchmarks.md).
      return new CompactSign(UTF8.encode(JSON.stringify({ ...claims, iat, ...exp })))
        .setProtectedHeader({ alg, kid, typ: opts.typ ?? "at+jwt" })
        .sign(key);
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
