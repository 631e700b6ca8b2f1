/**
 * @module Baseline for bench/me.ts: a bare Bun.serve that does what `GET /me` must at minimum — verify
 * the RS256 token with jose against the app's JWKS and read the user with one prepared SQLite lookup.
 */
import { Database } from "bun:sqlite";
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";

const [port, jwksUrl, issuer, audience, dbFile] = Bun.argv.slice(2);
if (!port || !jwksUrl || !issuer || !audience || !dbFile)
  throw new Error("usage: bun bench/bare-me.ts <port> <jwks url> <issuer> <audience> <db file>");

const jwks = createLocalJWKSet((await (await fetch(jwksUrl)).json()) as JSONWebKeySet);
const db = new Database(dbFile, { readonly: true });
const lookup = db.query<Record<string, unknown>, [string]>(
  "SELECT id, username, display_name, role, created_at FROM end_users WHERE id = ?",
);

Bun.serve({
  port: Number(port),
  hostname: "127.0.0.1",
  reusePort: false,
  async fetch(req) {
    const token = req.headers.get("authorization")?.slice(7) ?? "";
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer, audience, algorithms: ["RS256"] });
      const row = lookup.get(payload.sub!);
      if (!row) return new Response("{}", { status: 404 });
      return Response.json(row, { headers: { "x-request-id": crypto.randomUUID() } });
    } catch {
      return new Response("{}", { status: 401 });
    }
  },
});
process.on("SIGTERM", () => process.exit(0));
