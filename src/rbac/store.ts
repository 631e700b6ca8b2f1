/** @module Drizzle queries of the RBAC module: the app's custom permission catalogue. */
import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { permissions } from "../db/schema.ts";

export function createRbacStore(db: Db) {
  return {
    /** Keys of the permissions an app defined itself (system rows have no app). */
    customPermissionKeys(appId: string): string[] {
      return db
        .select({ key: permissions.key })
        .from(permissions)
        .where(eq(permissions.appId, appId))
        .orderBy(asc(permissions.key))
        .all()
        .map((r) => r.key);
    },
  };
}

export type RbacStore = ReturnType<typeof createRbacStore>;
