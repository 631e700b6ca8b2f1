/** @module Tests for the contract validator in test/support/openapi.ts against the vendored specs. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  expectErrorShape,
  expectResponseMatches,
  listOperations,
  loadContract,
  operationExists,
  responseMismatches,
} from "../support/openapi.ts";

const NOW = "2025-01-02T03:04:05.678Z";
const UUID = "0b6c2f1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
const app = (over: Record<string, unknown> = {}) => ({
  id: "app_1",
  slug: "acme",
  display_name: "Acme",
  workspace_id: UUID,
  status: "active",
  created_by: UUID,
  metadata: {},
  created_at: NOW,
  updated_at: "2025-01-02T03:04:05+01:00",
  ...over,
});
const GET_APP = ["heimdall", "GET", "/v1/apps/{app_id}", 200] as const;
const error = { statusCode: 409, code: "SLUG_TAKEN", message: "Slug is taken", request_id: "req_1" };

describe("response schemas", () => {
  test("a correct AppResponseDto passes, also with an extra appliance field", () => {
    expectResponseMatches(...GET_APP, app());
    expectResponseMatches(...GET_APP, app({ region: "local" }));
    expect(responseMismatches(...GET_APP, app())).toEqual([]);
  });

  test("missing slug fails with a JSON pointer", () => {
    const { slug: _, ...body } = app();
    expect(() => expectResponseMatches(...GET_APP, body)).toThrow('(root): missing required property "slug"');
  });

  test("a wrong enum, a wrong type and a bad date-time are all listed", () => {
    const errs = responseMismatches(
      ...GET_APP,
      app({ status: "paused", metadata: [], created_at: "2025-01-02" }),
    );
    expect(errs).toEqual([
      '/created_at: "2025-01-02" is not an ISO 8601 date-time',
      "/metadata: expected object, got array",
      '/status: "paused" is not one of ["active","suspended","archived"]',
    ]);
    expect(() => expectResponseMatches(...GET_APP, app({ status: "paused" }))).toThrow(
      /GET \/v1\/apps\/\{app_id\} 200 \(AppController_getApp\)/,
    );
  });

  test("date-time rejects impossible dates and accepts offsets", () => {
    expect(responseMismatches(...GET_APP, app({ created_at: "2025-13-45T00:00:00Z" }))).toHaveLength(1);
    expect(responseMismatches(...GET_APP, app({ created_at: "2025-01-02T03:04:05-05:30" }))).toEqual([]);
  });

  test("nullable fields accept null; non-nullable ones do not", () => {
    const list = (next_cursor: unknown, has_more: unknown = false) => ({
      data: [app()],
      pagination: { next_cursor, has_more },
    });
    expectResponseMatches("heimdall", "GET", "/v1/apps", 200, list(null));
    expectResponseMatches("heimdall", "GET", "/v1/apps", 200, list("cur_1"));
    expect(responseMismatches("heimdall", "GET", "/v1/apps", 200, list(null, null))).toEqual([
      "/pagination/has_more: expected boolean, got null",
    ]);
    expect(responseMismatches("heimdall", "GET", "/v1/apps", 200, list(1))).toEqual([
      "/pagination/next_cursor: expected string or null, got integer",
    ]);
    expect(responseMismatches("heimdall", "GET", "/v1/apps", 200, { data: [app({ slug: 7 })] })).toEqual([
      '(root): missing required property "pagination"',
      "/data/0/slug: expected string, got integer",
    ]);
  });

  test("JWKS responses: consumer (RSA fields required, use enum) and platform", () => {
    const jwk = { kid: "k1", kty: "RSA", alg: "RS256", use: "sig", n: "abc", e: "AQAB" };
    const jwks = ["heimdall", "GET", "/{app_slug}/v1/.well-known/jwks.json", 200] as const;
    expectResponseMatches(...jwks, { keys: [jwk] });
    expectResponseMatches(...jwks, { keys: [] });
    expect(responseMismatches(...jwks, { keys: [{ ...jwk, use: "enc", n: undefined }] })).toEqual([
      '/keys/0: missing required property "n"',
      '/keys/0/use: "enc" is not one of ["sig"]',
    ]);
    expect(responseMismatches(...jwks, {})).toEqual(['(root): missing required property "keys"']);
    expectResponseMatches("platform", "GET", "/.well-known/jwks.json", 200, { keys: [jwk] });
    // The platform JwkDto does not declare n/e: strict mode flags them.
    expect(
      responseMismatches("platform", "GET", "/.well-known/jwks.json", 200, { keys: [jwk] }, { strict: true }),
    ).toEqual(["/keys/0/n: unexpected property", "/keys/0/e: unexpected property"]);
  });

  test("format uuid is checked; number accepts integers and floats, not strings", () => {
    const ws = { id: UUID, slug: "w", display_name: "W", created_by: UUID, status: "active", settings: {} };
    const body = { ...ws, created_at: NOW, updated_at: NOW };
    const getWs = ["platform", "GET", "/v1/workspaces/{workspace_slug}", 200] as const;
    expectResponseMatches(...getWs, body);
    expectResponseMatches(...getWs, { ...body, id: UUID.toUpperCase() });
    expect(responseMismatches(...getWs, { ...body, id: "ws_1" })).toEqual(['/id: "ws_1" is not a UUID']);
    const token = { access_token: "a", refresh_token: "r", token_type: "Bearer" };
    const refresh = ["heimdall", "POST", "/{app_slug}/v1/auth/refresh", 200] as const;
    expectResponseMatches(...refresh, { ...token, expires_in: 900 });
    expectResponseMatches(...refresh, { ...token, expires_in: 899.5 });
    expect(responseMismatches(...refresh, { ...token, expires_in: "900" })).toEqual([
      "/expires_in: expected number, got string",
    ]);
  });

  test("allOf-wrapped $ref is followed and reported under the wrapping property", () => {
    const totp = {
      otpauth_uri: "otpauth://x",
      secret: "S",
      qr_data_url: "data:",
      algorithm: "SHA1",
      period: 30,
    };
    const factor = { id: "f1", type: "totp", label: null, enabled: false, created_at: NOW, enabled_at: null };
    const enroll = ["heimdall", "POST", "/{app_slug}/v1/me/mfa/factors", 201] as const;
    expectResponseMatches(...enroll, { factor, enrollment: { ...totp, digits: 6 } }, { strict: true });
    expect(responseMismatches(...enroll, { factor, enrollment: totp })).toEqual([
      '/enrollment: missing required property "digits"',
    ]);
    expect(
      responseMismatches(...enroll, { factor, enrollment: { ...totp, digits: 6, x: 1 } }, { strict: true }),
    ).toEqual(["/enrollment/x: unexpected property"]);
  });

  test("oneOf: signin returns tokens or an MFA challenge, nothing else", () => {
    const signin = ["heimdall", "POST", "/{app_slug}/v1/auth/signin", 200] as const;
    expectResponseMatches(...signin, {
      access_token: "a",
      refresh_token: "r",
      token_type: "Bearer",
      expires_in: 900,
    });
    const challenge = {
      mfa_required: true,
      mfa_token: "m",
      expires_at: NOW,
      factors: [{ id: "f", type: "totp", label: null }],
    };
    expectResponseMatches(...signin, challenge, { strict: true });
    const errs = responseMismatches(...signin, { mfa_required: true });
    expect(errs[0]).toBe("(root): matches none of oneOf (2 branches)");
    expect(errs).toContain('  [oneOf#0] (root): missing required property "access_token"');
    expect(errs).toContain('  [oneOf#1] (root): missing required property "mfa_token"');
  });

  test("strict mode rejects undeclared properties at any depth; free-form objects stay open", () => {
    expect(() => expectResponseMatches(...GET_APP, app({ secret_hash: "x" }), { strict: true })).toThrow(
      "/secret_hash: unexpected property",
    );
    expectResponseMatches(...GET_APP, app({ metadata: { anything: 1 } }), { strict: true });
    const list = {
      data: [app({ leaked: true })],
      pagination: { next_cursor: null, has_more: false, total: 1 },
    };
    expect(responseMismatches("heimdall", "GET", "/v1/apps", 200, list, { strict: true })).toEqual([
      "/data/0/leaked: unexpected property",
      "/pagination/total: unexpected property",
    ]);
  });
});

describe("content-less and error responses", () => {
  test("204 must be empty", () => {
    for (const empty of [undefined, null, ""])
      expectResponseMatches("heimdall", "DELETE", "/v1/apps/{app_id}", 204, empty);
    expect(() => expectResponseMatches("heimdall", "DELETE", "/v1/apps/{app_id}", 204, { ok: true })).toThrow(
      "204 must have an empty body",
    );
  });

  test("documented error statuses without content use the Heimdall error shape", () => {
    expectResponseMatches("heimdall", "POST", "/v1/apps", 409, error);
    expectResponseMatches("heimdall", "POST", "/v1/apps", 400, {
      ...error,
      statusCode: 400,
      code: "validation_error",
      details: [{ field: "slug", reason: "too short" }],
    });
    expect(() => expectResponseMatches("heimdall", "POST", "/v1/apps", 409, { message: "nope" })).toThrow(
      /missing required property "statusCode"/,
    );
    expect(responseMismatches("heimdall", "POST", "/v1/apps", 403, error)).toEqual([
      "/statusCode: expected 403 (the HTTP status), got 409",
    ]);
  });

  test("undocumented error statuses also use the error shape; undocumented successes throw", () => {
    expectResponseMatches("heimdall", "GET", "/v1/apps/{app_id}", 404, {
      ...error,
      statusCode: 404,
      code: "APP_NOT_FOUND",
    });
    expect(() => expectResponseMatches("heimdall", "POST", "/v1/apps", 200, app())).toThrow(
      "no response 200 for POST /v1/apps (AppController_createApp); the contract documents: 201, 400, 403, 409",
    );
  });

  test("expectErrorShape checks fields, code casing, details and the expected code", () => {
    expectErrorShape(error);
    expectErrorShape(error, "SLUG_TAKEN");
    expectErrorShape({ ...error, code: "invalid_grant" });
    expect(() => expectErrorShape(error, "NOT_FOUND")).toThrow(
      '/code: expected "NOT_FOUND", got "SLUG_TAKEN"',
    );
    expect(() => expectErrorShape({ ...error, code: "SlugTaken" })).toThrow(
      /\/code: "SlugTaken" does not match/,
    );
    expect(() => expectErrorShape({ ...error, statusCode: 409.5 })).toThrow("/statusCode: expected integer");
    expect(() => expectErrorShape({ ...error, request_id: "" })).toThrow(
      "/request_id: shorter than minLength 1",
    );
    expect(() => expectErrorShape({ ...error, details: [{ field: "x" }] })).toThrow(
      '/details/0: missing required property "reason"',
    );
    expect(() => expectErrorShape("Internal Server Error")).toThrow("(root): expected object, got string");
    expect(() => expectErrorShape({ ...error, stack: "at …" }, undefined, { strict: true })).toThrow(
      "/stack: unexpected property",
    );
  });
});

describe("operation lookup", () => {
  test("unknown operations throw, whatever the status", () => {
    expect(() => expectResponseMatches("heimdall", "GET", "/v1/nope", 200, {})).toThrow(
      "no operation GET /v1/nope in the heimdall contract",
    );
    expect(() => expectResponseMatches("heimdall", "PUT", "/v1/apps/{app_id}", 404, error)).toThrow(
      "no operation PUT /v1/apps/{app_id}",
    );
    expect(operationExists("heimdall", "put", "/v1/apps/{app_id}")).toBe(false);
  });

  test("templates and concrete paths both resolve; literal segments beat parameters", () => {
    expect(operationExists("heimdall", "get", "/v1/apps/{app_id}")).toBe(true);
    expect(operationExists("platform", "GET", "/v1/workspaces/acme/roles?limit=5")).toBe(true);
    expectResponseMatches("heimdall", "GET", "/v1/apps/app_123", 200, app());
    const errs = responseMismatches("heimdall", "GET", "/v1/apps/a1/roles/permissions", 200, {});
    expect(errs.length).toBeGreaterThan(0); // RoleController_listPermissions, not getRole
    expect(() => expectResponseMatches("heimdall", "GET", "/v1/apps/a1/roles/permissions", 200, {})).toThrow(
      "(RoleController_listPermissions)",
    );
  });

  test("listOperations covers both specs", () => {
    const ops = listOperations("heimdall");
    expect(ops).toHaveLength(147);
    expect(ops).toContainEqual({
      method: "GET",
      path: "/v1/apps/{app_id}",
      operationId: "AppController_getApp",
    });
    expect(listOperations("platform")).toHaveLength(58);
    expect(new Set(ops.map((o) => o.operationId)).size).toBe(ops.length);
  });
});

describe("vendored contract files", () => {
  const PROSE = new Set([
    "description",
    "summary",
    "example",
    "examples",
    "title",
    "tags",
    "deprecated",
    "default",
  ]);
  /** Keys found anywhere except the names inside a `properties` map (those are data, e.g. a `description` field). */
  const proseKeys = (v: unknown, ptr = ""): string[] => {
    if (Array.isArray(v)) return v.flatMap((x, i) => proseKeys(x, `${ptr}/${i}`));
    if (typeof v !== "object" || v === null) return [];
    const parentIsProperties = ptr.endsWith("/properties");
    return Object.entries(v).flatMap(([k, x]) => [
      ...(PROSE.has(k) && !parentIsProperties ? [`${ptr}/${k}`] : []),
      ...proseKeys(x, `${ptr}/${k}`),
    ]);
  };

  for (const spec of ["heimdall", "platform"] as const) {
    test(`${spec}.json carries no prose and a generator header`, () => {
      const contract = loadContract(spec);
      expect(contract.generated_by).toBe("scripts/vendor-openapi.ts");
      expect(contract.spec_version).toBe("1.0.0");
      expect(proseKeys(contract)).toEqual([]);
      // Property names that happen to be called "description" survive as data.
      const raw = readFileSync(join(import.meta.dir, "../support/contract", `${spec}.json`), "utf8");
      expect(raw).not.toMatch(/"(summary|example|examples|title|tags|deprecated)"\s*:/);
      for (const [, m] of raw.matchAll(/"description"\s*:\s*(.)/g)) expect(m).toBe("{");
    });

    test(`${spec}.json: every $ref resolves`, () => {
      const contract = loadContract(spec);
      const refs = [...JSON.stringify(contract).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)];
      expect(refs.length).toBeGreaterThan(0);
      for (const [, name] of refs) expect(contract.schemas).toHaveProperty([name!]);
    });
  }
});
