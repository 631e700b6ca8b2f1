/** @module GET /openapi.json: an OpenAPI 3.1 document generated from the mounted routes, with the appliance-only additions described. */
import { Elysia } from "elysia";
import { z } from "zod";
import type { Config } from "../config/index.ts";

/** What the generator needs of a mounted route (a subset of Elysia's `app.routes` entries). */
export interface MountedRoute {
  readonly method: string;
  readonly path: string;
  /** Elysia keeps a route's `detail` option here; see `buildOpenApi` for the keys it honours. */
  readonly hooks?: { readonly detail?: unknown };
}

const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };

/**
 * `routes` returns the composed app's route list; it is called on the first /openapi.json request,
 * once every module is mounted, and the document is then kept (routes do not change at runtime).
 */
export function openApiRoutes(config: Pick<Config, "publicUrl">, routes: () => readonly MountedRoute[]) {
  let openapi: string | undefined;
  return new Elysia().get("/openapi.json", ({ set }) => {
    openapi ??= JSON.stringify(buildOpenApi(routes(), config));
    Object.assign(set.headers, JSON_TYPE);
    return openapi;
  });
}

export type Surface = "consumer" | "admin" | "platform" | "ops";

const OPS_PATHS = new Set(["/healthz", "/readyz", "/metrics", "/openapi.json"]);

export function surfaceOf(path: string): Surface {
  if (OPS_PATHS.has(path)) return "ops";
  if (/^\/v1\/(apps|stats)(\/|$)/.test(path)) return "admin";
  if (path.startsWith("/v1/")) return "platform";
  return "consumer";
}

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);

/** Elysia `:param` → OpenAPI `{param}`. */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

/** The documented component schemas; a private registry, so nothing else registered with zod leaks in. */
const components = z.registry<{ id: string }>();
const component = <T extends z.ZodType>(id: string, schema: T): T => {
  components.add(schema, { id });
  return schema;
};

const isoDate = z.iso.datetime({ offset: true });

/** The appliance's key listing (`GET /v1/apps/{app_id}/keys`): metadata only, never key material. */
export const signingKeySchema = component(
  "SigningKey",
  z.strictObject({
    kid: z.string(),
    alg: z.literal("RS256"),
    state: z.enum(["next", "active", "retiring", "retired"]),
    created_at: isoDate,
    activates_at: isoDate.meta({
      description: "When a next key starts signing; when an active key started.",
    }),
    rotated_at: isoDate.nullable().meta({ description: "When the key stopped signing." }),
    retire_at: isoDate.nullable().meta({ description: "When a retiring key leaves the JWKS." }),
    retired_at: isoDate.nullable(),
  }),
);

export const signingKeyListSchema = component(
  "SigningKeyList",
  z.strictObject({ data: z.array(signingKeySchema) }),
);

export const keyRotationSchema = component(
  "KeyRotation",
  z.strictObject({
    old_kid: z.string().nullable().meta({ description: "The key that stopped signing." }),
    new_kid: z.string().meta({ description: "The key that signs from now on." }),
    next_kid: z.string().nullable().meta({ description: "The freshly pre-published successor." }),
    emergency: z
      .boolean()
      .meta({ description: "True when the old key was withdrawn from the JWKS at once." }),
    keys: z.array(signingKeySchema).meta({ description: "The app's keys after the rotation." }),
  }),
);

export const keyRotationRequestSchema = component(
  "KeyRotationRequest",
  z.strictObject({
    emergency: z
      .boolean()
      .optional()
      .meta({ description: "Withdraw the old key from the JWKS now instead of after the overlap." }),
  }),
);

/** `POST /{app_slug}/v1/me/reauthenticate` (appliance addition). */
export const reauthenticationRequestSchema = component(
  "ReauthenticationRequest",
  z.object({ password: z.string().min(1).meta({ description: "The account's current password." }) }),
);

export const reauthenticationSchema = component(
  "Reauthentication",
  z.strictObject({
    authenticated_at: isoDate.meta({ description: "When the session proved the password, i.e. now." }),
  }),
);

const errorSchema = component(
  "Error",
  z.object({
    statusCode: z.int(),
    code: z.string().meta({ description: "Stable UPPER_SNAKE error code." }),
    message: z.string(),
    details: z.array(z.object({ field: z.string(), reason: z.string() })).optional(),
    request_id: z.string(),
  }),
);

export const healthSchema = component("Health", z.object({ status: z.literal("ok") }));
export const readinessSchema = component(
  "Readiness",
  z.object({
    status: z.enum(["ready", "unavailable"]),
    checks: z.object({ db: z.enum(["ok", "failed"]), keys: z.enum(["ok", "failed"]) }),
    reasons: z
      .object({ db: z.string().optional(), keys: z.string().optional() })
      .optional()
      .meta({ description: "On 503: a short reason per failed check (no secrets, ids or paths)." }),
  }),
);

const ref = (schema: z.ZodType) => ({ $ref: `#/components/schemas/${components.get(schema)!.id}` });
const jsonContent = (schema: z.ZodType) => ({ content: { "application/json": { schema: ref(schema) } } });

/** The registry as OpenAPI components: refs point into `components.schemas`, date-times keep only `format`. */
function componentSchemas(): Record<string, unknown> {
  const { schemas } = z.toJSONSchema(components, {
    target: "draft-2020-12",
    uri: (id) => `#/components/schemas/${id}`,
    override: ({ jsonSchema }) => {
      if (jsonSchema.format === "date-time") delete jsonSchema.pattern;
    },
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]),
  );
}

const ERROR_RESPONSES = {
  "4XX": { description: "Client error", ...jsonContent(errorSchema) },
  "5XX": { description: "Server error", ...jsonContent(errorSchema) },
};

type Security = Record<string, string[]>[];

const ADMIN_SECURITY: Security = [{ cookieAuth: [] }, { sessionBearer: [] }, { pak: [] }];

interface OperationDoc {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Security;
  requestBody?: unknown;
  responses?: Record<string, unknown>;
  [extension: `x-${string}`]: unknown;
}

/** What this appliance documents itself, keyed `METHOD path`; everything else is described generically. */
const KNOWN: Record<string, OperationDoc> = {
  "GET /healthz": {
    operationId: "getHealth",
    summary: "Liveness: the process is up",
    security: [],
    responses: { "200": { description: "Alive", ...jsonContent(healthSchema) } },
  },
  "GET /readyz": {
    operationId: "getReadiness",
    summary:
      "Readiness: the database reads and takes writes, every active app's signing key opens, and the master key opens every stored secret",
    security: [],
    responses: {
      "200": { description: "Ready", ...jsonContent(readinessSchema) },
      "503": { description: "A check failed", ...jsonContent(readinessSchema) },
    },
  },
  "GET /metrics": {
    operationId: "getMetrics",
    summary: "Prometheus metrics (text exposition format 0.0.4)",
    security: [],
    responses: {
      "200": { description: "Metrics", content: { "text/plain": { schema: { type: "string" } } } },
    },
  },
  "GET /openapi.json": {
    operationId: "getOpenApi",
    summary: "This document",
    security: [],
    responses: {
      "200": {
        description: "OpenAPI 3.1 document",
        content: { "application/json": { schema: { type: "object" } } },
      },
    },
  },
  "GET /v1/apps/{app_id}/keys": {
    operationId: "listAppSigningKeys",
    summary: "List the app's signing keys (appliance addition)",
    description:
      "Key metadata and rotation schedule, newest first. Public key material is in the app's JWKS; private keys never leave the vault. Policy action: `heimdall.read`.",
    responses: {
      "200": { description: "The app's keys", ...jsonContent(signingKeyListSchema) },
      ...ERROR_RESPONSES,
    },
  },
  "POST /v1/apps/{app_id}/keys/rotate": {
    operationId: "rotateAppSigningKey",
    summary: "Rotate the app's signing key now (appliance addition)",
    description:
      "The pre-published next key starts signing and a new next key is published. With `emergency: true` the old key leaves the JWKS immediately instead of staying published for the overlap period. Audited as `app.key_rotated`. Policy action: `heimdall.rotate-secret`.",
    requestBody: { required: false, ...jsonContent(keyRotationRequestSchema) },
    responses: {
      "200": { description: "Rotation result", ...jsonContent(keyRotationSchema) },
      ...ERROR_RESPONSES,
    },
  },
  "POST /{app_slug}/v1/me/reauthenticate": {
    operationId: "reauthenticateMe",
    summary: "Confirm the password to renew the session's authentication time (appliance addition)",
    description:
      "Promoting a contact to primary, changing the password and deleting a verified contact need the session to have proved the password within the last 10 minutes (at sign-in or here); otherwise they answer 403 `REAUTHENTICATION_REQUIRED`. A wrong password is 401 `INVALID_CREDENTIALS`, counted per account (shared with change-password) and per client address; past the limit 429 `RATE_LIMITED`. A refresh does not renew the time. Audited as `session.reauthenticated` / `session.reauthentication_failed`.",
    requestBody: { required: true, ...jsonContent(reauthenticationRequestSchema) },
    responses: {
      "200": { description: "The session's new authentication time", ...jsonContent(reauthenticationSchema) },
      ...ERROR_RESPONSES,
    },
  },
};

const PUBLIC_PLATFORM = new Set(["POST /v1/auth/signin"]);
/** Platform routes a PAK may not call (docs/decisions.md, "Platform subset": a PAK cannot mint a PAK; profile and sessions are a person's). */
const HUMAN_ONLY =
  /^(GET \/v1\/(me|session)|POST \/v1\/auth\/logout|POST \/v1\/workspaces\/\{[^}]+\}\/api-keys)$/;

function defaultSecurity(method: string, path: string, surface: Surface): Security {
  const key = `${method} ${path}`;
  if (surface === "ops" || PUBLIC_PLATFORM.has(key)) return [];
  if (surface === "consumer") return path.includes("/.well-known/") ? [] : [{ appBearer: [] }];
  if (HUMAN_ONLY.test(key)) return ADMIN_SECURITY.filter((s) => !("pak" in s));
  return ADMIN_SECURITY;
}

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
 * An OpenAPI 3.1 document of exactly the routes this process serves. Paths, tags (by surface),
 * security and operation ids are derived; a route may refine its entry with Elysia's `detail`
 * option (`operationId`, `summary`, `description`, `tags`, `security`, `responses`, `x-*`).
 */
export function buildOpenApi(routes: readonly MountedRoute[], config: Pick<Config, "publicUrl">) {
  const paths: Record<string, Record<string, unknown>> = {};
  const usedIds = new Set<string>();
  for (const route of routes) {
    if (!METHODS.has(route.method) || route.path.includes("*")) continue;
    const path = openApiPath(route.path);
    const surface = surfaceOf(path);
    const key = `${route.method} ${path}`;
    const detail = (route.hooks?.detail ?? {}) as OperationDoc;
    const params = pathParameters(path);
    const op: OperationDoc & { parameters?: unknown[] } = {
      operationId: operationId(route.method, path),
      tags: [surface],
      security: defaultSecurity(route.method, path, surface),
      ...(params.length ? { parameters: params } : {}),
      responses: { "2XX": { description: "Success" }, ...ERROR_RESPONSES },
      ...KNOWN[key],
      ...detail,
    };
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
      schemas: componentSchemas(),
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
          description: "An access token issued by the app (RS256 JWT), or an app API key (hdk_live_…)",
        },
      },
    },
  };
}
