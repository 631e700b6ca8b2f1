/** @module The error catalogue: every code the server can emit is catalogued once, with one status, and documented in docs/errors.md. */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { ERROR_CATALOGUE, isErrorCode } from "../../src/core/error-catalogue.ts";
import { fail, HeimdallError } from "../../src/core/errors.ts";

const ROOT = join(import.meta.dir, "../..");
const CATALOGUE_FILE = "src/core/error-catalogue.ts";

/** Repository-relative path → text of every TypeScript file under src/. */
function sourceFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith(".ts") && rel !== CATALOGUE_FILE)
        files.set(rel, readFileSync(join(ROOT, rel), "utf8"));
    }
  };
  walk("src");
  return files;
}

interface Site {
  file: string;
  line: number;
  text: string;
}

/** Whether `source` imports `name` from `src/core/errors.ts` (a local `fail` elsewhere is another function). */
function importsFromErrors(source: ts.SourceFile, name: string): boolean {
  return source.statements.some(
    (s) =>
      ts.isImportDeclaration(s) &&
      ts.isStringLiteral(s.moduleSpecifier) &&
      /(^|\/)core\/errors\.ts$|^\.\/errors\.ts$/.test(s.moduleSpecifier.text) &&
      s.importClause?.namedBindings !== undefined &&
      ts.isNamedImports(s.importClause.namedBindings) &&
      s.importClause.namedBindings.elements.some((e) => e.name.text === name),
  );
}

/** Calls and `new` expressions of `callee` (imported from core/errors.ts) in `text`, with their first argument when it is a literal. */
function sitesOf(file: string, text: string, callee: string, kind: "call" | "new") {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  if (!file.startsWith("src/core/") && !importsFromErrors(source, callee)) return [];
  const found: (Site & { code: string | null })[] = [];
  const visit = (node: ts.Node) => {
    const matches =
      (kind === "call" && ts.isCallExpression(node)) || (kind === "new" && ts.isNewExpression(node));
    if (matches) {
      const expr = (node as ts.CallExpression | ts.NewExpression).expression;
      if (ts.isIdentifier(expr) && expr.text === callee) {
        const first = (node as ts.CallExpression | ts.NewExpression).arguments?.[0];
        found.push({
          file,
          line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
          text: node.getText().split("\n")[0]!,
          code: first && ts.isStringLiteralLike(first) ? first.text : null,
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The `| \`CODE\` | status | when |` rows of the first table in docs/errors.md. */
function documentedCodes(): Map<string, number> {
  const doc = readFileSync(join(ROOT, "docs/errors.md"), "utf8");
  const firstTable = doc.split(/^## /m)[0]!;
  const rows = new Map<string, number>();
  for (const m of firstTable.matchAll(/^\| `([A-Z0-9_]+)` \| (\d{3}) \|/gm)) {
    expect(rows.has(m[1]!)).toBe(false);
    rows.set(m[1]!, Number(m[2]));
  }
  return rows;
}

describe("the catalogue", () => {
  test("codes are UPPER_SNAKE and statuses are client or server errors", () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.status).toBeLessThan(600);
      expect(entry.message.length).toBeGreaterThan(0);
    }
  });

  test("fail(code) takes the status and default message from the catalogue", () => {
    const err = fail("APP_NOT_FOUND");
    expect(err).toBeInstanceOf(HeimdallError);
    expect([err.status, err.code, err.message]).toEqual([404, "APP_NOT_FOUND", "App not found"]);
    expect(err.details).toBeUndefined();
  });

  test("fail(code, options) overrides the message and carries details and headers", () => {
    const err = fail("VALIDATION_ERROR", {
      message: "A form parameter is repeated",
      details: [{ field: "scope", reason: "must not be repeated" }],
    });
    expect([err.status, err.code, err.message]).toEqual([
      400,
      "VALIDATION_ERROR",
      "A form parameter is repeated",
    ]);
    expect(err.details).toEqual([{ field: "scope", reason: "must not be repeated" }]);
    const limited = fail("RATE_LIMITED", { headers: { "retry-after": "7" } });
    expect([limited.status, limited.headers]).toEqual([429, { "retry-after": "7" }]);
  });

  test("the two formerly ambiguous codes each have one status; their other use has its own code", () => {
    expect(ERROR_CATALOGUE.ROLE_NOT_FOUND.status).toBe(404);
    expect(ERROR_CATALOGUE.UNKNOWN_ROLE.status).toBe(400);
    expect(ERROR_CATALOGUE.INVALID_TOKEN.status).toBe(401);
    expect(ERROR_CATALOGUE.INVALID_SESSION_TOKEN.status).toBe(400);
  });

  test("isErrorCode knows catalogue codes only", () => {
    expect(isErrorCode("APP_ARCHIVED")).toBe(true);
    expect(isErrorCode("NOT_A_CODE")).toBe(false);
    expect(isErrorCode("toString")).toBe(false);
  });
});

describe("docs/errors.md", () => {
  test("lists every catalogue code with the catalogue's status, and nothing else", () => {
    const documented = documentedCodes();
    const catalogued = new Map(Object.entries(ERROR_CATALOGUE).map(([code, e]) => [code, e.status]));
    const missing = [...catalogued.keys()].filter((c) => !documented.has(c));
    const stale = [...documented.keys()].filter((c) => !catalogued.has(c));
    const wrongStatus = [...documented].filter(([c, s]) => catalogued.has(c) && catalogued.get(c) !== s);
    expect({ missing, stale, wrongStatus }).toEqual({ missing: [], stale: [], wrongStatus: [] });
  });

  test("is linked from the README's documentation list", () => {
    expect(readFileSync(join(ROOT, "README.md"), "utf8")).toContain("docs/errors.md");
  });
});

describe("the source emits catalogue codes only", () => {
  const files = sourceFiles();

  test("every literal code passed to fail() is catalogued", () => {
    const sites = [...files].flatMap(([file, text]) => sitesOf(file, text, "fail", "call"));
    expect(sites.length).toBeGreaterThan(100);
    const unknown = sites.filter((s) => s.code !== null && !isErrorCode(s.code));
    expect(unknown.map((s) => `${s.file}:${s.line}: ${s.text}`)).toEqual([]);
  });

  test("no HeimdallError is built outside core/: every refusal goes through fail(code)", () => {
    const raw = [...files]
      .filter(([file]) => !file.startsWith("src/core/"))
      .flatMap(([file, text]) => sitesOf(file, text, "HeimdallError", "new"));
    expect(raw.map((s) => `${s.file}:${s.line}: ${s.text}`)).toEqual([]);
  });

  test("the free-string helpers (badRequest, forbidden, notFound, conflict, unauthorized) are gone", async () => {
    const errors = await import("../../src/core/errors.ts");
    for (const name of ["badRequest", "forbidden", "notFound", "conflict", "unauthorized"]) {
      expect(Object.keys(errors)).not.toContain(name);
    }
  });

  test("every catalogue code is answered somewhere: no entry outlives its last throw site", () => {
    const source = [...files.values()].join("\n");
    const unused = Object.keys(ERROR_CATALOGUE).filter((code) => !source.includes(`"${code}"`));
    expect(unused).toEqual([]);
  });
});
