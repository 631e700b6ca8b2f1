/** @module The vendored contract as OpenAPI 3.1: the served routes it describes take their parameters, bodies and responses from it. */
import VENDORED_TEXT from "./openapi-contract.json" with { type: "text" };
import { errorResponses, introspectFormSchema, type OperationDoc, ref } from "./openapi-schemas.ts";
import { INTROSPECTION, TOKEN_ENDPOINT } from "./openapi-security.ts";

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
type Contracts = Record<"heimdall" | "platform", VendoredContract>;
let parsed: Contracts | undefined;
/** Parsed on first use (building /openapi.json), not at start: a process that never serves the document never holds it. */
const contracts = (): Contracts => (parsed ??= JSON.parse(VENDORED_TEXT as unknown as string) as Contracts);
const REF = "#/components/schemas/";

/**
 * Component names of the merged document: the heimdall contract's as they are; a platform schema that
 * differs from a heimdall one of the same name becomes `Platform<Name>`.
 */
const platformName = (name: string) => {
  const h = contracts().heimdall.schemas[name];
  const p = contracts().platform.schemas[name];
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
let index: ReturnType<typeof indexContracts> | undefined;
const contractIndex = () => (index ??= indexContracts());
/** Once the document is built and kept as text, the parsed contract is garbage: parsed again if ever needed. */
export function releaseContract(): void {
  parsed = undefined;
  index = undefined;
}
function indexContracts() {
  const index = new Map<string, { spec: "heimdall" | "platform"; path: string; op: VendoredOperation }>();
  for (const spec of ["platform", "heimdall"] as const) {
    for (const [path, ops] of Object.entries(contracts()[spec].paths)) {
      const platformPath = /^\/v1\/(auth|session|me|workspaces)(\/|$)/.test(path);
      for (const [method, op] of Object.entries(ops)) {
        const key = `${method.toUpperCase()} ${shapeOf(path)}`;
        if (spec === "heimdall" && index.has(key) && platformPath) continue;
        index.set(key, { spec, path, op });
      }
    }
  }
  return index;
}

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
  "POST /v1/apps/{app_id}/end-users/invites",
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

/** The document's entry for a served route the contract describes: its parameters, body and responses. */
export function fromContract(key: string, path: string): OperationDoc | undefined {
  const alias = CONTRACT_ALIASES[key] ?? (PREFIXED_METADATA.test(key) ? PREFIXED_METADATA_ALIAS : undefined);
  const [method] = key.split(" ");
  const found = contractIndex().get(alias?.of ?? `${method} ${shapeOf(path)}`);
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
export function contractSchemas(doc: unknown): Record<string, unknown> {
  const byName = new Map<string, () => Record<string, unknown>>();
  for (const spec of ["heimdall", "platform"] as const)
    for (const [n, s] of Object.entries(contracts()[spec].schemas)) {
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
