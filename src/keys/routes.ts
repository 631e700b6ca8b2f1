/** @module Per-app discovery (JWKS, OpenID/OAuth metadata) on the Consumer surface, and the Admin key routes. */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { z } from "zod";
import { validate } from "../http/body.ts";
import { guards } from "../http/guards.ts";
import { actorOf } from "../http/principal.ts";
import { notFound } from "../platform/errors.ts";

const CACHE = "public, max-age=3600";

interface PublicApp {
  id: string;
  status: "active" | "suspended" | "archived";
}

/** Metadata of one app's authorization server; the same object answers at every discovery location. */
export function discoveryDocument(publicUrl: string, slug: string) {
  const issuer = `${publicUrl}/${slug}`;
  const v1 = `${issuer}/v1`;
  return {
    issuer,
    jwks_uri: `${v1}/.well-known/jwks.json`,
    token_endpoint: `${v1}/oauth/token`,
    introspection_endpoint: `${v1}/oauth/introspect`,
    userinfo_endpoint: `${v1}/me`,
    heimdall_verify_endpoint: `${v1}/verify`,
    heimdall_authorize_endpoint: `${v1}/authorize`,
    heimdall_admin_users_endpoint: `${v1}/admin/users`,
    grant_types_supported: ["client_credentials"],
    response_types_supported: ["token"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    id_token_signing_alg_values_supported: ["RS256"],
    subject_types_supported: ["public"],
  };
}

/** A cacheable JSON response that honours If-None-Match. */
function cached(request: Request, body: string, etag: string): Response {
  const headers = { "content-type": "application/json; charset=utf-8", "cache-control": CACHE, etag };
  const inm = request.headers.get("if-none-match");
  if (inm && inm.split(",").some((t) => t.trim() === etag || t.trim() === "*")) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(body, { headers });
}

export function discoveryRoutes(deps: Deps) {
  const { config, keys, db } = deps;
  const bySlug = db.$client.query<PublicApp, [string]>("SELECT id, status FROM apps WHERE slug = ?");
  const byAlias = db.$client.query<PublicApp, [string, number]>(
    "SELECT a.id, a.status FROM app_slug_aliases s JOIN apps a ON a.id = s.app_id WHERE s.slug = ? AND s.expires_at > ?",
  );
  // Archived apps leave the Consumer surface; suspended apps keep publishing keys so issued tokens stay verifiable.
  const publishedApp = (slug: string): PublicApp => {
    const app = bySlug.get(slug);
    if (!app || app.status === "archived") throw notFound("APP_NOT_FOUND", `No app with slug ${slug}`);
    return app;
  };
  const discovery = new Map<string, { body: string; etag: string }>();
  const metadata = (slug: string) => {
    let doc = discovery.get(slug);
    if (!doc) {
      const body = JSON.stringify(discoveryDocument(config.publicUrl, slug));
      doc = { body, etag: `"${Bun.hash(body).toString(36)}"` };
      discovery.set(slug, doc);
    }
    return doc;
  };
  const metadataResponse = (request: Request, slug: string) => {
    publishedApp(slug);
    const doc = metadata(slug);
    return cached(request, doc.body, doc.etag);
  };
  return new Elysia()
    .get("/:app_slug/v1/.well-known/jwks.json", ({ request, params }) => {
      // A renamed app's old slug keeps serving the JWKS (only the JWKS) during the alias window.
      const alias = bySlug.get(params.app_slug) ? undefined : byAlias.get(params.app_slug, deps.clock.now());
      const app = alias && alias.status !== "archived" ? alias : publishedApp(params.app_slug);
      const doc = keys.jwks(app.id);
      if (!doc) throw notFound("APP_NOT_FOUND", `No keys for app ${params.app_slug}`);
      return cached(request, doc.body, doc.etag);
    })
    .get("/:app_slug/v1/.well-known/openid-configuration", ({ request, params }) =>
      metadataResponse(request, params.app_slug),
    )
    // Where stock clients look for an issuer `PUBLIC_URL/slug`: OIDC Discovery §4 and RFC 8414 §3.
    .get("/:app_slug/.well-known/openid-configuration", ({ request, params }) =>
      metadataResponse(request, params.app_slug),
    )
    .get("/.well-known/oauth-authorization-server/:app_slug", ({ request, params }) =>
      metadataResponse(request, params.app_slug),
    );
}

const rotateSchema = z.object({ emergency: z.boolean().optional() }).strict().optional();

/**
 * Appliance additions to the Admin API: list an app's signing keys (public facts only) and rotate
 * them by hand. Rotation is a secret rotation for policy purposes (`heimdall.rotate-secret`).
 */
export function keysAdminRoutes(deps: Deps) {
  const { apps, keys } = deps;
  return new Elysia()
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/keys",
      ({ params, principal }) => {
        const app = apps.authorizeApp(principal, params.app_id, "heimdall.read");
        return { data: keys.list(app.id) };
      },
      { platform: "any" },
    )
    .post(
      "/v1/apps/:app_id/keys/rotate",
      async ({ params, body, principal, meta }) => {
        const app = apps.authorizeApp(principal, params.app_id, "heimdall.rotate-secret");
        const { emergency = false } = validate(rotateSchema, body) ?? {};
        const r = await keys.rotate(app.id, { emergency, actor: actorOf(principal), meta });
        return { old_kid: r.oldKid, new_kid: r.newKid, next_kid: r.nextKid, emergency, keys: keys.list(app.id) };
      },
      { platform: "any" },
    );
}
