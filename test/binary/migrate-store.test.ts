/**
 * @module The compiled binary moves a data dir to PostgreSQL: `heimdall serve` makes a data dir with an app,
 * `heimdall migrate-store` copies it, and `heimdall serve --database-url` on the copy is ready and publishes the
 * same JWKS.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshPostgresDatabase } from "../support/postgres.ts";
import {
  buildBinary,
  freePort,
  type RunningServer,
  startServer,
  stopServer,
  waitHealthy,
} from "./support.ts";

const PAK = `pcft_live_${"B".repeat(40)}`;
const SLUG = "moved";

let work = "";
let runDir = "";
let binary = "";

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "heimdall-migrate-store-bin-"));
  runDir = join(work, "run");
  binary = buildBinary(work, runDir);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function serving(
  env: Record<string, string>,
  run: (baseUrl: string) => Promise<void>,
): Promise<string> {
  const port = freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server: RunningServer = startServer({
    binary,
    cwd: runDir,
    port,
    env: { HEIMDALL_PUBLIC_URL: baseUrl, HEIMDALL_BOOTSTRAP_PAK: PAK, HEIMDALL_LOG_LEVEL: "warn", ...env },
  });
  try {
    await waitHealthy(baseUrl, server);
    await run(baseUrl);
  } finally {
    expect(await stopServer(server)).toBe(0);
  }
  return await server.stderr;
}

test("migrate-store, then serve --database-url: ready, and the copied app's JWKS is the one it had", async () => {
  let jwksBefore = "";
  await serving({}, async (baseUrl) => {
    const created = await fetch(`${baseUrl}/v1/apps`, {
      method: "POST",
      headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
      body: JSON.stringify({ slug: SLUG, display_name: "Moved" }),
    });
    expect(created.status).toBe(201);
    const jwks = await fetch(`${baseUrl}/${SLUG}/v1/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    jwksBefore = await jwks.text();
  });
  expect(JSON.parse(jwksBefore).keys.length).toBeGreaterThan(0);

  const url = await freshPostgresDatabase();
  const copy = Bun.spawnSync([binary, "migrate-store", "--data-dir", "./data", "--to", url], {
    cwd: runDir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: runDir },
  });
  const out = copy.stdout.toString();
  expect(copy.stderr.toString()).toBe("");
  expect(copy.exitCode).toBe(0);
  expect(out).toMatch(/^ +apps +1$/m);
  expect(out).toMatch(/^ +signing_keys +[1-9]\d*$/m);

  await serving({ HEIMDALL_DATABASE_URL: url }, async (baseUrl) => {
    const ready = await fetch(`${baseUrl}/readyz`);
    expect(await ready.json()).toEqual({ status: "ready", checks: { db: "ok", keys: "ok" } });
    expect(ready.status).toBe(200);
    const jwks = await fetch(`${baseUrl}/${SLUG}/v1/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(JSON.parse(await jwks.text())).toEqual(JSON.parse(jwksBefore));
  });
}, 120_000);
