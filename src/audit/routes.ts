/** @module Admin API: an app's audit log, newest first, filtered by action and actor, cursor-paginated over `seq`. */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { guards } from "../http/guards.ts";

export const auditRoutes = (deps: Deps) =>
  new Elysia({ name: "heimdall.audit" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/audit-logs",
      ({ params, query, principal }) => deps.auditReader.listForApp(principal, params.app_id, query),
      { platform: "any" },
    );
