/** @module Admin API: an app's audit log, newest first, filtered by action and actor, cursor-paginated over `seq`; and its hash chain's verification. */
import { Elysia } from "elysia";
import { guards, type PlatformGuardDeps } from "../http/guards.ts";
import type { AuditReader } from "./reader.ts";

/** What the audit-log route reads besides the platform guard's deps. */
export interface AuditRoutesDeps extends PlatformGuardDeps {
  readonly auditReader: AuditReader;
}

export const auditRoutes = (deps: AuditRoutesDeps) =>
  new Elysia({ name: "heimdall.audit" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/audit-logs",
      async ({ params, query, principal }) =>
        await deps.auditReader.listForApp(principal, params.app_id, query),
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/audit-logs/verify",
      async ({ params, principal }) => await deps.auditReader.verifyForApp(principal, params.app_id),
      { platform: "any" },
    );
