/**
 * @module TOTP against a generator nobody here wrote: the compiled binary enrols and signs in an end user
 * with codes computed by Debian's `oathtool` from the Base32 secret the enrolment returns, so the secret's
 * encoding, the otpauth URI and RFC 6238's parameters are proven outside our own code; Debian's `zbarimg`
 * reads the enrolment's QR code; a replayed code is refused. The server's clock is real here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { expectErrorShape, expectResponseMatches } from "../support/openapi.ts";
import { type Appliance, ROOT, startAppliance } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"O".repeat(43)}`;
const SLUG = "oath-demo";
const DISPLAY_NAME = "Oath Demo & Co";
const EMAIL = "grace@example.test";
const PASSWORD = "Compiler-A0-Hopper-1952";

let appliance: Appliance;
let baseUrl = "";

interface Reply<T> {
  status: number;
  body: T;
}

async function send<T>(method: string, path: string, body?: unknown, bearer?: string): Promise<Reply<T>> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** `oathtool --totp -b` for the Unix second `at`: the code an authenticator app shows at that moment. */
function oathtool(secret: string, at: number, hmac: "SHA1" | "SHA256" = "SHA1"): string {
  const run = Bun.spawnSync(["oathtool", `--totp=${hmac}`, "-b", "--now", `@${at}`, secret]);
  if (run.exitCode !== 0) throw new Error(`oathtool exited ${run.exitCode}: ${run.stderr.toString()}`);
  const code = run.stdout.toString().trim();
  expect(code).toMatch(/^\d{6}$/);
  return code;
}

/** The text of the QR code in a PNG, read by Debian's `zbarimg` (zbar-tools). */
function zbarimg(png: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), "heimdall-mfa-qr-"));
  try {
    writeFileSync(join(dir, "qr.png"), png);
    const run = Bun.spawnSync(["zbarimg", "--quiet", "--raw", join(dir, "qr.png")]);
    if (run.exitCode !== 0) throw new Error(`zbarimg exited ${run.exitCode}: ${run.stderr.toString()}`);
    return run.stdout.toString().replace(/\n$/, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** docs/integrating.md's `recipe=name` block (the page's recipes are listed in test/binary/integrating.test.ts). */
function recipe(name: string): string {
  const page = readFileSync(join(ROOT, "docs/integrating.md"), "utf8");
  const found = [...page.matchAll(/^```(\w+) recipe=(\S+)\n([\s\S]*?)^```$/gm)].find((m) => m[2] === name);
  if (!found) throw new Error(`docs/integrating.md has no recipe=${name} block`);
  return found[3]!;
}

/** Runs a shell recipe as the page says (bash, exported variables only), returning its exit code and output. */
async function runRecipe(name: string, env: Record<string, string>): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), "heimdall-mfa-recipe-"));
  try {
    writeFileSync(join(dir, `${name}.sh`), recipe(name));
    const proc = Bun.spawn(["bash", "-euo", "pipefail", `${name}.sh`], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? dir, ...env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const out = await new Response(proc.stdout).text();
    return { code: await proc.exited, out: out.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Now in Unix seconds, at least 5 s before the 30-second step ends (sleeping into the next step if need
 * be), so codes computed for this step and its neighbours are judged against the same step by the server.
 */
async function safeNow(): Promise<number> {
  const now = Date.now() / 1000;
  if (now % 30 > 25) await Bun.sleep((30 - (now % 30) + 0.2) * 1000);
  return Math.floor(Date.now() / 1000);
}

interface Enrolment {
  factor: { id: string; enabled: boolean; label: string | null };
  enrollment: {
    otpauth_uri: string;
    secret: string;
    qr_data_url: string;
    algorithm: string;
    digits: number;
    period: number;
  };
}
interface Tokens {
  access_token: string;
  refresh_token: string;
}
interface Challenge {
  mfa_required: true;
  mfa_token: string;
  expires_at: string;
  factors: { id: string; type: string; label: string | null }[];
}

let accessToken = "";
let enrolment: Enrolment;
/** The step the confirmation's second code came from: every later code must come from a later step. */
let confirmedAt = 0;

beforeAll(async () => {
  appliance = await startAppliance("mfa-oathtool", PAK);
  baseUrl = appliance.baseUrl;
  const app = await send<{ id: string }>("POST", "/v1/apps", { slug: SLUG, display_name: DISPLAY_NAME }, PAK);
  expect(app.status).toBe(201);
  const signup = await send<Tokens>("POST", `/${SLUG}/v1/auth/signup`, {
    username: "grace",
    email: EMAIL,
    password: PASSWORD,
  });
  expect(signup.status).toBe(200);
  accessToken = signup.body.access_token;
}, TIMEOUT);

afterAll(async () => {
  if (appliance) expect(await appliance.dispose()).toBe(0);
});

describe("TOTP with Debian's oathtool against the compiled binary", () => {
  test(
    "enrolment: the otpauth URI names the app and the account, and oathtool's codes confirm the factor",
    async () => {
      const started = await send<Enrolment>(
        "POST",
        `/${SLUG}/v1/me/mfa/factors`,
        { type: "totp", label: "oathtool" },
        accessToken,
      );
      expect(started.status).toBe(201);
      expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/me/mfa/factors", 201, started.body);
      enrolment = started.body;
      expect(enrolment.factor).toMatchObject({ enabled: false, label: "oathtool" });
      const e = enrolment.enrollment;
      expect(e).toMatchObject({ algorithm: "SHA1", digits: 6, period: 30 });
      expect(e.secret).toMatch(/^[A-Z2-7]+=*$/);
      expect(e.qr_data_url.startsWith("data:image/png;base64,")).toBe(true);
      const png = Buffer.from(e.qr_data_url.slice("data:image/png;base64,".length), "base64");
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      // The QR code a phone scans says exactly the URI: decoded by Debian's zbarimg, another outside reader.
      expect(zbarimg(png)).toBe(e.otpauth_uri);

      // Key URI Format: otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=…&digits=…&period=…
      const uri = new URL(e.otpauth_uri);
      expect(uri.protocol).toBe("otpauth:");
      expect(uri.host).toBe("totp");
      expect(decodeURIComponent(uri.pathname)).toBe(`/${DISPLAY_NAME}:${EMAIL}`);
      expect(uri.searchParams.get("issuer")).toBe(DISPLAY_NAME);
      expect(uri.searchParams.get("secret")).toBe(e.secret);
      expect(uri.searchParams.get("algorithm")).toBe("SHA1");
      expect(uri.searchParams.get("digits")).toBe("6");
      expect(uri.searchParams.get("period")).toBe("30");

      // Two codes from consecutive windows, the previous one and this one, computed by oathtool from the
      // secret the URI carries (what an authenticator app scanning the QR code would use).
      const t = await safeNow();
      const secret = uri.searchParams.get("secret")!;
      // The same secret and windows under HMAC-SHA-256 are other codes: the server computes SHA-1 ones.
      const sha256 = await send<unknown>(
        "POST",
        `/${SLUG}/v1/me/mfa/factors/${enrolment.factor.id}/verify`,
        { codes: [oathtool(secret, t - 30, "SHA256"), oathtool(secret, t, "SHA256")] },
        accessToken,
      );
      expect(sha256.status).toBe(400);
      expectErrorShape(sha256.body, "MFA_ENROLLMENT_CODES_INVALID");
      const confirmed = await send<{ factor: Enrolment["factor"]; recovery_codes: string[] }>(
        "POST",
        `/${SLUG}/v1/me/mfa/factors/${enrolment.factor.id}/verify`,
        { codes: [oathtool(secret, t - 30), oathtool(secret, t)] },
        accessToken,
      );
      expect(confirmed.status).toBe(200);
      expectResponseMatches(
        "heimdall",
        "POST",
        "/{app_slug}/v1/me/mfa/factors/{id}/verify",
        200,
        confirmed.body,
      );
      confirmedAt = t;
      expect(confirmed.body.factor).toMatchObject({ id: enrolment.factor.id, enabled: true });
      expect(confirmed.body.recovery_codes).toHaveLength(10);
      for (const code of confirmed.body.recovery_codes) {
        expect(code.replaceAll("-", "")).toMatch(/^[0-9a-f]{16}$/);
      }

      const listed = await send<{ data: Enrolment["factor"][] }>(
        "GET",
        `/${SLUG}/v1/me/mfa/factors`,
        undefined,
        accessToken,
      );
      expect(listed.status).toBe(200);
      expectResponseMatches("heimdall", "GET", "/{app_slug}/v1/me/mfa/factors", 200, listed.body);
      expect(listed.body.data).toEqual([expect.objectContaining({ id: enrolment.factor.id, enabled: true })]);
    },
    TIMEOUT,
  );

  test(
    "sign-in: the password yields a challenge, oathtool's next code completes it, and that code is refused a second time",
    async () => {
      expect(confirmedAt).toBeGreaterThan(0);
      const signIn = async (): Promise<Challenge> => {
        const r = await send<Challenge>("POST", `/${SLUG}/v1/auth/signin`, {
          identifier: "grace",
          password: PASSWORD,
        });
        expect(r.status).toBe(200);
        expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/auth/signin", 200, r.body);
        return r.body;
      };

      const before = Date.now();
      const challenge = await signIn();
      expect(challenge.mfa_required).toBe(true);
      expect(challenge).not.toHaveProperty("access_token");
      expect(challenge.factors).toEqual([{ id: enrolment.factor.id, type: "totp", label: "oathtool" }]);
      // Five minutes to answer (give or take the request's own duration).
      const ttl = Date.parse(challenge.expires_at) - before;
      expect(ttl).toBeGreaterThan(295_000);
      expect(ttl).toBeLessThanOrEqual(301_000);

      // The confirmation used this step's code; the next step's (within the ±1 step of drift) is fresh.
      const code = oathtool(enrolment.enrollment.secret, confirmedAt + 30);
      const verified = await send<Tokens>("POST", `/${SLUG}/v1/auth/mfa/verify`, {
        mfa_token: challenge.mfa_token,
        code,
      });
      expect(verified.status).toBe(200);
      expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/auth/mfa/verify", 200, verified.body);

      const jwks = createRemoteJWKSet(new URL(`${baseUrl}/${SLUG}/v1/.well-known/jwks.json`));
      const { payload } = await jwtVerify(verified.body.access_token, jwks, {
        issuer: `${baseUrl}/${SLUG}`,
        audience: SLUG,
      });
      expect(payload.amr).toEqual(["pwd", "totp"]);
      expect(typeof payload.mfa_at).toBe("number");
      expect(Math.abs((payload.mfa_at as number) - Math.floor(Date.now() / 1000))).toBeLessThanOrEqual(30);

      // The same code again: on the spent challenge, and on a fresh one.
      const spent = await send<unknown>("POST", `/${SLUG}/v1/auth/mfa/verify`, {
        mfa_token: challenge.mfa_token,
        code,
      });
      expect(spent.status).toBe(401);
      expectErrorShape(spent.body, "MFA_TOKEN_INVALID");
      const again = await signIn();
      const replayed = await send<unknown>("POST", `/${SLUG}/v1/auth/mfa/verify`, {
        mfa_token: again.mfa_token,
        code,
      });
      expect(replayed.status).toBe(401);
      expectErrorShape(replayed.body, "MFA_CODE_INVALID");
      expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/auth/mfa/verify", 401, replayed.body);
    },
    TIMEOUT,
  );
  test(
    "docs/integrating.md's mfa-signin recipe signs in with curl, jq and oathtool, and its code works once",
    async () => {
      const signup = await send<Tokens>("POST", `/${SLUG}/v1/auth/signup`, {
        username: "hopper",
        email: "hopper@example.test",
        password: PASSWORD,
      });
      expect(signup.status).toBe(200);
      const token = signup.body.access_token;
      const started = await send<Enrolment>("POST", `/${SLUG}/v1/me/mfa/factors`, { type: "totp" }, token);
      expect(started.status).toBe(201);
      const secret = started.body.enrollment.secret;
      const t = await safeNow();
      const confirmed = await send<unknown>(
        "POST",
        `/${SLUG}/v1/me/mfa/factors/${started.body.factor.id}/verify`,
        { codes: [oathtool(secret, t - 30), oathtool(secret, t)] },
        token,
      );
      expect(confirmed.status).toBe(200);

      // The recipe takes the code of the moment, so it runs in the step after the confirmation's.
      await Bun.sleep((30 - ((Date.now() / 1000) % 30) + 0.2) * 1000);
      const env = {
        HEIMDALL_ISSUER: `${baseUrl}/${SLUG}`,
        MFA_IDENTIFIER: "hopper",
        MFA_PASSWORD: PASSWORD,
        TOTP_SECRET: secret,
      };
      const first = await runRecipe("mfa-signin", env);
      expect(first.code).toBe(0);
      const tokens = JSON.parse(first.out) as Tokens;
      expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/auth/mfa/verify", 200, tokens);
      const jwks = createRemoteJWKSet(new URL(`${baseUrl}/${SLUG}/v1/.well-known/jwks.json`));
      const { payload } = await jwtVerify(tokens.access_token, jwks, {
        issuer: env.HEIMDALL_ISSUER,
        audience: SLUG,
      });
      expect(payload.amr).toEqual(["pwd", "totp"]);
      expect(payload.sub).toBe(decodeJwt(token).sub);

      // Run again within the same 30 s: the same code is refused, so curl -f fails the verify (exit 22).
      const second = await runRecipe("mfa-signin", env);
      expect(second.code).toBe(22);
    },
    TIMEOUT,
  );
  test(
    "an app that requires MFA: a user without a factor enrols at sign-in with oathtool's codes and gets tokens",
    async () => {
      const slug = "oath-required";
      const app = await send<{ id: string }>(
        "POST",
        "/v1/apps",
        { slug, display_name: "Oath Required" },
        PAK,
      );
      expect(app.status).toBe(201);
      const signup = await send<Tokens>("POST", `/${slug}/v1/auth/signup`, {
        username: "liskov",
        email: "liskov@example.test",
        password: PASSWORD,
      });
      expect(signup.status).toBe(200);
      const config = await send<{ mfa_required: boolean }>(
        "PATCH",
        `/v1/apps/${app.body.id}/auth-config`,
        { mfa_required: true },
        PAK,
      );
      expect(config.status).toBe(200);
      expect(config.body.mfa_required).toBe(true);

      const challenge = await send<Challenge & { enrollment_required?: boolean }>(
        "POST",
        `/${slug}/v1/auth/signin`,
        { identifier: "liskov", password: PASSWORD },
      );
      expect(challenge.status).toBe(200);
      expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/auth/signin", 200, challenge.body);
      expect(challenge.body).toMatchObject({ mfa_required: true, factors: [], enrollment_required: true });
      expect(challenge.body).not.toHaveProperty("access_token");

      const started = await send<Enrolment>("POST", `/${slug}/v1/auth/mfa/enroll`, {
        mfa_token: challenge.body.mfa_token,
      });
      expect(started.status).toBe(201);
      const uri = new URL(started.body.enrollment.otpauth_uri);
      expect(decodeURIComponent(uri.pathname)).toBe("/Oath Required:liskov@example.test");
      const secret = uri.searchParams.get("secret")!;
      const t = await safeNow();
      const done = await send<Tokens & { recovery_codes: string[] }>(
        "POST",
        `/${slug}/v1/auth/mfa/enroll/confirm`,
        {
          mfa_token: challenge.body.mfa_token,
          factor_id: started.body.factor.id,
          codes: [oathtool(secret, t - 30), oathtool(secret, t)],
        },
      );
      expect(done.status).toBe(200);
      expect(done.body.recovery_codes).toHaveLength(10);
      const jwks = createRemoteJWKSet(new URL(`${baseUrl}/${slug}/v1/.well-known/jwks.json`));
      const { payload } = await jwtVerify(done.body.access_token, jwks, {
        issuer: `${baseUrl}/${slug}`,
        audience: slug,
      });
      expect(payload.amr).toEqual(["pwd", "totp"]);
      expect(typeof payload.mfa_at).toBe("number");

      // The enrolment finished the challenge: its token is spent.
      const spent = await send<unknown>("POST", `/${slug}/v1/auth/mfa/verify`, {
        mfa_token: challenge.body.mfa_token,
        code: oathtool(secret, t + 30),
      });
      expect(spent.status).toBe(401);
      expectErrorShape(spent.body, "MFA_TOKEN_INVALID");
    },
    TIMEOUT,
  );
});
