/** @module Named server-wide keys (refresh-token HMAC key, code pepper): 256 random bits each, sealed in the vault. */
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import type { Clock } from "../core/clock.ts";
import { type Db, tx } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { Vault } from "./vault.ts";

export type ServerSecretName = "refresh_token_hmac" | "code_pepper" | "oauth_flow";

export interface ServerSecrets {
  /** The key named `name`, created and sealed on first use; decrypted once per process. */
  get(name: ServerSecretName): Promise<Uint8Array>;
}

export function createServerSecrets({
  db,
  vault,
  clock,
}: {
  db: Db;
  vault: Vault;
  clock: Clock;
}): ServerSecrets {
  const { serverSecrets } = db.tables;
  const cache = new Map<ServerSecretName, Uint8Array>();
  const aad = (name: string) => `server_secret:${name}`;
  return {
    async get(name) {
      const hit = cache.get(name);
      if (hit) return hit;
      const stored = () =>
        first(db.select().from(serverSecrets).where(eq(serverSecrets.name, name)).limit(1));
      const key = await tx(db, async () => {
        const row = await stored();
        if (row) return await vault.open(row.vaultSecretId, aad(name));
        const fresh = randomBytes(32);
        const vaultSecretId = await vault.seal(aad(name), fresh);
        // Another instance may create the same key at the same moment: the primary key decides, and the
        // loser shreds its copy and uses the winner's.
        const inserted = affected(
          await db
            .insert(serverSecrets)
            .values({ name, vaultSecretId, createdAt: clock.now() })
            .onConflictDoNothing({ target: serverSecrets.name }),
        );
        if (inserted > 0) return new Uint8Array(fresh);
        await vault.destroy([vaultSecretId]);
        const winner = await stored();
        if (!winner) throw new Error(`server secret ${name} vanished while being created`);
        return await vault.open(winner.vaultSecretId, aad(name));
      });
      cache.set(name, key);
      return key;
    },
  };
}
