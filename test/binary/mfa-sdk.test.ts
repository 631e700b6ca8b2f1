/**
 * @module MFA end to end through the compiled binary with the official SDK (`@productcraft/heimdall` 0.4.1):
 * enrol → sign-in challenge → verify → step-up → recover (and regenerate) → disable. The SDK 0.4.1 has no
 * MFA methods (its `auth.signin` only types the challenge), so the SDK signs up, signs in, refreshes and
 * verifies tokens, and the MFA routes are called over plain HTTP; codes come from `otpauth` reading the
 * enrolment's URI.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Heimdall } from "@productcraft/heimdall";
import { TOTP, URI } from "otpauth";
import { expectErrorShape, expectResponseMatches } from "../support/openapi.ts";
import { type Appliance, startAppliance } from "./support.ts";

const PAK = `pcft_live_${"M".repeat(43)}`;
const SLUG = "sdk-mfa";
const USERNAME = "hamilton";
const PASSWORD = "Apollo-Guidance-1969";

let appliance: Appliance;
let baseUrl = "";

interface Reply<T> {
  status: number;
  body: T;
}

async function send<T>(method: string, path: string, body?: unknown, bearer?: string): Promise<Reply<T>> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await fetch(`${baseUrl}/${SLUG}/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Sleeps into the next 30-second step: the server refuses a code from a step it has already accepted one from. */
async function nextStep(): Promise<void> {
  const ms = Date.now();
  await Bun.sleep(30_000 - (ms % 30_000) + 200);
}

/** Now in ms, at least 5 s before the step ends, so codes for neighbouring steps are judged against this step. */
async function safeNow(): Promise<number> {
  if (Date.now() % 30_000 > 25_000) await nextStep();
  return Date.now();
}

beforeAll(async () => {
  appliance = await startAppliance("mfa-sdk", PAK);
  baseUrl = appliance.baseUrl;
}, 60_000);

afterAll(async () => {
  if (appliance) expect(await appliance.dispose()).toBe(0);
});

describe("@productcraft/heimdall 0.4.1: MFA through the binary", () => {
  test("enrol, sign in with a challenge, verify, step up, recover, disable", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: the SDK's generated types are not what this test checks.
    const sdk: any = new Heimdall({ baseUrl, auth: { type: "apiKey", key: PAK } });
    await sdk.apps.create({ slug: SLUG, display_name: "SDK MFA" });
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    const consumer: any = new Heimdall({ baseUrl }).consumer(SLUG);

    const signedUp = await consumer.auth.signup({
      username: USERNAME,
      email: "margaret@example.test",
      password: PASSWORD,
    });
    const token0: string = signedUp.access_token;
    const noMfa = await consumer.verifyToken(token0);
    expect(noMfa.mfa_at).toBeUndefined();

    // Enrol: a pending factor, its URI read by otpauth, confirmed with two consecutive windows' codes.
    const started = await send<{
      factor: { id: string; enabled: boolean };
      enrollment: { otpauth_uri: string; secret: string };
    }>("POST", "/me/mfa/factors", { type: "totp", label: "phone" }, token0);
    expect(started.status).toBe(201);
    expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/me/mfa/factors", 201, started.body);
    const factorId = started.body.factor.id;
    const totp = URI.parse(started.body.enrollment.otpauth_uri);
    if (!(totp instanceof TOTP)) throw new Error("the otpauth URI is not a TOTP URI");
    expect(totp.secret.base32).toBe(started.body.enrollment.secret);
    expect(totp.issuer).toBe("SDK MFA");
    expect(totp.label).toBe("margaret@example.test");
    const code = (ms: number) => totp.generate({ timestamp: ms });

    let t = await safeNow();
    const confirmed = await send<{ factor: { enabled: boolean }; recovery_codes: string[] }>(
      "POST",
      `/me/mfa/factors/${factorId}/verify`,
      { codes: [code(t - 30_000), code(t)] },
      token0,
    );
    expect(confirmed.status).toBe(200);
    expectResponseMatches(
      "heimdall",
      "POST",
      "/{app_slug}/v1/me/mfa/factors/{id}/verify",
      200,
      confirmed.body,
    );
    expect(confirmed.body.factor.enabled).toBe(true);
    const recoveryCodes = confirmed.body.recovery_codes;
    expect(recoveryCodes).toHaveLength(10);

    // Sign in through the SDK: the password alone now yields the challenge, not tokens.
    const challenge = await consumer.auth.signin({ identifier: USERNAME, password: PASSWORD });
    expect(challenge).toMatchObject({ mfa_required: true, factors: [{ id: factorId, type: "totp" }] });
    expect(challenge.access_token).toBeUndefined();
    const verified = await send<{ access_token: string; refresh_token: string }>("POST", "/auth/mfa/verify", {
      mfa_token: challenge.mfa_token,
      code: code(t + 30_000),
    });
    expect(verified.status).toBe(200);
    expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/auth/mfa/verify", 200, verified.body);
    const claims = await consumer.verifyToken(verified.body.access_token);
    expect(claims.amr).toEqual(["pwd", "totp"]);
    expect(claims.mfa_at).toBeNumber();
    const firstMfaAt = claims.mfa_at as number;

    // Step-up on that session with the next fresh code (a later step than any used so far), then refresh
    // through the SDK: the new access token carries the bumped mfa_at.
    await nextStep();
    t = await safeNow();
    const valid = new Set([code(t - 30_000), code(t), code(t + 30_000)]);
    const wrongCode = ["000000", "111111", "222222", "333333"].find((c) => !valid.has(c))!;
    const wrong = await send<unknown>(
      "POST",
      "/me/mfa/step-up",
      { code: wrongCode },
      verified.body.access_token,
    );
    expect(wrong.status).toBe(401);
    expectErrorShape(wrong.body, "MFA_CODE_INVALID");
    const stepped = await send<{ amr: string[]; mfa_at: string }>(
      "POST",
      "/me/mfa/step-up",
      { code: code(t + 30_000) },
      verified.body.access_token,
    );
    expect(stepped.status).toBe(200);
    expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/me/mfa/step-up", 200, stepped.body);
    expect(stepped.body.amr).toContain("totp");
    expect(Date.parse(stepped.body.mfa_at) / 1000).toBeGreaterThan(firstMfaAt);
    const refreshed = await consumer.auth.refresh({ refresh_token: verified.body.refresh_token });
    const refreshedClaims = await consumer.verifyToken(refreshed.access_token);
    expect(refreshedClaims.mfa_at).toBe(Math.floor(Date.parse(stepped.body.mfa_at) / 1000));
    expect(refreshedClaims.amr).toContain("totp");

    // Recover: a fresh challenge completed with a recovery code typed without its hyphens; the code works once.
    const lost = await consumer.auth.signin({ identifier: USERNAME, password: PASSWORD });
    expect(lost.mfa_required).toBe(true);
    const recoveryCode = recoveryCodes[0]!;
    const recovered = await send<{ access_token: string; refresh_token: string }>(
      "POST",
      "/auth/mfa/recover",
      {
        mfa_token: lost.mfa_token,
        recovery_code: recoveryCode.replaceAll("-", ""),
      },
    );
    expect(recovered.status).toBe(200);
    expectResponseMatches("heimdall", "POST", "/{app_slug}/v1/auth/mfa/recover", 200, recovered.body);
    const recoveredClaims = await consumer.verifyToken(recovered.body.access_token);
    expect(recoveredClaims.amr).toEqual(["pwd", "recovery_code"]);
    expect(recoveredClaims.mfa_at).toBeNumber();
    const again = await consumer.auth.signin({ identifier: USERNAME, password: PASSWORD });
    const reused = await send<unknown>("POST", "/auth/mfa/recover", {
      mfa_token: again.mfa_token,
      recovery_code: recoveryCode,
    });
    expect(reused.status).toBe(401);
    expectErrorShape(reused.body, "MFA_CODE_INVALID");

    // After a recovery the user regenerates the set: the old codes stop working, the new ones work.
    const regenerated = await send<{ recovery_codes: string[] }>(
      "POST",
      "/me/mfa/recovery-codes/regenerate",
      undefined,
      recovered.body.access_token,
    );
    expect(regenerated.status).toBe(200);
    expectResponseMatches(
      "heimdall",
      "POST",
      "/{app_slug}/v1/me/mfa/recovery-codes/regenerate",
      200,
      regenerated.body,
    );
    expect(regenerated.body.recovery_codes).toHaveLength(10);
    const stale = await send<unknown>("POST", "/auth/mfa/recover", {
      mfa_token: again.mfa_token,
      recovery_code: recoveryCodes[1],
    });
    expect(stale.status).toBe(401);
    expectErrorShape(stale.body, "MFA_CODE_INVALID");
    const fresh = await send<{ access_token: string }>("POST", "/auth/mfa/recover", {
      mfa_token: again.mfa_token,
      recovery_code: regenerated.body.recovery_codes[0],
    });
    expect(fresh.status).toBe(200);
    expect((await consumer.verifyToken(fresh.body.access_token)).amr).toEqual(["pwd", "recovery_code"]);

    // Disable with the freshly recovered session (a recent authentication): the next sign-in is password-only.
    const disabled = await send<unknown>(
      "DELETE",
      `/me/mfa/factors/${factorId}`,
      undefined,
      recovered.body.access_token,
    );
    expect(disabled.status).toBe(204);
    const listed = await send<{ data: unknown[] }>(
      "GET",
      "/me/mfa/factors",
      undefined,
      recovered.body.access_token,
    );
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual([]);
    const plain = await consumer.auth.signin({ identifier: USERNAME, password: PASSWORD });
    expect(plain.mfa_required).toBeUndefined();
    const plainClaims = await consumer.verifyToken(plain.access_token);
    expect(plainClaims.amr).toEqual(["pwd"]);
    expect(plainClaims.mfa_at).toBeUndefined();
  }, 120_000);
});
