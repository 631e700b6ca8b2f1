/**
 * @module The token endpoint's native route on the compiled binary: a plain form grant skips the framework
 * pipeline (m2m/routes.ts, `oauthTokenNativeRoute`), everything else is handed to it. Each answer must be
 * the pipeline's: status, RFC 6749 body, headers, the request id, the audit rows and the metrics; and the
 * requests the native route hands over (a browser's, a JSON body, another method, a NUL) must still get theirs.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { expectResponseMatches } from "../support/openapi.ts";
import { type Appliance, adminCall, startAppliance } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"N".repeat(43)}`;
const SLUG = "native-token";
const TOKEN_TEMPLATE = "/{app_slug}/v1/oauth/token";

let appliance: Appliance;
let base = "";
let appId = "";
let client: { client_id: string; client_secret: string };

/** The Admin API with the bootstrap PAK (throws on any status from 300 up). */
const admin = <T>(method: string, path: string, body?: unknown): Promise<T> =>
  adminCall<T>(PAK, `${base}${path}`, method, body);

const tokenUrl = (slug = SLUG) => `${base}/${slug}/v1/oauth/token`;
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const grantForm = (secret = client.client_secret, extra: Record<string, string> = {}) =>
  new URLSearchParams({
    grant_type: "client_credentials",
    client_id: client.client_id,
    client_secret: secret,
    ...extra,
  }).toString();

/** The requests counted for the token route with `status`, from /metrics. */
async function counted(method: string, status: number): Promise<number> {
  const text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${PAK}` } })).text();
  const line = text
    .split("\n")
    .find((l) =>
      l.startsWith(
        `heimdall_http_requests_total{method="${method}",route="/:app_slug/v1/oauth/token",status="${status}"}`,
      ),
    );
  return line ? Number(line.split(" ").pop()) : 0;
}

async function auditRows(
  action: string,
): Promise<{ details: Record<string, unknown>; request_id?: string }[]> {
  const page = await admin<{ data: { details: Record<string, unknown>; request_id?: string }[] }>(
    "GET",
    `/v1/apps/${appId}/audit-logs?action=${action}&limit=100`,
  );
  return page.data;
}

beforeAll(async () => {
  appliance = await startAppliance("token-native", PAK);
  base = appliance.baseUrl;
  appId = (await admin<{ id: string }>("POST", "/v1/apps", { slug: SLUG, display_name: "Native token" })).id;
  client = await admin("POST", `/v1/apps/${appId}/credentials`, { name: "native", scopes: ["user.read"] });
}, TIMEOUT);

afterAll(async () => {
  if (appliance) expect(await appliance.dispose()).toBe(0);
});

describe("the token endpoint's native route", () => {
  test(
    "a plain grant: RFC 6749 answer, no-store headers, the sent request id, one audit row, one metric",
    async () => {
      const before = await counted("POST", 200);
      const issuedBefore = (await auditRows("m2m.token_issued")).length;
      const res = await fetch(tokenUrl(), {
        method: "POST",
        headers: { ...FORM, "x-request-id": "native-grant-1" },
        body: grantForm(),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("pragma")).toBe("no-cache");
      expect(res.headers.get("content-type")).toStartWith("application/json");
      expect(res.headers.get("x-request-id")).toBe("native-grant-1");
      expect(res.headers.get("vary")).toBeNull();
      const body = (await res.json()) as Record<string, unknown>;
      expectResponseMatches("heimdall", "POST", TOKEN_TEMPLATE, 200, body, { strict: true });
      expect(Object.keys(body).sort()).toEqual(["access_token", "expires_in", "scope", "token_type"]);
      expect(body.token_type).toBe("Bearer");
      expect(body.scope).toBe("user.read");
      const token = String(body.access_token);
      expect(decodeProtectedHeader(token).typ).toBe("at+jwt");
      expect(decodeJwt(token)).toMatchObject({ sub: client.client_id, aud: SLUG, scope: "user.read" });
      // The grant is verified by the app's own introspection, so the token is a real one.
      const verified = await fetch(`${base}/${SLUG}/v1/verify`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: "{}",
      });
      expect(verified.status).toBe(200);

      const issued = await auditRows("m2m.token_issued");
      expect(issued.length).toBe(issuedBefore + 1);
      expect(issued[0]!.details).toMatchObject({ auth_method: "client_secret_post", scopes: ["user.read"] });
      expect(issued[0]!.request_id).toBe("native-grant-1");
      expect(await counted("POST", 200)).toBe(before + 1);
    },
    TIMEOUT,
  );

  test("client_secret_basic with a charset parameter on the form type", async () => {
    const res = await fetch(tokenUrl(), {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded; charset=UTF-8",
        authorization: `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}`,
      },
      body: "grant_type=client_credentials",
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { scope: string };
    expectResponseMatches("heimdall", "POST", TOKEN_TEMPLATE, 200, body, { strict: true });
    expect(body.scope).toBe("user.read");
  });

  test("a wrong secret: 401 invalid_client with the Basic challenge, audited, counted as a 401", async () => {
    const before = await counted("POST", 401);
    const failedBefore = (await auditRows("m2m.token_failed")).length;
    const res = await fetch(tokenUrl(), { method: "POST", headers: FORM, body: grantForm("wrong") });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(`Basic realm="${SLUG}"`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-request-id")).toBeString();
    expect(await res.json()).toEqual({
      error: "invalid_client",
      error_description: "Client authentication failed",
    });
    const failed = await auditRows("m2m.token_failed");
    expect(failed.length).toBe(failedBefore + 1);
    expect(failed[0]!.details).toMatchObject({ reason: "invalid_secret" });
    expect(await counted("POST", 401)).toBe(before + 1);
  });

  test("refusals of the body speak RFC 6749: a repeated parameter, a body over the cap", async () => {
    const repeated = await fetch(tokenUrl(), {
      method: "POST",
      headers: FORM,
      body: `${grantForm()}&grant_type=client_credentials`,
    });
    expect(repeated.status).toBe(400);
    expect(await repeated.json()).toEqual({
      error: "invalid_request",
      error_description: "A form parameter is repeated",
    });
    const big = await fetch(tokenUrl(), { method: "POST", headers: FORM, body: `a=${"x".repeat(70_000)}` });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: string }).error).toBe("invalid_request");
  });

  test("an unknown app is the API's 404 APP_NOT_FOUND, as on every Consumer route", async () => {
    const res = await fetch(tokenUrl("no-such-app"), { method: "POST", headers: FORM, body: grantForm() });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { code: string; request_id: string };
    expectResponseMatches("heimdall", "POST", TOKEN_TEMPLATE, 404, body);
    expect(body.code).toBe("APP_NOT_FOUND");
    expect(body.request_id).toBe(res.headers.get("x-request-id")!);
  });

  test("handed to the pipeline: a browser's request gets its CORS answer, a JSON body its grant", async () => {
    const browser = await fetch(tokenUrl(), {
      method: "POST",
      headers: { ...FORM, origin: "https://spa.example" },
      body: grantForm(),
    });
    expect(browser.status).toBe(200);
    expect(browser.headers.get("vary")).toContain("Origin");
    const json = await fetch(tokenUrl(), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        client_id: client.client_id,
        client_secret: client.client_secret,
      }),
    });
    expect(json.status).toBe(200);
    expect(json.headers.get("cache-control")).toBe("no-store");
  });

  test("other methods still get 405 with Allow: POST; a NUL in the URL is refused", async () => {
    const get = await fetch(tokenUrl());
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect(((await get.json()) as { error: string }).error).toBe("invalid_request");
    const nul = await fetch(`${tokenUrl()}?x=%00`, { method: "POST", headers: FORM, body: grantForm() });
    expect(nul.status).toBe(400);
    expect(((await nul.json()) as { error: string }).error).toBe("invalid_request");
  });
});
