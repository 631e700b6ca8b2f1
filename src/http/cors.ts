/**
 * @module CORS for browser callers (docs/decisions.md, "Browser callers (CORS)"): the public documents
 * (discovery metadata, JWKS) to any origin, the Consumer API to the origins in the app's
 * `allowed_redirect_origins`, the Admin and platform routes to none.
 *
 * One global `onRequest` hook, ahead of routing: it answers preflights itself (an `OPTIONS` has no route)
 * and puts the response headers of an actual request in `set.headers`, which Elysia merges into every
 * answer of the request, errors and unmatched paths included, so a browser can read a 401 or a 429 too.
 * Only requests that carry `Origin` pay for that merge; server-side callers never send it.
 */
import { Elysia } from "elysia";
import type { AppDirectory } from "../apps/directory.ts";
import type { AppService } from "../apps/service.ts";
import { requestState } from "./request-state.ts";
import { pathOf } from "./route-rules.ts";

/** What the CORS hook reads: the app behind a slug and its allowed origins. */
export interface CorsDeps {
  readonly directory: AppDirectory;
  readonly apps: Pick<AppService, "authConfigOf">;
}

/** What the public documents answer to: reading them, nothing else. */
export const PUBLIC_METHODS = "GET, HEAD, OPTIONS";
/** Every method a Consumer route takes. */
export const CONSUMER_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS";

/**
 * Request headers a preflight may ask for and be granted (echoed back, the rest left out so the browser
 * refuses). The CORS-safelisted ones are listed too: a browser asks for them when a value is unusual.
 */
const SAFELISTED = ["accept", "accept-language", "content-language"];
export const PUBLIC_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  ...SAFELISTED,
  "cache-control",
  "pragma",
  "if-none-match",
  "if-modified-since",
  "x-request-id",
]);
export const CONSUMER_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  ...SAFELISTED,
  "authorization",
  "content-type",
  "idempotency-key",
  "x-request-id",
]);

/** Response headers a Consumer caller's script needs to read (ids, back-off, the bearer challenge). */
export const CONSUMER_EXPOSED_HEADERS = [
  "x-request-id",
  "retry-after",
  "ratelimit-limit",
  "ratelimit-remaining",
  "ratelimit-reset",
  "www-authenticate",
  "idempotent-replayed",
].join(", ");

/**
 * How long a browser may reuse a preflight, in seconds. The public documents never change their rules
 * (an hour, as their own `max-age`); for the Consumer API ten minutes, so an origin taken off the list
 * stops preflighting soon. (Its actual requests lose their headers at once either way.)
 */
export const PUBLIC_PREFLIGHT_MAX_AGE = "3600";
export const CONSUMER_PREFLIGHT_MAX_AGE = "600";

/**
 * A public document: discovery metadata and key sets are all served under a `.well-known` segment
 * (RFC 8615): `/{slug}/v1/.well-known/…`, `/{slug}/.well-known/…`, `/.well-known/…/{slug}`.
 */
const isPublicDocument = (path: string) => path.includes("/.well-known/");

/** The slug of a Consumer path (`/{slug}/v1` or `/{slug}/v1/…`); null for any other path. */
function consumerSlug(path: string): string | null {
  const end = path.indexOf("/", 1);
  if (end === -1 || !path.startsWith("/v1", end) || (path.length > end + 3 && path[end + 3] !== "/")) {
    return null;
  }
  const segment = path.slice(1, end);
  // `/v1/…` is the Admin and platform surface, never an app (the slug `v1` is reserved).
  if (segment === "v1") return null;
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** The requested headers (`Access-Control-Request-Headers`) this surface grants, or null for none. */
function grantedHeaders(request: Request, allowed: ReadonlySet<string>): string | null {
  const asked = request.headers.get("access-control-request-headers");
  if (!asked) return null;
  const granted = asked
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => allowed.has(h));
  return granted.length ? [...new Set(granted)].join(", ") : null;
}

function preflight(request: Request, headers: Record<string, string>, allowed: ReadonlySet<string>) {
  const granted = grantedHeaders(request, allowed);
  if (granted) headers["access-control-allow-headers"] = granted;
  headers["x-request-id"] = requestState(request).id;
  return new Response(null, { status: 204, headers });
}

export function corsPlugin(deps: CorsDeps) {
  /** The app's allow-list holds `origin` exactly (entries are stored normalised, as browsers send them). */
  const allows = async (slug: string, origin: string): Promise<boolean> => {
    if (origin === "null") return false;
    const app = (await deps.directory.bySlug(slug)) ?? (await deps.directory.byAlias(slug));
    if (!app || app.status === "archived") return false;
    return (await deps.apps.authConfigOf(app.id)).allowed_redirect_origins.includes(origin);
  };

  return new Elysia().onRequest(async ({ request, set }) => {
    const origin = request.headers.get("origin");
    const options = request.method === "OPTIONS";
    if (origin === null && !options) return;
    // A NUL in the URL is refused by the app's last onRequest hook; no preflight answer may pre-empt it.
    if (options && request.url.includes("%00")) return;
    const path = pathOf(request.url);

    if (isPublicDocument(path)) {
      // Public and credential-free: any origin may read it, so no `Vary: Origin` either.
      if (options) {
        return preflight(
          request,
          {
            allow: PUBLIC_METHODS,
            "access-control-allow-origin": "*",
            "access-control-allow-methods": PUBLIC_METHODS,
            "access-control-max-age": PUBLIC_PREFLIGHT_MAX_AGE,
          },
          PUBLIC_REQUEST_HEADERS,
        );
      }
      set.headers["access-control-allow-origin"] = "*";
      return;
    }

    const slug = origin === null ? null : consumerSlug(path);
    if (slug === null || origin === null) return;
    // The answer depends on Origin whether or not it is listed: shared caches must keep them apart.
    if (!(await allows(slug, origin))) {
      if (!options) set.headers.vary = "Origin";
      // An unlisted origin's preflight goes on to the router (404, or the route's own 405): no grant.
      return;
    }
    // Bearer tokens, never cookies, on this surface: so no Access-Control-Allow-Credentials, ever.
    if (options) {
      return preflight(
        request,
        {
          "access-control-allow-origin": origin,
          vary: "Origin",
          "access-control-allow-methods": CONSUMER_METHODS,
          "access-control-max-age": CONSUMER_PREFLIGHT_MAX_AGE,
        },
        CONSUMER_REQUEST_HEADERS,
      );
    }
    set.headers["access-control-allow-origin"] = origin;
    set.headers.vary = "Origin";
    set.headers["access-control-expose-headers"] = CONSUMER_EXPOSED_HEADERS;
  });
}
