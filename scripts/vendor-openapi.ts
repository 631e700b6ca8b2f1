/** @module Vendors the hosted OpenAPI specs as prose-free contract data: `bun scripts/vendor-openapi.ts [--spec-dir DIR]`. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Contract, Operation, Param, Schema } from "../test/support/openapi.ts";

type Json = Record<string, unknown>;

const SOURCES = { heimdall: "heimdall.openapi.json", platform: "platform-auth.openapi.json" } as const;
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
const KEEP = new Set([
  "type",
  "properties",
  "required",
  "items",
  "enum",
  "nullable",
  "format",
  "$ref",
  "allOf",
  "oneOf",
  "anyOf",
  "additionalProperties",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "minItems",
  "maxItems",
  "pattern",
]);
const REF_PREFIX = "#/components/schemas/";

const obj = (v: unknown, where: string): Json => {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error(`${where}: expected an object`);
  return v as Json;
};

/** Keeps only structural keywords, recursing into sub-schemas; property names are data and are kept. */
function strip(raw: unknown, where: string, refs: Set<string>): Schema {
  const out: Json = {};
  for (const [k, v] of Object.entries(obj(raw, where))) {
    if (!KEEP.has(k)) continue;
    if (k === "properties") {
      const props = Object.entries(obj(v, `${where}.properties`));
      out[k] = Object.fromEntries(props.map(([p, s]) => [p, strip(s, `${where}.${p}`, refs)]));
    } else if (k === "items") out[k] = strip(v, `${where}[]`, refs);
    else if (k === "additionalProperties") out[k] = typeof v === "boolean" ? v : strip(v, `${where}{}`, refs);
    else if (k === "allOf" || k === "oneOf" || k === "anyOf") {
      if (!Array.isArray(v)) throw new Error(`${where}.${k}: expected an array`);
      out[k] = v.map((s, i) => strip(s, `${where}.${k}[${i}]`, refs));
    } else {
      if (k === "$ref") {
        if (typeof v !== "string" || !v.startsWith(REF_PREFIX))
          throw new Error(`${where}: unsupported $ref ${v}`);
        refs.add(v.slice(REF_PREFIX.length));
      }
      out[k] = v;
    }
  }
  return out as Schema;
}

const jsonSchemaOf = (media: unknown, where: string, refs: Set<string>): Schema | null => {
  const s = obj(media, where).schema;
  return s === undefined ? null : strip(s, where, refs);
};

function vendor(specPath: string): Contract {
  const spec = obj(JSON.parse(readFileSync(specPath, "utf8")), specPath);
  const components = obj(obj(spec.components ?? {}, "components").schemas ?? {}, "components.schemas");
  const refs = new Set<string>();
  const paths: Record<string, Record<string, Operation>> = {};
  for (const [path, item] of Object.entries(obj(spec.paths, "paths"))) {
    for (const [method, rawOp] of Object.entries(obj(item, path))) {
      if (!METHODS.includes(method)) continue;
      const where = `${method.toUpperCase()} ${path}`;
      const op = obj(rawOp, where);
      const parameters: Param[] = [];
      for (const raw of (op.parameters ?? []) as unknown[]) {
        const p = obj(raw, `${where} parameter`);
        if (p.$ref !== undefined) throw new Error(`${where}: $ref parameters are not supported`);
        if (p.in !== "path" && p.in !== "query") continue;
        const s = obj(p.schema ?? {}, `${where} ${p.name}`);
        const param: Param = { in: p.in, name: String(p.name), required: p.required === true };
        if (typeof s.type === "string") param.type = s.type;
        if (Array.isArray(s.enum)) param.enum = s.enum;
        parameters.push(param);
      }
      parameters.sort((a, b) => a.in.localeCompare(b.in) || a.name.localeCompare(b.name));
      let requestBody: Operation["requestBody"] = null;
      if (op.requestBody !== undefined) {
        const rb = obj(op.requestBody, `${where} requestBody`);
        if (rb.$ref !== undefined) throw new Error(`${where}: $ref request bodies are not supported`);
        const content = Object.entries(obj(rb.content ?? {}, `${where} requestBody.content`));
        requestBody = {
          required: rb.required === true,
          content: Object.fromEntries(
            content.map(([ct, m]) => [ct, jsonSchemaOf(m, `${where} body ${ct}`, refs)]),
          ),
        };
      }
      const responses: Record<string, Schema | null> = {};
      for (const [status, raw] of Object.entries(obj(op.responses ?? {}, `${where} responses`))) {
        const r = obj(raw, `${where} ${status}`);
        if (r.$ref !== undefined) throw new Error(`${where} ${status}: $ref responses are not supported`);
        const json =
          r.content === undefined ? undefined : obj(r.content, `${where} ${status}`)["application/json"];
        responses[status] = json === undefined ? null : jsonSchemaOf(json, `${where} ${status}`, refs);
      }
      paths[path] ??= {};
      paths[path][method] = { operationId: String(op.operationId ?? ""), parameters, requestBody, responses };
    }
  }
  const schemas: Record<string, Schema> = {};
  const queue = [...refs];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (name in schemas) continue;
    if (!(name in components)) throw new Error(`dangling $ref ${REF_PREFIX}${name}`);
    const found = new Set<string>();
    schemas[name] = strip(components[name], name, found);
    queue.push(...found);
  }
  const info = obj(spec.info, "info");
  return {
    generated_by: "scripts/vendor-openapi.ts",
    source: basename(specPath),
    spec_version: String(info.version),
    paths,
    schemas,
  };
}

/** Recursively sorts object keys (arrays keep their order) so output is byte-stable; the header stays on top. */
const sortKeys = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(sortKeys)
    : typeof v === "object" && v !== null
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sortKeys((v as Json)[k])]),
        )
      : v;

/**
 * Pretty-prints like Biome's JSON formatter (the repo's `lint` covers test/**): objects always expanded,
 * arrays of scalars inline when the line fits in 110 columns.
 */
function print(v: unknown, indent = "", margin = 0): string {
  const inner = `${indent}  `;
  const last = (i: number, n: number) => (i === n - 1 ? 0 : 1); // a trailing comma counts toward the width
  if (Array.isArray(v) && v.length) {
    const flat = `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
    if (v.every((x) => typeof x !== "object" || x === null) && indent.length + margin + flat.length <= 110)
      return flat;
    return `[\n${v.map((x, i) => inner + print(x, inner, last(i, v.length))).join(",\n")}\n${indent}]`;
  }
  if (typeof v === "object" && v !== null && Object.keys(v).length) {
    const entries = Object.entries(v).map(([k, x], i, all) => {
      const key = `${JSON.stringify(k)}: `;
      return inner + key + print(x, inner, key.length + last(i, all.length));
    });
    return `{\n${entries.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(v);
}

const argv = process.argv.slice(2);
const dirArg = argv[argv.indexOf("--spec-dir") + 1];
const specDir =
  argv.includes("--spec-dir") && dirArg ? resolve(dirArg) : resolve(import.meta.dir, "../../shared/spec");
const outDir = resolve(import.meta.dir, "../test/support/contract");
// The server's own copy (src/http/openapi.ts builds /openapi.json from it): the same prose-free data, both
// specs in one file, since the binary may not read test/.
const serverCopy = resolve(import.meta.dir, "../src/http/openapi-contract.json");
mkdirSync(outDir, { recursive: true });
const both: Record<string, Contract> = {};
for (const [name, file] of Object.entries(SOURCES)) {
  const contract = vendor(join(specDir, file));
  const out = join(outDir, `${name}.json`);
  const sorted = { ...contract, paths: sortKeys(contract.paths), schemas: sortKeys(contract.schemas) };
  const text = `${print(sorted)}\n`;
  writeFileSync(out, text);
  both[name] = sorted as Contract;
  const ops = Object.values(contract.paths).reduce((n, m) => n + Object.keys(m).length, 0);
  console.log(
    `${out}: ${ops} operations, ${Object.keys(contract.schemas).length} schemas, ${text.length} bytes`,
  );
}
const serverText = `${print(both)}\n`;
writeFileSync(serverCopy, serverText);
console.log(`${serverCopy}: ${serverText.length} bytes`);
