/** @module GET /openapi.json: an OpenAPI 3.1 document of the mounted routes, with the contract's schemas and the appliance additions'. */
import { Elysia } from "elysia";
import { z } from "zod";
import type { Config } from "../config/index.ts";
import type { OAuthErrorCode } from "../core/errors.ts";
import vendored from "./openapi-contract.json" with { type: "json" };

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
  const serialized = () => {
    openapi ??= JSON.stringify(buildOpenApi(routes(), config));
    return openapi;
  };
  return (
    new Elysia()
      // Built when the server starts listening, so the first request does not pay for it (in-process
      // tests, which never listen, build it on the first request instead).
      .onStart(() => {
        serialized();
      })
      .get("/openapi.json", ({ set }) => {
        Object.assign(set.headers, JSON_TYPE);
        return serialized();
      })
  );
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
    new_key_published_at: isoDate.meta({
      description:
        "When the key that signs from now on entered the JWKS: at least 2 h ago for a non-emergency rotation.",
    }),
    warning: z.string().nullable().meta({
      description:
        "Emergency rotations only: what verifier caches (JWKS max-age 1 h) may still get wrong until they refetch (accepting the withdrawn key's tokens; rejecting new tokens signed by a recently published key). Null otherwise.",
    }),
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

/** `POST /{app_slug}/v1/auth/mfa/enroll` and `…/enroll/confirm` (appliance additions; `auth/mfa-model.ts`). */
const mfaEnrollRequestSchema = component(
  "MfaEnrollRequest",
  z.object({
    mfa_token: z
      .string()
      .meta({ description: "The `mfa_token` of a sign-in answered with `enrollment_required: true`." }),
    label: z.string().max(64).optional(),
  }),
);

const mfaEnrollStartSchema = component(
  "MfaEnrollStart",
  z.object({
    factor: z.object({
      id: z.string(),
      type: z.string(),
      label: z.string().nullable(),
      enabled: z.boolean(),
      created_at: isoDate,
      enabled_at: isoDate.nullable(),
    }),
    enrollment: z.object({
      otpauth_uri: z.string(),
      secret: z.string().meta({ description: "The TOTP secret in Base32." }),
      qr_data_url: z.string(),
      algorithm: z.string(),
      digits: z.int(),
      period: z.int(),
    }),
  }),
);

const mfaEnrollConfirmRequestSchema = component(
  "MfaEnrollConfirmRequest",
  z.object({
    mfa_token: z.string(),
    factor_id: z.string(),
    codes: z.array(z.string()).length(2).meta({ description: "Two consecutive 6-digit TOTP codes." }),
  }),
);

const mfaEnrollTokensSchema = component(
  "MfaEnrollTokens",
  z.object({
    access_token: z.string(),
    refresh_token: z.string(),
    token_type: z.literal("Bearer"),
    expires_in: z.number(),
    recovery_codes: z.array(z.string()).meta({ description: "Shown once: 10 single-use recovery codes." }),
  }),
);

/** The wire error of every route but the token endpoint (docs/architecture.md, "Wire"; `http/errors.ts`). */
const errorSchema = component(
  "Error",
  z.object({
    statusCode: z.int().min(400).max(599),
    code: z
      .string()
      .regex(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/)
      .meta({ description: "Stable UPPER_SNAKE code." }),
    message: z.string(),
    details: z
      .array(z.object({ field: z.string(), reason: z.string() }))
      .optional()
      .meta({ description: "Only on 400 VALIDATION_ERROR: one entry per refused field." }),
    request_id: z.string().min(1),
  }),
);

/** The token endpoint's errors (RFC 6749 §5.2). */
const oauthErrorSchema = component(
  "OAuthError",
  z.object({
    error: z.enum([
      "invalid_request",
      "invalid_client",
      "unauthorized_client",
      "unsupported_grant_type",
      "invalid_scope",
      "invalid_target",
      "temporarily_unavailable",
    ] satisfies OAuthErrorCode[]),
    error_description: z.string().optional(),
  }),
);

/**
 * Introspection's RFC 7662 §2.1 form: the token, and for `client_secret_post` the client's credentials
 * (with `client_secret_basic` they ride in the Authorization header instead).
 */
const introspectFormSchema = component(
  "IntrospectForm",
  z.object({
    token: z.string().optional(),
    token_type_hint: z.string().optional(),
    client_id: z.string().optional(),
    client_secret: z.string().optional(),
  }),
);

/** One row of `GET /v1/apps/{app_id}/outbox` (`email/model.ts`, `OutboxEntryDto`). */
const outboxEntrySchema = component(
  "OutboxEntry",
  z.strictObject({
    id: z.string(),
    to: z.string(),
    from: z.string(),
    subject: z.string(),
    text: z.string().meta({ description: "The message with any code masked." }),
    status: z.enum(["pending", "sent", "failed"]),
    attempts: z.int().min(0),
    created_at: isoDate,
    sent_at: isoDate.nullable(),
    last_error: z.string().nullable(),
  }),
);

export const outboxPageSchema = component(
  "OutboxPage",
  z.strictObject({
    data: z.array(outboxEntrySchema),
    pagination: z.strictObject({ has_more: z.boolean(), next_cursor: z.string().nullable() }),
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
  parameters?: unknown[];
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
      "The pre-published next key starts signing and a new next key is published. A rotation without `emergency` never promotes a next key published less than 2 h ago (verifiers cache the JWKS for 1 h): it is refused with 409 `ROTATION_TOO_SOON` and changes nothing (when the app had no next key, one is published first), `Retry-After` and the message saying when it becomes possible. With `emergency: true` it happens at once whatever the next key's age, and the old key leaves the JWKS immediately instead of staying published for the overlap period; `warning` says what verifier caches may still miss. Audited as `app.key_rotated`. Policy action: `heimdall.rotate-secret`.",
    requestBody: { required: false, ...jsonContent(keyRotationRequestSchema) },
    responses: {
      "200": { description: "Rotation result", ...jsonContent(keyRotationSchema) },
      "409": {
        description:
          "`ROTATION_TOO_SOON`: the next key has not been published for 2 h yet; nothing was rotated. The message names the time from which a rotation is possible.",
        headers: {
          "Retry-After": {
            description: "Seconds until a non-emergency rotation becomes possible.",
            schema: { type: "integer", minimum: 1 },
          },
        },
        ...jsonContent(errorSchema),
      },
      ...ERROR_RESPONSES,
    },
  },
  "GET /v1/apps/{app_id}/outbox": {
    operationId: "listAppOutbox",
    parameters: [
      { name: "limit", in: "query", required: false, schema: { type: "string" } },
      { name: "cursor", in: "query", required: false, schema: { type: "string" } },
    ],
    responses: {
      "200": { description: "One page of the app's messages", ...jsonContent(outboxPageSchema) },
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
  "POST /{app_slug}/v1/auth/mfa/enroll": {
    operationId: "mfaEnrollAtSignin",
    summary: "Start the TOTP enrolment a required-MFA sign-in allows (appliance addition)",
    description:
      "When the app requires MFA (`mfa_required`, or the account's role in `mfa_required_roles`) and the account has no enabled factor, a correct password answers the challenge with `factors: []` and `enrollment_required: true`. Its `mfa_token` starts a pending TOTP factor here (the secret, the otpauth URI and a QR code), then `POST …/auth/mfa/enroll/confirm` enables it and completes the sign-in. A dead, expired or foreign token is 401 `MFA_TOKEN_INVALID`.",
    requestBody: { required: true, ...jsonContent(mfaEnrollRequestSchema) },
    responses: {
      "201": {
        description: "The pending factor and its enrolment data",
        ...jsonContent(mfaEnrollStartSchema),
      },
      ...ERROR_RESPONSES,
    },
  },
  "POST /{app_slug}/v1/auth/mfa/enroll/confirm": {
    operationId: "mfaEnrollConfirmAtSignin",
    summary: "Confirm the enrolment with two consecutive codes and finish the sign-in (appliance addition)",
    description:
      'Enables the factor and answers the token pair (`amr` `["pwd","totp"]`, `mfa_at` now) with the recovery codes, shown once. Wrong codes are 400 `MFA_ENROLLMENT_CODES_INVALID` and count against the challenge (five kill it: 429 `MFA_LOCKED`).',
    requestBody: { required: true, ...jsonContent(mfaEnrollConfirmRequestSchema) },
    responses: {
      "200": { description: "Tokens and the recovery codes", ...jsonContent(mfaEnrollTokensSchema) },
      ...ERROR_RESPONSES,
    },
  },
};

const PUBLIC_PLATFORM = new Set(["POST /v1/auth/signin"]);
/** Consumer routes that take no bearer credential: the sign-in family carries its proof in the body. */
const PUBLIC_CONSUMER =
  /^POST \/\{[^}]+\}\/v1\/auth\/(signup|signin|refresh|logout|mfa\/verify|mfa\/recover|mfa\/enroll|mfa\/enroll\/confirm)$/;
const TOKEN_ENDPOINT = /^POST \/\{[^}]+\}\/v1\/oauth\/token$/;
/** Introspection: an M2M client's credentials (RFC 7662) or the contract's Bearer self-introspection. */
const INTROSPECTION = /^POST \/\{[^}]+\}\/v1\/oauth\/introspect$/;
/** Platform routes a PAK may not call (docs/decisions.md, "Platform subset": a PAK cannot mint a PAK; profile and sessions are a person's). */
const HUMAN_ONLY =
  /^(GET \/v1\/(me|session)|POST \/v1\/auth\/logout|POST \/v1\/workspaces\/\{[^}]+\}\/api-keys)$/;

function defaultSecurity(method: string, path: string, surface: Surface): Security {
  const key = `${method} ${path}`;
  if (surface === "ops" || PUBLIC_PLATFORM.has(key) || PUBLIC_CONSUMER.test(key)) return [];
  // The client authenticates with HTTP Basic or with client_id/client_secret in the body (the empty requirement).
  if (TOKEN_ENDPOINT.test(key)) return [{ clientBasic: [] }, {}];
  if (INTROSPECTION.test(key)) return [{ clientBasic: [] }, { appBearer: [] }, {}];
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

/** The structural schema subset `scripts/vendor-openapi.ts` keeps (OpenAPI 3.0 style, with `nullable`). */
type VendoredSchema = { [keyword: string]: unknown };
interface VendoredOperation {
  operationId: string;
  parameters: { in: "path" | "query"; name: string; required: boolean; type?: string; enum?: unknown[] }[];
  requestBody: { required: boolean; content: Record<string, VendoredSchema | null> } | null;
  responses: Record<string, VendoredSchema | null>;
}
interface VendoredContract {
  paths: Record<string, Record<string, VendoredOperation>>;
  schemas: Record<string, VendoredSchema>;
}
const CONTRACTS = vendored as unknown as Record<"heimdall" | "platform", VendoredContract>;
const REF = "#/components/schemas/";

/**
 * Component names of the merged document: the heimdall contract's as they are; a platform schema that
 * differs from a heimdall one of the same name becomes `Platform<Name>`.
 */
const platformName = (name: string) => {
  const h = CONTRACTS.heimdall.schemas[name];
  const p = CONTRACTS.platform.schemas[name];
  return h === undefined || JSON.stringify(h) === JSON.stringify(p) ? name : `Platform${name}`;
};
const NAMERS = { heimdall: (n: string) => n, platform: platformName };

/** OpenAPI 3.0 `nullable` → JSON Schema 2020-12 (OpenAPI 3.1): `null` joins the type, or wraps the schema. */
function toJsonSchema(s: VendoredSchema, name: (n: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const sub = (x: unknown) => toJsonSchema(x as VendoredSchema, name);
  for (const [k, v] of Object.entries(s)) {
    if (k === "nullable") continue;
    if (k === "$ref") out.$ref = REF + name(String(v).slice(REF.length));
    else if (k === "properties")
      out.properties = Object.fromEntries(Object.entries(v as object).map(([p, x]) => [p, sub(x)]));
    else if (k === "items") out.items = sub(v);
    else if (k === "additionalProperties") out[k] = typeof v === "boolean" ? v : sub(v);
    else if (k === "allOf" || k === "oneOf" || k === "anyOf") out[k] = (v as unknown[]).map(sub);
    else out[k] = v;
  }
  if (s.nullable !== true) return out;
  if (typeof out.type === "string" && out.$ref === undefined) {
    out.type = [out.type, "null"];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    return out;
  }
  return { anyOf: [out, { type: "null" }] };
}

/** `/v1/apps/{app_id}` and `/v1/apps/:id` alike → `/v1/apps/{}`: routes and contract may name parameters differently. */
const shapeOf = (path: string) => path.replace(/\{[^}]+\}/g, "{}");

/** Contract operations by `METHOD shape`; where both specs have one, the spec the harness would pick wins. */
const contractIndex = (() => {
  const index = new Map<string, { spec: "heimdall" | "platform"; path: string; op: VendoredOperation }>();
  for (const spec of ["platform", "heimdall"] as const) {
    for (const [path, ops] of Object.entries(CONTRACTS[spec].paths)) {
      const platformPath = /^\/v1\/(auth|session|me|workspaces)(\/|$)/.test(path);
      for (const [method, op] of Object.entries(ops)) {
        const key = `${method.toUpperCase()} ${shapeOf(path)}`;
        if (spec === "heimdall" && index.has(key) && platformPath) continue;
        index.set(key, { spec, path, op });
      }
    }
  }
  return index;
})();

/** Served paths that answer exactly what a contract operation answers (stock clients' discovery locations). */
const CONTRACT_ALIASES: Record<string, { of: string; operationId: string }> = {
  "GET /{app_slug}/.well-known/openid-configuration": {
    of: "GET /{}/v1/.well-known/openid-configuration",
    operationId: "getOpenIdConfigurationAtIssuer",
  },
  "GET /.well-known/oauth-authorization-server/{app_slug}": {
    of: "GET /{}/v1/.well-known/openid-configuration",
    operationId: "getOAuthAuthorizationServerMetadata",
  },
  "GET /{app_slug}/.well-known/jwks.json": {
    of: "GET /{}/v1/.well-known/jwks.json",
    operationId: "getJwksAtIssuer",
  },
};
/** RFC 8414 §3's location under a path-prefixed public URL (`keys/routes.ts`, `prefixedMetadataRoute`). */
const PREFIXED_METADATA = /^GET \/\.well-known\/oauth-authorization-server\/.+\/\{[^}]+\}$/;
const PREFIXED_METADATA_ALIAS = {
  of: "GET /{}/v1/.well-known/openid-configuration",
  operationId: "getOAuthAuthorizationServerMetadataUnderPrefix",
};

/** The creates that honour `Idempotency-Key` (`http/idempotency.ts`, `idempotentCreate`). */
const IDEMPOTENT = new Set([
  "POST /v1/apps",
  "POST /v1/apps/{app_id}/api-keys",
  "POST /v1/apps/{app_id}/credentials",
]);
const IDEMPOTENCY_KEY = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description: "Replays the first answer for 24 h; the same key with another body is 409.",
  schema: { type: "string", minLength: 1, maxLength: 255 },
};

const STATUS_TEXT: Record<string, string> = {
  "200": "OK",
  "201": "Created",
  "202": "Accepted",
  "204": "No content",
  "301": "Moved permanently",
  "302": "Found",
  "303": "See other",
  "304": "Not modified",
};

/** The error responses of an operation: the wire error everywhere, RFC 6749's at the token endpoint. */
function errorResponses(statuses: string[], token: boolean) {
  const body = token
    ? { content: { "application/json": { schema: { anyOf: [ref(oauthErrorSchema), ref(errorSchema)] } } } }
    : jsonContent(errorSchema);
  const out: Record<string, unknown> = {};
  for (const status of statuses) out[status] = { description: `Error ${status}`, ...body };
  return {
    ...out,
    "4XX": { description: "Client error", ...body },
    "5XX": { description: "Server error", ...body },
  };
}

/** The document's entry for a served route the contract describes: its parameters, body and responses. */
function fromContract(key: string, path: string): OperationDoc | undefined {
  const alias = CONTRACT_ALIASES[key] ?? (PREFIXED_METADATA.test(key) ? PREFIXED_METADATA_ALIAS : undefined);
  const [method] = key.split(" ");
  const found = contractIndex.get(alias?.of ?? `${method} ${shapeOf(path)}`);
  if (!found) return undefined;
  const { spec, path: contractPath, op } = found;
  const name = NAMERS[spec];
  const schema = (s: VendoredSchema) => toJsonSchema(s, name);
  // Path parameters take the served route's names, matched by position.
  const served = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const theirs = [...contractPath.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const parameters = op.parameters
    .filter((p) => p.in === "query")
    .map((p) => ({
      name: p.name,
      in: p.in,
      required: p.required,
      schema: { ...(p.type ? { type: p.type } : {}), ...(p.enum ? { enum: p.enum } : {}) },
    }));
  const pathParams = served.map((n, i) => {
    const c = op.parameters.find((p) => p.in === "path" && p.name === theirs[i]);
    return {
      name: n,
      in: "path",
      required: true,
      schema: { type: c?.type ?? "string", ...(c?.enum ? { enum: c.enum } : {}) },
    };
  });
  // Introspection's client-authenticated mode answers a failed client authentication in RFC 6749 §5.2's shape.
  const token = TOKEN_ENDPOINT.test(key) || INTROSPECTION.test(key);
  let requestBody: unknown;
  if (op.requestBody) {
    const content: Record<string, unknown> = {};
    for (const [ct, s] of Object.entries(op.requestBody.content))
      content[ct] = s ? { schema: schema(s) } : {};
    // The token endpoint also takes the form encoding RFC 6749 §4.4.2 specifies.
    if (token && content["application/json"])
      content["application/x-www-form-urlencoded"] = content["application/json"];
    if (INTROSPECTION.test(key))
      content["application/x-www-form-urlencoded"] = { schema: ref(introspectFormSchema) };
    requestBody = { required: op.requestBody.required, content };
  }
  const responses: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const [status, s] of Object.entries(op.responses)) {
    if (Number(status) >= 400) errors.push(status);
    else
      responses[status] = {
        description: STATUS_TEXT[status] ?? `Status ${status}`,
        ...(s ? { content: { "application/json": { schema: schema(s) } } } : {}),
      };
  }
  // The key set and the metadata carry an ETag; a matching If-None-Match gets an empty 304.
  if (path.includes("/.well-known/")) responses["304"] = { description: STATUS_TEXT["304"] };
  return {
    operationId: alias?.operationId ?? op.operationId,
    parameters: [...pathParams, ...parameters, ...(IDEMPOTENT.has(key) ? [IDEMPOTENCY_KEY] : [])],
    ...(requestBody ? { requestBody } : {}),
    responses: { ...responses, ...errorResponses(errors, token) },
  };
}

/** The contract components the document's `$ref`s reach, in JSON Schema 2020-12 form. */
function contractSchemas(doc: unknown): Record<string, unknown> {
  const byName = new Map<string, () => Record<string, unknown>>();
  for (const spec of ["heimdall", "platform"] as const)
    for (const [n, s] of Object.entries(CONTRACTS[spec].schemas)) {
      const name = NAMERS[spec](n);
      if (!byName.has(name)) byName.set(name, () => toJsonSchema(s, NAMERS[spec]));
    }
  const out: Record<string, unknown> = {};
  const refsIn = (x: unknown) =>
    [...JSON.stringify(x).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
  const queue = refsIn(doc);
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const make = byName.get(name);
    if (name in out || !make) continue;
    out[name] = make();
    queue.push(...refsIn(out[name]));
  }
  return out;
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
    if (!METHODS.has(route.method) || route.path.includes("*")) continue;
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
