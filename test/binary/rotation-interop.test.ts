/**
 * @module Key rotation against the compiled binary with verifiers that cache the JWKS: jose's remote JWKS
 * held for its full `max-age` (no refetch on an unknown kid, like go-oidc) and oauth4webapi's
 * `validateJwtAccessToken`. Two back-to-back manual rotations (the second refused with ROTATION_TOO_SOON),
 * and `heimdall keys rotate` beside the running server taking effect within about a second, `--emergency`
 * withdrawing the old key from the JWKS, signing and introspection.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import {
  buildBinary,
  freePort,
  type RunningServer,
  startServer,
  stopServer,
  waitHealthy,
} from "./support.ts";

const TIMEOUT = 120_000;
const PAK = `pcft_live_${"R".repeat(43)}`;
const HTTP_APP = "rotate-http";
const CLI_APP = "rotate-cli";
/** How long the test allows a CLI rotation to reach the server (it polls every 500 ms). */
const PICKUP_MS = 1_500;

const work = mkdtempSync(join(tmpdir(), "heimdall-rotation-"));
const runDir = join(work, "run");
let binary = "";
let port = 0;
let baseUrl = "";
let server: RunningServer | null = null;
const clients = new Map<string, { client_id: string; client_secret: string; appId: string }>();

const env = () => ({
  HEIMDALL_PUBLIC_URL: baseUrl,
  HEIMDALL_BOOTSTRAP_PAK: PAK,
  HEIMDALL_LOG_LEVEL: "warn",
});

async function admin<T>(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

async function serve(): Promise<void> {
  server = startServer({ binary, cwd: runDir, port, env: env() });
  await waitHealthy(baseUrl, server);
}

async function cli(...args: string[]) {
  const proc = Bun.spawn([binary, ...args, "--data-dir", "./data"], {
    cwd: runDir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? work, ...env() },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

async function token(slug: string): Promise<string> {
  const c = clients.get(slug)!;
  const res = await fetch(`${baseUrl}/${slug}/v1/oauth/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${btoa(`${c.client_id}:${c.client_secret}`)}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials",
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid!;

async function jwksKids(slug: string): Promise<string[]> {
  const res = await fetch(`${baseUrl}/${slug}/v1/.well-known/jwks.json`);
  expect(res.headers.get("cache-control")).toBe("public, max-age=3600");
  return ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
}

/**
 * The two verifiers of one app, their caches warmed once: jose's remote JWKS kept for the full hour
 * (`cooldownDuration` an hour too, so an unknown kid does not trigger a refetch), and oauth4webapi.
 */
async function verifiers(slug: string) {
  const issuer = `${baseUrl}/${slug}`;
  const jwks = createRemoteJWKSet(new URL(`${issuer}/v1/.well-known/jwks.json`), {
    cacheMaxAge: 3_600_000,
    cooldownDuration: 3_600_000,
  });
  const insecure = { [oauth.allowInsecureRequests]: true };
  const as = await oauth.processDiscoveryResponse(
    new URL(issuer),
    await oauth.discoveryRequest(new URL(issuer), { algorithm: "oauth2", ...insecure }),
  );
  const verify = async (jwt: string) => {
    const { protectedHeader } = await jwtVerify(jwt, jwks, { issuer, audience: slug, algorithms: ["RS256"] });
    const request = new Request(`${baseUrl}/resource`, { headers: { authorization: `Bearer ${jwt}` } });
    const claims = await oauth.validateJwtAccessToken(as, request, slug, insecure);
    expect(claims.client_id).toBe(clients.get(slug)!.client_id);
    return protectedHeader.kid!;
  };
  await verify(await token(slug));
  expect(jwks.reloading).toBe(false);
  return { verify, cachedKids: () => (jwks.jwks()?.keys ?? []).map((k) => k.kid!) };
}

/** Mints tokens until one carries a kid other than `kid`; returns it and how long that took. */
async function firstTokenNotSignedBy(slug: string, kid: string): Promise<{ jwt: string; ms: number }> {
  const start = performance.now();
  for (;;) {
    const jwt = await token(slug);
    const ms = performance.now() - start;
    if (kidOf(jwt) !== kid || ms > 5_000) return { jwt, ms };
    await Bun.sleep(50);
  }
}

beforeAll(async () => {
  binary = buildBinary(work, runDir);
  port = freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  await serve();
  for (const slug of [HTTP_APP, CLI_APP]) {
    const app = await admin<{ id: string }>("POST", "/v1/apps", { slug, display_name: slug });
    expect(app.status).toBe(201);
    const c = await admin<{ client_id: string; client_secret: string }>(
      "POST",
      `/v1/apps/${app.body.id}/credentials`,
      { name: "rotation", scopes: [] },
    );
    expect(c.status).toBe(201);
    clients.set(slug, { ...c.body, appId: app.body.id });
  }
  expect(await stopServer(server!)).toBe(0);
  // As if the apps were created three hours ago: their next keys have been published longer than the
  // 2 h a non-emergency rotation requires (the test cannot wait that long).
  const db = new Database(join(runDir, "data", "heimdall.db"));
  db.run("UPDATE signing_keys SET created_at = created_at - 3 * 3600 * 1000");
  db.close();
  await serve();
}, TIMEOUT);

afterAll(async () => {
  if (server && server.proc.exitCode === null) expect(await stopServer(server)).toBe(0);
  rmSync(work, { recursive: true, force: true });
});

describe("two back-to-back manual rotations over HTTP", () => {
  test(
    "the first promotes the long-published next key, the second is refused; caching verifiers accept every token",
    async () => {
      const appId = clients.get(HTTP_APP)!.appId;
      const v = await verifiers(HTTP_APP);
      const [active, next] = await jwksKids(HTTP_APP);

      const first = await admin<{ old_kid: string; new_kid: string; next_kid: string; warning: null }>(
        "POST",
        `/v1/apps/${appId}/keys/rotate`,
      );
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ old_kid: active, new_kid: next, warning: null });
      const afterFirst = await token(HTTP_APP);
      expect(kidOf(afterFirst)).toBe(next!);
      // The new signer was in the verifier's cached JWKS before the rotation: no refetch needed.
      expect(v.cachedKids()).toContain(next!);
      expect(await v.verify(afterFirst)).toBe(next!);

      const second = await admin<{ code: string; message: string }>("POST", `/v1/apps/${appId}/keys/rotate`);
      expect(second.status).toBe(409);
      expect(second.body.code).toBe("ROTATION_TOO_SOON");
      const retryAfter = Number(second.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(7_100);
      expect(retryAfter).toBeLessThanOrEqual(7_200);
      expect(second.body.message).toContain(first.body.next_kid);

      // The fresh next key (published a moment ago) never signed: every token verifies from the cache.
      for (let i = 0; i < 3; i++) {
        const jwt = await token(HTTP_APP);
        expect(kidOf(jwt)).toBe(next!);
        expect(await v.verify(jwt)).toBe(next!);
      }
      expect(v.cachedKids()).not.toContain(first.body.next_kid);
    },
    TIMEOUT,
  );
});

describe("heimdall keys rotate beside the running server", () => {
  test(
    "a non-emergency rotation is taken up within about a second; caching verifiers accept the new tokens",
    async () => {
      const v = await verifiers(CLI_APP);
      const [active, next] = await jwksKids(CLI_APP);
      expect(kidOf(await token(CLI_APP))).toBe(active!);

      const r = await cli("keys", "rotate", "--app", CLI_APP);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`rotated ${CLI_APP}: ${active} -> ${next}`);
      expect(r.stdout).not.toContain("warning");

      const { jwt, ms } = await firstTokenNotSignedBy(CLI_APP, active!);
      expect(kidOf(jwt)).toBe(next!);
      expect(ms).toBeLessThan(PICKUP_MS);
      expect(await v.verify(jwt)).toBe(next!);
      expect(await jwksKids(CLI_APP)).toContain(active!); // retiring, still published
    },
    TIMEOUT,
  );

  test(
    "a second non-emergency rotation is refused by the 2 h rule, not by the lock, and changes nothing",
    async () => {
      const before = await jwksKids(CLI_APP);
      const r = await cli("keys", "rotate", "--app", CLI_APP);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain("ROTATION_TOO_SOON");
      expect(r.stderr).toContain("run it with --emergency to promote it now");
      expect(r.stderr).not.toContain("in use by");
      await Bun.sleep(PICKUP_MS);
      expect(await jwksKids(CLI_APP)).toEqual(before);
    },
    TIMEOUT,
  );

  test(
    "--emergency: within about a second the old key neither signs, nor is published, nor introspects as active",
    async () => {
      const c = clients.get(CLI_APP)!;
      const [active] = await jwksKids(CLI_APP);
      const old = await token(CLI_APP);
      expect(kidOf(old)).toBe(active!);
      const introspect = async (jwt: string) => {
        const res = await fetch(`${baseUrl}/${CLI_APP}/v1/oauth/introspect`, {
          method: "POST",
          headers: {
            authorization: `Basic ${btoa(`${c.client_id}:${c.client_secret}`)}`,
            "content-type": "application/x-www-form-urlencoded",
          },
          body: new URLSearchParams({ token: jwt }),
        });
        expect(res.status).toBe(200);
        return ((await res.json()) as { active: boolean }).active;
      };
      expect(await introspect(old)).toBe(true);

      const r = await cli("keys", "rotate", "--app", CLI_APP, "--emergency");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("(emergency: old key withdrawn)");
      expect(r.stdout).toContain("warning:");
      expect(r.stdout).toContain("until they refetch");

      const { jwt, ms } = await firstTokenNotSignedBy(CLI_APP, active!);
      expect(kidOf(jwt)).not.toBe(active!);
      expect(ms).toBeLessThan(PICKUP_MS);
      expect(await jwksKids(CLI_APP)).not.toContain(active!);
      expect(await introspect(old)).toBe(false);
      expect(await introspect(jwt)).toBe(true);
    },
    TIMEOUT,
  );
});

describe("heimdall keys alg beside the running server", () => {
  const ALG_APP = "rotate-alg";

  test(
    "switching to ES256 publishes an ES256 next key within about a second; tokens stay RS256 until it signs",
    async () => {
      const app = await admin<{ id: string }>("POST", "/v1/apps", { slug: ALG_APP, display_name: ALG_APP });
      const c = await admin<{ client_id: string; client_secret: string }>(
        "POST",
        `/v1/apps/${app.body.id}/credentials`,
        { name: "alg", scopes: [] },
      );
      clients.set(ALG_APP, { ...c.body, appId: app.body.id });
      expect((await cli("keys", "alg", "--app", ALG_APP)).stdout.trim()).toBe(`${ALG_APP}: RS256`);
      const [rsaActive] = await jwksKids(ALG_APP);

      const bad = await cli("keys", "alg", "--app", ALG_APP, "HS256");
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('unknown algorithm "HS256"');

      const r = await cli("keys", "alg", "--app", ALG_APP, "ES256");
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`${ALG_APP}: signing_alg RS256 -> ES256`);
      const esKid = /next key: (es256-\S+) \(ES256\)/.exec(r.stdout)?.[1];
      expect(esKid).toBeString();

      const deadline = Date.now() + PICKUP_MS;
      while (!(await jwksKids(ALG_APP)).includes(esKid!) && Date.now() < deadline) await Bun.sleep(50);
      const jwks = (await (await fetch(`${baseUrl}/${ALG_APP}/v1/.well-known/jwks.json`)).json()) as {
        keys: Record<string, string>[];
      };
      expect(jwks.keys.map((k) => [k.kid, k.kty, k.alg])).toEqual([
        [rsaActive!, "RSA", "RS256"],
        [esKid!, "EC", "ES256"],
      ]);
      const discovery = (await (
        await fetch(`${baseUrl}/${ALG_APP}/.well-known/openid-configuration`)
      ).json()) as { id_token_signing_alg_values_supported: string[] };
      expect(discovery.id_token_signing_alg_values_supported).toEqual(["RS256", "ES256"]);
      const config = await admin<{ signing_alg: string }>("GET", `/v1/apps/${app.body.id}/auth-config`);
      expect(config.body.signing_alg).toBe("ES256");
      expect(decodeProtectedHeader(await token(ALG_APP))).toMatchObject({ alg: "RS256", kid: rsaActive });
      const list = await cli("keys", "list", "--app", ALG_APP);
      expect(list.stdout).toMatch(new RegExp(`${esKid}\\s+ES256\\s+next`));
    },
    TIMEOUT,
  );

  test(
    "after an emergency rotation the app signs ES256: jose and oauth4webapi verify its tokens",
    async () => {
      const r = await cli("keys", "rotate", "--app", ALG_APP, "--emergency");
      expect(r.code).toBe(0);
      const { jwt } = await firstTokenNotSignedBy(ALG_APP, (await jwksKids(ALG_APP))[0]!);
      expect(decodeProtectedHeader(jwt).alg).toBe("ES256");
      const issuer = `${baseUrl}/${ALG_APP}`;
      const jwks = createRemoteJWKSet(new URL(`${issuer}/v1/.well-known/jwks.json`));
      const { protectedHeader } = await jwtVerify(jwt, jwks, {
        issuer,
        audience: ALG_APP,
        algorithms: ["ES256"],
      });
      expect(protectedHeader.kid!.startsWith("es256-")).toBe(true);
      const insecure = { [oauth.allowInsecureRequests]: true };
      const as = await oauth.processDiscoveryResponse(
        new URL(issuer),
        await oauth.discoveryRequest(new URL(issuer), { algorithm: "oauth2", ...insecure }),
      );
      const request = new Request(`${baseUrl}/resource`, { headers: { authorization: `Bearer ${jwt}` } });
      const claims = await oauth.validateJwtAccessToken(as, request, ALG_APP, insecure);
      expect(claims.client_id).toBe(clients.get(ALG_APP)!.client_id);
    },
    TIMEOUT,
  );
});
