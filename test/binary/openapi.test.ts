/** @module The compiled binary serves the complete OpenAPI document: the vendored contract data is embedded, not read from disk. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { type Appliance, startAppliance } from "./support.ts";

const PAK = `pcft_live_${"O".repeat(43)}`;
let appliance: Appliance;

beforeAll(async () => {
  appliance = await startAppliance("openapi", PAK);
}, 120_000);
afterAll(async () => {
  expect(await appliance.dispose()).toBe(0);
});

test("GET /openapi.json from the binary: valid 3.1, with the contract's schemas, for its public URL", async () => {
  const res = await fetch(`${appliance.baseUrl}/openapi.json`);
  expect(res.status).toBe(200);
  // biome-ignore lint/suspicious/noExplicitAny: a JSON document walked by the assertions below.
  const doc: any = await res.json();
  const result = await new Validator().validate(structuredClone(doc));
  expect(result.errors ?? []).toEqual([]);
  expect(doc.servers).toEqual([{ url: appliance.baseUrl }]);
  const created = doc.paths["/v1/apps"].post.responses["201"].content["application/json"].schema;
  expect(created.$ref).toMatch(/^#\/components\/schemas\/./);
  expect(doc.components.schemas[created.$ref.split("/").pop()]).toBeDefined();
  expect(doc.paths["/{app_slug}/v1/.well-known/jwks.json"].get.responses["200"].content).toBeDefined();
});
