/**
 * @module Peer for bench/signin.ts and bench/me.ts: better-auth with email and password on bun:sqlite, its
 * password hashing replaced (the documented `emailAndPassword.password` option) by argon2id with Heimdall's
 * parameters (m=19456 KiB, t=2, p=1) through the same `@node-rs/argon2`, so a sign-in does the same hashing
 * work as Heimdall's. Its own rate limiter is off (Heimdall's runs see a fresh forwarded address per request).
 * Usage: bun bench/peers/better-auth.ts <port> <sqlite file> <users> <password>
 * Signs up `benchuser<i>@example.test` for i < users before it listens; prints one JSON line
 * `{ "cookie": "<session cookie of the last user>" }` on stdout when ready.
 */
import { Database } from "bun:sqlite";
import { hash, verify } from "@node-rs/argon2";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { ARGON2_OPTIONS } from "../../src/passwords/argon2-params.ts";

const [port, dbFile, users, password] = Bun.argv.slice(2);
if (!port || !dbFile || !users || !password)
  throw new Error("usage: bun bench/peers/better-auth.ts <port> <sqlite file> <users> <password>");

const db = new Database(dbFile, { create: true });
db.exec("PRAGMA journal_mode = WAL");
const options = {
  database: db,
  baseURL: `http://127.0.0.1:${port}`,
  secret: "bench-secret-bench-secret-bench-secret-0123",
  telemetry: { enabled: false },
  logger: { disabled: true },
  rateLimit: { enabled: false },
  emailAndPassword: {
    enabled: true,
    password: {
      hash: (plain: string) => hash(plain, ARGON2_OPTIONS),
      verify: ({ hash: stored, password: plain }: { hash: string; password: string }) =>
        verify(stored, plain),
    },
  },
};
const { runMigrations } = await getMigrations(options);
await runMigrations();
const auth = betterAuth(options);

let cookie = "";
for (let i = 0; i < Number(users); i++) {
  const res = await auth.api.signUpEmail({
    body: { email: `benchuser${i}@example.test`, password, name: `Bench ${i}` },
    asResponse: true,
  });
  if (res.status !== 200) throw new Error(`sign-up ${i}: ${res.status} ${await res.text()}`);
  cookie = (res.headers.get("set-cookie") ?? "").split(";")[0]!;
}
Bun.serve({ port: Number(port), hostname: "127.0.0.1", fetch: auth.handler });
console.log(JSON.stringify({ cookie }));
process.on("SIGTERM", () => process.exit(0));
