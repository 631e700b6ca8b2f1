/** @module GET /openapi.json is a valid OpenAPI 3.1 document of exactly the served routes, and real answers fit it. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { sql } from "drizzle-orm";
import { Secret } from "otpauth";
import { exec } from "../../src/db/query.ts";
import { isHidden, openApiPath } from "../../src/http/openapi.ts";
import serverContract from "../../src/http/openapi-contract.json" with { type: "json" };
import { JWKS_ROUTE } from "../../src/keys/routes.ts";
import { GOOD_PASSWORD, signUp } from "../support/end-users.ts";
import { createApp, insertEndUser, openSession } from "../support/fixtures.ts";
import {
  type CallResult,
  closeTestContext,
  createTestContext,
  type TestContext,
} from "../support/harness.ts";
import { loadContract } from "../support/openapi.ts";
import { expectServedFit, servedMismatches } from "../support/served-openapi.ts";
import { addTenantMember, insertTenant } from "../support/tenants.ts";
import { enableEmail } from "./consumer/codes-fixtures.ts";
import { codeAt, STEP, userWithFactor } from "./consumer/mfa-signin-fixtures.ts";

let ctx: TestContext;
// biome-ignore lint/suspicious/noExplicitAny: a JSON document walked by the assertions below.
let doc: any;
let raw: string;

beforeAll(async () => {
  ctx = await createTestContext();
  const res = await ctx.call("GET", "/openapi.json", { auth: null, unchecked: true });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  raw = res.text;
  doc = res.body;
});
afterAll(() => closeTestContext(ctx));

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const SUCCESS = /^[23]\d\d$/;

/**
 * `METHOD /path/{param}` of every API route the server answers: Elysia's table plus the Bun-native JWKS
 * route, less the console's pages (hidden from the document; the test below pins which routes those are).
 */
function servedOperations(): Set<string> {
  const served = ctx.app.routes
    .filter((r) => METHODS.includes(r.method) && !isHidden(r))
    .map((r) => `${r.method} ${openApiPath(r.path)}`);
  return new Set([...served, `GET ${openApiPath(JWKS_ROUTE)}`]);
}

function documentedOperations(): Set<string> {
  return new Set(
    Object.entries<Record<string, unknown>>(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    ),
  );
}

/** Validation errors of `body` against the served document's schema for that response; empty when it fits. */
const mismatches = (method: string, template: string, status: number, body: unknown): string[] =>
  servedMismatches(doc, method, template, status, body);

const expectFits = (method: string, template: string, res: CallResult): void =>
  expectServedFit(doc, method, template, res);

describe("GET /openapi.json", () => {
  test("passes a real OpenAPI 3.1 validator", async () => {
    const result = await new Validator().validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe("3.1.0");
  });

  test("documents every served route, and serves every documented one", () => {
    const served = servedOperations();
    const documented = documentedOperations();
    expect([...served].filter((op) => !documented.has(op))).toEqual([]);
    expect([...documented].filter((op) => !served.has(op))).toEqual([]);
    expect(documented.has("GET /{app_slug}/v1/.well-known/jwks.json")).toBe(true);
    expect(documented.size).toBeGreaterThan(100);
  });

  test("leaves out only the console's pages, which are not API routes", () => {
    const hidden = ctx.app.routes.filter(isHidden).map((r) => `${r.method} ${r.path}`);
    expect(hidden.sort()).toEqual(["GET /", "GET /console", "GET /console/*", "GET /console/assets/:file"]);
    expect(Object.keys(doc.paths).filter((p) => p === "/" || p.startsWith("/console"))).toEqual([]);
  });

  test("every operation names its success statuses and bodies, and its errors in the wire shape", () => {
    const errorRef = { $ref: "#/components/schemas/Error" };
    type Documented = {
      responses: Record<string, { content?: Record<string, { schema: { anyOf?: unknown[] } }> }>;
    };
    for (const [path, ops] of Object.entries<Record<string, Documented>>(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        const statuses = Object.keys(op.responses);
        expect({ [where]: statuses.some((s) => SUCCESS.test(s)) }).toEqual({ [where]: true });
        expect({ [where]: statuses.includes("2XX") }).toEqual({ [where]: false });
        const clientError = op.responses["4XX"]?.content?.["application/json"]?.schema;
        if (path.endsWith("/oauth/token") || path.endsWith("/oauth/introspect")) {
          expect(clientError?.anyOf).toContainEqual({ $ref: "#/components/schemas/OAuthError" });
        } else {
          expect({ [where]: clientError as unknown }).toEqual({ [where]: errorRef });
        }
      }
    }
  });

  test("request bodies come with their schemas, the token endpoint's also as a form", () => {
    const signup = doc.paths["/{app_slug}/v1/auth/signup"].post.requestBody;
    expect(signup.required).toBe(true);
    expect(signup.content["application/json"].schema.$ref).toMatch(/^#\/components\/schemas\//);
    const token = doc.paths["/{app_slug}/v1/oauth/token"].post;
    expect(Object.keys(token.requestBody.content).sort()).toEqual([
      "application/json",
      "application/x-www-form-urlencoded",
    ]);
    expect(token.security).toEqual([{ clientBasic: [] }, {}]);
    expect(doc.components.securitySchemes.clientBasic).toEqual(
      expect.objectContaining({ type: "http", scheme: "basic" }),
    );
    const introspect = doc.paths["/{app_slug}/v1/oauth/introspect"].post;
    expect(introspect.requestBody.content["application/x-www-form-urlencoded"].schema).toEqual({
      $ref: "#/components/schemas/IntrospectForm",
    });
    expect(Object.keys(doc.components.schemas.IntrospectForm.properties).sort()).toEqual([
      "client_id",
      "client_secret",
      "token",
      "token_type_hint",
    ]);
    expect(introspect.security).toEqual([{ clientBasic: [] }, { appBearer: [] }, {}]);
    expect(doc.paths["/{app_slug}/v1/auth/signup"].post.security).toEqual([]);
    expect(doc.paths["/{app_slug}/v1/me"].get.security).toEqual([{ appBearer: [] }]);
  });

  test("path parameters carry the served route's names; list routes their query parameters", () => {
    const member = doc.paths["/v1/apps/{app_id}/end-users/{user_id}"].get.parameters;
    expect(
      member.filter((p: { in: string }) => p.in === "path").map((p: { name: string }) => p.name),
    ).toEqual(["app_id", "user_id"]);
    const list = doc.paths["/v1/apps"].get.parameters.map(
      (p: { name: string; in: string }) => `${p.in}:${p.name}`,
    );
    expect(list).toEqual(expect.arrayContaining(["query:limit", "query:cursor"]));
  });

  test("the creates that replay declare the Idempotency-Key header, and an idempotent replay fits too", async () => {
    for (const path of ["/v1/apps", "/v1/apps/{app_id}/api-keys", "/v1/apps/{app_id}/credentials"]) {
      const header = doc.paths[path].post.parameters.find((p: { in: string }) => p.in === "header");
      expect({ [path]: header?.name }).toEqual({ [path]: "Idempotency-Key" });
    }
    expect(
      doc.paths["/v1/apps/{app_id}"].patch.parameters.some((p: { in: string }) => p.in === "header"),
    ).toBe(false);
    const opts = {
      body: { slug: "openapi-idem", display_name: "Idem" },
      headers: { "idempotency-key": "k-1" },
    };
    const first = await ctx.call("POST", "/v1/apps", opts);
    const replay = await ctx.call("POST", "/v1/apps", opts);
    expect(replay.body.id).toBe(first.body.id);
    expectFits("POST", "/v1/apps", replay);
  });

  test("nullable contract fields are OpenAPI 3.1 (null in the type), never the 3.0 keyword", () => {
    expect(raw).not.toContain('"nullable"');
    expect(raw).toContain('"null"');
  });

  test("every $ref resolves, and only the schemas the routes reach are included", () => {
    const refs = new Set([...raw.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!));
    for (const r of refs) expect({ [r]: doc.components.schemas[r] !== undefined }).toEqual({ [r]: true });
    // Reached schemas only: the contract's DTOs of served operations are in, a never-referenced one is not.
    expect(Object.keys(doc.components.schemas)).toContain("ProviderDetailDto");
    expect(Object.keys(doc.components.schemas).every((n) => refs.has(n))).toBe(true);
    // Small enough to serve fast; built once and served as the same bytes.
    expect(raw.length).toBeLessThan(400_000);
  });

  test("the server's contract data is the tests' prose-free copy, written by the same script run", () => {
    // test/unit/openapi-validator.test.ts checks the test copies carry no prose; equal data carries none either.
    expect(serverContract.heimdall as unknown).toEqual(loadContract("heimdall"));
    expect(serverContract.platform as unknown).toEqual(loadContract("platform"));
  });

  test("is built once: a second request answers the same bytes", async () => {
    const again = await ctx.call("GET", "/openapi.json", { auth: null, unchecked: true });
    expect(again.text).toBe(raw);
  });
});

async function fitsReadyz(status: number): Promise<void> {
  const res = await ctx.call("GET", "/readyz", { auth: null, unchecked: true });
  expect(res.status).toBe(status);
  expectFits("GET", "/readyz", res);
}

describe("real answers fit the document's response schemas", () => {
  test("Admin, Consumer, ops and appliance routes, successes and errors", async () => {
    const app = await createApp(ctx, "openapi-fit");
    const created = await ctx.call("POST", "/v1/apps", {
      body: { slug: "openapi-fit2", display_name: "Fit" },
    });
    expectFits("POST", "/v1/apps", created);
    expectFits("GET", "/v1/apps", await ctx.call("GET", "/v1/apps"));
    expectFits(
      "GET",
      "/v1/apps/{app_id}",
      await ctx.call("GET", "/v1/apps/{app_id}", { params: { app_id: app.id } }),
    );
    const missing = await ctx.call("GET", "/v1/apps/{app_id}", { params: { app_id: "no-such-app" } });
    expect(missing.status).toBe(404);
    expectFits("GET", "/v1/apps/{app_id}", missing);

    const user = await signUp(ctx, app.slug, {
      username: "fit_user",
      email: "fit@example.test",
      password: GOOD_PASSWORD,
    });
    const slug = { app_slug: app.slug };
    expectFits(
      "GET",
      "/{app_slug}/v1/me",
      await ctx.call("GET", "/{app_slug}/v1/me", { params: slug, auth: { bearer: user.access_token } }),
    );
    const jwks = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", { params: slug, auth: null });
    expectFits("GET", "/{app_slug}/v1/.well-known/jwks.json", jwks);
    // A revalidation answers the documented empty 304.
    const etag = jwks.headers.get("etag")!;
    const again = await ctx.call("GET", "/{app_slug}/v1/.well-known/jwks.json", {
      params: slug,
      auth: null,
      headers: { "if-none-match": etag },
      unchecked: true,
    });
    expect(again.status).toBe(304);
    const documented = doc.paths["/{app_slug}/v1/.well-known/jwks.json"].get.responses["304"];
    expect(documented).toEqual({ description: "Not modified" });

    // Appliance routes, which the contract does not describe.
    const appId = { app_id: app.id };
    const keys = await ctx.call("GET", "/v1/apps/{app_id}/keys", { params: appId, unchecked: true });
    expect(keys.status).toBe(200);
    expectFits("GET", "/v1/apps/{app_id}/keys", keys);
    const outbox = await ctx.call("GET", "/v1/apps/{app_id}/outbox", { params: appId, unchecked: true });
    expect(outbox.status).toBe(200);
    expectFits("GET", "/v1/apps/{app_id}/outbox", outbox);
    const alias = await ctx.call("GET", "/.well-known/oauth-authorization-server/{app_slug}", {
      params: slug,
      auth: null,
      unchecked: true,
    });
    expect(alias.status).toBe(200);
    expectFits("GET", "/.well-known/oauth-authorization-server/{app_slug}", alias);
    for (const probe of ["/healthz", "/readyz"]) {
      const res = await ctx.call("GET", probe, { auth: null, unchecked: true });
      expect(res.status).toBe(200);
      expectFits("GET", probe, res);
    }
  });

  test("the appliance routes added beside the contract fit too: reauthenticate, rotate, sign-in enrolment", async () => {
    const app = await createApp(ctx, "openapi-extra");
    const slug = { app_slug: app.slug };
    const user = await signUp(ctx, app.slug, {
      username: "extra_user",
      email: "extra@example.test",
      password: GOOD_PASSWORD,
    });
    const reauth = (password: string) =>
      ctx.call("POST", "/{app_slug}/v1/me/reauthenticate", {
        params: slug,
        auth: { bearer: user.access_token },
        body: { password },
        unchecked: true,
      });
    const ok = await reauth(GOOD_PASSWORD);
    expect(ok.status).toBe(200);
    expectFits("POST", "/{app_slug}/v1/me/reauthenticate", ok);
    const wrong = await reauth("not the password at all");
    expect(wrong.status).toBe(401);
    expectFits("POST", "/{app_slug}/v1/me/reauthenticate", wrong);

    const rotate = (body: unknown) =>
      ctx.call("POST", "/v1/apps/{app_id}/keys/rotate", {
        params: { app_id: app.id },
        body,
        unchecked: true,
      });
    const tooSoon = await rotate({});
    expect([tooSoon.status, tooSoon.body.code]).toEqual([409, "ROTATION_TOO_SOON"]);
    expectFits("POST", "/v1/apps/{app_id}/keys/rotate", tooSoon);
    const emergency = await rotate({ emergency: true });
    expect(emergency.status).toBe(200);
    expectFits("POST", "/v1/apps/{app_id}/keys/rotate", emergency);

    const required = await ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", {
      params: { app_id: app.id },
      body: { mfa_required: true },
      unchecked: true,
    });
    expect(required.status).toBe(200);
    const challenge = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
      params: slug,
      auth: null,
      body: { identifier: "extra_user", password: GOOD_PASSWORD },
      unchecked: true,
    });
    expect(challenge.body.enrollment_required).toBe(true);
    const started = await ctx.call("POST", "/{app_slug}/v1/auth/mfa/enroll", {
      params: slug,
      auth: null,
      body: { mfa_token: challenge.body.mfa_token },
      unchecked: true,
    });
    expect(started.status).toBe(201);
    expectFits("POST", "/{app_slug}/v1/auth/mfa/enroll", started);
    const wrongCodes = await ctx.call("POST", "/{app_slug}/v1/auth/mfa/enroll/confirm", {
      params: slug,
      auth: null,
      body: {
        mfa_token: challenge.body.mfa_token,
        factor_id: started.body.factor.id,
        codes: ["000000", "000001"],
      },
      unchecked: true,
    });
    expect([wrongCodes.status, wrongCodes.body.code]).toEqual([400, "MFA_ENROLLMENT_CODES_INVALID"]);
    expectFits("POST", "/{app_slug}/v1/auth/mfa/enroll/confirm", wrongCodes);
    const secret = Secret.fromBase32(started.body.enrollment.secret);
    const now = ctx.clock.now();
    const confirmed = await ctx.call("POST", "/{app_slug}/v1/auth/mfa/enroll/confirm", {
      params: slug,
      auth: null,
      body: {
        mfa_token: challenge.body.mfa_token,
        factor_id: started.body.factor.id,
        codes: [codeAt(secret, now - STEP), codeAt(secret, now)],
      },
      unchecked: true,
    });
    expect(confirmed.status).toBe(200);
    expectFits("POST", "/{app_slug}/v1/auth/mfa/enroll/confirm", confirmed);
    const dead = await ctx.call("POST", "/{app_slug}/v1/auth/mfa/enroll", {
      params: slug,
      auth: null,
      body: { mfa_token: challenge.body.mfa_token },
      unchecked: true,
    });
    expect([dead.status, dead.body.code]).toEqual([401, "MFA_TOKEN_INVALID"]);
    expectFits("POST", "/{app_slug}/v1/auth/mfa/enroll", dead);
  });

  test("the Admin API's appliance routes fit with a success and a refusal each: stats, keys, outbox, audit verify, webhook replay, end-user details", async () => {
    const app = await createApp(ctx, "openapi-admin-extra");
    const other = await createApp(ctx, "openapi-admin-other");
    const appId = { app_id: app.id };
    const unknownApp = { app_id: "no-such-app" };
    const get = (template: string, params: Record<string, string>) =>
      ctx.call("GET", template, { params, unchecked: true });
    const fits = async (method: string, template: string, res: CallResult, status: number, code?: string) => {
      expect([res.status, res.body?.code]).toEqual([status, code]);
      expectFits(method, template, res);
    };

    for (const template of [
      "/v1/apps/{app_id}/stats",
      "/v1/apps/{app_id}/keys",
      "/v1/apps/{app_id}/outbox",
      "/v1/apps/{app_id}/audit-logs/verify",
    ]) {
      await fits("GET", template, await get(template, appId), 200);
      await fits("GET", template, await get(template, unknownApp), 404, "APP_NOT_FOUND");
    }

    const replayPath = "/v1/apps/{app_id}/webhook/replay";
    const replay = () =>
      ctx.call("POST", replayPath, {
        params: appId,
        body: { since: new Date(ctx.clock.now() - 60_000).toISOString() },
        unchecked: true,
      });
    await fits("POST", replayPath, await replay(), 404, "WEBHOOK_NOT_FOUND");
    const hook = await ctx.call("PUT", "/v1/apps/{app_id}/webhook", {
      params: appId,
      body: { url: "https://hooks.example.com/heimdall", event_types: [] },
    });
    expect(hook.status).toBe(200);
    await fits("POST", replayPath, await replay(), 200);

    const user = await insertEndUser(ctx, app, "details_user");
    const foreign = await insertEndUser(ctx, other, "details_foreign");
    const mine = { app_id: app.id, user_id: user.id };
    const notMine = { app_id: app.id, user_id: foreign.id };
    const session = await openSession(ctx, app, user.id);
    const tenant = await insertTenant(ctx, app.id, { slug: "fit-tenant" });
    addTenantMember(ctx, app.id, tenant.id, user.id, "member");
    const withFactor = await userWithFactor(ctx, app, "details_factor");
    for (const [suffix, params] of [
      ["/sessions", mine],
      ["/tenants", mine],
      ["/factors", { app_id: app.id, user_id: withFactor.userId }],
    ] as const) {
      const template = `/v1/apps/{app_id}/end-users/{user_id}${suffix}`;
      const res = await get(template, params);
      expect(res.body.data.length).toBe(1);
      await fits("GET", template, res, 200);
      await fits("GET", template, await get(template, notMine), 404, "USER_NOT_FOUND");
    }

    const endSession = "/v1/apps/{app_id}/end-users/{user_id}/sessions/{session_id}";
    const end = () =>
      ctx.call("DELETE", endSession, { params: { ...mine, session_id: session.sessionId }, unchecked: true });
    await fits("DELETE", endSession, await end(), 204);
    await fits("DELETE", endSession, await end(), 404, "SESSION_NOT_FOUND");

    await enableEmail(ctx, app.id);
    const resetPath = "/v1/apps/{app_id}/end-users/{user_id}/password-reset";
    const reset = (userId: string) =>
      ctx.call("POST", resetPath, { params: { app_id: app.id, user_id: userId }, unchecked: true });
    await fits("POST", resetPath, await reset(user.id), 204);
    const unverified = await insertEndUser(ctx, app, "details_unverified", { emailVerified: false });
    await fits("POST", resetPath, await reset(unverified.id), 409, "CONTACT_NOT_VERIFIED");
  });

  test("the ops routes' documented answers: readiness ready and unavailable, metrics as text", async () => {
    await fitsReadyz(200);
    if (ctx.deps.db.engine === "sqlite") {
      // An open transaction on the one connection makes the write check fail, as a stuck writer would.
      ctx.deps.db.$client.exec("BEGIN");
      try {
        await fitsReadyz(503);
      } finally {
        ctx.deps.db.$client.exec("ROLLBACK");
      }
    } else {
      // PostgreSQL has no one connection to block: the probe's write fails on a table gone instead.
      await exec(ctx.deps.db, sql`ALTER TABLE rate_limits RENAME TO rate_limits_gone`);
      try {
        await fitsReadyz(503);
      } finally {
        await exec(ctx.deps.db, sql`ALTER TABLE rate_limits_gone RENAME TO rate_limits`);
      }
    }
    const metrics = await ctx.call("GET", "/metrics", { auth: null, unchecked: true });
    expect(metrics.status).toBe(200);
    expect(Object.keys(doc.paths["/metrics"].get.responses["200"].content)).toEqual(["text/plain"]);
    expect(metrics.headers.get("content-type")).toStartWith("text/plain");
    expect(metrics.text).toContain("# TYPE ");
  });

  test("the token endpoint's refusal fits the RFC 6749 error schema, not the wire error", async () => {
    const app = await createApp(ctx, "openapi-token");
    const res = await ctx.call("POST", "/{app_slug}/v1/oauth/token", {
      params: { app_slug: app.slug },
      body: { grant_type: "client_credentials", client_id: "nobody", client_secret: "wrong" },
      auth: null,
      unchecked: true,
    });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("invalid_client");
    expectFits("POST", "/{app_slug}/v1/oauth/token", res);
    expect(mismatches("GET", "/v1/apps/{app_id}", 401, res.body).length).toBeGreaterThan(0);
  });

  test("the schemas have teeth: a body missing a required field or with a wrong type does not fit", async () => {
    const app = await createApp(ctx, "openapi-teeth");
    const res = await ctx.call("GET", "/v1/apps/{app_id}", { params: { app_id: app.id } });
    expect(mismatches("GET", "/v1/apps/{app_id}", 200, res.body)).toEqual([]);
    const { id: _id, ...withoutId } = res.body;
    expect(mismatches("GET", "/v1/apps/{app_id}", 200, withoutId).length).toBeGreaterThan(0);
    expect(mismatches("GET", "/v1/apps/{app_id}", 200, { ...res.body, slug: 42 }).length).toBeGreaterThan(0);
    expect(mismatches("GET", "/v1/apps/{app_id}", 404, { code: "APP_NOT_FOUND" }).length).toBeGreaterThan(0);
  });
});
