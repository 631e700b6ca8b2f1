/** @module Admin API: an app's audit log, newest first, filtered by action and actor, cursor-paginated over `seq`. */
import { Elysia } from "elysia";
import { guards } from "../http/guards.ts";
import type { PlatformAuth } from "../workspaces/auth.ts";
import type { AuditReader } from "./reader.ts";

/** What the audit-log route reads: the platform guard's authenticator and the reader. */
export interface AuditRoutesDeps {
  platformAuth: PlatformAuth;
  auditReader: AuditReader;
}

export const auditRoutes = (deps: AuditRoutesDeps) =>
  new Elysia({ name: "heimdall.audit" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/audit-logs",
      ({ params, query, principal }) => deps.auditReader.listForApp(principal, params.app_id, query),
      { platform: "any" },
    );
