/** @module The compiled binary on the end-user journey: sign-up, sign-in, /me, refresh, logout, and a remote JWKS verification. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { type Appliance, startAppliance } from "./support.ts";

const PAK = `pcft_live_${"E".repeat(43)}`;
const SLUG = "journey";
let appliance: Appliance;
let baseUrl = "";

beforeAll(async () => {
  appliance = await startAppliance("enduser", PAK);
  baseUrl = appliance.baseUrl;
  const app = await fetch(`${baseUrl}/v1/apps`, {
    method: "POST",
    headers: { authorization: `Bearer ${PAK}`, "content-type": "application/json" },
    body: JSON.stringify({ slug: SLUG, display_name: "Journey" }),
  });
  expect(app.status).toBe(201);
}, 60_000);

afterAll(async () => {
  if (appliance) expect(await appliance.dispose()).toBe(0);
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${baseUrl}/${SLUG}/v1${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

describe("end-user journey through the compiled binary", () => {
  test("sign-up, sign-in, /me, refresh, logout; tokens verify against the served JWKS", async () => {
    const signup = await post("/auth/signup", {
      username: "ada",
      email: "ada@example.test",
      password: "Analytical-Engine-1843",
    });
    expect(signup.status).toBe(200);

    const signin = await post("/auth/signin", { identifier: "ada", password: "Analytical-Engine-1843" });
    expect(signin.status).toBe(200);
    expect(signin.headers.get("cache-control")).toBe("no-store");
    const tokens = (await signin.json()) as {
      access_token: string;
      refresh_token: string;
      token_type: string;
    };
    expect(tokens.token_type).toBe("Bearer");

    // A stock verifier: the remote JWKS, issuer and audience pinned.
    const jwks = createRemoteJWKSet(new URL(`${baseUrl}/${SLUG}/v1/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: `${baseUrl}/${SLUG}`,
      audience: SLUG,
      algorithms: ["RS256"],
    });
    expect(protectedHeader.typ).toBe("at+jwt");
    expect(payload).toMatchObject({ type: "end_user", role: "member", client_id: SLUG });

    const me = await fetch(`${baseUrl}/${SLUG}/v1/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(me.status).toBe(200);
    const profile = (await me.json()) as { id: string; username: string; email: string };
    expect(profile).toMatchObject({ id: payload.sub, username: "ada", email: "ada@example.test" });

    const refreshed = await post("/auth/refresh", { refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as { access_token: string; refresh_token: string };
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    await jwtVerify(next.access_token, jwks, { issuer: `${baseUrl}/${SLUG}`, audience: SLUG });

    expect((await post("/auth/logout", { refresh_token: next.refresh_token })).status).toBe(204);
    const dead = await post("/auth/refresh", { refresh_token: next.refresh_token });
    expect(dead.status).toBe(401);
    expect(((await dead.json()) as { code: string }).code).toBe("INVALID_REFRESH_TOKEN");
    // Logout takes effect at once for Heimdall's own endpoints.
    const after = await fetch(`${baseUrl}/${SLUG}/v1/me`, {
      headers: { authorization: `Bearer ${next.access_token}` },
    });
    expect(after.status).toBe(401);
    expect(((await after.json()) as { code: string }).code).toBe("TOKEN_REVOKED");
  }, 60_000);
});

describe("password screening in the compiled binary", () => {
  test("the embedded dictionary and the shape checks refuse guessable passwords at sign-up", async () => {
    for (const [password, reason] of [
      ["P@ssw0rd2024!", "common_password"],
      ["qwertyuiopas", "repetitive_or_sequential"],
    ]) {
      const res = await post("/auth/signup", { username: "grace", email: "grace@example.test", password });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { code: string; details: unknown };
      expect(body.code).toBe("WEAK_PASSWORD");
      expect(body.details).toEqual([{ field: "password", reason }]);
    }
  });
});
