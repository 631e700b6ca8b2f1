/** @module Benchmark fixtures for end users: sign-ups through the API and a wrk Lua script for sign-in floods. */
import { join } from "node:path";
import type { Heimdall } from "./lib.ts";
import { work } from "./lib.ts";

export const BENCH_PASSWORD = "Bench-Password-4711!";

/** Signs up `n` users (`benchuser<i>`); each from its own forwarded address so per-IP limits do not bite. */
export async function signUpUsers(h: Heimdall, slug: string, n: number): Promise<{ accessToken: string }[]> {
  const out: { accessToken: string }[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${h.url}/${slug}/v1/auth/signup`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": `198.18.${i >> 8}.${i & 255}` },
      body: JSON.stringify({
        username: `benchuser${i}`,
        email: `benchuser${i}@example.test`,
        password: BENCH_PASSWORD,
      }),
    });
    if (res.status !== 200) throw new Error(`signup ${i} failed: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { access_token: string };
    out.push({ accessToken: body.access_token });
  }
  return out;
}

/**
 * A wrk script that signs in round-robin over `users` accounts, each request from a different
 * forwarded address (the server trusts 127.0.0.1 as a proxy in these runs), so that the per-IP and
 * per-identifier rate limits measure nothing but argon2.
 */
export async function signinScript(slug: string, users: number): Promise<string> {
  const file = join(work, `signin-${slug}.lua`);
  await Bun.write(
    file,
    `counter = 0
request = function()
  counter = counter + 1
  local i = counter % ${users}
  local body = '{"identifier":"benchuser' .. i .. '","password":"${BENCH_PASSWORD}"}'
  local ip = "198.19." .. (math.floor(counter / 250) % 250) .. "." .. (counter % 250)
  return wrk.format("POST", "/${slug}/v1/auth/signin", {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip}, body)
end
`,
  );
  return file;
}
