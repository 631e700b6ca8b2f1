/**
 * @module Checks over the source tree of `src/` (docs/architecture.md, "what each folder may import"):
 * domain code never imports the web (`src/http/`), web code never builds a service (only `src/deps.ts`
 * does), and the import graph has no cycle. Pure functions over an in-memory tree, so each rule can be
 * shown to fail on a small broken example as well as checked against the real files.
 */
import { posix } from "node:path";
import ts from "typescript";

/** Repository-relative path (`src/me/service.ts`) → source text. */
export type SourceTree = ReadonlyMap<string, string>;

export interface ImportEdge {
  readonly from: string;
  /** The resolved repository path, or the bare specifier of a package import. */
  readonly to: string;
  readonly line: number;
  readonly typeOnly: boolean;
  readonly relative: boolean;
  /** Local binding → exported name (`default`, `*` for a namespace import). */
  readonly bindings: ReadonlyMap<string, string>;
}

export interface Violation {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export const formatViolation = (v: Violation) => `${v.file}:${v.line}: ${v.message}`;

const parse = (path: string, text: string) => ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
const lineOf = (sf: ts.SourceFile, node: ts.Node) =>
  sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;

function resolveSpecifier(from: string, spec: string): { to: string; relative: boolean } {
  if (!spec.startsWith(".")) return { to: spec, relative: false };
  return { to: posix.normalize(posix.join(posix.dirname(from), spec)), relative: true };
}

/** Every static import and re-export of a file, type-only ones included (a type import is an arrow too). */
export function importsOf(path: string, text: string): ImportEdge[] {
  const sf = parse(path, text);
  const edges: ImportEdge[] = [];
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const bindings = new Map<string, string>();
      const clause = st.importClause;
      let typeOnly = clause?.isTypeOnly ?? false;
      if (clause?.name) bindings.set(clause.name.text, "default");
      const named = clause?.namedBindings;
      if (named && ts.isNamespaceImport(named)) bindings.set(named.name.text, "*");
      if (named && ts.isNamedImports(named)) {
        // `import { type A, type B }` imports nothing at run time either.
        if (named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly) && !clause?.name) {
          typeOnly = true;
        }
        for (const e of named.elements) {
          if (!typeOnly && !e.isTypeOnly) bindings.set(e.name.text, (e.propertyName ?? e.name).text);
        }
      }
      edges.push({
        from: path,
        ...resolveSpecifier(path, st.moduleSpecifier.text),
        line: lineOf(sf, st),
        typeOnly,
        bindings: typeOnly ? new Map() : bindings,
      });
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)) {
      edges.push({
        from: path,
        ...resolveSpecifier(path, st.moduleSpecifier.text),
        line: lineOf(sf, st),
        typeOnly: st.isTypeOnly,
        bindings: new Map(),
      });
    }
  }
  return edges;
}

/** The web: route modules, the `src/http/` plugins and the app that mounts them. */
export const isWebFile = (path: string) =>
  path.startsWith("src/http/") || path.endsWith("/routes.ts") || path === "src/app.ts";

/** Above everything: the composition root, the CLI commands and the binary's entry. */
const isTopFile = (path: string) =>
  path === "src/deps.ts" || path === "src/main.ts" || path.startsWith("src/cli/");

/** Services, stores, models and the rest of the domain: everything in `src/` that is neither web nor top. */
export const isDomainFile = (path: string) => path.startsWith("src/") && !isWebFile(path) && !isTopFile(path);

/** Rule 1: no domain file imports anything under `src/http/`, not even a type. */
export function domainImportsOfHttp(tree: SourceTree): Violation[] {
  const out: Violation[] = [];
  for (const [path, text] of tree) {
    if (!isDomainFile(path)) continue;
    for (const e of importsOf(path, text)) {
      if (e.relative && e.to.startsWith("src/http/")) {
        out.push({ file: path, line: e.line, message: `imports ${e.to}; src/http/ is the web only` });
      }
    }
  }
  return out;
}

const exported = (node: ts.Node) =>
  ts.canHaveModifiers(node) &&
  (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);

/**
 * What builds a service, derived from the code: every `create…` factory and every class a domain module
 * exports, except the error classes (routes throw those). Returned as `path#name`.
 */
export function serviceBuilders(tree: SourceTree): Set<string> {
  const classes = new Map<string, { key: string; base: string | null }>();
  const builders = new Set<string>();
  for (const [path, text] of tree) {
    if (!isDomainFile(path)) continue;
    const sf = parse(path, text);
    for (const st of sf.statements) {
      if (ts.isFunctionDeclaration(st) && st.name && exported(st) && /^create[A-Z]/.test(st.name.text)) {
        builders.add(`${path}#${st.name.text}`);
      }
      if (ts.isVariableStatement(st) && exported(st)) {
        for (const d of st.declarationList.declarations) {
          if (ts.isIdentifier(d.name) && /^create[A-Z]/.test(d.name.text))
            builders.add(`${path}#${d.name.text}`);
        }
      }
      if (ts.isClassDeclaration(st) && st.name && exported(st)) {
        const ext = st.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0];
        classes.set(st.name.text, {
          key: `${path}#${st.name.text}`,
          base: ext && ts.isIdentifier(ext.expression) ? ext.expression.text : null,
        });
      }
    }
  }
  const isError = (name: string | null, seen = new Set<string>()): boolean => {
    if (name === null || seen.has(name)) return false;
    if (name === "Error") return true;
    seen.add(name);
    return isError(classes.get(name)?.base ?? null, seen);
  };
  for (const [name, c] of classes) if (!isError(name)) builders.add(c.key);
  return builders;
}

/** Rule 2: a web file only reads services from `deps`; calling a builder (or `new` on one) is building. */
export function webFilesBuildingServices(tree: SourceTree): Violation[] {
  const builders = serviceBuilders(tree);
  const out: Violation[] = [];
  for (const [path, text] of tree) {
    if (!isWebFile(path)) continue;
    const direct = new Map<string, string>();
    const namespaces = new Map<string, string>();
    for (const e of importsOf(path, text)) {
      if (!e.relative) continue;
      for (const [local, name] of e.bindings) {
        if (name === "*") namespaces.set(local, e.to);
        else if (builders.has(`${e.to}#${name}`)) direct.set(local, name);
      }
    }
    if (direct.size === 0 && namespaces.size === 0) continue;
    const sf = parse(path, text);
    const builtBy = (callee: ts.Expression): string | null => {
      if (ts.isIdentifier(callee)) return direct.get(callee.text) ?? null;
      if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression)) {
        const mod = namespaces.get(callee.expression.text);
        if (mod && builders.has(`${mod}#${callee.name.text}`)) return callee.name.text;
      }
      return null;
    };
    const visit = (node: ts.Node) => {
      if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
        const name = builtBy(node.expression);
        if (name) {
          out.push({
            file: path,
            line: lineOf(sf, node),
            message: `${ts.isNewExpression(node) ? "new " : ""}${name}(…) builds a service in a web file; build it in src/deps.ts and read it from deps`,
          });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return out;
}

/** Rule 3: the relative imports of `src/` (type-only ones included) form no cycle. Each cycle once. */
export function importCycles(tree: SourceTree): string[][] {
  const graph = new Map<string, string[]>();
  for (const [path, text] of tree) {
    graph.set(
      path,
      importsOf(path, text)
        .filter((e) => e.relative && tree.has(e.to))
        .map((e) => e.to),
    );
  }
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const dfs = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") {
        const cycle = stack.slice(stack.indexOf(next));
        // One report per cycle, whichever file the search entered it by.
        const key = [...cycle].sort().join(" ");
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...cycle, next]);
        }
      } else if (!state.has(next)) {
        dfs(next);
      }
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const path of [...graph.keys()].sort()) if (!state.has(path)) dfs(path);
  return cycles;
}

/**
 * The layers of docs/architecture.md, bottom up: core → db → vault, keys → features → http → routes →
 * app, deps, cli, main. `config/` sits with `core/` (both import nothing of ours but each other).
 */
export function layerOf(path: string): number {
  if (path.startsWith("src/core/") || path.startsWith("src/config/")) return 0;
  if (path.startsWith("src/db/")) return 1;
  if (path.endsWith("/routes.ts")) return 5;
  if (path.startsWith("src/vault/") || path.startsWith("src/keys/")) return 2;
  if (path.startsWith("src/http/")) return 4;
  if (path === "src/app.ts" || isTopFile(path)) return 6;
  return 3;
}

/**
 * Rule 4: every import points down or sideways. No exception for the type `Deps`: route factories and
 * plugins declare the narrow deps they read (rule 5). `allowed` lists known arrows as `from -> to`, each
 * with its reason.
 */
export function arrowsAgainstLayering(
  tree: SourceTree,
  allowed: ReadonlySet<string> = new Set(),
): Violation[] {
  const out: Violation[] = [];
  for (const [path, text] of tree) {
    for (const e of importsOf(path, text)) {
      if (!e.relative || !tree.has(e.to) || layerOf(e.to) <= layerOf(path)) continue;
      if (allowed.has(`${path} -> ${e.to}`)) continue;
      out.push({
        file: path,
        line: e.line,
        message: `imports ${e.to}, a layer above it (docs/architecture.md)`,
      });
    }
  }
  return out;
}

/** The files that may import the composition root: the app that mounts the routes, the CLI, the entry. */
export const mayImportDeps = (path: string) =>
  path === "src/app.ts" || path === "src/main.ts" || path.startsWith("src/cli/");

/**
 * Rule 5: only `src/app.ts`, `src/cli/` and `src/main.ts` import `src/deps.ts`, not even its types. A route
 * factory or plugin that took the whole `Deps` would tie its folder to every feature deps.ts builds (the
 * folder-level cycles this rule removed); it declares the narrow interface of what it reads instead.
 */
export function depsImportsOutsideTop(tree: SourceTree): Violation[] {
  const out: Violation[] = [];
  for (const [path, text] of tree) {
    if (path === "src/deps.ts" || mayImportDeps(path)) continue;
    for (const e of importsOf(path, text)) {
      if (e.relative && e.to === "src/deps.ts") {
        out.push({
          file: path,
          line: e.line,
          message:
            "imports src/deps.ts; only src/app.ts, src/cli/ and src/main.ts may (declare the narrow deps read)",
        });
      }
    }
  }
  return out;
}
