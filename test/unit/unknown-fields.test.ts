/** @module unknownFields and suggestion: which keys a schema does not declare, through wrappers, unions, records and open objects. */
import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { MAX_UNKNOWN_REPORTED, suggestion, unknownFields } from "../../src/http/unknown-fields.ts";

const fields = (schema: z.ZodType, input: unknown) => unknownFields(schema, input).map((d) => d.field);

describe("unknownFields", () => {
  test("reads through optional, nullable, default, transform and refinements to the object", () => {
    const schema = z
      .object({ a: z.string().nullable().default("x") })
      .superRefine(() => {})
      .transform((v) => v.a)
      .optional();
    expect(fields(schema, { a: "1", b: 2 })).toEqual(["b"]);
    expect(fields(schema, { a: "1" })).toEqual([]);
    expect(fields(schema, undefined)).toEqual([]);
  });

  test("a non-object value is left to zod's type check", () => {
    expect(fields(z.object({ a: z.string() }), "text")).toEqual([]);
    expect(fields(z.object({ a: z.string() }), [{ b: 1 }])).toEqual([]);
  });

  test("nested objects, array items and tuple items are checked by path", () => {
    const schema = z.object({
      outer: z.object({ inner: z.array(z.object({ x: z.number() })) }),
      pair: z.tuple([z.object({ p: z.number() })], z.object({ r: z.number() })),
    });
    expect(
      fields(schema, { outer: { inner: [{ x: 1 }, { x: 2, y: 3 }], extra: 1 }, pair: [{ q: 1 }, { s: 1 }] }),
    ).toEqual(["outer.inner.1.y", "outer.extra", "pair.0.q", "pair.1.s"]);
  });

  test("records and open objects take any key, but their declared values are still checked", () => {
    const schema = z.object({
      metadata: z.record(z.string(), z.unknown()),
      byName: z.record(z.string(), z.object({ v: z.number() })),
      loose: z.looseObject({ known: z.object({ k: z.number() }) }),
      catchall: z.object({}).catchall(z.object({ c: z.number() })),
    });
    expect(
      fields(schema, {
        metadata: { anything: { goes: true } },
        byName: { one: { v: 1, w: 2 } },
        loose: { extra: 1, known: { k: 1, j: 2 } },
        catchall: { any: { c: 1, d: 2 } },
      }),
    ).toEqual(["byName.one.w", "loose.known.j", "catchall.any.d"]);
  });

  test("a strict object is closed like a plain one", () => {
    expect(fields(z.strictObject({ a: z.number() }), { a: 1, b: 2 })).toEqual(["b"]);
  });

  test("a union fits when one option declares every key, else the closest option's keys are named", () => {
    const schema = z.union([
      z.object({ a: z.number() }),
      z.object({ b: z.number(), c: z.number() }),
      z.string(),
    ]);
    expect(fields(schema, { b: 1, c: 2 })).toEqual([]);
    expect(fields(schema, "s")).toEqual([]);
    expect(fields(schema, { b: 1, d: 2 })).toEqual(["d"]);
  });

  test("an intersection knows the keys of both sides", () => {
    const schema = z.intersection(z.object({ a: z.number() }), z.object({ b: z.number() }));
    expect(fields(schema, { a: 1, b: 2, c: 3 })).toEqual(["c"]);
  });

  test("inherited names are not declared fields", () => {
    expect(
      fields(z.object({ a: z.number() }), JSON.parse('{"toString":1,"__proto__":{},"hasOwnProperty":1}')),
    ).toEqual(["toString", "__proto__", "hasOwnProperty"]);
  });

  test(`at most ${MAX_UNKNOWN_REPORTED} are named, and long paths are cut`, () => {
    const junk = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
    expect(unknownFields(z.object({}), junk)).toHaveLength(MAX_UNKNOWN_REPORTED);
    const [long] = unknownFields(z.object({}), { ["x".repeat(500)]: 1 });
    expect(long!.field).toBe(`${"x".repeat(64)}…`);
  });

  test("the reason carries the suggestion", () => {
    expect(unknownFields(z.object({ password_min_length: z.number() }), { passwordMinLength: 12 })).toEqual([
      { field: "passwordMinLength", reason: "unknown field; did you mean password_min_length?" },
    ]);
  });
});

describe("suggestion", () => {
  const known = ["password_min_length", "max_sessions", "description", "role", "id"];

  test.each([
    ["passwordMinLength", "password_min_length"],
    ["PasswordMinLength", "password_min_length"],
    ["password-min-length", "password_min_length"],
    ["PASSWORD_MIN_LENGTH", "password_min_length"],
    ["maxSesions", "max_sessions"],
    ["descripton", "description"],
  ])("%s → %s", (key, meant) => {
    expect(suggestion(key, known)).toBe(meant);
  });

  test.each(["colour", "rule", "ids", "x", "", "---"])("%p has no suggestion", (key) => {
    // Short names get no typo tolerance: `rule` is not `role`, `ids` is not `id`.
    expect(suggestion(key, known)).toBeUndefined();
  });
});
