/**
 * @module Per-route exceptions to the global hooks, declared by the routes that need them.
 *
 * The body parser and the error mapper are global `onParse`/`onError` hooks, and Elysia runs global
 * hooks before a route's own (it cannot override them). So a route that needs another body cap or
 * another error shape `use`s `routeRules(...)` with its own path templates, and the global hooks ask
 * `routeRulesOf(request)`. The tag is set in `onRequest`, before routing, because one refusal (a NUL
 * byte in the URL, refused by the app's last `onRequest`) happens before any route is matched.
 */
import { Elysia } from "elysia";
import type { HeimdallError, OAuthError } from "../core/errors.ts";

export interface RouteRules {
  /** The body cap in bytes, instead of `MAX_BODY_BYTES`. */
  readonly bodyLimit?: number;
  /** Rewrites an API error into the route's own shape (the token endpoint's RFC 6749 errors). */
  readonly rewriteError?: (err: HeimdallError) => HeimdallError | OAuthError;
}

const NONE: RouteRules = {};
const tagged = new WeakMap<Request, RouteRules>();

/** The rules of the route `request` is addressed to; none for most routes. */
export const routeRulesOf = (request: Request): RouteRules => tagged.get(request) ?? NONE;

/** `/:app_slug/v1/oauth/token` → a regexp over the path, `:param` standing for one segment as in Elysia. */
function templateToRegExp(template: string): RegExp {
  const source = template
    .split("/")
    .map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${source}$`);
}

/** The raw (still percent-encoded) path of an absolute request URL, without building a URL object. */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const q = url.indexOf("?", start);
  return q === -1 ? url.slice(start) : url.slice(start, q);
}

/** Gives `rules` to `request`: what the plugin below does, for a route answered outside the pipeline. */
export const tagRouteRules = (request: Request, rules: RouteRules): void => void tagged.set(request, rules);

/** A plugin that gives `rules` to every request whose path matches one of `templates`. */
export function routeRules(name: string, templates: readonly string[], rules: RouteRules) {
  const patterns = templates.map(templateToRegExp);
  return new Elysia({ name: `heimdall.route-rules.${name}` }).onRequest(({ request }) => {
    const path = pathOf(request.url);
    if (patterns.some((p) => p.test(path))) tagRouteRules(request, rules);
  });
}
