/** @module Contract checks: validates response bodies against the vendored OpenAPI schemas in `./contract/`. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The structural JSON Schema subset kept by `scripts/vendor-openapi.ts`. */
export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  nullable?: boolean;
  format?: string;
  $ref?: string;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  additionalProperties?: boolean | Schema;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
}
export interface Param {
  in: "path" | "query";
  name: string;
  required: boolean;
  type?: string;
  enum?: unknown[];
}
export interface Operation {
  operationId: string;
  parameters: Param[];
  requestBody: { required: boolean; content: Record<string, Schema | null> } | null;
  /** Response schema by status code; `null` when the response has no JSON content. */
  responses: Record<string, Schema | null>;
}
export interface Contract {
  generated_by: string;
  source: string;
  spec_version: string;
  /** path template → lower-case method → operation */
  paths: Record<string, Record<string, Operation>>;
  schemas: Record<string, Schema>;
}
export type SpecName = "heimdall" | "platform";
export interface MatchOptions {
  /** Reject properties the schema does not declare (catches leaked fields). Default false. */
  strict?: boolean;
}

const contracts: Partial<Record<SpecName, Contract>> = {};
export function loadContract(spec: SpecName): Contract {
  contracts[spec] ??= JSON.parse(
    readFileSync(join(import.meta.dir, "contract", `${spec}.json`), "utf8"),
  ) as Contract;
  return contracts[spec];
}

/** Finds an operation by template (`/v1/apps/{app_id}`) or concrete path (`/v1/apps/abc?x=1`); literals beat params. */
function findOperation(
  spec: SpecName,
  method: string,
  path: string,
): { path: string; op: Operation } | undefined {
  const { paths } = loadContract(spec);
  const m = method.toLowerCase();
  const exact = paths[path]?.[m];
  if (exact) return { path, op: exact };
  const segs = path.split("?")[0]!.split("/");
  let best: { path: string; op: Operation; literals: number } | undefined;
  for (const [tpl, ops] of Object.entries(paths)) {
    const t = tpl.split("/");
    const op = ops[m];
    if (!op || t.length !== segs.length) continue;
    if (!t.every((s, i) => (s.startsWith("{") && segs[i] !== "") || s === segs[i])) continue;
    const literals = t.filter((s) => !s.startsWith("{")).length;
    if (!best || literals > best.literals) best = { path: tpl, op, literals };
  }
  return best;
}

export function operationExists(spec: SpecName, method: string, pathTemplate: string): boolean {
  return findOperation(spec, method, pathTemplate) !== undefined;
}

export function listOperations(spec: SpecName): { method: string; path: string; operationId: string }[] {
  return Object.entries(loadContract(spec).paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([m, op]) => ({ method: m.toUpperCase(), path, operationId: op.operationId })),
  );
}

const ISO_DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SNAKE_CODE = "^(?:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*|[a-z][a-z0-9]*(?:_[a-z0-9]+)*)$";

/** The wire error (docs/architecture.md, "Wire"): `{statusCode, code, message, request_id, details?}`. */
export const ERROR_SCHEMA: Schema = {
  type: "object",
  required: ["statusCode", "code", "message", "request_id"],
  properties: {
    statusCode: { type: "integer", minimum: 400, maximum: 599 },
    code: { type: "string", pattern: SNAKE_CODE },
    message: { type: "string" },
    request_id: { type: "string", minLength: 1 },
    details: {
      type: "array",
      items: {
        type: "object",
        required: ["field", "reason"],
        properties: { field: { type: "string" }, reason: { type: "string" } },
      },
    },
  },
};

const ptrOf = (ptr: string, key: string | number) =>
  `${ptr}/${String(key).replace(/~/g, "~0").replace(/\//g, "~1")}`;
const show = (v: unknown) => (v === undefined ? "undefined" : JSON.stringify(v));
const jsonType = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v;
const typeOk = (type: string, v: unknown): boolean =>
  type === "number" ? typeof v === "number" && Number.isFinite(v) : jsonType(v) === type;

interface Ctx {
  schemas: Record<string, Schema>;
  strict: boolean;
  errs: string[];
}

function resolveRef(cx: Ctx, ref: string): Schema {
  const s = cx.schemas[ref.replace("#/components/schemas/", "")];
  if (!s) throw new Error(`unresolvable $ref ${ref}`);
  return s;
}

/** Property names a schema declares, including those contributed by `allOf` branches. */
function declared(cx: Ctx, s: Schema, into = new Set<string>()): Set<string> {
  if (s.$ref) return declared(cx, resolveRef(cx, s.$ref), into);
  for (const k of Object.keys(s.properties ?? {})) into.add(k);
  for (const b of s.allOf ?? []) declared(cx, b, into);
  return into;
}

/**
 * Pushes every mismatch into `cx.errs`. `outer`: property names allowed by an enclosing schema
 * (oneOf/anyOf parent), or `null` when an enclosing `allOf` parent already checks unknown properties.
 */
function check(cx: Ctx, s: Schema, v: unknown, ptr: string, outer?: Set<string> | null): void {
  if (v === null && s.nullable) return;
  if (s.$ref) {
    check(cx, resolveRef(cx, s.$ref), v, ptr, outer);
    return;
  }
  const at = ptr || "(root)";
  const err = (msg: string) => cx.errs.push(`${at}: ${msg}`);
  if (s.type && !typeOk(s.type, v)) {
    err(`expected ${s.type}${s.nullable ? " or null" : ""}, got ${jsonType(v)}`);
    return;
  }
  if (s.enum && !s.enum.some((e) => e === v)) err(`${show(v)} is not one of ${show(s.enum)}`);
  if (typeof v === "string") {
    const len = [...v].length;
    if (s.minLength !== undefined && len < s.minLength) err(`shorter than minLength ${s.minLength}`);
    if (s.maxLength !== undefined && len > s.maxLength) err(`longer than maxLength ${s.maxLength}`);
    if (s.pattern !== undefined && !new RegExp(s.pattern, "u").test(v))
      err(`${show(v)} does not match /${s.pattern}/`);
    if (s.format === "date-time" && !(ISO_DATE_TIME.test(v) && !Number.isNaN(new Date(v).getTime())))
      err(`${show(v)} is not an ISO 8601 date-time`);
    if (s.format === "uuid" && !UUID.test(v)) err(`${show(v)} is not a UUID`);
  }
  if (typeof v === "number") {
    if (s.minimum !== undefined && v < s.minimum) err(`${v} is below minimum ${s.minimum}`);
    if (s.maximum !== undefined && v > s.maximum) err(`${v} is above maximum ${s.maximum}`);
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < s.minItems) err(`fewer than minItems ${s.minItems}`);
    if (s.maxItems !== undefined && v.length > s.maxItems) err(`more than maxItems ${s.maxItems}`);
    if (s.items) for (const [i, x] of v.entries()) check(cx, s.items, x, ptrOf(ptr, i));
  }
  const known = declared(cx, s, new Set(outer ?? []));
  if (jsonType(v) === "object") {
    const o = v as Record<string, unknown>;
    const has = (k: string) => Object.hasOwn(o, k) && o[k] !== undefined; // undefined = absent, as in JSON
    for (const k of s.required ?? []) if (!has(k)) err(`missing required property "${k}"`);
    for (const [k, ps] of Object.entries(s.properties ?? {})) if (has(k)) check(cx, ps, o[k], ptrOf(ptr, k));
    const ap = s.additionalProperties;
    const hasShape = s.properties !== undefined || (s.allOf !== undefined && known.size > 0);
    const closed = ap === false || (cx.strict && ap === undefined && hasShape);
    if (outer !== null && (closed || typeof ap === "object")) {
      for (const k of Object.keys(o).filter((k) => !known.has(k) && has(k))) {
        if (typeof ap === "object") check(cx, ap, o[k], ptrOf(ptr, k));
        else cx.errs.push(`${ptrOf(ptr, k)}: unexpected property`);
      }
    }
  }
  for (const b of s.allOf ?? []) check(cx, b, v, ptr, null);
  for (const kw of ["oneOf", "anyOf"] as const) {
    const branches = s[kw];
    if (!branches) continue;
    const failures = branches.map((b) => {
      const sub: Ctx = { ...cx, errs: [] };
      check(sub, b, v, ptr, known);
      return sub.errs;
    });
    if (failures.some((f) => f.length === 0)) continue;
    err(`matches none of ${kw} (${branches.length} branches)`);
    for (const [i, f] of failures.entries()) for (const e of f) cx.errs.push(`  [${kw}#${i}] ${e}`);
  }
}

function validate(schema: Schema, body: unknown, schemas: Record<string, Schema>, strict: boolean): string[] {
  const cx: Ctx = { schemas, strict, errs: [] };
  check(cx, schema, body, "");
  return cx.errs;
}

const fail = (title: string, errs: string[], body: unknown): never => {
  const dump = show(body);
  throw new Error(
    `${title}:\n${errs.map((e) => `  ${e}`).join("\n")}\nbody: ${dump.length > 2000 ? `${dump.slice(0, 2000)}…` : dump}`,
  );
};

/** Mismatches of `body` against the wire error shape (and `code`/`status` when given); empty when it conforms. */
export function errorShapeMismatches(
  body: unknown,
  code?: string,
  status?: number,
  opts: MatchOptions = {},
): string[] {
  const errs = validate(ERROR_SCHEMA, body, {}, opts.strict ?? false);
  const b = (jsonType(body) === "object" ? body : {}) as Record<string, unknown>;
  if (code !== undefined && b.code !== code) errs.push(`/code: expected ${show(code)}, got ${show(b.code)}`);
  if (status !== undefined && b.statusCode !== status)
    errs.push(`/statusCode: expected ${status} (the HTTP status), got ${show(b.statusCode)}`);
  return errs;
}

/** Asserts `body` is a wire error (optionally with this `code`); throws listing every mismatch. */
export function expectErrorShape(body: unknown, code?: string, opts: MatchOptions = {}): void {
  const errs = errorShapeMismatches(body, code, undefined, opts);
  if (errs.length) fail(`body is not a Heimdall error${code ? ` with code ${code}` : ""}`, errs, body);
}

/**
 * Mismatches of a response against the contract; empty when it conforms. Throws when the operation is not
 * in the contract, or the status is not documented for it and is < 400. Error statuses without a schema are
 * checked against the wire error shape; 204 must have an empty body; other content-less responses are unchecked.
 */
export function responseMismatches(
  spec: SpecName,
  method: string,
  pathTemplate: string,
  status: number,
  body: unknown,
  opts: MatchOptions = {},
): string[] {
  const M = method.toUpperCase();
  const found = findOperation(spec, method, pathTemplate);
  if (!found) throw new Error(`no operation ${M} ${pathTemplate} in the ${spec} contract`);
  const { op, path } = found;
  const key = String(status);
  if (!Object.hasOwn(op.responses, key) && status < 400) {
    const documented = Object.keys(op.responses).join(", ");
    throw new Error(
      `no response ${status} for ${M} ${path} (${op.operationId}); the contract documents: ${documented}`,
    );
  }
  const schema = op.responses[key] ?? null;
  if (schema !== null) return validate(schema, body, loadContract(spec).schemas, opts.strict ?? false);
  if (status >= 400) return errorShapeMismatches(body, undefined, status, opts);
  if (status === 204 && body !== undefined && body !== null && body !== "")
    return [`(root): 204 must have an empty body, got ${show(body)}`];
  return [];
}

/** Throws an Error listing every mismatch (JSON-pointer paths) between `body` and the contract's response schema. */
export function expectResponseMatches(
  spec: SpecName,
  method: string,
  pathTemplate: string,
  status: number,
  body: unknown,
  opts: MatchOptions = {},
): void {
  const errs = responseMismatches(spec, method, pathTemplate, status, body, opts);
  if (!errs.length) return;
  const op = findOperation(spec, method, pathTemplate)!;
  fail(
    `${method.toUpperCase()} ${op.path} ${status} (${op.op.operationId}) does not match the ${spec} contract${opts.strict ? " (strict)" : ""}`,
    errs,
    body,
  );
}
