/** @module End-user administration: listing accounts for the Consumer admin lane (audited as a user-listing read). */
import type { AuditWriter } from "../audit/writer.ts";
import { type Db, tx } from "../db/client.ts";
import { decodeCursor, isPosition, type Page, pageOf, parseLimit } from "../http/pagination.ts";
import type { AuditActor, CallMeta } from "../http/principal.ts";
import type { Clock } from "../platform/clock.ts";
import { type AdminEndUserDto, type ListUsersQuery, toAdminEndUserDto } from "./model.ts";
import { createUserStore } from "./store.ts";

export interface UserAdminService {
  list(appId: string, actor: AuditActor, query: ListUsersQuery, meta: CallMeta): Page<AdminEndUserDto>;
}

export function createUserAdminService({
  db,
  clock,
  audit,
}: {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
}): UserAdminService {
  const users = createUserStore(db);
  return {
    list(appId, actor, query, meta) {
      const limit = parseLimit(query.limit);
      const after = decodeCursor(query.cursor, isPosition);
      // Stored forms are case-folded and NFKC, so the prefix is too; blank means no filter.
      const search = query.search?.normalize("NFKC").trim().toLowerCase() || undefined;
      return tx(db, () => {
        const rows = users.page(appId, {
          status: query.status,
          search,
          after,
          limit: limit + 1,
          now: clock.now(),
        });
        const page = pageOf(rows, limit, (r) => ({ c: r.user.createdAt, i: r.user.id }), toAdminEndUserDto);
        // Who looked at the user base, and how (DESIGN §8); the rows themselves are not repeated.
        audit.record({
          appId,
          action: "end_user.listed",
          resourceType: "user",
          resourceId: null,
          actor,
          details: { count: page.data.length, status: query.status ?? null, search: search ?? null },
          meta,
        });
        return page;
      });
    },
  };
}
