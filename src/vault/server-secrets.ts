/** @module Named server-wide keys (refresh-token HMAC key, code pepper): 256 random bits each, sealed in the vault. */
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import type { Clock } from "../core/clock.ts";
import { type Db, tx } from "../db/client.ts";
import { serverSecrets } from "../db/schema.ts";
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
  const cache = new Map<ServerSecretName, Uint8Array>();
  const aad = (name: string) => `server_secret:${name}`;
  return {
    async get(name) {
      const hit = cache.get(name);
      if (hit) return hit;
      const key = await tx(db, async () => {
        const row = db.select().from(serverSecrets).where(eq(serverSecrets.name, name)).get();
        if (row) return await vault.open(row.vaultSecretId, aad(name));
        const fresh = randomBytes(32);
        const vaultSecretId = await vault.seal(aad(name), fresh);
        db.insert(serverSecrets).values({ name, vaultSecretId, createdAt: clock.now() }).run();
        return new Uint8Array(fresh);
      });
      cache.set(name, key);
      return key;
    },
  };
}
