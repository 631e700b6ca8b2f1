/**
 * @module Interop of RFC 7662 introspection against the compiled binary: openid-client's
 * `tokenIntrospection`, oauth4webapi's `introspectionRequest` + `processIntrospectionResponse` and Debian's
 * Authlib (`OAuth2Session.introspect_token`) authenticate as a resource server's M2M client and introspect
 * another client's token; each also sees an inactive token and a refused client authentication.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as oauth from "oauth4webapi";
import * as oidc from "openid-client";
import { type Appliance, adminCall, startAppliance } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"K".repeat(43)}`;
const SLUG = "introspect-interop";
const SCOPES = ["user.read", "user.list"];
/** Debian's interpreter, the one python3-authlib and python3-requests install into (.ci/run installs them). */
const PYTHON = "/usr/bin/python3";

type Client = { id: string; client_id: string; client_secret: string };

let appliance: Appliance;
let baseUrl = "";
/** The resource server that introspects, and the service whose token it is shown. */
let rs: Client;
let service: Client;
let serviceToken = "";
let work = "";

/** The Admin API with the bootstrap PAK (throws on any status from 300 up). */
const admin = <T>(method: string, path: string, body?: unknown): Promise<T> =>
  adminCall<T>(PAK, `${baseUrl}${path}`, method, body);

const issuer = () => `${baseUrl}/${SLUG}`;
const introspectionEndpoint = () => `${issuer()}/v1/oauth/introspect`;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "heimdall-introspect-py-"));
  appliance = await startAppliance("introspect-interop", PAK);
  baseUrl = appliance.baseUrl;
  const app = await admin<{ id: string }>("POST", "/v1/apps", { slug: SLUG, display_name: "Introspection" });
  rs = await admin("POST", `/v1/apps/${app.id}/credentials`, { name: "resource server" });
  service = await admin("POST", `/v1/apps/${app.id}/credentials`, { name: "service", scopes: SCOPES });
  const grant = await fetch(`${issuer()}/v1/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: service.client_id,
      client_secret: service.client_secret,
    }),
  });
  expect(grant.status).toBe(200);
  serviceToken = ((await grant.json()) as { access_token: string }).access_token;
}, TIMEOUT);

afterAll(async () => {
  if (appliance) await appliance.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** What every client must read from an active answer about the service's token. */
function expectServiceToken(body: Record<string, unknown>) {
  const claims = JSON.parse(Buffer.from(serviceToken.split(".")[1]!, "base64url").toString());
  expect(body).toMatchObject({
    active: true,
    token_type: "Bearer",
    client_id: service.client_id,
    sub: service.client_id,
    scope: SCOPES.join(" "),
    iss: issuer(),
    aud: SLUG,
    jti: claims.jti,
    exp: claims.exp,
    iat: claims.iat,
    type: "m2m",
  });
}

describe("openid-client tokenIntrospection", () => {
  const configure = (auth: oidc.ClientAuth) =>
    oidc.discovery(new URL(issuer()), rs.client_id, undefined, auth, {
      execute: [oidc.allowInsecureRequests],
    });

  for (const [method, auth] of [
    ["client_secret_basic", oidc.ClientSecretBasic],
    ["client_secret_post", oidc.ClientSecretPost],
  ] as const) {
    test(`${method}: discovery advertises it; another client's token is active, garbage is not`, async () => {
      const config = await configure(auth(rs.client_secret));
      const meta = config.serverMetadata();
      expect(meta.introspection_endpoint).toBe(introspectionEndpoint());
      expect(meta.introspection_endpoint_auth_methods_supported).toContain(method);
      expectServiceToken(await oidc.tokenIntrospection(config, serviceToken));
      expect(await oidc.tokenIntrospection(config, "not-a-token")).toEqual({ active: false });
    });
  }

  test("a wrong secret: a 401 Basic challenge with invalid_client", async () => {
    const config = await configure(oidc.ClientSecretBasic("hcs_wrong"));
    const err = await oidc.tokenIntrospection(config, serviceToken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(oidc.WWWAuthenticateChallengeError);
    const challenge = err as oidc.WWWAuthenticateChallengeError;
    expect(challenge.status).toBe(401);
    expect(challenge.cause[0]).toMatchObject({ scheme: "basic", parameters: { realm: SLUG } });
    expect(((await challenge.response.json()) as { error: string }).error).toBe("invalid_client");
  });
});

describe("oauth4webapi introspectionRequest + processIntrospectionResponse", () => {
  const insecure = { [oauth.allowInsecureRequests]: true };
  let as: oauth.AuthorizationServer;

  beforeAll(async () => {
    const url = new URL(issuer());
    as = await oauth.processDiscoveryResponse(
      url,
      await oauth.discoveryRequest(url, { algorithm: "oauth2", ...insecure }),
    );
  });

  for (const [method, auth] of [
    ["client_secret_basic", oauth.ClientSecretBasic],
    ["client_secret_post", oauth.ClientSecretPost],
  ] as const) {
    test(`${method}: active and inactive answers`, async () => {
      expect(as.introspection_endpoint_auth_methods_supported).toContain(method);
      const client: oauth.Client = { client_id: rs.client_id };
      const introspect = async (token: string) =>
        oauth.processIntrospectionResponse(
          as,
          client,
          await oauth.introspectionRequest(as, client, auth(rs.client_secret), token, insecure),
        );
      expectServiceToken(await introspect(serviceToken));
      expect(await introspect(`${serviceToken.slice(0, -4)}AAAA`)).toEqual({ active: false });
    });
  }

  test("a wrong secret surfaces as a WWW-Authenticate challenge", async () => {
    const client: oauth.Client = { client_id: rs.client_id };
    const res = await oauth.introspectionRequest(
      as,
      client,
      oauth.ClientSecretPost("hcs_wrong"),
      serviceToken,
      insecure,
    );
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(`Basic realm="${SLUG}"`);
    const err = await oauth.processIntrospectionResponse(as, client, res).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
  });
});

describe("Authlib OAuth2Session.introspect_token (Debian's python3-authlib)", () => {
  const SCRIPT = `
import json, sys
from authlib.integrations.requests_client import OAuth2Session

url, client_id, secret = sys.argv[1:4]
session = OAuth2Session(client_id, secret, token_endpoint_auth_method="client_secret_basic")
out = []
for token in sys.argv[4:]:
    r = session.introspect_token(url, token=token, token_type_hint="access_token")
    out.append({"status": r.status_code, "body": r.json(), "www_authenticate": r.headers.get("www-authenticate")})
print(json.dumps(out))
`;

  const run = (secret: string, tokens: string[]) => {
    const script = join(work, "introspect.py");
    writeFileSync(script, SCRIPT);
    const proc = Bun.spawnSync(
      [PYTHON, script, introspectionEndpoint(), rs.client_id, secret, ...tokens],
      // Authlib refuses plain http unless told the transport is a test's.
      { env: { ...process.env, AUTHLIB_INSECURE_TRANSPORT: "1" } },
    );
    if (proc.exitCode !== 0) throw new Error(`python3 failed: ${proc.stderr.toString()}`);
    return JSON.parse(proc.stdout.toString()) as {
      status: number;
      body: Record<string, unknown>;
      www_authenticate: string | null;
    }[];
  };

  test("client_secret_basic: the service's token is active, garbage is not", () => {
    const [active, inactive] = run(rs.client_secret, [serviceToken, "not-a-token"]);
    expect(active!.status).toBe(200);
    expectServiceToken(active!.body);
    expect(inactive).toEqual({ status: 200, body: { active: false }, www_authenticate: null });
  });

  test("a wrong secret: 401 invalid_client with a Basic challenge", () => {
    const [refused] = run("hcs_wrong", [serviceToken]);
    expect(refused!.status).toBe(401);
    expect(refused!.body.error).toBe("invalid_client");
    expect(refused!.www_authenticate).toBe(`Basic realm="${SLUG}"`);
  });
});
