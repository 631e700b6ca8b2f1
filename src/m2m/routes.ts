/** @module M2M routes: the Admin credentials API and the Consumer token endpoint (RFC 6749 §4.4); thin handlers. */
import type { BunRequest, Server } from "bun";
import { Elysia } from "elysia";
import type { AppService } from "../apps/service.ts";
import type { Config } from "../config/index.ts";
import { type ErrorCode, type HeimdallError, OAuthError, validationError } from "../core/errors.ts";
import { queryParam } from "../core/pagination.ts";
import { NO_BODY, parseBody, validate } from "../http/body.ts";
import { type ConsumerGuardDeps, consumerGuards } from "../http/consumer.ts";
import { callMeta, guards, type PlatformGuardDeps } from "../http/guards.ts";
import { type Idempotency, idempotentCreate } from "../http/idempotency.ts";
import { beginRequest } from "../http/request-state.ts";
import { routeRules, tagRouteRules } from "../http/route-rules.ts";
import type { M2mGrant } from "./grant.ts";
import {
  createM2mClientSchema,
  rotateSecretQuerySchema,
  rotateSecretSchema,
  setScopesSchema,
  updateM2mClientSchema,
} from "./model.ts";
import type { M2mClientService } from "./service.ts";

/** What the Admin credentials routes read; `apps` only to authorise a create before an idempotent replay. */
export interface CredentialsRoutesDeps extends PlatformGuardDeps {
  readonly m2m: M2mClientService;
  readonly apps: Pick<AppService, "authorizeApp">;
  readonly idempotency: Idempotency;
}

/** What the token endpoint reads besides the Consumer guards' deps. */
export interface OAuthTokenRoutesDeps extends ConsumerGuardDeps {
  readonly m2mGrant: M2mGrant;
}

/** RFC 6749 §5.1: token responses must not be cached anywhere. */
const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" };

export const TOKEN_PATH = "/:app_slug/v1/oauth/token";

/**
 * Refusals made before the route runs (the body parser, a repeated form field, the NUL check), which the
 * token endpoint reports as RFC 6749 `invalid_request`.
 */
const BODY_ERRORS = new Set<ErrorCode>([
  "INVALID_JSON",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "VALIDATION_ERROR",
]);

/** The token endpoint speaks RFC 6749 §5.2 even about bodies the global parser refused. */
const asOAuthError = (err: HeimdallError): HeimdallError | OAuthError =>
  BODY_ERRORS.has(err.code)
    ? new OAuthError(err.status === 413 ? 413 : 400, "invalid_request", err.message)
    : err;

/** The token endpoint's exceptions to the global hooks: RFC 6749 errors even for refused bodies. */
const TOKEN_RULES = { rewriteError: asOAuthError };

/** What the native token route adds to the Elysia route's: the trusted proxies, read for the client address. */
export interface OAuthTokenNativeDeps extends OAuthTokenRoutesDeps {
  readonly config: Pick<Config, "trustedProxies">;
}

/** The pipeline's parts the native route shares, so both answer alike (app.ts builds them). */
export interface NativeRouteHooks {
  /** The full pipeline, for a request the native route leaves to it. */
  fallback: (request: Request) => Response | Promise<Response>;
  /** The global error hook's renderer. */
  error: (error: unknown, code: string, request: Request, route: string) => Promise<Response>;
  /** Metrics (and the debug request log) of one answered request. */
  observe: (request: Request, route: string, status: number) => void;
}

/**
 * The token endpoint as a Bun native route, like the JWKS: a plain grant skips the framework's pipeline,
 * about a sixth of a grant's CPU (docs/benchmarks.md, "client_credentials grants"). It runs the same parser,
 * grant, error renderer and metrics as the Elysia route below, which `app.handle` and every request the
 * native route hands over still take: a browser's (the CORS hook answers those), a body that is not a form,
 * a percent-encoded slug or NUL. The hand-over happens before the body is read.
 */
export function oauthTokenNativeRoute(deps: OAuthTokenNativeDeps, hooks: NativeRouteHooks) {
  const { consumerResolver, m2mGrant, config } = deps;
  return async (request: BunRequest<string>, server: Server<unknown>): Promise<Response> => {
    const type = request.headers.get("content-type")?.toLowerCase();
    if (
      request.headers.has("origin") ||
      !type?.startsWith(FORM) ||
      request.url.includes("%") ||
      (type.length > FORM.length && type[FORM.length] !== ";")
    ) {
      return hooks.fallback(request);
    }
    const state = beginRequest(request, server, config.trustedProxies);
    tagRouteRules(request, TOKEN_RULES);
    let res: Response;
    try {
      // The pipeline's order: the body is parsed before the route resolves the app.
      const body = await parseBody(request, type);
      const app = await consumerResolver.app(request.params.app_slug ?? "");
      const token = await m2mGrant.token(
        app,
        { authorization: request.headers.get("authorization"), body: body === NO_BODY ? undefined : body },
        callMeta(request),
      );
      res = Response.json(token, { headers: { ...NO_STORE, "x-request-id": state.id } });
    } catch (err) {
      res = await hooks.error(err, "UNKNOWN", request, TOKEN_PATH);
      res.headers.set("x-request-id", state.id);
    }
    hooks.observe(request, TOKEN_PATH, res.status);
    return res;
  };
}

const FORM = "application/x-www-form-urlencoded";

export const credentialsRoutes = (deps: CredentialsRoutesDeps) =>
  new Elysia({ name: "heimdall.m2m.credentials" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/credentials",
      async ({ params, query, principal, meta }) =>
        await deps.m2m.list(
          principal,
          params.app_id,
          { limit: queryParam(query, "limit"), cursor: queryParam(query, "cursor") },
          meta,
        ),
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/credentials",
      async ({ params, body, request, principal, meta, set }) => {
        const input = validate(createM2mClientSchema, body);
        // Checked before a replay too: a caller who lost the right must not be shown the stored secret again.
        await deps.apps.authorizeApp(principal, params.app_id, "heimdall.create");
        return idempotentCreate(
          deps.idempotency,
          { principal, route: `POST /v1/apps/${params.app_id}/credentials`, request, body, set, seal: true },
          async () => await deps.m2m.create(principal, params.app_id, input, meta),
        );
      },
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/credentials/:client_id",
      async ({ params, principal, meta }) =>
        await deps.m2m.get(principal, params.app_id, params.client_id, meta),
      { platform: "any" },
    )
    .patch(
      "/v1/apps/:app_id/credentials/:client_id",
      async ({ params, body, principal, meta, set }) => {
        await deps.m2m.update(
          principal,
          params.app_id,
          params.client_id,
          validate(updateM2mClientSchema, body),
          meta,
        );
        set.status = 200;
        return "";
      },
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id/credentials/:client_id",
      async ({ params, principal, meta, set }) => {
        await deps.m2m.remove(principal, params.app_id, params.client_id, meta);
        set.status = 204;
      },
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/credentials/:client_id/rotate",
      async ({ params, query, body, principal, meta }) => {
        // The grace period may come as a body field or, for clients that send no body, a query parameter.
        const fromBody = validate(rotateSecretSchema, body).grace_period_seconds;
        const fromQuery = validate(rotateSecretQuerySchema, {
          grace_period_seconds: queryParam(query, "grace_period_seconds"),
        }).grace_period_seconds;
        if (fromBody !== undefined && fromQuery !== undefined && fromBody !== fromQuery) {
          throw validationError([
            { field: "grace_period_seconds", reason: "the body and the query disagree" },
          ]);
        }
        return await deps.m2m.rotateSecret(
          principal,
          params.app_id,
          params.client_id,
          { grace_period_seconds: fromBody ?? fromQuery },
          meta,
        );
      },
      {
        platform: "any",
        detail: {
          description:
            "Appliance additions: an optional `grace_period_seconds` (integer 0–604800, in a JSON body or as a query parameter; default 0) keeps the replaced secret working until `previous_secret_expires_at` (in the response; null when it stopped at once). Only one previous secret is kept; deactivating or deleting the client ends it. Grants audit which secret was used (`secret: current|previous`).",
        },
      },
    )
    .put(
      "/v1/apps/:app_id/credentials/:client_id/scopes",
      async ({ params, body, principal, meta, set }) => {
        await deps.m2m.setScopes(
          principal,
          params.app_id,
          params.client_id,
          validate(setScopesSchema, body),
          meta,
        );
        set.status = 200;
        return "";
      },
      { platform: "any" },
    );

export const oauthTokenRoutes = (deps: OAuthTokenRoutesDeps) =>
  new Elysia({ name: "heimdall.m2m.token" })
    .use(routeRules("oauth-token", [TOKEN_PATH], TOKEN_RULES))
    .use(consumerGuards(deps))
    .post(
      TOKEN_PATH,
      async ({ app, meta, body, request, set }) => {
        const res = await deps.m2mGrant.token(
          app,
          { authorization: request.headers.get("authorization"), body: body === NO_BODY ? undefined : body },
          meta,
        );
        Object.assign(set.headers, NO_STORE);
        return res;
      },
      {
        consumer: true,
        detail: {
          description:
            "Standard OAuth 2.0 client_credentials grant (RFC 6749 §4.4), with `client_secret_basic` or `client_secret_post`. A `resource` or `audience` parameter (RFC 8707) is accepted only when it names the app's own audience (its slug, the tokens' `aud`); any other value is 400 `invalid_target`. Any other method on this path answers 405 with `Allow: POST` and an RFC 6749 `invalid_request` body.",
        },
      },
    )
    // RFC 6749 §3.2: the token endpoint takes POST only. `all` is the fallback for every other method
    // (Elysia prefers the POST route); it is no operation, so /openapi.json leaves it out and the POST
    // entry says it. An unknown app is still its 404 first, as for a POST.
    .all(
      TOKEN_PATH,
      ({ request }) => {
        throw new OAuthError(405, "invalid_request", `The token endpoint takes POST, not ${request.method}`, {
          allow: "POST",
        });
      },
      { consumer: true },
    );
