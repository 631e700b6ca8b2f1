/**
 * @module The admin console's pages (docs/console.md): `/console` and its client-side routes serve the
 * index, `/console/assets/*` the hashed bundle, `/` redirects to `/console`. Not API routes: hidden from
 * /openapi.json (`detail.hide`). The console calls the Admin and platform APIs like any client.
 */
import { Elysia } from "elysia";
import type { Config } from "../config/index.ts";
import { type ConsoleAssets, loadConsoleAssets } from "./assets.ts";

/** The console's policy: only our own files, no inline script or style, never framed, no referrer. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONSOLE_CSP,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

/** Marks a route as none of the API's: /openapi.json leaves it out (see buildOpenApi). */
const NOT_API = { detail: { hide: true } } as const;

export interface ConsoleRoutesDeps {
  readonly config: Pick<Config, "console">;
}

export function consoleRoutes(deps: ConsoleRoutesDeps) {
  if (!deps.config.console) return new Elysia();
  let assets: Promise<ConsoleAssets> | undefined;
  // Loaded on first use and kept: the files never change while the process runs.
  const load = () => {
    assets ??= loadConsoleAssets().catch((err) => {
      assets = undefined;
      throw err;
    });
    return assets;
  };

  const index = async () =>
    new Response((await load()).index, {
      headers: {
        ...CONSOLE_HEADERS,
        "content-type": "text/html; charset=utf-8",
        // Always revalidated, so a new binary's asset names are picked up at once.
        "cache-control": "no-cache",
      },
    });

  return new Elysia()
    .onStart(() => {
      void load();
    })
    .get("/", () => new Response(null, { status: 302, headers: { location: "/console" } }), NOT_API)
    .get("/console", index, NOT_API)
    .get(
      "/console/assets/:file",
      async ({ params, request }) => {
        const file = (await load()).files.get(params.file);
        if (!file) {
          return new Response("Not found", {
            status: 404,
            headers: { ...CONSOLE_HEADERS, "content-type": "text/plain; charset=utf-8" },
          });
        }
        const headers = {
          ...CONSOLE_HEADERS,
          "content-type": file.contentType,
          etag: file.etag,
          // The name carries the content hash: a changed file is a new name.
          "cache-control": "public, max-age=31536000, immutable",
        };
        if (request.headers.get("if-none-match") === file.etag)
          return new Response(null, { status: 304, headers });
        return new Response(file.body, { headers });
      },
      NOT_API,
    )
    .get("/console/*", index, NOT_API);
}
