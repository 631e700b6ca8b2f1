/**
 * @module The console's files (docs/console.md): the HTML import of `ui/index.html`, bundled into the binary
 * by `bun build --compile` and read back from `page.files`; run from source (tests, `bun src/main.ts`), the
 * same entry is bundled once in memory with `Bun.build`. Either way the index is rewritten to load its
 * hashed assets from `/console/assets/`.
 */
import { basename } from "node:path";
import page from "./ui/index.html";

/** Where the hashed assets are served; the index is rewritten to point there. */
export const ASSETS_PREFIX = "/console/assets/";

export interface ConsoleAsset {
  readonly body: Blob;
  readonly contentType: string;
  readonly etag: string;
}

export interface ConsoleAssets {
  /** The index HTML, served for `/console` and every client-side route under it. */
  readonly index: string;
  /** Asset file name (content-hashed by the bundler) → file. */
  readonly files: ReadonlyMap<string, ConsoleAsset>;
}

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  woff2: "font/woff2",
};

const typeOf = (name: string) => TYPES[name.slice(name.lastIndexOf(".") + 1)] ?? "application/octet-stream";

/** Every `src`/`href` naming one of our assets, however the bundler wrote it (`/chunk-x.js`, `./chunk-x.js`), now under ASSETS_PREFIX. */
async function rewriteIndex(html: string, names: ReadonlySet<string>): Promise<string> {
  const point = (attr: string) => ({
    element(el: HTMLRewriterTypes.Element) {
      const value = el.getAttribute(attr);
      if (value && names.has(basename(value))) el.setAttribute(attr, `${ASSETS_PREFIX}${basename(value)}`);
      // Same-origin assets: the CORS mode the bundler asks for buys nothing and only changes the fetch mode.
      el.removeAttribute("crossorigin");
    },
  });
  return new HTMLRewriter()
    .on("script[src]", point("src"))
    .on("link[href]", point("href"))
    .transform(new Response(html))
    .text();
}

async function fromFiles(files: NonNullable<typeof page.files>): Promise<ConsoleAssets> {
  const map = new Map<string, ConsoleAsset>();
  let html: string | undefined;
  for (const f of files) {
    const name = basename(f.path);
    if (name.endsWith(".html")) {
      html = await Bun.file(f.path).text();
      continue;
    }
    map.set(name, {
      body: Bun.file(f.path),
      contentType: typeOf(name),
      etag: `"${f.headers.etag}"`,
    });
  }
  if (html === undefined) throw new Error("console: the bundled index.html is missing");
  return { index: await rewriteIndex(html, new Set(map.keys())), files: map };
}

/** From source: the same bundle the compiler makes, built in memory (about a tenth of a second). */
async function fromSource(): Promise<ConsoleAssets> {
  const build = await Bun.build({ entrypoints: [page.index], minify: true, target: "browser" });
  if (!build.success) throw new AggregateError(build.logs, "console: the bundle did not build");
  const map = new Map<string, ConsoleAsset>();
  let html: string | undefined;
  for (const out of build.outputs) {
    const name = basename(out.path);
    // Every output of an HTML entry reports the entry's loader: the name tells them apart.
    if (name.endsWith(".html")) {
      html = await out.text();
      continue;
    }
    const body = new Blob([await out.arrayBuffer()]);
    map.set(name, { body, contentType: typeOf(name), etag: `"${out.hash ?? Bun.hash(name).toString(36)}"` });
  }
  if (html === undefined) throw new Error("console: the built index.html is missing");
  return { index: await rewriteIndex(html, new Set(map.keys())), files: map };
}

/** The console's files, read (compiled) or built (from source) once per process on first use. */
export function loadConsoleAssets(): Promise<ConsoleAssets> {
  return page.files ? fromFiles(page.files) : fromSource();
}
