/**
 * @module The layering of src/ (docs/architecture.md): domain code never imports src/http/, web code never
 * builds a service, no import cycle, every arrow points down. Each rule is shown failing on a small broken
 * tree before it is run over the real one, and a failure names the file and line.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  arrowsAgainstLayering,
  depsImportsOutsideTop,
  domainImportsOfHttp,
  formatViolation,
  importCycles,
  importsOf,
  type SourceTree,
  serviceBuilders,
  webFilesBuildingServices,
} from "../support/layering.ts";

const ROOT = join(import.meta.dir, "../..");

let files: SourceTree | undefined;
/** The real `src/`, read once. */
function sourceTree(): SourceTree {
  if (!files) {
    const read = new Map<string, string>();
    for (const path of new Bun.Glob("src/**/*.ts").scanSync({ cwd: ROOT })) {
      read.set(path, readFileSync(join(ROOT, path), "utf8"));
    }
    files = read;
  }
  return files;
}

const tree = (files: Record<string, string>): SourceTree => new Map(Object.entries(files));

/** A small feature with a service, a store, a class holding state and an error class of its own. */
const CORE = {
  "src/core/errors.ts": "export class HeimdallError extends Error {}\n",
  "src/db/client.ts": "export type Db = object;\n",
  "src/widgets/store.ts":
    'import type { Db } from "../db/client.ts";\nexport function createWidgetStore(db: Db) { return { db }; }\n',
  "src/widgets/service.ts": [
    'import { HeimdallError } from "../core/errors.ts";',
    'import { createWidgetStore } from "./store.ts";',
    "export class WidgetGone extends HeimdallError {}",
    "export class WidgetCache { readonly seen = new Map(); }",
    "export const createWidgetService = (deps: { db: object }) => ({ store: createWidgetStore(deps.db) });",
    "",
  ].join("\n"),
  "src/http/guards.ts": "export const guards = (deps: unknown) => deps;\n",
};

describe("importsOf", () => {
  test("reads value, type-only, namespace and re-export arrows with their lines", () => {
    const edges = importsOf(
      "src/me/routes.ts",
      [
        'import { Elysia } from "elysia";',
        'import type { Deps } from "../deps.ts";',
        'import { type A, type B } from "../core/principal.ts";',
        "import {",
        "  createMeService as make,",
        "  type MeCaller,",
        '} from "./service.ts";',
        'import * as users from "../users/store.ts";',
        'export { toProfileDto } from "./model.ts";',
      ].join("\n"),
    );
    expect(edges.map((e) => [e.to, e.line, e.typeOnly, e.relative])).toEqual([
      ["elysia", 1, false, false],
      ["src/deps.ts", 2, true, true],
      ["src/core/principal.ts", 3, true, true],
      ["src/me/service.ts", 4, false, true],
      ["src/users/store.ts", 8, false, true],
      ["src/me/model.ts", 9, false, true],
    ]);
    expect([...edges[3]!.bindings]).toEqual([["make", "createMeService"]]);
    expect([...edges[4]!.bindings]).toEqual([["users", "*"]]);
    expect(edges[1]!.bindings.size).toBe(0);
  });
});

describe("rule 1: no service, store or model imports src/http/", () => {
  test("a service importing the web, even a type, is named with its line", () => {
    const broken = tree({
      ...CORE,
      "src/widgets/model.ts": 'import type { X } from "../http/consumer.ts";\n',
      "src/widgets/store.ts": `// the store\n\nimport { validate } from "../http/body.ts";\n`,
    });
    expect(domainImportsOfHttp(broken).map(formatViolation)).toEqual([
      "src/widgets/store.ts:3: imports src/http/body.ts; src/http/ is the web only",
      "src/widgets/model.ts:1: imports src/http/consumer.ts; src/http/ is the web only",
    ]);
  });

  test("routes, http plugins, the app, deps.ts and the CLI may import the web", () => {
    const fine = tree({
      ...CORE,
      "src/widgets/routes.ts": 'import { guards } from "../http/guards.ts";\n',
      "src/http/consumer.ts": 'import { guards } from "./guards.ts";\n',
      "src/app.ts": 'import { guards } from "./http/guards.ts";\n',
      "src/deps.ts": 'import { Metrics } from "./http/metrics.ts";\n',
      "src/cli/serve.ts": 'import { guards } from "../http/guards.ts";\n',
    });
    expect(domainImportsOfHttp(fine)).toEqual([]);
  });

  test("the source tree: no domain file imports src/http/", () => {
    expect(domainImportsOfHttp(sourceTree()).map(formatViolation)).toEqual([]);
  });
});

describe("rule 2: only src/deps.ts builds services", () => {
  test("the builders are the create… factories and the classes of domain files, minus errors", () => {
    expect([...serviceBuilders(tree(CORE))].sort()).toEqual([
      "src/widgets/service.ts#WidgetCache",
      "src/widgets/service.ts#createWidgetService",
      "src/widgets/store.ts#createWidgetStore",
    ]);
  });

  test("a route, a plugin or the app calling a builder is named with its line; reading deps is not", () => {
    const broken = tree({
      ...CORE,
      "src/widgets/routes.ts": [
        'import { createWidgetService as build, WidgetCache, WidgetGone } from "./service.ts";',
        'import * as store from "./store.ts";',
        "export const widgetRoutes = (deps: any) => {",
        "  const svc = build(deps);",
        "  const cache = new WidgetCache();",
        "  const rows = store.createWidgetStore(deps.db);",
        "  deps.widgets.createWidget();",
        "  if (!svc) throw new WidgetGone();",
        "  return { cache, rows };",
        "};",
      ].join("\n"),
      "src/http/guards.ts":
        'import { createWidgetStore } from "../widgets/store.ts";\nexport const g = (d: any) => createWidgetStore(d.db);\n',
      "src/app.ts":
        'import { WidgetCache } from "./widgets/service.ts";\nexport const app = () => new WidgetCache();\n',
      "src/deps.ts":
        'import { createWidgetService } from "./widgets/service.ts";\nexport const d = createWidgetService({ db: {} });\n',
    });
    const hint = "builds a service in a web file; build it in src/deps.ts and read it from deps";
    expect(webFilesBuildingServices(broken).map(formatViolation)).toEqual([
      `src/http/guards.ts:2: createWidgetStore(…) ${hint}`,
      `src/widgets/routes.ts:4: createWidgetService(…) ${hint}`,
      `src/widgets/routes.ts:5: new WidgetCache(…) ${hint}`,
      `src/widgets/routes.ts:6: createWidgetStore(…) ${hint}`,
      `src/app.ts:2: new WidgetCache(…) ${hint}`,
    ]);
  });

  test("the source tree: no route, plugin or app builds a service", () => {
    expect(webFilesBuildingServices(sourceTree()).map(formatViolation)).toEqual([]);
  });
});

describe("rule 3: no import cycle in src/", () => {
  test("a cycle through a type-only import is found, once, whichever file the search starts at", () => {
    const broken = tree({
      "src/codes/service.ts": 'import { consumerGuards } from "../http/consumer.ts";\n',
      "src/http/consumer.ts": 'import type { Deps } from "../deps.ts";\n',
      "src/deps.ts": 'import { createCodeService } from "./codes/service.ts";\n',
      "src/app.ts":
        'import { consumerGuards } from "./http/consumer.ts";\nimport type { Deps } from "./deps.ts";\n',
    });
    expect(importCycles(broken)).toEqual([
      ["src/http/consumer.ts", "src/deps.ts", "src/codes/service.ts", "src/http/consumer.ts"],
    ]);
  });

  test("a diamond is not a cycle", () => {
    const fine = tree({
      "src/a.ts": 'import "./b.ts";\nimport "./c.ts";\n',
      "src/b.ts": 'export * from "./d.ts";\n',
      "src/c.ts": 'import type { D } from "./d.ts";\n',
      "src/d.ts": "export type D = 1;\n",
    });
    expect(importCycles(fine)).toEqual([]);
  });

  test("the source tree has no import cycle", () => {
    expect(importCycles(sourceTree()).map((c) => c.join(" → "))).toEqual([]);
  });
});

/** Known upward arrows, each with its reason (none today). A new one fails the test. */
const KNOWN_ARROWS = new Set<string>();

describe("rule 4: every import points down the layers", () => {
  test("an arrow up is named, the web's type Deps included; listed arrows pass", () => {
    const broken = tree({
      ...CORE,
      "src/core/ids.ts": 'import type { Db } from "../db/client.ts";\n',
      "src/widgets/service.ts": 'import type { Deps } from "../deps.ts";\n',
      "src/widgets/model.ts": 'import { widgetRoutes } from "./routes.ts";\n',
      "src/widgets/routes.ts":
        'import type { Deps } from "../deps.ts";\nimport { guards } from "../http/guards.ts";\n',
      "src/http/guards.ts": 'import type { Deps } from "../deps.ts";\n',
      "src/db/client.ts": 'import { ulid } from "../core/ids.ts";\n',
      "src/deps.ts": 'import { Metrics } from "./http/metrics.ts";\n',
    });
    expect(arrowsAgainstLayering(broken).map(formatViolation)).toEqual([
      "src/widgets/service.ts:1: imports src/deps.ts, a layer above it (docs/architecture.md)",
      "src/http/guards.ts:1: imports src/deps.ts, a layer above it (docs/architecture.md)",
      "src/core/ids.ts:1: imports src/db/client.ts, a layer above it (docs/architecture.md)",
      "src/widgets/model.ts:1: imports src/widgets/routes.ts, a layer above it (docs/architecture.md)",
      "src/widgets/routes.ts:1: imports src/deps.ts, a layer above it (docs/architecture.md)",
    ]);
    expect(
      arrowsAgainstLayering(
        broken,
        new Set(["src/core/ids.ts -> src/db/client.ts", "src/http/guards.ts -> src/deps.ts"]),
      ).map((v) => v.file),
    ).toEqual(["src/widgets/service.ts", "src/widgets/model.ts", "src/widgets/routes.ts"]);
  });

  test("the source tree: no arrow up but the known ones", () => {
    expect(arrowsAgainstLayering(sourceTree(), KNOWN_ARROWS).map(formatViolation)).toEqual([]);
  });
});

describe("rule 5: only src/app.ts, src/cli/ and src/main.ts import src/deps.ts", () => {
  test("a route, a plugin or a service importing deps.ts, even its type, is named with its line", () => {
    const broken = tree({
      ...CORE,
      "src/widgets/routes.ts": [
        'import { Elysia } from "elysia";',
        'import type { Deps } from "../deps.ts";',
        "export const widgetRoutes = (deps: Deps) => new Elysia();",
      ].join("\n"),
      "src/http/guards.ts": 'import { type Deps } from "../deps.ts";\n',
      "src/widgets/service.ts": 'export type { Deps } from "../deps.ts";\n',
      "src/deps.ts": 'import { createWidgetService } from "./widgets/service.ts";\n',
    });
    const hint =
      "imports src/deps.ts; only src/app.ts, src/cli/ and src/main.ts may (declare the narrow deps read)";
    expect(depsImportsOutsideTop(broken).map(formatViolation)).toEqual([
      `src/widgets/service.ts:1: ${hint}`,
      `src/http/guards.ts:1: ${hint}`,
      `src/widgets/routes.ts:2: ${hint}`,
    ]);
  });

  test("the app, the CLI and the entry may import it", () => {
    const fine = tree({
      ...CORE,
      "src/deps.ts": 'import { createWidgetService } from "./widgets/service.ts";\n',
      "src/app.ts": 'import type { Deps } from "./deps.ts";\n',
      "src/cli/serve.ts": 'import { buildDeps, type Deps } from "../deps.ts";\n',
      "src/main.ts": 'import { buildDeps } from "./deps.ts";\n',
      "src/widgets/routes.ts":
        'import type { WidgetService } from "./service.ts";\nexport const widgetRoutes = (deps: { widgets: WidgetService }) => deps;\n',
    });
    expect(depsImportsOutsideTop(fine)).toEqual([]);
  });

  test("the source tree: nothing else imports src/deps.ts", () => {
    expect(depsImportsOutsideTop(sourceTree()).map(formatViolation)).toEqual([]);
  });
});
