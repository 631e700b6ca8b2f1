/**
 * @module Baseline for bench/me.ts: a bare Bun.serve that does what `GET /me` must at minimum — verify
 * the RS256 token with jose against the app's JWKS and read the user with one prepared lookup: SQLite's file, or
 * the same query on PostgreSQL through Bun's client when the store argument is a postgres:// URL.
 */
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";

const [port, jwksUrl, issuer, audience, store] = Bun.argv.slice(2);
if (!port || !jwksUrl || !issuer || !audience || !store)
  throw new Error(
    "usage: bun bench/bare-me.ts <port> <jwks url> <issuer> <audience> <db file | postgres url>",
  );

const jwks = createLocalJWKSet((await (await fetch(jwksUrl)).json()) as JSONWebKeySet);
const lookup = (() => {
  if (store.startsWith("postgres")) {
    const pg = new SQL(store, { max: 10 });
    return async (id: string) =>
      (await pg`SELECT id, username, display_name, role, created_at FROM end_users WHERE id = ${id}`)[0];
  }
  const statement = new Database(store, { readonly: true }).query<Record<string, unknown>, [string]>(
    "SELECT id, username, display_name, role, created_at FROM end_users WHERE id = ?",
  );
  return (id: string) => statement.get(id);
})();

Bun.serve({
  port: Number(port),
  hostname: "127.0.0.1",
  reusePort: false,
  async fetch(req) {
    const token = req.headers.get("authorization")?.slice(7) ?? "";
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer, audience, algorithms: ["RS256"] });
      const row = await lookup(payload.sub!);
      if (!row) return new Response("{}", { status: 404 });
      return Response.json(row, { headers: { "x-request-id": crypto.randomUUID() } });
    } catch {
      return new Response("{}", { status: 401 });
    }
  },
});
process.on("SIGTERM", () => process.exit(0));
