/** @module Baseline for bench/jwks.ts: a bare Bun.serve answering every request with the same bytes and headers as Heimdall's JWKS. */
export {}; // a module, for the top-level await below

const [port, bodyFile, headersJson] = Bun.argv.slice(2);
if (!port || !bodyFile || !headersJson)
  throw new Error("usage: bun bench/bare-server.ts <port> <body file> <headers json>");

const body = await Bun.file(bodyFile).bytes();
const headers: Record<string, string> = JSON.parse(headersJson);

Bun.serve({
  port: Number(port),
  hostname: "127.0.0.1",
  reusePort: false,
  // The same header set Heimdall sends, request id included, so the comparison is like for like.
  fetch: () => new Response(body, { headers: { ...headers, "x-request-id": crypto.randomUUID() } }),
});
process.on("SIGTERM", () => process.exit(0));
