/** @module Unknown body fields: the keys a request body carries that its zod schema does not declare, with a hint at the field that was meant. */
import type { z } from "zod";
import type { ErrorDetail } from "../core/errors.ts";

/**
 * At most this many unknown fields are named in one answer: enough to fix a client, while a 64 KiB body of
 * junk keys cannot turn into a 64 KiB error.
 */
export const MAX_UNKNOWN_REPORTED = 20;
/** Longest field path echoed back, as for a repeated form field in body.ts. */
const MAX_FIELD_CHARS = 64;

type Path = (string | number)[];
// Zod 4 keeps each schema's definition in `_zod.def`, tagged by `type`; only the fields read below matter.
type Def = {
  type: string;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  getter?: () => z.core.$ZodType;
  element?: z.core.$ZodType;
  items?: z.core.$ZodType[];
  rest?: z.core.$ZodType | null;
  valueType?: z.core.$ZodType;
  options?: z.core.$ZodType[];
  left?: z.core.$ZodType;
  right?: z.core.$ZodType;
  shape?: Record<string, z.core.$ZodType>;
  catchall?: z.core.$ZodType;
};

/** Schemas that only wrap another one (`.optional()`, `.default()`, …): the keys are the inner schema's. */
const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "nonoptional", "catch", "readonly"]);

const defOf = (s: z.core.$ZodType): Def => s._zod.def as unknown as Def;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The fields of `input` that `schema` does not declare, as validation details, checked wherever the schema
 * describes an object (nested objects and array items included). An object schema declared open
 * (`z.looseObject`, or a `catchall`) and a `z.record` (e.g. `metadata`) take any key: that is how a body
 * says "arbitrary keys are fine here". Only the input side of a transform is read: it is what the client sent.
 */
export function unknownFields(schema: z.core.$ZodType, input: unknown): ErrorDetail[] {
  return walk(schema, input, []).slice(0, MAX_UNKNOWN_REPORTED);
}

function walk(schema: z.core.$ZodType, value: unknown, path: Path): ErrorDetail[] {
  const def = defOf(schema);
  if (WRAPPERS.has(def.type)) return walk(def.innerType!, value, path);
  switch (def.type) {
    case "pipe":
      return walk(def.in!, value, path);
    case "lazy":
      return walk(def.getter!(), value, path);
    case "array":
      return Array.isArray(value) ? value.flatMap((v, i) => walk(def.element!, v, [...path, i])) : [];
    case "tuple":
      if (!Array.isArray(value)) return [];
      return value.flatMap((v, i) => {
        const item = def.items![i] ?? def.rest;
        return item ? walk(item, v, [...path, i]) : [];
      });
    case "record":
      if (!isRecord(value)) return [];
      return Object.entries(value).flatMap(([k, v]) => walk(def.valueType!, v, [...path, k]));
    case "union":
      return walkUnion(def.options!, value, path);
    case "intersection": {
      // A key is unknown only when neither side declares it.
      const right = new Set(walk(def.right!, value, path).map((d) => d.field));
      return walk(def.left!, value, path).filter((d) => right.has(d.field));
    }
    case "object":
      return isRecord(value) ? walkObject(def, value, path) : [];
    default:
      return [];
  }
}

/**
 * A body fits a union when it fits one of the options that could take it (an object option for an object,
 * not `z.string()`); otherwise the closest option's complaints stand.
 */
function walkUnion(options: z.core.$ZodType[], value: unknown, path: Path): ErrorDetail[] {
  let best: ErrorDetail[] | undefined;
  for (const option of options) {
    if (!couldTake(option, value)) continue;
    const found = walk(option, value, path);
    if (found.length === 0) return found;
    if (best === undefined || found.length < best.length) best = found;
  }
  return best ?? [];
}

/** Whether `schema` describes values of `value`'s kind (object or array), which is when its keys can be judged. */
function couldTake(schema: z.core.$ZodType, value: unknown): boolean {
  const def = defOf(schema);
  if (WRAPPERS.has(def.type)) return couldTake(def.innerType!, value);
  if (def.type === "pipe") return couldTake(def.in!, value);
  if (def.type === "lazy") return couldTake(def.getter!(), value);
  if (def.type === "union") return def.options!.some((o) => couldTake(o, value));
  if (Array.isArray(value)) return def.type === "array" || def.type === "tuple";
  if (isRecord(value)) return def.type === "object" || def.type === "record" || def.type === "intersection";
  return false;
}

function walkObject(def: Def, value: Record<string, unknown>, path: Path): ErrorDetail[] {
  const shape = def.shape ?? {};
  const catchall = def.catchall;
  // `.strict()` sets a `never` catchall: as closed as the default, and reported here rather than by zod.
  const open = catchall !== undefined && defOf(catchall).type !== "never";
  const known = Object.keys(shape);
  const out: ErrorDetail[] = [];
  for (const [key, v] of Object.entries(value)) {
    // Own keys only: `constructor` or `__proto__` are not fields because every object inherits them.
    if (Object.hasOwn(shape, key)) out.push(...walk(shape[key]!, v, [...path, key]));
    else if (open) out.push(...walk(catchall!, v, [...path, key]));
    else out.push({ field: fieldName([...path, key]), reason: reasonFor(key, known) });
  }
  return out;
}

function fieldName(path: Path): string {
  const name = path.join(".");
  return name.length > MAX_FIELD_CHARS ? `${name.slice(0, MAX_FIELD_CHARS)}…` : name;
}

function reasonFor(key: string, known: readonly string[]): string {
  const meant = suggestion(key, known);
  return meant === undefined ? "unknown field" : `unknown field; did you mean ${meant}?`;
}

/** Case and separators dropped: `passwordMinLength`, `PasswordMinLength` and `password-min-length` all meet `password_min_length`. */
const folded = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, "");

/**
 * The declared field the caller most likely meant: the same words in another spelling (a camelCase SDK
 * object, a kebab-case form), else a typo away (one edit in a name of 5 to 9 characters, two from 10 on,
 * none below 5, where one edit turns `rule` into `role`).
 */
export function suggestion(key: string, known: readonly string[]): string | undefined {
  const f = folded(key);
  if (f === "") return undefined;
  const sameWords = known.find((k) => folded(k) === f);
  if (sameWords !== undefined) return sameWords;
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const limit = Math.min(2, Math.floor(Math.min(f.length, folded(name).length) / 5));
    const d = editDistance(f, folded(name), limit);
    if (d <= limit && (best === undefined || d < best.distance)) best = { name, distance: d };
  }
  return best?.name;
}

/** Levenshtein distance, giving up (returning `limit + 1`) once it must exceed `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      row.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin > limit) return limit + 1;
    prev = row;
  }
  return prev[b.length]!;
}
