/** @module Queries the token checks need beyond the session facts: the live state of an M2M client. */
import { eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { first } from "../db/query.ts";

export interface M2mClientState {
  appId: string;
  isActive: boolean;
}

export function createVerifyStore(db: Db) {
  // Read on every check, so deactivating or deleting a client ends its tokens at once.
  if (db.engine === "sqlite") {
    // A prepared statement on SQLite: this runs on every M2M token check.
    const client = db.$client.query<{ appId: string; isActive: number }, [string]>(
      "SELECT app_id AS appId, is_active AS isActive FROM m2m_clients WHERE client_id = ?",
    );
    return {
      async m2mClient(clientId: string): Promise<M2mClientState | undefined> {
        const row = client.get(clientId);
        return row ? { appId: row.appId, isActive: row.isActive === 1 } : undefined;
      },
    };
  }
  const { m2mClients } = db.tables;
  return {
    async m2mClient(clientId: string): Promise<M2mClientState | undefined> {
      return await first(
        db
          .select({ appId: m2mClients.appId, isActive: m2mClients.isActive })
          .from(m2mClients)
          .where(eq(m2mClients.clientId, clientId))
          .limit(1),
      );
    },
  };
}
