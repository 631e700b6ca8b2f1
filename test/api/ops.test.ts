/** @module Operations endpoints and the HTTP plumbing every route shares: request ids, 404, malformed JSON, body cap. */
import { beforeAll, describe, expect, test } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { tx } from "../../src/db/client.ts";
import { exec, first } from "../../src/db/query.ts";
import {
  DB_WRITE_CHECK_TTL,
  KEYS_CHECK_TTL,
  READYZ_PROBE_KEY,
  SIGNING_CHECK_TTL,
} from "../../src/http/health.ts";
import { keyRotationSchema, readinessSchema, signingKeyListSchema } from "../../src/http/openapi-schemas.ts";
import { PREPUBLISH } from "../../src/keys/rotation-schedule.ts";
import { closeTestContext, createTestContext, type TestContext } from "../support/harness.ts";
import { expectErrorShape } from "../support/openapi.ts";

// The tests that break the store from the side (an open transaction on the one connection, a TEMP trigger,
// `PRAGMA query_only`) act on SQLite's single connection; PostgreSQL has a pool and no such switches.
const sqliteOnly = test.skipIf(process.env.HEIMDALL_TEST_DB === "postgres");

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});

describe("GET /healthz", () => {
  test("200 {status: ok}, never cached, without credentials", async () => {
    const res = await ctx.call("GET", "/healthz", { auth: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
    expect(res.headers.get("cache-control")).toBe("no-store");
  });
});

describe("GET /readyz", () => {
  test("200 ready with both checks ok", async () => {
    const res = await ctx.call("GET", "/readyz", { auth: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ready", checks: { db: "ok", keys: "ok" } });
  });

  sqliteOnly("503 naming the db check when the write lock cannot be taken", async () => {
    // An open transaction on the one connection makes BEGIN IMMEDIATE fail, as a stuck writer would.
    ctx.deps.db.$client.exec("BEGIN");
    try {
      const res = await ctx.call("GET", "/readyz", { auth: null, unchecked: true });
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        status: "unavailable",
        checks: { db: "failed", keys: "ok" },
        reasons: { db: "write lock failed (SQLITE_ERROR)" },
      });
    } finally {
      ctx.deps.db.$client.exec("ROLLBACK");
    }
    expect((await ctx.call("GET", "/readyz", { auth: null })).status).toBe(200);
  });

  test("503 naming the keys check once a secret is undecryptable; the vault result is reused for a minute", async () => {
    const own = await createTestContext();
    expect((await own.call("GET", "/readyz", { auth: null })).status).toBe(200);
    const { vaultSecrets } = own.deps.db.tables;
    await own.deps.db.insert(vaultSecrets).values({
      id: "bogus",
      aad: "test:bogus",
      kekId: "mk-unknown",
      wrappedDek: "AAAA",
      dekNonce: "AAAA",
      dataNonce: "AAAA",
      ciphertext: "AAAA",
      createdAt: own.clock.now(),
    });
    // Still within the cache window: the last vault check stands.
    own.clock.advance(KEYS_CHECK_TTL - 1);
    expect((await own.call("GET", "/readyz", { auth: null })).status).toBe(200);
    own.clock.advance(1);
    const res = await own.call("GET", "/readyz", { auth: null, unchecked: true });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      status: "unavailable",
      checks: { db: "ok", keys: "failed" },
      reasons: { keys: "the master key does not open every stored secret" },
    });
    // The details (key ids) go to the log, not to the unauthenticated body.
    expect(res.text).not.toContain("mk-unknown");
    expect(own.log.lines.some((l) => l.includes("readiness") && l.includes("mk-unknown"))).toBe(true);
  });
});

describe("GET /readyz tells the truth about the store and the signing keys", () => {
  const ready = async (c: TestContext) => {
    const res = await c.call("GET", "/readyz", { auth: null, unchecked: true });
    expect(readinessSchema.safeParse(res.body).success).toBe(true);
    return res;
  };

  sqliteOnly("a store that takes the lock but fails the write is not ready", async () => {
    const own = await createTestContext();
    // As a full disk would: the lock is granted, the change is refused.
    own.deps.db.$client.exec(
      "CREATE TEMP TRIGGER refuse BEFORE UPDATE ON rate_limits BEGIN SELECT RAISE(FAIL, 'refused'); END",
    );
    await ready(own); // the first probe inserts the row; later ones update it
    own.clock.advance(DB_WRITE_CHECK_TTL);
    const res = await ready(own);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ checks: { db: "failed", keys: "ok" } });
    expect((res.body as { reasons: { db: string } }).reasons.db).toStartWith(
      "write failed (SQLITE_CONSTRAINT",
    );
    expect(own.deps.db.$client.inTransaction).toBe(false);
    own.deps.db.$client.exec("DROP TRIGGER temp.refuse");
    expect((await ready(own)).status).toBe(200);
  });

  sqliteOnly("a store that reads but refuses writes is not ready (read-only connection)", async () => {
    const own = await createTestContext();
    own.deps.db.$client.exec("PRAGMA query_only = ON");
    try {
      const res = await ready(own);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        status: "unavailable",
        checks: { db: "failed", keys: "ok" },
        reasons: { db: "write lock failed (SQLITE_READONLY)" },
      });
    } finally {
      own.deps.db.$client.exec("PRAGMA query_only = OFF");
    }
    expect((await ready(own)).status).toBe(200);
    // The failed probe left no transaction open behind it.
    expect(own.deps.db.$client.inTransaction).toBe(false);
  });

  test("a closed store is not ready, and says so for both checks without leaking anything", async () => {
    const own = await createTestContext();
    const file = own.deps.config.dbFile;
    await closeTestContext(own);
    const res = await ready(own);
    expect(res.status).toBe(503);
    const body = res.body as { checks: unknown; reasons: { db: string; keys: string } };
    expect(body.checks).toEqual({ db: "failed", keys: "failed" });
    // SQLite's closed handle fails the read; PostgreSQL's closed pool fails the first statement.
    expect(body.reasons.db).toBe(
      own.deps.db.engine === "postgres" ? "connect failed (connection closed)" : "read failed (error)",
    );
    expect(body.reasons.keys).toStartWith("signing keys cannot be read");
    expect(res.text).not.toContain(file);
    expect(res.text).not.toContain(own.deps.config.dataDir);
  });

  sqliteOnly(
    "the write probe commits at most every DB_WRITE_CHECK_TTL, and rolls back in between",
    async () => {
      const own = await createTestContext();
      const { rateLimits } = own.deps.db.tables;
      const probe = async () =>
        (
          await first(
            own.deps.db.select().from(rateLimits).where(eq(rateLimits.key, READYZ_PROBE_KEY)).limit(1),
          )
        )?.windowStart;
      expect(await probe()).toBeUndefined();
      await ready(own);
      const committed = own.clock.now();
      expect(await probe()).toBe(committed);
      own.clock.advance(DB_WRITE_CHECK_TTL - 1);
      await ready(own);
      expect(await probe()).toBe(committed);
      own.clock.advance(1);
      await ready(own);
      expect(await probe()).toBe(own.clock.now());
    },
  );

  test.skipIf(process.env.HEIMDALL_TEST_DB !== "postgres")(
    "on PostgreSQL the write probe always rolls back: commits are the server's business",
    async () => {
      const own = await createTestContext();
      const { rateLimits } = own.deps.db.tables;
      expect((await ready(own)).status).toBe(200);
      own.clock.advance(DB_WRITE_CHECK_TTL);
      expect((await ready(own)).status).toBe(200);
      expect(await own.deps.db.select().from(rateLimits).where(eq(rateLimits.key, READYZ_PROBE_KEY))).toEqual(
        [],
      );
    },
  );

  describe("an active app whose signing key cannot be opened", () => {
    async function withApp() {
      const own = await createTestContext();
      const created = await own.call("POST", "/v1/apps", {
        body: { slug: "ready-app", display_name: "Ready" },
      });
      expect(created.status).toBe(201);
      const appId = created.body.id as string;
      // A token is signed once, so the key service holds the imported private key in memory.
      expect(await own.deps.keys.sign(appId, { sub: "x" })).toBeString();
      const { signingKeys } = own.deps.db.tables;
      const key = (await first(
        own.deps.db
          .select()
          .from(signingKeys)
          .where(and(eq(signingKeys.appId, appId), eq(signingKeys.state, "active")))
          .limit(1),
      ))!;
      expect((await ready(own)).status).toBe(200);
      return { own, appId, key };
    }

    test("its vault row deleted: 503 within SIGNING_CHECK_TTL, though the in-memory signer still works", async () => {
      const { own, appId, key } = await withApp();
      const { db } = own.deps;
      const { vaultSecrets } = db.tables;
      // The signing key's row still names it: the foreign key is switched off for the delete.
      if (db.engine === "sqlite") db.$client.exec("PRAGMA foreign_keys = OFF");
      await tx(db, async () => {
        if (db.engine === "postgres") await exec(db, sql`SET LOCAL session_replication_role = replica`);
        await db.delete(vaultSecrets).where(eq(vaultSecrets.id, key.vaultSecretId!));
      });
      if (db.engine === "sqlite") db.$client.exec("PRAGMA foreign_keys = ON");
      own.clock.advance(SIGNING_CHECK_TTL);
      const res = await ready(own);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        status: "unavailable",
        checks: { db: "ok", keys: "failed" },
        reasons: { keys: "1 of 1 active app(s) cannot sign: active signing key missing or unreadable" },
      });
      for (const secret of [appId, key.kid, key.vaultSecretId!]) expect(res.text).not.toContain(secret);
      expect(own.log.lines.some((l) => l.includes("readiness") && l.includes(key.kid))).toBe(true);
    });

    test("its sealed private key altered (the master key opens the DEK, not the data): 503", async () => {
      const { own, key } = await withApp();
      const { vaultSecrets } = own.deps.db.tables;
      await own.deps.db
        .update(vaultSecrets)
        .set({ ciphertext: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" })
        .where(eq(vaultSecrets.id, key.vaultSecretId!));
      // The vault-wide check (DEKs only) still passes; the signing check does not.
      own.clock.advance(SIGNING_CHECK_TTL);
      const res = await ready(own);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ checks: { db: "ok", keys: "failed" } });
    });

    test("a suspended app does not count; an app with no active key does", async () => {
      const { own, appId, key } = await withApp();
      const { signingKeys } = own.deps.db.tables;
      await own.deps.db.update(signingKeys).set({ state: "retired" }).where(eq(signingKeys.id, key.id));
      own.clock.advance(SIGNING_CHECK_TTL);
      expect((await ready(own)).status).toBe(503);
      const suspended = await own.call("PATCH", "/v1/apps/{app_id}/status", {
        params: { app_id: appId },
        body: { status: "suspended" },
      });
      expect(suspended.status).toBe(200);
      own.clock.advance(SIGNING_CHECK_TTL);
      expect((await ready(own)).status).toBe(200);
    });
  });
});

describe("GET /metrics", () => {
  test("Prometheus text with request counters and latency histograms by route template", async () => {
    await ctx.call("GET", "/healthz", { auth: null });
    await ctx.call("GET", "/v1/apps");
    await ctx.call("GET", "/v1/apps/{app_id}", { params: { app_id: "no-such-app" } });
    await ctx.call("GET", "/no/such/route", { auth: null, unchecked: true });
    const res = await ctx.call("GET", "/metrics", { auth: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    const text = res.text;
    expect(text).toContain("# TYPE heimdall_http_requests_total counter");
    expect(text).toMatch(
      /^heimdall_http_requests_total\{method="GET",route="\/healthz",status="200"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(
      /^heimdall_http_requests_total\{method="GET",route="\/v1\/apps",status="200"\} [1-9]\d*$/m,
    );
    // Labelled by template, not by the raw path: ids never blow up the series count.
    expect(text).toMatch(
      /^heimdall_http_requests_total\{method="GET",route="\/v1\/apps\/:app_id",status="404"\} [1-9]\d*$/m,
    );
    expect(text).not.toContain("no-such-app");
    expect(text).toMatch(
      /^heimdall_http_requests_total\{method="GET",route="unmatched",status="404"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(
      /^heimdall_http_request_duration_seconds_bucket\{method="GET",route="\/healthz",le="\+Inf"\} [1-9]\d*$/m,
    );
    // The argon2 queue, idle here.
    expect(text).toContain("# TYPE heimdall_password_checks gauge");
    expect(text).toMatch(/^heimdall_password_checks\{state="running"\} 0$/m);
    expect(text).toMatch(/^heimdall_password_checks\{state="queued"\} 0$/m);
  });

  test("heimdall_password_checks counts argon2 work in flight", async () => {
    const inFlight = [
      ctx.deps.passwords.hash("metrics-gauge-pw-1"),
      ctx.deps.passwords.hash("metrics-gauge-pw-2"),
    ];
    const during = (await ctx.call("GET", "/metrics", { auth: null })).text;
    // The default hasher runs cores − 1 (at least one) at once; the rest wait.
    const running = Number(during.match(/^heimdall_password_checks\{state="running"\} (\d+)$/m)?.[1]);
    const queued = Number(during.match(/^heimdall_password_checks\{state="queued"\} (\d+)$/m)?.[1]);
    expect(running).toBeGreaterThanOrEqual(1);
    expect(running + queued).toBe(2);
    await Promise.all(inFlight);
    expect((await ctx.call("GET", "/metrics", { auth: null })).text).toMatch(
      /^heimdall_password_checks\{state="running"\} 0$/m,
    );
  });
});

describe("GET /openapi.json", () => {
  // biome-ignore lint/suspicious/noExplicitAny: a JSON document walked by the assertions below.
  let doc: any;
  beforeAll(async () => {
    const res = await ctx.call("GET", "/openapi.json", { auth: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    doc = res.body;
  });

  test("is OpenAPI 3.1 for this server's public URL", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: "http://localhost:8080" }]);
  });

  test("lists the mounted routes with OpenAPI path templates, tagged by surface", () => {
    expect(doc.paths["/v1/apps"].get.tags).toEqual(["admin"]);
    expect(doc.paths["/v1/apps"].post.tags).toEqual(["admin"]);
    expect(doc.paths["/{app_slug}/v1/.well-known/jwks.json"].get.tags).toEqual(["consumer"]);
    expect(doc.paths["/v1/auth/signin"].post.tags).toEqual(["platform"]);
    for (const p of ["/healthz", "/readyz", "/metrics", "/openapi.json"])
      expect(doc.paths[p].get.tags).toEqual(["ops"]);
    expect(Object.keys(doc.paths).some((p) => p.includes(":"))).toBe(false);
  });

  test("every operation has a unique operationId and declares its path parameters", () => {
    const ids: string[] = [];
    for (const [path, ops] of Object.entries<
      Record<string, { operationId: string; parameters?: { name: string; in: string }[] }>
    >(doc.paths)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!).sort();
      for (const op of Object.values(ops)) {
        ids.push(op.operationId);
        expect(
          (op.parameters ?? [])
            .filter((p) => p.in === "path")
            .map((p) => p.name)
            .sort(),
        ).toEqual(names);
      }
    }
    expect(ids.length).toBeGreaterThan(10);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("declares the cookie and PAK schemes; admin routes accept them, discovery and probes are public", () => {
    expect(doc.components.securitySchemes.cookieAuth).toEqual(
      expect.objectContaining({ type: "apiKey", in: "cookie", name: "auth_token" }),
    );
    expect(doc.components.securitySchemes.pak).toEqual(
      expect.objectContaining({ type: "http", scheme: "bearer" }),
    );
    expect(doc.paths["/v1/apps"].get.security).toContainEqual({ cookieAuth: [] });
    expect(doc.paths["/v1/apps"].get.security).toContainEqual({ pak: [] });
    expect(doc.paths["/v1/auth/signin"].post.security).toEqual([]);
    expect(doc.paths["/{app_slug}/v1/.well-known/jwks.json"].get.security).toEqual([]);
    expect(doc.paths["/healthz"].get.security).toEqual([]);
    // A PAK cannot mint a PAK, and profile routes belong to a person (docs/decisions.md).
    expect(doc.paths["/v1/me"].get.security).not.toContainEqual({ pak: [] });
    expect(doc.paths["/v1/workspaces/{workspace_slug}/api-keys"].post.security).not.toContainEqual({
      pak: [],
    });
    expect(doc.paths["/v1/workspaces/{workspace_slug}/api-keys"].get.security).toContainEqual({ pak: [] });
  });

  test("every $ref resolves to a component schema", () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
      (m) => m[1]!,
    );
    expect(refs.length).toBeGreaterThan(0);
    for (const r of refs) expect(doc.components.schemas[r]).toBeDefined();
  });

  test("describes the appliance's key routes with their response schemas", () => {
    const list = doc.paths["/v1/apps/{app_id}/keys"].get;
    expect(list.operationId).toBe("listAppSigningKeys");
    expect(list.responses["200"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/SigningKeyList",
    });
    const rotate = doc.paths["/v1/apps/{app_id}/keys/rotate"].post;
    expect(rotate.operationId).toBe("rotateAppSigningKey");
    expect(rotate.responses["200"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/KeyRotation",
    });
    expect(doc.components.schemas.SigningKey.properties.state.enum).toEqual([
      "next",
      "active",
      "retiring",
      "retired",
    ]);
  });

  test("the documented key schemas are what the key routes really answer", async () => {
    const created = await ctx.call("POST", "/v1/apps", {
      body: { slug: "ops-keys", display_name: "Ops keys" },
    });
    expect(created.status).toBe(201);
    const list = await ctx.call("GET", "/v1/apps/{app_id}/keys", {
      params: { app_id: created.body.id },
      unchecked: true,
    });
    expect(list.status).toBe(200);
    const keys = signingKeyListSchema.parse(list.body);
    expect(keys.data.map((k) => k.state).sort()).toEqual(["active", "next"]);
    const tooSoon = await ctx.call("POST", "/v1/apps/{app_id}/keys/rotate", {
      params: { app_id: created.body.id },
      body: { emergency: false },
      unchecked: true,
    });
    expect(tooSoon.status).toBe(409);
    expectErrorShape(tooSoon.body);
    expect(tooSoon.body.code).toBe("ROTATION_TOO_SOON");
    ctx.clock.advance(PREPUBLISH);
    const rotated = await ctx.call("POST", "/v1/apps/{app_id}/keys/rotate", {
      params: { app_id: created.body.id },
      body: { emergency: false },
      unchecked: true,
    });
    expect(rotated.status).toBe(200);
    const result = keyRotationSchema.parse(rotated.body);
    expect(result.old_kid).toBe(keys.data.find((k) => k.state === "active")!.kid);
    expect(result.new_kid).toBe(keys.data.find((k) => k.state === "next")!.kid);
  });
});

describe("request ids", () => {
  test.each([
    ["a probe", "GET", "/healthz"],
    ["an admin route", "GET", "/v1/apps"],
    ["an error", "GET", "/v1/apps/{app_id}"],
  ])("%s carries a fresh x-request-id", async (_name, method, path) => {
    const res = await ctx.call(method, path, { params: { app_id: "missing" } });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("a well-formed client id is echoed, also in the error body", async () => {
    const res = await ctx.call("GET", "/v1/apps/{app_id}", {
      params: { app_id: "missing" },
      headers: { "x-request-id": "trace-42.a:b" },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBe("trace-42.a:b");
    expect(res.body.request_id).toBe("trace-42.a:b");
  });

  test("a malformed client id is replaced, not reflected", async () => {
    const res = await ctx.call("GET", "/healthz", { headers: { "x-request-id": "<script>" } });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("plumbing errors have the wire error shape", () => {
  test("unknown route: 404 NOT_FOUND", async () => {
    const res = await ctx.call("GET", "/v1/definitely/not/here", { unchecked: true });
    expect(res.status).toBe(404);
    expectErrorShape(res.body, "NOT_FOUND");
    expect(res.body.request_id).toBe(res.headers.get("x-request-id"));
  });

  test.each([
    ["truncated object", "{"],
    ["trailing comma", '{"slug": "x",}'],
    ["bare word", "slug"],
  ])("malformed JSON (%s): 400 INVALID_JSON", async (_name, raw) => {
    const res = await ctx.call("POST", "/v1/apps", { raw });
    expect(res.status).toBe(400);
    expectErrorShape(res.body, "INVALID_JSON");
  });

  test("a 65 KiB body: 413 before anything reads it", async () => {
    const raw = JSON.stringify({ slug: "big", display_name: "x".repeat(65 * 1024) });
    const res = await ctx.call("POST", "/v1/apps", { raw });
    expect(res.status).toBe(413);
    expectErrorShape(res.body, "PAYLOAD_TOO_LARGE");
  });
});
