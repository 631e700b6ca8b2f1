/** @module Test harness: the real app graph on `:memory:` SQLite, a temp master key, a FakeClock, and a contract-checking client. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config/index.ts";
import { FakeClock } from "../../src/core/clock.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { type Db, openDatabase } from "../../src/db/client.ts";
import { closePostgres, openPostgresDatabase } from "../../src/db/postgres.ts";
import { buildDeps, type Deps } from "../../src/deps.ts";
import { createMasterKeyFile } from "../../src/vault/master-key.ts";
import { expectResponseMatches, operationExists } from "./openapi.ts";

export const PUBLIC_URL = "http://localhost:8080";
export const BOOT_EMAIL = "owner@example.test";
export const BOOT_PASSWORD = "correct horse battery staple";
export const BOOT_PAK = `pcft_live_${"T".repeat(40)}`;

export type Auth = { pak: string } | { cookie: string; csrf?: boolean } | { bearer: string } | null;

export interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Raw body text (for malformed-JSON cases); wins over `body`. */
  raw?: string;
  headers?: Record<string, string>;
  /** Defaults to the bootstrap PAK; `null` sends no credential. */
  auth?: Auth;
  /** Skip the contract check (for appliance-only routes and deliberate garbage). */
  unchecked?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: bodies are checked against the contract schema, not by the type system.
export interface CallResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface TestContext {
  app: ReturnType<typeof createApp>;
  deps: Deps;
  clock: FakeClock;
  log: ReturnType<typeof memoryLogger>;
  pak: string;
  workspaceId: string;
  ownerId: string;
  /** Calls `method template` with params filled in; validates the response against the contract. */
  // biome-ignore lint/suspicious/noExplicitAny: see CallResult.
  call<T = any>(method: string, template: string, opts?: CallOptions): Promise<CallResult<T>>;
  /** Signs the bootstrap owner in; returns the `auth_token` cookie value. */
  signIn(identifier?: string, password?: string): Promise<string>;
}

function specFor(template: string): "heimdall" | "platform" {
  return /^\/v1\/(auth|session|me|workspaces)(\/|$)/.test(template) ? "platform" : "heimdall";
}

/**
 * The database a test context runs on: in-memory SQLite, or a fresh database on the throwaway PostgreSQL server
 * when `HEIMDALL_TEST_DB=postgres` (the README's test command runs the API suite both ways).
 */
export async function testDatabase(): Promise<Db> {
  if (process.env.HEIMDALL_TEST_DB !== "postgres") return openDatabase(":memory:");
  const { freshPostgresDatabase } = await import("./postgres.ts");
  // Test contexts are never closed: their connections go back after a second unused, so the server's
  // max_connections is never reached however many contexts a run makes.
  return openPostgresDatabase(await freshPostgresDatabase(), { max: 4, idleTimeoutSeconds: 1 });
}

/** Closes a test context's database (SQLite's handle, or PostgreSQL's pool). */
export async function closeTestContext(ctx: Pick<TestContext, "deps">): Promise<void> {
  if (ctx.deps.db.engine === "postgres") await closePostgres(ctx.deps.db);
  else ctx.deps.db.$client.close();
}

/** `publicUrl` sets the advertised public URL (e.g. one with a path); requests still go to PUBLIC_URL's paths. */
export async function createTestContext(
  env: Record<string, string> = {},
  { publicUrl = PUBLIC_URL }: { publicUrl?: string } = {},
): Promise<TestContext> {
  const dir = mkdtempSync(join(tmpdir(), "heimdall-test-"));
  createMasterKeyFile(join(dir, "master.key"));
  const config = loadConfig(
    { "data-dir": dir, "public-url": publicUrl },
    { HEIMDALL_LOG_LEVEL: "warn", ...env },
  );
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 12));
  const log = memoryLogger("warn");
  const deps = await buildDeps(config, { clock, log, db: await testDatabase() });
  // One instance: it leads the scheduler's leader-only jobs, as `serve` makes sure before its first beat.
  await deps.lease.tick();
  const boot = await deps.provisioning.bootstrap({
    email: BOOT_EMAIL,
    password: BOOT_PASSWORD,
    pak: BOOT_PAK,
  });
  const app = createApp(deps);

  const call = async (method: string, template: string, opts: CallOptions = {}): Promise<CallResult> => {
    let path = template;
    for (const [k, v] of Object.entries(opts.params ?? {}))
      path = path.replace(`{${k}}`, encodeURIComponent(v));
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) qs.set(k, String(v));
    const url = `${PUBLIC_URL}${path}${qs.size ? `?${qs}` : ""}`;
    const headers: Record<string, string> = { ...opts.headers };
    const auth = opts.auth === undefined ? { pak: BOOT_PAK } : opts.auth;
    if (auth && "pak" in auth) headers.authorization = `Bearer ${auth.pak}`;
    if (auth && "bearer" in auth) headers.authorization = `Bearer ${auth.bearer}`;
    if (auth && "cookie" in auth) {
      headers.cookie = `auth_token=${auth.cookie}`;
      if (auth.csrf !== false) headers.origin = PUBLIC_URL;
    }
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers["content-type"] ??= "application/json";
    const res = await app.handle(new Request(url, { method, headers, body }));
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get("content-type") ?? "").includes("json") && text) parsed = JSON.parse(text);
    if (!opts.unchecked) {
      const spec = specFor(template);
      if (operationExists(spec, method, template) || res.status >= 400) {
        expectResponseMatches(spec, method, template, res.status, text === "" ? undefined : parsed);
      }
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };

  const signIn = async (identifier = BOOT_EMAIL, password = BOOT_PASSWORD) => {
    const res = await call("POST", "/v1/auth/signin", { body: { identifier, password }, auth: null });
    if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${res.text}`);
    const cookie = (res.headers.get("set-cookie") ?? "").match(/auth_token=([^;]+)/)?.[1];
    if (!cookie) throw new Error("sign-in set no auth_token cookie");
    return cookie;
  };

  return {
    app,
    deps,
    clock,
    log,
    pak: BOOT_PAK,
    workspaceId: boot.workspace.id,
    ownerId: boot.user.id,
    call,
    signIn,
  };
}
