/** @module The seed file's auth_config.signing_alg: apply publishes a key of the algorithm through the rotation path, export names it, and export → apply keeps it. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { applySeed } from "../../../src/seed/apply.ts";
import { exportSeed } from "../../../src/seed/export.ts";
import { parseSeed, SeedFileError } from "../../../src/seed/schema.ts";
import { auditRows } from "../../support/fixtures.ts";
import { closeTestContext, createTestContext, type TestContext } from "../../support/harness.ts";

let a: TestContext;
let b: TestContext;

beforeAll(async () => {
  [a, b] = await Promise.all([createTestContext(), createTestContext()]);
});
afterAll(async () => {
  await closeTestContext(a);
  await closeTestContext(b);
});

const seed = (signing_alg: string) =>
  parseSeed({ version: 1, apps: [{ slug: "fast", display_name: "Fast", auth_config: { signing_alg } }] }, {});

const keysOf = async (ctx: TestContext, slug: string) =>
  (await ctx.deps.keys.list((await ctx.deps.apps.find(slug))!.id)).filter((k) => k.state !== "retired");

test("apply with signing_alg ES256: the config says so and an ES256 next key is published; a second apply changes nothing", async () => {
  const r = await applySeed(a.deps, seed("ES256"), { workspaceId: a.workspaceId });
  expect(r.changes).toContain(`~ app fast auth_config.signing_alg: "RS256" → "ES256"`);
  const app = (await a.deps.apps.find("fast"))!;
  expect((await a.deps.apps.authConfigOf(app.id)).signing_alg).toBe("ES256");
  expect((await keysOf(a, "fast")).map((k) => [k.state, k.alg]).sort()).toEqual([
    ["active", "RS256"],
    ["next", "ES256"],
  ]);
  expect(await auditRows(a, { app_id: app.id, action: "app.signing_alg_changed" })).toHaveLength(1);

  const again = await applySeed(a.deps, seed("ES256"), { workspaceId: a.workspaceId });
  expect(again.changes).toEqual([]);
  expect(await auditRows(a, { app_id: app.id, action: "app.signing_alg_changed" })).toHaveLength(1);
});

test("export names signing_alg; applying the export on a fresh database gives the same algorithm", async () => {
  const doc = (await exportSeed(a.deps, { workspaceId: a.workspaceId })).document as {
    apps: { slug: string; auth_config: Record<string, unknown> }[];
  };
  expect(doc.apps.find((x) => x.slug === "fast")!.auth_config.signing_alg).toBe("ES256");
  await applySeed(b.deps, parseSeed(doc, {}), { workspaceId: b.workspaceId });
  expect((await b.deps.apps.authConfigOf((await b.deps.apps.find("fast"))!.id)).signing_alg).toBe("ES256");
  expect((await keysOf(b, "fast")).find((k) => k.state === "next")!.alg).toBe("ES256");
  const second = (await exportSeed(b.deps, { workspaceId: b.workspaceId })).document;
  expect(second).toEqual(doc);
});

test("an unknown signing_alg in the seed file is refused by path", () => {
  try {
    seed("HS256");
    throw new Error("expected a SeedFileError");
  } catch (err) {
    expect(err).toBeInstanceOf(SeedFileError);
    expect((err as SeedFileError).problems.join("\n")).toContain("apps[0].auth_config.signing_alg");
  }
});
