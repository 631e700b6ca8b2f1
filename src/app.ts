/** @module createApp(deps): the whole HTTP surface — global hooks, the error mapper, and every module mounted. */
import { Elysia } from "elysia";
import { apiKeysRoutes } from "./api-keys/routes.ts";
import { appsRoutes } from "./apps/routes.ts";
import { auditRoutes } from "./audit/routes.ts";
import { authRoutes, tenantScopeRoutes } from "./auth/routes.ts";
import { codesRoutes } from "./codes/routes.ts";
import { consoleRoutes } from "./console/routes.ts";
import { AccessDenied } from "./core/access-denied.ts";
import { HeimdallError, validationError } from "./core/errors.ts";
import type { Deps } from "./deps.ts";
import { emailRoutes } from "./email/routes.ts";
import { federationRoutes, providerAdminRoutes } from "./federation/routes.ts";
import { parseBody } from "./http/body.ts";
import { corsPlugin } from "./http/cors.ts";
import { bearerChallenge, mapError } from "./http/errors.ts";
import { callMeta } from "./http/guards.ts";
import { healthRoutes } from "./http/health.ts";
import { type MountedRoute, openApiRoutes } from "./http/openapi.ts";
import { beginRequest, requestState } from "./http/request-state.ts";
import { routeRulesOf } from "./http/route-rules.ts";
import { acceptInviteRoutes, inviteAdminRoutes } from "./invites/routes.ts";
import {
  discoveryRoutes,
  JWKS_AT_ISSUER_ROUTE,
  JWKS_ROUTE,
  jwksNativeRoute,
  keysAdminRoutes,
} from "./keys/routes.ts";
import { credentialsRoutes, oauthTokenNativeRoute, oauthTokenRoutes, TOKEN_PATH } from "./m2m/routes.ts";
import { meRoutes } from "./me/routes.ts";
import { mfaRoutes } from "./mfa/routes.ts";
import { rbacRoutes } from "./roles/routes.ts";
import { tenantRoutes } from "./tenants/routes.ts";
import { consumerAdminUserRoutes, endUserAdminRoutes } from "./users/routes.ts";
import { verifyRoutes } from "./verify/routes.ts";
import { webhookRoutes } from "./webhooks/routes.ts";
import { platformRoutes } from "./workspaces/routes.ts";

/**
 * A percent-encoded NUL in the path or query: no slug, id or parameter may hold one, and decoded it
 * would cut strings short in C-string layers. (A raw NUL byte never gets this far: Bun's HTTP parser
 * answers 505 itself; see docs/decisions.md.)
 */
function refuseNul(url: string): void {
  const at = url.indexOf("%00");
  if (at === -1) return;
  const q = url.indexOf("?");
  const field = q !== -1 && at > q ? "query" : "path";
  throw validationError([{ field, reason: "must not contain a NUL byte" }]);
}

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
  const { config, log, denials } = deps;
  /**
   * The API's answer to an error thrown while serving `route` (`code` is Elysia's; "UNKNOWN" for an error a
   * native route caught): the global error hook's, and the token endpoint's native route's.
   */
  const errorResponse = async (
    error: unknown,
    code: string | number,
    request: Request,
    route: string,
  ): Promise<Response> => {
    const state = requestState(request);
    // Errors thrown while parsing reach us wrapped in Elysia's ParseError.
    const cause = (error as { cause?: unknown }).cause;
    let err = cause instanceof HeimdallError ? cause : error;
    if (err instanceof AccessDenied) {
      const path = new URL(request.url).pathname;
      // Never let the audit write turn a 403 into a 500: the refusal is what the client must see.
      try {
        await denials.record(
          err.denial,
          { method: request.method, path, route: route || path },
          callMeta(request),
        );
      } catch (auditErr) {
        log.error("denial audit failed", { request_id: state.id, err: auditErr });
      }
    }
    // A route with its own error shape (the token endpoint's RFC 6749 errors) says so in routeRules.
    const rewrite = routeRulesOf(request).rewriteError;
    if (rewrite && err instanceof HeimdallError) err = rewrite(err);
    // RFC 7235 §3.1 / RFC 6750 §3: every 401 names its scheme.
    const challenge =
      err instanceof HeimdallError && err.status === 401 ? bearerChallenge(err.code, request) : undefined;
    return mapError(err, code, state.id, log, challenge ? { "www-authenticate": challenge } : {});
  };
  const jwksNative = jwksNativeRoute(deps, (request): Response | Promise<Response> => app.fetch(request));
  const jwksAtIssuer = jwksNativeRoute(deps, (request) => app.fetch(request), JWKS_AT_ISSUER_ROUTE);
  const tokenNative = oauthTokenNativeRoute(deps, {
    fallback: (request) => app.fetch(request),
    error: errorResponse,
    observe,
  });
  // /openapi.json documents the composed app's routes, which exist only once every module is mounted below.
  const app = new Elysia({
    normalize: false,
    // Bun native routes answered before the Elysia pipeline (used by `listen`; `handle` in tests
    // reaches the same responder through the ordinary route).
    serve: {
      routes: {
        // The token endpoint's plain requests, which are most of an M2M deployment's traffic (m2m/routes.ts).
        [TOKEN_PATH]: { POST: tokenNative },
        [JWKS_ROUTE]: {
          // A NUL-bearing URL takes the full pipeline, which refuses it in the API's error shape.
          GET: (request: Request & { params: Record<string, string> }): Response | Promise<Response> =>
            request.url.includes("%00") ? app.fetch(request) : jwksNative(request),
        },
        // `{issuer}/.well-known/jwks.json` (get-jwks' default): the same document, the same fast path.
        [JWKS_AT_ISSUER_ROUTE]: {
          GET: (request: Request & { params: Record<string, string> }): Response | Promise<Response> =>
            request.url.includes("%00") ? app.fetch(request) : jwksAtIssuer(request),
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
    .onError({ as: "global" }, async ({ error, code, request, route }) => {
      const res = await errorResponse(error, code, request, route);
      // No route matched: the one case that does not pass through mapResponse.
      if (code === "NOT_FOUND") observe(request, "", res.status);
      return res;
    })
    // Before the routes: it answers CORS preflights, which no route takes, and tags browser requests.
    .use(corsPlugin(deps))
    .use(healthRoutes(deps))
    .use(consoleRoutes(deps))
    .use(openApiRoutes(config, (): readonly MountedRoute[] => app.routes))
    .use(platformRoutes(deps))
    .use(appsRoutes(deps))
    .use(auditRoutes(deps))
    .use(webhookRoutes(deps))
    .use(providerAdminRoutes(deps))
    .use(credentialsRoutes(deps))
    .use(apiKeysRoutes(deps))
    .use(oauthTokenRoutes(deps))
    .use(emailRoutes(deps))
    .use(codesRoutes(deps))
    .use(keysAdminRoutes(deps))
    .use(discoveryRoutes(deps))
    .use(authRoutes(deps))
    .use(federationRoutes(deps))
    .use(tenantScopeRoutes(deps))
    .use(meRoutes(deps))
    .use(mfaRoutes(deps))
    .use(verifyRoutes(deps))
    .use(consumerAdminUserRoutes(deps))
    .use(acceptInviteRoutes(deps))
    // Before the end-user routes, whose `…/end-users/{user_id}` has the shape of `…/end-users/invites`.
    .use(inviteAdminRoutes(deps))
    .use(endUserAdminRoutes(deps))
    .use(rbacRoutes(deps))
    .use(tenantRoutes(deps))
    // Last of the onRequest hooks (they run in the order registered): after the routes' routeRules
    // have tagged the request, so the token endpoint reports a NUL in its URL the RFC 6749 way.
    .onRequest(({ request }) => refuseNul(request.url));
  return app;
}

export type HeimdallApp = ReturnType<typeof createApp>;
