/** @module The migrations compiled into the binary, one set per database dialect; `test/unit/migrations.test.ts` checks each against its journal. */

import p0000 from "../../migrations/postgres/0000_init.sql" with { type: "text" };
import p0001 from "../../migrations/postgres/0001_scale_out.sql" with { type: "text" };
import p0002 from "../../migrations/postgres/0002_cache_triggers.sql" with { type: "text" };
import p0003 from "../../migrations/postgres/0003_audit_details_text.sql" with { type: "text" };
import p0004 from "../../migrations/postgres/0004_search_indexes.sql" with { type: "text" };
import postgresJournal from "../../migrations/postgres/meta/_journal.json" with { type: "json" };
import m0000 from "../../migrations/sqlite/0000_init.sql" with { type: "text" };
import m0001 from "../../migrations/sqlite/0001_slug_aliases.sql" with { type: "text" };
import m0002 from "../../migrations/sqlite/0002_end_users.sql" with { type: "text" };
import m0003 from "../../migrations/sqlite/0003_m2m.sql" with { type: "text" };
import m0004 from "../../migrations/sqlite/0004_rbac.sql" with { type: "text" };
import m0005 from "../../migrations/sqlite/0005_audit_resource_index.sql" with { type: "text" };
import m0006 from "../../migrations/sqlite/0006_end_users_role_index.sql" with { type: "text" };
import m0007 from "../../migrations/sqlite/0007_shred_retired_keys.sql" with { type: "text" };
import m0008 from "../../migrations/sqlite/0008_hardening.sql" with { type: "text" };
import m0009 from "../../migrations/sqlite/0009_mfa_and_events.sql" with { type: "text" };
import m0010 from "../../migrations/sqlite/0010_tenants_and_invites.sql" with { type: "text" };
import m0011 from "../../migrations/sqlite/0011_webhooks.sql" with { type: "text" };
import m0012 from "../../migrations/sqlite/0012_rbac_catalogue.sql" with { type: "text" };
import m0013 from "../../migrations/sqlite/0013_federated_signin.sql" with { type: "text" };
import m0014 from "../../migrations/sqlite/0014_federated_mfa.sql" with { type: "text" };
import m0015 from "../../migrations/sqlite/0015_scale_out.sql" with { type: "text" };
import journal from "../../migrations/sqlite/meta/_journal.json" with { type: "json" };

/** Tag (as in the journal) → SQL text. Append a line here for every migration drizzle-kit generates. */
export const EMBEDDED_MIGRATIONS: Record<string, string> = {
  "0000_init": m0000,
  "0001_slug_aliases": m0001,
  "0002_end_users": m0002,
  "0003_m2m": m0003,
  "0004_rbac": m0004,
  "0005_audit_resource_index": m0005,
  "0006_end_users_role_index": m0006,
  "0007_shred_retired_keys": m0007,
  "0008_hardening": m0008,
  "0009_mfa_and_events": m0009,
  "0010_tenants_and_invites": m0010,
  "0011_webhooks": m0011,
  "0012_rbac_catalogue": m0012,
  "0013_federated_signin": m0013,
  "0014_federated_mfa": m0014,
  "0015_scale_out": m0015,
};

export const JOURNAL: { entries: { idx: number; tag: string; when: number; breakpoints: boolean }[] } =
  journal;

/** PostgreSQL's set (`migrations/postgres/`, from `schema.pg.ts`); a line here for each one, as above. */
export const POSTGRES_MIGRATIONS: Record<string, string> = {
  "0000_init": p0000,
  "0001_scale_out": p0001,
  "0002_cache_triggers": p0002,
  "0003_audit_details_text": p0003,
  "0004_search_indexes": p0004,
};

export const POSTGRES_JOURNAL: typeof JOURNAL = postgresJournal;
