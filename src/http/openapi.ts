/** @module GET /openapi.json: an OpenAPI 3.1 document of the mounted routes, with the contract's schemas and the appliance additions'. */
import { Elysia } from "elysia";
import type { Config } from "../config/index.ts";
import { contractSchemas, fromContract, releaseContract } from "./openapi-from-contract.ts";
import { KNOWN } from "./openapi-known.ts";
import { componentSchemas, ERROR_RESPONSES, errorResponses, type OperationDoc } from "./openapi-schemas.ts";
import { defaultSecurity, INTROSPECTION, surfaceOf, TOKEN_ENDPOINT } from "./openapi-security.ts";

/** What the generator needs of a mounted route (a subset of Elysia's `app.routes` entries). */
export interface MountedRoute {
  readonly method: string;
  readonly path: string;
  /** Elysia keeps a route's `detail` option here; see `buildOpenApi` for the keys it honours. */
  readonly hooks?: { readonly detail?: unknown };
}

/** A route that is not part of the API (the console's pages, flagged `detail: { hide: true }`, Elysia's convention). */
export const isHidden = (route: MountedRoute): boolean =>
  (route.hooks?.detail as { hide?: unknown } | undefined)?.hide === true;

const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };

/**
 * `routes` returns the composed app's route list; it is called on the first /openapi.json request,
 * once every module is mounted, and the document is then kept (routes do not change at runtime).
 * Built on that request (~25 ms, once), not ahead of it: most processes are never asked for it, and
 * building it, with the vendored contract it reads, kept 4–7 MiB more resident (docs/benchmarks.md).
 */
export function openApiRoutes(config: Pick<Config, "publicUrl">, routes: () => readonly MountedRoute[]) {
  let openapi: string | undefined;
  const serialized = () => {
    if (openapi === undefined) {
      openapi = JSON.stringify(buildOpenApi(routes(), config));
      releaseContract();
    }
    return openapi;
  };
  return new Elysia().get("/openapi.json", ({ set }) => {
    Object.assign(set.headers, JSON_TYPE);
    return serialized();
  });
}

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);

/** Elysia `:param` → OpenAPI `{param}`. */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

/** `GET /v1/apps/{app_id}` → `getAppsByAppId`; the leading `/v1` of Admin and platform paths carries no meaning. */
function operationId(method: string, path: string): string {
  const words = path
    .replace(/^\/v1\//, "/")
    .split("/")
    .filter(Boolean)
    .flatMap((s) => (s.startsWith("{") ? ["by", ...s.slice(1, -1).split(/[_-]/)] : s.split(/[^A-Za-z0-9]+/)))
    .filter(Boolean);
  return [method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join("");
}

function pathParameters(path: string) {
  return [...path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
    name: name!,
    in: "path",
    required: true,
    schema: { type: "string" },
    ...(name === "app_id" ? { description: "App UUID or slug" } : {}),
  }));
}

/**
 * An OpenAPI 3.1 document of exactly the routes this process serves. A route the contract describes
 * takes its parameters, request body and responses from the vendored contract schemas (structure only,
 * no prose); the appliance's own routes are described in `KNOWN` from their zod models. Tags (by
 * surface), security and the wire error responses are derived; a route may refine its entry with
 * Elysia's `detail` option (`operationId`, `summary`, `description`, `tags`, `security`, `responses`, `x-*`).
 */
export function buildOpenApi(routes: readonly MountedRoute[], config: Pick<Config, "publicUrl">) {
  const paths: Record<string, Record<string, unknown>> = {};
  const usedIds = new Set<string>();
  for (const route of routes) {
    if (!METHODS.has(route.method) || route.path.includes("*") || isHidden(route)) continue;
    const path = openApiPath(route.path);
    const surface = surfaceOf(path);
    const key = `${route.method} ${path}`;
    const detail = (route.hooks?.detail ?? {}) as OperationDoc;
    const params = pathParameters(path);
    const known = KNOWN[key];
    const op: OperationDoc = {
      operationId: operationId(route.method, path),
      tags: [surface],
      security: defaultSecurity(route.method, path, surface),
      ...(params.length ? { parameters: params } : {}),
      responses: { "2XX": { description: "Success" }, ...ERROR_RESPONSES },
      ...(known
        ? { ...known, parameters: [...params, ...(known.parameters ?? [])] }
        : fromContract(key, path)),
      ...detail,
    };
    if (op.parameters?.length === 0) delete op.parameters;
    // Any route can be refused before its handler runs (a NUL in the URL, an oversized body, a 5xx).
    const fallback = errorResponses([], TOKEN_ENDPOINT.test(key) || INTROSPECTION.test(key));
    op.responses = { ...op.responses, "4XX": op.responses?.["4XX"] ?? fallback["4XX"] };
    op.responses["5XX"] ??= fallback["5XX"];
    // Derived ids can only collide through odd paths (e.g. `a-b` vs `a_b`); keep them unique regardless.
    while (usedIds.has(op.operationId!)) op.operationId = `${op.operationId}_`;
    usedIds.add(op.operationId!);
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: op };
  }
  const sorted = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
  return {
    openapi: "3.1.0",
    info: {
      title: "Heimdall appliance",
      version: "1",
      description: "The routes this Heimdall process serves, generated at start-up from its route table.",
    },
    servers: [{ url: config.publicUrl }],
    tags: [
      {
        name: "consumer",
        description: "Per-app API under /{app_slug}/v1, used by the apps' end users and backends",
      },
      { name: "admin", description: "Managing apps: /v1/apps and /v1/stats" },
      { name: "platform", description: "Sign-in, workspaces, policies and platform API keys" },
      { name: "ops", description: "Health, readiness, metrics and this document" },
    ],
    paths: sorted,
    components: {
      schemas: { ...contractSchemas(paths), ...componentSchemas() },
      securitySchemes: {
        cookieAuth: {
          type: "apiKey",
          in: "cookie",
          name: "auth_token",
          description: "Platform session cookie set by POST /v1/auth/signin",
        },
        sessionBearer: {
          type: "http",
          scheme: "bearer",
          description: "The same platform session token, as a Bearer credential",
        },
        pak: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "pcft_live_…",
          description: "Platform API key, scoped by its workspace policies",
        },
        appBearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "An access token issued by the app (RS256 JWT), or an app API key (hdk_live_…)",
        },
        clientBasic: {
          type: "http",
          scheme: "basic",
          description: "An M2M client's id and secret, at the token and introspection endpoints",
        },
      },
    },
  };
}
