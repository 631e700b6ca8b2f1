/** @module createApp(deps): the whole HTTP surface — global hooks, the error mapper, and every module mounted. */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { HeimdallError } from "../platform/errors.ts";
import { parseBody } from "./body.ts";
import { mapError } from "./errors.ts";
import { beginRequest, requestState } from "./request-state.ts";
import { type MountedRoute, opsRoutes } from "./ops.ts";
import { platformRoutes } from "../workspaces/routes.ts";
import { appsRoutes } from "../apps/routes.ts";
import { keysAdminRoutes, discoveryRoutes } from "../keys/routes.ts";
import { auditRoutes } from "../audit/routes.ts";

export function createApp(deps: Deps) {
  const { config, log, metrics } = deps;
  // Ops documents the composed app's routes, which exist only once every module is mounted below.
  const app = (
    new Elysia({ normalize: false })
      .onRequest(({ request, server, set }) => {
        const state = beginRequest(request, server, config.trustedProxies);
        set.headers["x-request-id"] = state.id;
      })
      .onParse({ as: "global" }, ({ request, contentType }) => parseBody(request, contentType))
      .onError({ as: "global" }, ({ error, code, request }) => {
        const state = requestState(request);
        // Errors thrown while parsing reach us wrapped in Elysia's ParseError.
        const cause = (error as { cause?: unknown }).cause;
        const err = cause instanceof HeimdallError ? cause : error;
        const res = mapError(err, code, state.id, log);
        state.status = res.status;
        return res;
      })
      .onAfterResponse({ as: "global" }, ({ request, route, set }) => {
        const state = requestState(request);
        const status = state.status ?? (typeof set.status === "number" ? set.status : 200);
        const seconds = (performance.now() - state.start) / 1000;
        metrics.observe(request.method, route || "unmatched", status, seconds);
        log.debug("request", {
          request_id: state.id,
          method: request.method,
          route: route || "unmatched",
          status,
          ms: Math.round(seconds * 1e4) / 10,
          ip: state.ip,
        });
      })
      .use(opsRoutes(deps, (): readonly MountedRoute[] => app.routes))
      .use(platformRoutes(deps))
      .use(appsRoutes(deps))
      .use(auditRoutes(deps))
      .use(keysAdminRoutes(deps))
      .use(discoveryRoutes(deps))
  );
  return app;
}

export type HeimdallApp = ReturnType<typeof createApp>;
