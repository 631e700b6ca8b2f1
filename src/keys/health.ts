/** @module Signing-key health: whether every active app can sign now (readiness) and every key's timings and sealed half (`heimdall doctor`). */
import { sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { rows } from "../db/query.ts";
import type { Vault } from "../vault/vault.ts";
import { signingKeyAad } from "./signing.ts";
import type { createKeyStore, KeyState } from "./store.ts";

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

export interface SigningHealth {
  apps: number;
  failing: { appId: string; kid: string | null; error: string }[];
}

export interface KeyHealthDeps {
  db: Db;
  vault: Vault;
  store: ReturnType<typeof createKeyStore>;
}

export function createKeyHealth({ db, vault, store }: KeyHealthDeps) {
  type Signer = { app_id: string; kid: string | null; vault_secret_id: string | null };
  const activeSigners = () =>
    rows<Signer>(
      db,
      sql`SELECT a.id AS app_id, k.kid, k.vault_secret_id FROM apps a
          LEFT JOIN signing_keys k ON k.app_id = a.id AND k.state = 'active'
          WHERE a.status = 'active'
          ORDER BY a.id`,
    );

  return {
    async signingHealth(): Promise<SigningHealth> {
      const signers = await activeSigners();
      const failing: SigningHealth["failing"] = [];
      for (const r of signers) {
        try {
          if (r.kid === null) throw new Error("no active signing key");
          if (r.vault_secret_id === null) throw new Error("the active key's private half is destroyed");
          (await vault.open(r.vault_secret_id, signingKeyAad(r.app_id, r.kid))).fill(0);
        } catch (err) {
          failing.push({ appId: r.app_id, kid: r.kid, error: (err as Error).message });
        }
      }
      return { apps: signers.length, failing };
    },

    async diagnose(): Promise<AppKeyDiagnosis[]> {
      const apps = await rows<{ id: string; slug: string; status: string }>(
        db,
        sql`SELECT id, slug, status FROM apps ORDER BY slug`,
      );
      const out: AppKeyDiagnosis[] = [];
      for (const app of apps) {
        const keys: AppKeyDiagnosis["keys"] = [];
        for (const k of await store.all(app.id)) {
          let error: string | null = null;
          if (k.vaultSecretId !== null) {
            try {
              (await vault.open(k.vaultSecretId, signingKeyAad(app.id, k.kid))).fill(0);
            } catch (err) {
              error = (err as Error).message;
            }
          } else if (k.state !== "retired") {
            error = "its private key is missing (no sealed secret)";
          }
          keys.push({
            kid: k.kid,
            state: k.state,
            createdAt: k.createdAt,
            activatesAt: k.activatesAt,
            retireAt: k.retireAt,
            error,
          });
        }
        out.push({ appId: app.id, slug: app.slug, status: app.status, keys });
      }
      return out;
    },
  };
}
