/** @module Request bodies: size cap, JSON and form parsing, and zod validation into the wire error's detail list (docs/architecture.md, "Wire"). */
import type { z } from "zod";
import { fail, type HeimdallError, validationError } from "../core/errors.ts";
import { routeRulesOf } from "./route-rules.ts";
import { unknownFields } from "./unknown-fields.ts";

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Bulk end-user operations take up to 5,000 account ids (the spec's cap), about 190 KB of JSON; they
 * alone get a larger body allowance, which their routes declare (`routeRules` in users/routes.ts).
 * Everything else keeps the 64 KiB of docs/decisions.md ("Wire and HTTP"). cli/serve.ts caps above both.
 */
export const MAX_BULK_BODY_BYTES = 256 * 1024;

/** Symbol placed in `body` when the request had none, so routes can tell "missing" from "{}". */
export const NO_BODY = Symbol("no-body");

/** Used as Elysia's `onParse`: reads at most 64 KiB (or the route's `bodyLimit`), parses JSON or urlencoded forms, else leaves the text. */
export async function parseBody(request: Request, contentType: string): Promise<unknown> {
  const limit = routeRulesOf(request).bodyLimit ?? MAX_BODY_BYTES;
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  const buf = await request.arrayBuffer();
  if (buf.byteLength > limit) throw tooLarge(limit);
  if (buf.byteLength === 0) return NO_BODY;
  const text = new TextDecoder("utf-8", { fatal: false }).decode(buf);
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (type === "application/x-www-form-urlencoded") return formFields(text);
  if (type === "application/json" || type.endsWith("+json") || type === "" || type === "text/plain") {
    try {
      return JSON.parse(text);
    } catch {
      throw fail("INVALID_JSON");
    }
  }
  throw fail("UNSUPPORTED_MEDIA_TYPE", { message: `Content-Type ${type} is not supported` });
}

/**
 * A form's fields, refusing a repeated name: RFC 6749 §3.2 forbids repeating a parameter, and no route
 * takes a list from a form, so keeping the first or the last copy would only hide an ambiguous request.
 */
function formFields(text: string): Record<string, string> {
  const fields = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(text)) {
    if (fields.has(name)) {
      throw validationError(
        [{ field: name.slice(0, 64), reason: "must not be repeated" }],
        "A form parameter is repeated",
      );
    }
    fields.set(name, value);
  }
  return Object.fromEntries(fields);
}

function tooLarge(limit: number): HeimdallError {
  return fail("PAYLOAD_TOO_LARGE", { message: `Request body exceeds ${limit} bytes` });
}

/**
 * Validates `input` against a zod schema; failures become 400 VALIDATION_ERROR with one detail per issue.
 * A field the schema does not declare is one of them (docs/decisions.md, "Unknown body fields"): ignoring it
 * would answer 200 to a request that changed nothing, e.g. `{passwordMinLength: 12}` from a camelCase client.
 * A schema that must take any key says so itself (`z.looseObject`, `z.record`).
 */
export function validate<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const value = input === NO_BODY || input === undefined ? undefined : input;
  const unknown = unknownFields(schema, value);
  const result = schema.safeParse(value);
  if (result.success && unknown.length === 0) return result.data;
  // unknownFields names these (with a hint), so zod's own report of a `.strict()` object would repeat them.
  const issues = result.success ? [] : result.error.issues.filter((i) => i.code !== "unrecognized_keys");
  throw validationError(
    [
      ...unknown,
      ...issues.map((issue) => ({
        field: issue.path.length ? issue.path.join(".") : "body",
        reason: reasonOf(issue),
      })),
    ],
    unknown.length > 0 && issues.length === 0
      ? `Unknown field${unknown.length > 1 ? "s" : ""}: ${unknown.map((d) => d.field).join(", ")}`
      : undefined,
  );
}

function reasonOf(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type" && /received undefined/.test(issue.message)) return "required";
  return issue.message;
}
