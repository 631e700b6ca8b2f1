/**
 * @module Checks a real answer against the document the server itself serves at GET /openapi.json (not the
 * vendored contract): the way to validate the appliance routes the contract does not describe, whose calls
 * pass `unchecked: true`. Used by test/api/openapi.test.ts and by feature tests whose setup it cannot repeat.
 */
import { expect } from "bun:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { CallResult, TestContext } from "./harness.ts";

// biome-ignore lint/suspicious/noExplicitAny: a JSON document walked by the checks below.
export type ServedDocument = any;

// strict: false lets the schemas sit beside the document's other keywords (`components`) and ignore
// formats ajv-formats does not know; the checks still cover types, required fields and enums.
const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
addFormats.default(ajv);

/** The document `ctx`'s server serves. */
export async function servedDocument(ctx: TestContext): Promise<ServedDocument> {
  const res = await ctx.call("GET", "/openapi.json", { auth: null, unchecked: true });
  expect(res.status).toBe(200);
  return res.body;
}

/** The response the document gives for `status` of `method template`: the exact status first, then `4XX`/`5XX`. */
function documentedResponse(doc: ServedDocument, method: string, template: string, status: number) {
  const op = doc.paths[template]?.[method.toLowerCase()];
  if (!op) throw new Error(`${method} ${template} is not in the document`);
  const response = op.responses[String(status)] ?? op.responses[`${String(status)[0]}XX`];
  if (!response) throw new Error(`${method} ${template} documents no ${status}`);
  return response;
}

/** The JSON schema the document gives for that response. */
export function documentedSchema(
  doc: ServedDocument,
  method: string,
  template: string,
  status: number,
): object {
  const schema = documentedResponse(doc, method, template, status).content?.["application/json"]?.schema;
  if (!schema) throw new Error(`${method} ${template} ${status} documents no JSON body`);
  return schema;
}

/** Validation errors of `body` against the document's schema for that response; empty when it fits. */
export function servedMismatches(
  doc: ServedDocument,
  method: string,
  template: string,
  status: number,
  body: unknown,
): string[] {
  const check = ajv.compile({
    ...documentedSchema(doc, method, template, status),
    components: doc.components,
  });
  if (check(body)) return [];
  return (check.errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message}`);
}

/**
 * The answer's status is documented for the operation and its body fits that response: the JSON schema, or
 * no body at all where the document gives no content (a 204).
 */
export function expectServedFit(
  doc: ServedDocument,
  method: string,
  template: string,
  res: CallResult,
): void {
  const key = `${method} ${template} ${res.status}`;
  if (!documentedResponse(doc, method, template, res.status).content) {
    expect({ [key]: res.text }).toEqual({ [key]: "" });
    return;
  }
  expect({ [key]: servedMismatches(doc, method, template, res.status, res.body) }).toEqual({ [key]: [] });
}
