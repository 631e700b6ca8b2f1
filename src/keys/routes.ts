/** @module Per-app discovery (JWKS, OpenID/OAuth metadata) on the Consumer surface, and the Admin key routes. */
import { Elysia } from "elysia";
import { z } from "zod";
import type { AppDirectory } from "../apps/directory.ts";
import type { AppService } from "../apps/service.ts";
import type { Config } from "../config/index.ts";
import { fail } from "../core/errors.ts";
import { actorOf } from "../core/principal.ts";
import { validate } from "../http/body.ts";
import { guards, type PlatformGuardDeps } from "../http/guards.ts";
import type { Metrics } from "../http/metrics.ts";
import type { JwksDocument } from "./jwks.ts";
import type { KeyService } from "./service.ts";

const CACHE = "public, max-age=3600";
export const JWKS_ROUTE = "/:app_slug/v1/.well-known/jwks.json";
/**
 * The same key set at `{issuer}/.well-known/jwks.json`, where clients that derive the JWKS from the
 * issuer instead of reading discovery look (get-jwks, and @fastify/jwt through it).
 */
export const JWKS_AT_ISSUER_ROUTE = "/:app_slug/.well-known/jwks.json";
const RFC8414_ROUTE = "/.well-known/oauth-authorization-server/:app_slug";

/**
 * Where RFC 8414 §3 puts the metadata of issuer `PUBLIC_URL/slug` when the public URL has a path (a proxy
 * at `/auth`): the well-known segment goes between host and path, `/.well-known/oauth-authorization-server/auth/slug`.
 * Null when the public URL has no path (the plain route already is that location).
 */
export function prefixedMetadataRoute(publicUrl: string): string | null {
  const prefix = new URL(publicUrl).pathname.replace(/\/+$/, "");
  return prefix ? `/.well-known/oauth-authorization-server${prefix}/:app_slug` : null;
}

/**
 * One app's RFC 8414 authorization-server metadata, the same object at every discovery location
 * (docs/decisions.md, "Discovery documents"). Only what Heimdall does: the client_credentials grant at the
 * token endpoint, no authorization endpoint, no ID tokens. The contract requires `response_types_supported`:
 * it stays, empty, as nothing answers at an authorization endpoint. It also requires
 * `id_token_signing_alg_values_supported`, which lists the algorithms of the app's published keys (the
 * active key's first; `RS256` unless the app's `signing_alg` changed): no ID token is ever signed, but stock
 * access-token middleware (express-oauth2-jwt-bearer) takes it as the algorithms a token may be signed with
 * and refuses every token when it is empty or lacks the active key's. Every URL derives from the public
 * URL, so a path-prefixed one (`https://host/auth`) keeps them all inside its prefix.
 */
export function discoveryDocument(publicUrl: string, slug: string, algs: readonly string[] = ["RS256"]) {
  const issuer = `${publicUrl}/${slug}`;
  const v1 = `${issuer}/v1`;
  return {
    issuer,
    jwks_uri: `${v1}/.well-known/jwks.json`,
    token_endpoint: `${v1}/oauth/token`,
    introspection_endpoint: `${v1}/oauth/introspect`,
    // The client-authenticated (RFC 7662) mode; the contract's Bearer self-introspection has no registered name.
    introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    // `/me` answers OIDC UserInfo's `sub` (and `email_verified`, `preferred_username`) for an EndUser token.
    userinfo_endpoint: `${v1}/me`,
    heimdall_verify_endpoint: `${v1}/verify`,
    heimdall_authorize_endpoint: `${v1}/authorize`,
    heimdall_admin_users_endpoint: `${v1}/admin/users`,
    grant_types_supported: ["client_credentials"],
    response_types_supported: [] as string[],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    id_token_signing_alg_values_supported: algs.length ? [...algs] : ["RS256"],
    subject_types_supported: ["public"],
  };
}

/**
 * A cacheable JSON response that honours If-None-Match. Public to every origin, always (not only when
 * `Origin` was sent): a cache may hand this copy to a browser later (http/cors.ts answers the preflight).
 */
function cached(request: Request, body: string | Uint8Array, etag: string, requestId?: string): Response {
  const headers: Record<string, string> = {
    "content-type": "application/json; charset=utf-8",
    "cache-control": CACHE,
    "access-control-allow-origin": "*",
    etag,
  };
  if (requestId) headers["x-request-id"] = requestId;
  const inm = request.headers.get("if-none-match");
  if (inm?.split(",").some((t) => t.trim() === etag || t.trim() === "*")) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(body, { headers });
}

/**
 * The JWKS of `slug` from memory, or null when it has none to serve (unknown or archived app): the
 * caller then answers 404. A renamed app's old slug keeps serving it during the alias window, and
 * suspended apps keep publishing so that tokens already issued stay verifiable.
 */
export interface JwksDeps {
  readonly directory: Pick<AppDirectory, "bySlug" | "byAlias" | "peek">;
  readonly keys: Pick<KeyService, "jwks" | "jwksIfLoaded">;
}

export function createJwksResponder(deps: JwksDeps) {
  // Encoded once per document (the keys cache hands out the same object until the keys change).
  const encoded = new WeakMap<object, Uint8Array>();
  const utf8 = new TextEncoder();
  const answer = (request: Request, doc: JwksDocument | null, requestId?: string): Response | null => {
    if (!doc) return null;
    let bytes = encoded.get(doc);
    if (!bytes) {
      bytes = utf8.encode(doc.body);
      encoded.set(doc, bytes);
    }
    return cached(request, bytes, doc.etag, requestId);
  };
  const slow = async (request: Request, slug: string, requestId?: string): Promise<Response | null> => {
    const app = (await deps.directory.bySlug(slug)) ?? (await deps.directory.byAlias(slug));
    if (!app || app.status === "archived") return null;
    return answer(request, await deps.keys.jwks(app.id), requestId);
  };
  // Answered without a promise when the app and its keys are in memory (every request but the first).
  return (request: Request, slug: string, requestId?: string): Response | null | Promise<Response | null> => {
    const app = deps.directory.peek(slug);
    if (!app) return slow(request, slug, requestId);
    if (app.status === "archived") return null;
    const doc = deps.keys.jwksIfLoaded(app.id);
    return doc === undefined ? slow(request, slug, requestId) : answer(request, doc, requestId);
  };
}

/**
 * The JWKS as a Bun native route, ahead of the Elysia pipeline: it is the hottest public endpoint
 * (every verifier polls it) and a static document per app, so it is answered from memory with only
 * what every response needs (request id, metrics). Anything it cannot answer goes to `fallback`.
 */
export function jwksNativeRoute(
  deps: JwksDeps & { readonly metrics: Metrics },
  fallback: (request: Request) => Response | Promise<Response>,
  route: typeof JWKS_ROUTE | typeof JWKS_AT_ISSUER_ROUTE = JWKS_ROUTE,
) {
  const respond = createJwksResponder(deps);
  const record = deps.metrics.series("GET", route);
  const done = (request: Request, res: Response | null, start: number): Response | Promise<Response> => {
    if (!res) return fallback(request);
    record(res.status, (performance.now() - start) / 1000);
    return res;
  };
  return (request: Request & { params: Record<string, string> }): Response | Promise<Response> => {
    const start = performance.now();
    const sent = request.headers.get("x-request-id");
    const id = sent && /^[A-Za-z0-9._:-]{1,128}$/.test(sent) ? sent : crypto.randomUUID();
    const res = respond(request, request.params.app_slug ?? "", id);
    return res instanceof Promise ? res.then((r) => done(request, r, start)) : done(request, res, start);
  };
}

/** What discovery reads: the public URL (the issuer) besides the key sets. */
export interface DiscoveryRoutesDeps extends JwksDeps {
  readonly config: Pick<Config, "publicUrl">;
}

export function discoveryRoutes(deps: DiscoveryRoutesDeps) {
  const { config, directory } = deps;
  const jwks = createJwksResponder(deps);
  const noApp = (slug: string) => fail("APP_NOT_FOUND", { message: `No app with slug ${slug}` });
  // Rebuilt when the app's key set changes (its algorithms are in it); the keys cache hands out the same
  // JWKS object until then, so an identity check is enough.
  const discovery = new Map<string, { keys: JwksDocument | null; body: string; etag: string }>();
  const metadata = async (slug: string, appId: string) => {
    const keys = await deps.keys.jwks(appId);
    let doc = discovery.get(slug);
    if (doc?.keys !== keys) {
      const body = JSON.stringify(discoveryDocument(config.publicUrl, slug, keys?.algs));
      doc = { keys, body, etag: `"${Bun.hash(body).toString(36)}"` };
      discovery.set(slug, doc);
    }
    return doc;
  };
  // Metadata follows the live slug only: its issuer names the slug.
  const metadataResponse = async (request: Request, slug: string) => {
    const app = await directory.bySlug(slug);
    if (!app || app.status === "archived") throw noApp(slug);
    const doc = await metadata(slug, app.id);
    return cached(request, doc.body, doc.etag);
  };
  // In-process requests (`app.handle`) and anything the native routes hand back land here.
  const keySet = async ({ request, params }: { request: Request; params: { app_slug: string } }) => {
    const res = await jwks(request, params.app_slug);
    if (!res) throw noApp(params.app_slug);
    return res;
  };
  const prefixed = prefixedMetadataRoute(config.publicUrl);
  const routes = new Elysia()
    .get(JWKS_ROUTE, keySet)
    .get(JWKS_AT_ISSUER_ROUTE, keySet)
    .get(
      "/:app_slug/v1/.well-known/openid-configuration",
      async ({ request, params }) => await metadataResponse(request, params.app_slug),
    )
    // Where stock clients look for an issuer `PUBLIC_URL/slug`: OIDC Discovery §4 and RFC 8414 §3.
    .get(
      "/:app_slug/.well-known/openid-configuration",
      async ({ request, params }) => await metadataResponse(request, params.app_slug),
    )
    .get(RFC8414_ROUTE, async ({ request, params }) => await metadataResponse(request, params.app_slug));
  // Behind a proxy at a path, the proxy forwards this host-level location unchanged (operations.md).
  return prefixed
    ? routes.get(
        prefixed,
        async ({ request, params }) =>
          await metadataResponse(request, (params as { app_slug: string }).app_slug),
      )
    : routes;
}

const rotateSchema = z.object({ emergency: z.boolean().optional() }).strict().optional();

/**
 * Appliance additions to the Admin API: list an app's signing keys (public facts only) and rotate
 * them by hand. Rotation is a secret rotation for policy purposes (`heimdall.rotate-secret`).
 */
export interface KeysAdminRoutesDeps extends PlatformGuardDeps {
  readonly apps: Pick<AppService, "authorizeApp">;
  readonly keys: KeyService;
}

export function keysAdminRoutes(deps: KeysAdminRoutesDeps) {
  const { apps, keys } = deps;
  return new Elysia()
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/keys",
      async ({ params, principal }) => {
        const app = await apps.authorizeApp(principal, params.app_id, "heimdall.read");
        return { data: await keys.list(app.id) };
      },
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/keys/rotate",
      async ({ params, body, principal, meta }) => {
        const app = await apps.authorizeApp(principal, params.app_id, "heimdall.rotate-secret");
        const { emergency = false } = validate(rotateSchema, body) ?? {};
        const r = await keys.rotate(app.id, { emergency, actor: actorOf(principal), meta });
        return {
          old_kid: r.oldKid,
          new_kid: r.newKid,
          next_kid: r.nextKid,
          emergency,
          new_key_published_at: new Date(r.newKeyPublishedAt).toISOString(),
          warning: r.warning,
          keys: await keys.list(app.id),
        };
      },
      { platform: "any" },
    );
}
