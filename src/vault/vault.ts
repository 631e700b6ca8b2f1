/** @module Envelope encryption of secrets at rest: per-secret DEK, wrapped by the master key; the only holder of master keys. */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { eq, inArray, ne } from "drizzle-orm";
import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import { type Db, tx } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { vaultSecrets } from "../db/schema.ts";
import { type MasterKeys, VaultError } from "./master-key.ts";

export { VaultError } from "./master-key.ts";

export interface Vault {
  /** Encrypts `plaintext` bound to `aad` (`<purpose>:<owner…>`), stores it, returns the row id. Safe inside a caller's tx. */
  seal(aad: string, plaintext: Uint8Array): Promise<string>;
  /** Decrypts a sealed secret; the caller must name the same `aad`, so a row can't be replayed as another owner's secret. */
  open(id: string, aad: string): Promise<Uint8Array<ArrayBuffer>>;
  /** Re-wraps every DEK not yet under the active master key, in one transaction; returns how many changed. */
  rewrapAll(): Promise<number>;
  /** Proves every DEK unwraps with the loaded master keys; throws a VaultError naming how many do not. */
  verifyAll(): Promise<void>;
  hasSecrets(): Promise<boolean>;
  /** The master key ids that sealed secrets still depend on (ids only), for `retireOldMasterKeys`. */
  kekIdsInUse(): Promise<string[]>;
  /** Deletes sealed secrets for good (crypto-shredding); call inside the owner's delete transaction. */
  destroy(ids: readonly string[]): Promise<number>;
}

/**
 * The AAD of the secret the first start seals only so that a vault is never empty: `verifyAll` then refuses a
 * wrong master key file even before any app, webhook or factor has sealed anything of its own.
 */
export const KEY_CHECK_AAD = "master_key_check";

type Row = typeof vaultSecrets.$inferSelect;

const ALG = "aes-256-gcm";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function createVault(deps: { db: Db; keys: MasterKeys; clock: Clock }): Vault {
  const { db, keys, clock } = deps;
  const { vaultSecrets } = db.tables;

  const kek = (row: Pick<Row, "id" | "kekId">): Buffer => {
    const key = keys.all.get(row.kekId);
    if (!key)
      throw new VaultError(
        `secret ${row.id} is wrapped by master key ${row.kekId}, which is not in the key file`,
      );
    return key;
  };

  const unwrapDek = (row: Row): Buffer => {
    try {
      return decrypt(kek(row), b64(row.dekNonce), b64(row.wrappedDek), row.aad);
    } catch (err) {
      if (err instanceof VaultError) throw err;
      throw new VaultError(`secret ${row.id} cannot be unwrapped with master key ${row.kekId}`);
    }
  };

  return {
    async seal(aad, plaintext) {
      const dek = randomBytes(32);
      const data = encrypt(dek, plaintext, aad);
      const wrapped = encrypt(keys.active.key, dek, aad);
      dek.fill(0);
      const id = newId(clock);
      await db.insert(vaultSecrets).values({
        id,
        aad,
        kekId: keys.active.id,
        wrappedDek: wrapped.ciphertext,
        dekNonce: wrapped.nonce,
        dataNonce: data.nonce,
        ciphertext: data.ciphertext,
        createdAt: clock.now(),
      });
      return id;
    },

    async open(id, aad) {
      const row = await first(db.select().from(vaultSecrets).where(eq(vaultSecrets.id, id)).limit(1));
      if (!row) throw new VaultError(`secret ${id} does not exist`);
      // Checked before decrypting for a clear message; GCM would reject the mismatch anyway.
      if (row.aad !== aad) throw new VaultError(`secret ${id} belongs to another purpose or owner`);
      const dek = unwrapDek(row);
      try {
        return decrypt(dek, b64(row.dataNonce), b64(row.ciphertext), aad);
      } catch {
        throw new VaultError(`secret ${id} failed authentication (tampered or corrupted ciphertext)`);
      } finally {
        dek.fill(0);
      }
    },

    async rewrapAll() {
      // One transaction: a row we cannot unwrap throws and rolls back every row, so the key file
      // and the table never disagree halfway. Rows already under the active key are left alone.
      return await tx(db, async () => {
        const rows = await db.select().from(vaultSecrets).where(ne(vaultSecrets.kekId, keys.active.id));
        for (const row of rows) {
          const dek = unwrapDek(row);
          const wrapped = encrypt(keys.active.key, dek, row.aad);
          dek.fill(0);
          await db
            .update(vaultSecrets)
            .set({ kekId: keys.active.id, wrappedDek: wrapped.ciphertext, dekNonce: wrapped.nonce })
            .where(eq(vaultSecrets.id, row.id));
        }
        return rows.length;
      });
    },

    async verifyAll() {
      const rows = await db.select().from(vaultSecrets);
      const failedKeks = new Set<string>();
      let failed = 0;
      for (const row of rows) {
        try {
          unwrapDek(row).fill(0);
        } catch {
          failed++;
          failedKeks.add(row.kekId);
        }
      }
      if (failed > 0) {
        throw new VaultError(
          `${failed} of ${rows.length} vault secrets cannot be decrypted with the master key file ` +
            `(wrapped by ${[...failedKeks].join(", ")}); is this the right master key?`,
        );
      }
    },

    async hasSecrets() {
      return (await first(db.select({ id: vaultSecrets.id }).from(vaultSecrets).limit(1))) !== undefined;
    },

    async destroy(ids) {
      if (ids.length === 0) return 0;
      return affected(await db.delete(vaultSecrets).where(inArray(vaultSecrets.id, [...ids])));
    },

    async kekIdsInUse() {
      return (await db.selectDistinct({ kekId: vaultSecrets.kekId }).from(vaultSecrets)).map((r) => r.kekId);
    },
  };
}

const b64 = (s: string) => Buffer.from(s, "base64");

/** AES-256-GCM with a fresh 96-bit nonce; the 16-byte tag is appended to the ciphertext. */
function encrypt(key: Buffer, plaintext: Uint8Array, aad: string): { nonce: string; ciphertext: string } {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALG, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce: nonce.toString("base64"), ciphertext: body.toString("base64") };
}

function decrypt(key: Buffer, nonce: Buffer, body: Buffer, aad: string): Buffer<ArrayBuffer> {
  if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw new Error("malformed envelope");
  const decipher = createDecipheriv(ALG, key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
}
