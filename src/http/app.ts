/** @module createApp(deps): the whole HTTP surface — global hooks, the error mapper, and every module mounted. */
import { Elysia } from "elysia";
import { apiKeysRoutes } from "../api-keys/routes.ts";
import { appsRoutes } from "../apps/routes.ts";
import { auditRoutes } from "../audit/routes.ts";
import { authRoutes } from "../auth/routes.ts";
import { codesRoutes } from "../codes/routes.ts";
import type { Deps } from "../deps.ts";
import { emailRoutes } from "../email/routes.ts";
import { discoveryRoutes, JWKS_ROUTE, jwksNativeRoute, keysAdminRoutes } from "../keys/routes.ts";
import { credentialsRoutes, oauthTokenRoutes } from "../m2m/routes.ts";
import { meRoutes } from "../me/routes.ts";
import { HeimdallError } from "../platform/errors.ts";
import { rbacRoutes } from "../roles/routes.ts";
import { consumerAdminUserRoutes, endUserAdminRoutes } from "../users/routes.ts";
import { verifyRoutes } from "../verify/routes.ts";
import { platformRoutes } from "../workspaces/routes.ts";
import { parseBody } from "./body.ts";
import { mapError, OAuthError } from "./errors.ts";
import { type MountedRoute, opsRoutes } from "./ops.ts";
import { beginRequest, requestState } from "./request-state.ts";

const OAUTH_TOKEN_PATH = /^\/[^/]+\/v1\/oauth\/token$/;
/** Body-level refusals of the global parser, which the token endpoint reports as `invalid_request`. */
const BODY_ERRORS = new Set(["INVALID_JSON", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"]);

export function createApp(deps: Deps) {
  const observe = (request: Request, route: string, status: number) => {
    const state = requestState(request);
    const seconds = (performance.now() - state.start) / 1000;
    deps.metrics.observe(request.method, route || "unmatched", status, seconds);
    if (deps.config.logLevel === "debug") {
      deps.log.debug("request", {
        request_id: state.id,
        method: request.method,
        route: route || "unmatched",
        status,
        ms: Math.round(seconds * 1e4) / 10,
        ip: state.ip,
      });
    }
  };
  const { config, log } = deps;
  // Ops documents the composed app's routes, which exist only once every module is mounted below.
  const app = new Elysia({
    normalize: false,
    // Bun native routes answered before the Elysia pipeline (used by `listen`; `handle` in tests
    // reaches the same responder through the ordinary route).
    serve: {
      routes: {
        [JWKS_ROUTE]: {
          GET: jwksNativeRoute(deps, (request): Response | Promise<Response> => app.fetch(request)),
        },
      },
    },
  })
    .onRequest(({ request, server }) => {
      beginRequest(request, server, config.trustedProxies);
    })
    // The request id goes on the final response. Set on a returned Response directly: putting it in
    // `set.headers` would make Elysia rebuild that Response around a streamed copy of its body.
    // Metrics are recorded here too (every matched route, errors included, passes through) rather than
    // in an after-response hook, which costs a measurable share of a small request.
    .mapResponse({ as: "global" }, ({ responseValue, set, request, route }) => {
      const id = requestState(request).id;
      if (responseValue instanceof Response) {
        responseValue.headers.set("x-request-id", id);
        observe(request, route, responseValue.status);
        return responseValue;
      }
      set.headers["x-request-id"] = id;
      observe(request, route, typeof set.status === "number" ? set.status : 200);
    })
    .onParse({ as: "global" }, ({ request, contentType }) => parseBody(request, contentType))
    .onError({ as: "global" }, ({ error, code, request }) => {
      const state = requestState(request);
      // Errors thrown while parsing reach us wrapped in Elysia's ParseError.
      const cause = (error as { cause?: unknown }).cause;
      let err = cause instanceof HeimdallError ? cause : error;
      // The token endpoint speaks RFC 6749 §5.2 even about bodies the global parser refused.
      if (
        err instanceof HeimdallError &&
        BODY_ERRORS.has(err.code) &&
        OAUTH_TOKEN_PATH.test(new URL(request.url).pathname)
      ) {
        err = new OAuthError(err.status === 413 ? 413 : 400, "invalid_request", err.message);
      }
      const res = mapError(err, code, state.id, log);
      // No route matched: the one case that does not pass through mapResponse.
      if (code === "NOT_FOUND") observe(request, "", res.status);
      return res;
    })
    .use(opsRoutes(deps, (): readonly MountedRoute[] => app.routes))
    .use(platformRoutes(deps))
    .use(appsRoutes(deps))
    .use(auditRoutes(deps))
    .use(credentialsRoutes(deps))
    .use(apiKeysRoutes(deps))
    .use(oauthTokenRoutes(deps))
    .use(emailRoutes(deps))
    .use(codesRoutes(deps))
    .use(keysAdminRoutes(deps))
    .use(discoveryRoutes(deps))
    .use(authRoutes(deps))
    .use(meRoutes(deps))
    .use(verifyRoutes(deps))
    .use(consumerAdminUserRoutes(deps))
    .use(endUserAdminRoutes(deps))
    .use(rbacRoutes(deps));
  return app;
}

export type HeimdallApp = ReturnType<typeof createApp>;
