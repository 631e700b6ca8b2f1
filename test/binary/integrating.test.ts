/**
 * @module docs/integrating.md, run as written: each ```lang recipe=name``` block is saved to a file and run
 * against the compiled binary with the real client library it names (curl, jose under Bun, Debian's PyJWT
 * and Authlib under /usr/bin/python3, go-oidc with Debian's Go in GOPATH mode), reading only the
 * environment variables the page tells readers to export.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Heimdall } from "@productcraft/heimdall";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { expectResponseMatches } from "../support/openapi.ts";
import { type Appliance, ROOT, startAppliance } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"G".repeat(43)}`;
const SLUG = "demo";
const OTHER = "elsewhere";
const SCOPES = ["user.read", "user.list"];
/** Debian's interpreter: the one python3-jwt and python3-authlib install into (not a pyenv python3 on PATH). */
const PYTHON = "/usr/bin/python3";
/** The page's command for the Go recipe with Debian's packages; the test runs exactly this. */
const GO_RUN = "GO111MODULE=off GOPATH=/usr/share/gocode go run verify.go";

interface Recipe {
  lang: string;
  body: string;
}

const PAGE = readFileSync(join(ROOT, "docs/integrating.md"), "utf8");
const recipes = new Map(
  [...PAGE.matchAll(/^```(\w+) recipe=(\S+)\n([\s\S]*?)^```$/gm)].map((m) => [
    m[2]!,
    { lang: m[1]!, body: m[3]! } satisfies Recipe,
  ]),
);

let appliance: Appliance;
let baseUrl = "";
let work = "";
let appId = "";
let client: { client_id: string; client_secret: string };
let otherClient: { client_id: string; client_secret: string };
let endUser: { access_token: string; refresh_token: string; sub: string };

const issuer = (slug = SLUG) => `${baseUrl}/${slug}`;

async function call<T>(method: string, path: string, body?: unknown, bearer = PAK): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** A client_credentials token straight from the token endpoint (independent of the recipes under test). */
async function m2mToken(slug: string, c: { client_id: string; client_secret: string }): Promise<string> {
  const res = await fetch(`${issuer(slug)}/v1/oauth/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", ...c }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs recipe `name` with the page's environment variables (and nothing else of the runner's but PATH/HOME). */
async function run(name: string, env: Record<string, string> = {}): Promise<Run> {
  const recipe = recipes.get(name);
  if (!recipe) throw new Error(`docs/integrating.md has no recipe=${name} block`);
  const files: Record<string, [string, string[]]> = {
    sh: [`${name}.sh`, ["bash", "-euo", "pipefail", `${name}.sh`]],
    ts: [`${name}.ts`, [join(ROOT, "node_modules/.bin/bun"), `${name}.ts`]],
    python: [`${name}.py`, [PYTHON, `${name}.py`]],
    // One directory per Go recipe: `go run verify.go` is the page's command, file name included.
    go: [`${name}/verify.go`, ["bash", "-c", `cd ${name} && ${GO_RUN}`]],
  };
  const [file, argv] = files[recipe.lang] ?? [];
  if (!file || !argv) throw new Error(`no runner for \`${recipe.lang}\` recipes`);
  if (recipe.lang === "go") Bun.spawnSync(["mkdir", "-p", join(work, name)]);
  writeFileSync(join(work, file), recipe.body);
  const proc = Bun.spawn(argv, {
    cwd: work,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? work,
      HEIMDALL_ISSUER: issuer(),
      HEIMDALL_AUDIENCE: SLUG,
      HEIMDALL_CLIENT_ID: client.client_id,
      HEIMDALL_CLIENT_SECRET: client.client_secret,
      ...env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, out: out.trim(), err };
}

/** Runs a recipe that must succeed; a failure shows what it printed. */
async function ok(name: string, env: Record<string, string> = {}): Promise<string> {
  const r = await run(name, env);
  if (r.code !== 0) throw new Error(`recipe ${name} exited ${r.code}:\n${r.out}\n${r.err}`);
  return r.out;
}

beforeAll(async () => {
  appliance = await startAppliance("integrating", PAK);
  baseUrl = appliance.baseUrl;
  work = mkdtempSync(join(tmpdir(), "heimdall-integrating-"));
  // The TypeScript recipe imports jose as a reader's project would: from its node_modules.
  symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules"));

  const app = await call<{ id: string }>("POST", "/v1/apps", { slug: SLUG, display_name: "Demo" });
  appId = app.id;
  client = await call("POST", `/v1/apps/${app.id}/credentials`, { name: "integrator", scopes: SCOPES });
  const other = await call<{ id: string }>("POST", "/v1/apps", { slug: OTHER, display_name: "Other" });
  otherClient = await call("POST", `/v1/apps/${other.id}/credentials`, { name: "other", scopes: SCOPES });

  const signup = await fetch(`${issuer()}/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "ada", email: "ada@example.com", password: "Analytical-Engine-1843" }),
  });
  expect(signup.status).toBe(200);
  const tokens = (await signup.json()) as { access_token: string; refresh_token: string };
  endUser = { ...tokens, sub: decodeJwt(tokens.access_token).sub! };
}, TIMEOUT);

afterAll(async () => {
  if (appliance) expect(await appliance.dispose()).toBe(0);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("docs/integrating.md", () => {
  test("marks every recipe the page promises, each in a language the test runs", () => {
    expect([...recipes.keys()].sort()).toEqual(
      [
        "discovery",
        "jwks",
        "token-basic",
        "token-post",
        "verify-node",
        "verify-pyjwt",
        "verify-authlib",
        "verify-go",
        "introspect-bearer",
        "introspect-client",
        "introspect-node",
        // Run by test/binary/mfa-oathtool.test.ts, which enrols the account it signs in with.
        "mfa-signin",
      ].sort(),
    );
    expect(PAGE).toContain(`\n${GO_RUN}\n`);
    expect(readFileSync(join(ROOT, "README.md"), "utf8")).toContain("(docs/integrating.md)");
  });

  test(
    "discovery: the issuer is PUBLIC_URL/<slug>; the same document at the OIDC and RFC 8414 locations",
    async () => {
      const doc = JSON.parse(await ok("discovery")) as Record<string, unknown>;
      expect(doc).toMatchObject({
        issuer: issuer(),
        jwks_uri: `${issuer()}/v1/.well-known/jwks.json`,
        token_endpoint: `${issuer()}/v1/oauth/token`,
        introspection_endpoint: `${issuer()}/v1/oauth/introspect`,
      });
      expect(doc.token_endpoint_auth_methods_supported).toEqual(
        expect.arrayContaining(["client_secret_basic", "client_secret_post"]),
      );
      for (const url of [
        `${issuer()}/v1/.well-known/openid-configuration`,
        `${baseUrl}/.well-known/oauth-authorization-server/${SLUG}`,
      ]) {
        const res = await fetch(url);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual(doc);
      }
      // Only what Heimdall does: client_credentials, no authorization endpoint, no ID tokens.
      expect(doc.grant_types_supported).toEqual(["client_credentials"]);
      expect(doc.authorization_endpoint).toBeUndefined();
      expect(doc.response_types_supported).toEqual([]);
      expect(doc.introspection_endpoint_auth_methods_supported).toEqual(
        expect.arrayContaining(["client_secret_basic", "client_secret_post"]),
      );
      const cors = await fetch(`${issuer()}/.well-known/openid-configuration`, {
        headers: { origin: "https://spa.example" },
      });
      expect(cors.headers.get("access-control-allow-origin")).toBe("*");
      expectResponseMatches("heimdall", "GET", "/{app_slug}/v1/.well-known/openid-configuration", 200, doc);
    },
    TIMEOUT,
  );

  test(
    "jwks: max-age=3600 with an ETag, 304 on If-None-Match; it holds the key the tokens name",
    async () => {
      const [head, body] = (await ok("jwks")).split(/\r?\n\r?\n/, 2) as [string, string];
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      expect(head).toMatch(/^cache-control: public, max-age=3600\r?$/im);
      const etag = head.match(/^etag: (.+?)\r?$/im)?.[1];
      expect(etag).toBeString();
      const jwks = JSON.parse(body) as { keys: { kid: string }[] };
      expectResponseMatches("heimdall", "GET", "/{app_slug}/v1/.well-known/jwks.json", 200, jwks);
      expect(jwks.keys.map((k) => k.kid)).toContain(decodeProtectedHeader(endUser.access_token).kid!);

      const again = await fetch(`${issuer()}/v1/.well-known/jwks.json`, {
        headers: { "if-none-match": etag! },
      });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe("");

      // The page's second location, and what a browser on any origin gets (a preflight included).
      const atIssuer = await fetch(`${issuer()}/.well-known/jwks.json`, {
        headers: { origin: "https://spa.example" },
      });
      expect(atIssuer.status).toBe(200);
      expect(atIssuer.headers.get("access-control-allow-origin")).toBe("*");
      expect(await atIssuer.json()).toEqual(jwks);
      const preflight = await fetch(`${issuer()}/v1/.well-known/jwks.json`, {
        method: "OPTIONS",
        headers: { origin: "https://spa.example", "access-control-request-method": "GET" },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get("access-control-allow-origin")).toBe("*");

      // The rotation guarantee's first half: the next key is already published, ≥ 2 h before it signs.
      const { data: keys } = await call<{
        data: { kid: string; state: string; created_at: string; activates_at: string }[];
      }>("GET", `/v1/apps/${appId}/keys`);
      const next = keys.find((k) => k.state === "next");
      expect(next).toBeDefined();
      expect(jwks.keys.map((k) => k.kid)).toContain(next!.kid);
      expect(Date.parse(next!.activates_at) - Date.parse(next!.created_at)).toBeGreaterThanOrEqual(
        2 * 3600_000,
      );
    },
    TIMEOUT,
  );

  for (const [name, scope] of [
    ["token-basic", "user.read"],
    ["token-post", SCOPES.join(" ")],
  ] as const) {
    test(
      `${name}: client_credentials answers a bearer token for the client, iss and aud as the page says`,
      async () => {
        const answer = JSON.parse(await ok(name)) as Record<string, unknown>;
        expect(answer).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope });
        const { payload } = await jwtVerify(
          answer.access_token as string,
          createRemoteJWKSet(new URL(`${issuer()}/v1/.well-known/jwks.json`)),
          { issuer: issuer(), audience: SLUG, algorithms: ["RS256"], typ: "at+jwt" },
        );
        expect(payload).toMatchObject({ sub: client.client_id, client_id: client.client_id, type: "m2m" });
        expect(payload.scopes).toEqual(scope.split(" "));

        // The same recipe with a wrong secret fails (curl -f): the page's commands do not hide errors.
        const refused = await run(name, { HEIMDALL_CLIENT_SECRET: "hcs_wrong" });
        expect(refused.code).not.toBe(0);
      },
      TIMEOUT,
    );
  }

  for (const name of ["verify-node", "verify-pyjwt", "verify-authlib", "verify-go"]) {
    test(
      `${name}: verifies M2M and end-user tokens; refuses another app's token and a wrong audience`,
      async () => {
        const m2m = await m2mToken(SLUG, client);
        expect(await ok(name, { ACCESS_TOKEN: m2m })).toBe(`verified sub=${client.client_id}`);
        expect(await ok(name, { ACCESS_TOKEN: endUser.access_token })).toBe(`verified sub=${endUser.sub}`);

        // Same server, other app: other key, issuer and audience.
        const foreign = await run(name, { ACCESS_TOKEN: await m2mToken(OTHER, otherClient) });
        expect(foreign.code).not.toBe(0);
        expect(foreign.out).not.toContain("verified");
        // A valid signature and issuer but another audience: the recipe pins aud, not only the key.
        const wrongAud = await run(name, { ACCESS_TOKEN: m2m, HEIMDALL_AUDIENCE: OTHER });
        expect(wrongAud.code).not.toBe(0);
        expect(wrongAud.out).not.toContain("verified");
      },
      TIMEOUT,
    );
  }

  test(
    "introspect-client and introspect-node: an M2M client asks about an end user's and another client's token",
    async () => {
      const second = await call<{ client_id: string; client_secret: string }>(
        "POST",
        `/v1/apps/${appId}/credentials`,
        { name: "worker", scopes: ["user.list"] },
      );
      const m2m = await m2mToken(SLUG, second);
      for (const name of ["introspect-client", "introspect-node"]) {
        const user = JSON.parse(await ok(name, { ACCESS_TOKEN: endUser.access_token }));
        expect(user).toMatchObject({
          active: true,
          token_type: "Bearer",
          sub: endUser.sub,
          aud: SLUG,
          iss: issuer(),
          type: "end_user",
        });
        const worker = JSON.parse(await ok(name, { ACCESS_TOKEN: m2m }));
        expect(worker).toMatchObject({
          active: true,
          client_id: second.client_id,
          sub: second.client_id,
          scope: "user.list",
          aud: SLUG,
          jti: decodeJwt(m2m).jti,
        });
        // Another app's token is no token of this app: inactive, nothing more.
        const foreign = await m2mToken(OTHER, otherClient);
        expect(JSON.parse(await ok(name, { ACCESS_TOKEN: foreign }))).toEqual({ active: false });
        // A wrong secret is refused, not answered.
        expect((await run(name, { ACCESS_TOKEN: m2m, HEIMDALL_CLIENT_SECRET: "hcs_wrong" })).code).not.toBe(
          0,
        );
      }
    },
    TIMEOUT,
  );

  test(
    "introspect-bearer: a live token describes itself; after logout the same recipe says active: false",
    async () => {
      const m2m = JSON.parse(await ok("introspect-bearer", { ACCESS_TOKEN: await m2mToken(SLUG, client) }));
      expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/oauth/introspect", 200, m2m);
      expect(m2m).toMatchObject({
        active: true,
        sub: client.client_id,
        client_id: client.client_id,
        scope: SCOPES.join(" "),
        iss: issuer(),
        type: "m2m",
      });

      const user = JSON.parse(await ok("introspect-bearer", { ACCESS_TOKEN: endUser.access_token }));
      expect(user).toMatchObject({ active: true, sub: endUser.sub, type: "end_user" });

      const out = await fetch(`${issuer()}/v1/auth/logout`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: endUser.refresh_token }),
      });
      expect(out.status).toBe(204);
      const after = JSON.parse(await ok("introspect-bearer", { ACCESS_TOKEN: endUser.access_token }));
      expect(after).toEqual({ active: false });
      // Offline verification cannot see the logout (the page says so): the signature still holds.
      expect(await ok("verify-node", { ACCESS_TOKEN: endUser.access_token })).toBe(
        `verified sub=${endUser.sub}`,
      );
    },
    TIMEOUT,
  );

  test(
    "a manual rotation right after the app was created is refused (409 ROTATION_TOO_SOON); the JWKS is unchanged",
    async () => {
      const before = await fetch(`${issuer()}/v1/.well-known/jwks.json`);
      const res = await fetch(`${baseUrl}/v1/apps/${appId}/keys/rotate`, {
        method: "POST",
        headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
        body: "{}",
      });
      expect(res.status).toBe(409);
      expect(((await res.json()) as { code: string }).code).toBe("ROTATION_TOO_SOON");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(3600);
      const after = await fetch(`${issuer()}/v1/.well-known/jwks.json`);
      expect(after.headers.get("etag")).toBe(before.headers.get("etag"));
      expect(await ok("verify-node", { ACCESS_TOKEN: await m2mToken(SLUG, client) })).toBe(
        `verified sub=${client.client_id}`,
      );
    },
    TIMEOUT,
  );

  test(
    "after an emergency rotation the recipes refuse the old key's tokens and verify the new key's",
    async () => {
      const before = await m2mToken(SLUG, client);
      const rotated = await call<{ old_kid: string; new_kid: string }>(
        "POST",
        `/v1/apps/${appId}/keys/rotate`,
        { emergency: true },
      );
      expect(decodeProtectedHeader(before).kid).toBe(rotated.old_kid);
      const jwks = JSON.parse((await ok("jwks")).split(/\r?\n\r?\n/, 2)[1]!) as { keys: { kid: string }[] };
      expect(jwks.keys.map((k) => k.kid)).not.toContain(rotated.old_kid);

      const after = await m2mToken(SLUG, client);
      expect(decodeProtectedHeader(after).kid).toBe(rotated.new_kid);
      for (const name of ["verify-node", "verify-pyjwt", "verify-authlib", "verify-go"]) {
        expect(await ok(name, { ACCESS_TOKEN: after })).toBe(`verified sub=${client.client_id}`);
        const old = await run(name, { ACCESS_TOKEN: before });
        expect(old.code).not.toBe(0);
      }
      expect(JSON.parse(await ok("introspect-bearer", { ACCESS_TOKEN: before }))).toEqual({ active: false });
    },
    TIMEOUT,
  );
});

describe("docs/integrating.md with an ES256 app and an EdDSA app (signing_alg)", () => {
  interface AlgApp {
    alg: "ES256" | "EdDSA";
    slug: string;
    client: { client_id: string; client_secret: string };
    user: { access_token: string; sub: string };
  }
  const apps: AlgApp[] = [];
  /** The page's environment for one of these apps instead of the demo app. */
  const envOf = (a: AlgApp, token: string) => ({
    HEIMDALL_ISSUER: issuer(a.slug),
    HEIMDALL_AUDIENCE: a.slug,
    HEIMDALL_CLIENT_ID: a.client.client_id,
    HEIMDALL_CLIENT_SECRET: a.client.client_secret,
    ACCESS_TOKEN: token,
  });

  beforeAll(async () => {
    for (const alg of ["ES256", "EdDSA"] as const) {
      const slug = `demo-${alg.toLowerCase()}`;
      const app = await call<{ id: string }>("POST", "/v1/apps", { slug, display_name: `Demo ${alg}` });
      const config = await call<{ signing_alg: string }>("PATCH", `/v1/apps/${app.id}/auth-config`, {
        signing_alg: alg,
      });
      expect(config.signing_alg).toBe(alg);
      // The switch signs 2 h later; an emergency rotation promotes the new key now (no token exists yet).
      await call("POST", `/v1/apps/${app.id}/keys/rotate`, { emergency: true });
      const c = await call<AlgApp["client"]>("POST", `/v1/apps/${app.id}/credentials`, {
        name: "integrator",
        scopes: SCOPES,
      });
      const signup = await fetch(`${issuer(slug)}/v1/auth/signup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          username: "grace",
          email: "grace@example.com",
          password: "Analytical-Engine-1843",
        }),
      });
      expect(signup.status).toBe(200);
      const { access_token } = (await signup.json()) as { access_token: string };
      apps.push({ alg, slug, client: c, user: { access_token, sub: decodeJwt(access_token).sub! } });
    }
  }, TIMEOUT);

  test(
    "JWKS and discovery: EC / OKP members with alg per key; discovery lists the algorithm",
    async () => {
      for (const a of apps) {
        const jwks = (await (await fetch(`${issuer(a.slug)}/v1/.well-known/jwks.json`)).json()) as {
          keys: Record<string, string>[];
        };
        const want = a.alg === "ES256" ? { kty: "EC", crv: "P-256" } : { kty: "OKP", crv: "Ed25519" };
        // The emergency rotation withdrew the RSA key: both published keys are of the new algorithm.
        expect(jwks.keys.map((k) => ({ kty: k.kty, crv: k.crv, alg: k.alg, use: k.use }))).toEqual([
          { ...want, alg: a.alg, use: "sig" },
          { ...want, alg: a.alg, use: "sig" },
        ]);
        for (const k of jwks.keys) expect(k.n ?? k.e ?? k.d).toBeUndefined();
        const doc = (await (await fetch(`${issuer(a.slug)}/.well-known/openid-configuration`)).json()) as {
          id_token_signing_alg_values_supported: string[];
        };
        expect(doc.id_token_signing_alg_values_supported).toEqual([a.alg]);
      }
    },
    TIMEOUT,
  );

  for (const name of ["verify-node", "verify-pyjwt", "verify-authlib", "verify-go"]) {
    test(
      `${name}: verifies the ES256 and EdDSA apps' M2M and end-user tokens; refuses a wrong audience`,
      async () => {
        for (const a of apps) {
          const m2m = await m2mToken(a.slug, a.client);
          expect(decodeProtectedHeader(m2m).alg).toBe(a.alg);
          expect(decodeProtectedHeader(a.user.access_token).alg).toBe(a.alg);
          expect(await ok(name, envOf(a, m2m))).toBe(`verified sub=${a.client.client_id}`);
          expect(await ok(name, envOf(a, a.user.access_token))).toBe(`verified sub=${a.user.sub}`);
          const wrongAud = await run(name, { ...envOf(a, m2m), HEIMDALL_AUDIENCE: SLUG });
          expect(wrongAud.code).not.toBe(0);
          expect(wrongAud.out).not.toContain("verified");
        }
      },
      TIMEOUT,
    );
  }

  test(
    "introspection (openid-client, Bearer) and the official SDK's verifyToken accept both algorithms",
    async () => {
      for (const a of apps) {
        const m2m = await m2mToken(a.slug, a.client);
        for (const [token, sub] of [
          [m2m, a.client.client_id],
          [a.user.access_token, a.user.sub],
        ] as const) {
          expect(JSON.parse(await ok("introspect-node", envOf(a, token)))).toMatchObject({
            active: true,
            sub,
            iss: issuer(a.slug),
          });
          expect(JSON.parse(await ok("introspect-bearer", envOf(a, token)))).toMatchObject({
            active: true,
            sub,
          });
          // biome-ignore lint/suspicious/noExplicitAny: the SDK's generated types are not what this test checks.
          const sdk: any = new Heimdall({ baseUrl });
          expect((await sdk.consumer(a.slug).verifyToken(token)).sub).toBe(sub);
        }
      }
    },
    TIMEOUT,
  );
});
