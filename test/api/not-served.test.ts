/**
 * @module README's "Not served yet" kept honest: every operation it lists is in the vendored contract and
 * not among the mounted routes, and every contract operation the app does not mount is listed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createApp, type TestApp } from "../support/fixtures.ts";
import { closeTestContext, createTestContext, type TestContext } from "../support/harness.ts";
import { expectErrorShape, listOperations } from "../support/openapi.ts";

interface Group {
  tag: string;
  count: number;
  ops: string[];
}

/** The section's bullets: `- **<tag>** (<count>): `METHOD /path`, …`. */
function notServedSection(): { text: string; groups: Group[] } {
  const readme = readFileSync(join(import.meta.dir, "../../README.md"), "utf8");
  const text = readme.split(/^## Not served yet\n/m)[1]?.split(/^## /m)[0] ?? "";
  const groups = [...text.matchAll(/^- \*\*(.+?)\*\* \((\d+)\): (.+)$/gm)].map((m) => ({
    tag: m[1]!,
    count: Number(m[2]),
    ops: [...m[3]!.matchAll(/`([A-Z]+ [^`]+)`/g)].map((o) => o[1]!),
  }));
  return { text, groups };
}

/** Path parameters differ in name between the contract and the routes (`{app_id}`, `:id`); compare shapes. */
const shape = (op: string) => op.replace(/\{[^}]+\}|:[A-Za-z0-9_]+/g, "{}");

let ctx: TestContext;
let served: Set<string>;
let app: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  served = new Set(ctx.app.routes.map((r) => shape(`${r.method} ${r.path}`)));
  app = await createApp(ctx, "unserved");
});

afterAll(() => closeTestContext(ctx));

describe('README "Not served yet"', () => {
  test("lists each operation once, under a tag whose count is its number of entries", () => {
    const { groups } = notServedSection();
    for (const g of groups) expect(g.ops).toHaveLength(g.count);
    const all = groups.flatMap((g) => g.ops);
    expect(new Set(all).size).toBe(all.length);
  });

  test("every listed operation is a contract operation the app does not mount", () => {
    const contract = new Set(listOperations("heimdall").map((o) => `${o.method} ${o.path}`));
    for (const op of notServedSection().groups.flatMap((g) => g.ops)) {
      expect({ op, inContract: contract.has(op) }).toEqual({ op, inContract: true });
      expect({ op, served: served.has(shape(op)) }).toEqual({ op, served: false });
    }
  });

  test("every contract operation the app does not mount is listed, and the totals in the text are right", () => {
    const ops = listOperations("heimdall").map((o) => `${o.method} ${o.path}`);
    const unserved = ops.filter((op) => !served.has(shape(op))).sort();
    const listed = notServedSection()
      .groups.flatMap((g) => g.ops)
      .sort();
    expect(listed).toEqual(unserved);
    const { text } = notServedSection();
    expect(text).toContain(`Of the ${ops.length} operations`);
    // With nothing left to list, the section says so instead of counting.
    expect(text).toContain(
      unserved.length === 0 ? "serves\nall of them" : `all but the ${unserved.length} below`,
    );
  });

  test("a listed operation answers 404 with the wire error shape, never a success", async () => {
    const codes = new Map<string, string>();
    for (const op of notServedSection().groups.flatMap((g) => g.ops)) {
      const [method, template] = op.split(" ") as [string, string];
      const path = template
        .replace("{app_slug}", app.slug)
        .replace("{app_id}", app.id)
        .replace(/\{[^}]+\}/g, "x");
      const res = await ctx.call(method, path, {
        body: method === "GET" || method === "DELETE" ? undefined : {},
        unchecked: true,
      });
      expectErrorShape(res.body);
      expect({ op, status: res.status }).toEqual({ op, status: 404 });
      codes.set(op, res.body.code);
    }
    // Most hit no route at all; a few share a served route's shape and get its not-found code.
    const notFound = [...codes.values()].filter((c) => c === "NOT_FOUND").length;
    expect(codes.size === 0 || notFound > codes.size / 2).toBe(true);
  });
});
