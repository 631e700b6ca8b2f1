/** @module CSRF rule (docs/decisions.md, "Platform subset"): cookie-authenticated writes need a same-origin Origin/Referer or X-Requested-With. */
import { beforeAll, describe, expect, test } from "bun:test";
import { createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";

let ctx: TestContext;
let cookie: string;
beforeAll(async () => {
  ctx = await createTestContext();
  cookie = await ctx.signIn();
});

/** A cookie-authenticated policy creation (a state-changing request) with the given extra headers. */
const createPolicy = (
  name: string,
  headers: Record<string, string>,
  auth: object = { cookie, csrf: false },
) =>
  ctx.call("POST", "/v1/workspaces/{workspace_slug}/policies", {
    params: { workspace_slug: "default" },
    body: { name, policy: [] },
    headers,
    auth: auth as never,
  });

describe("cookie-authenticated writes", () => {
  test.each([
    ["no Origin and no Referer", {}],
    ["a foreign Origin", { origin: "https://evil.example" }],
    ["the right host on another scheme", { origin: PUBLIC_URL.replace("http:", "https:") }],
    ["Origin: null", { origin: "null" }],
    ["a foreign Referer", { referer: "https://evil.example/page" }],
    ["a malformed Referer", { referer: "not a url" }],
    [
      "a foreign Origin despite a good Referer",
      { origin: "https://evil.example", referer: `${PUBLIC_URL}/x` },
    ],
    [
      "a foreign Origin despite X-Requested-With",
      { origin: "https://evil.example", "x-requested-with": "fetch" },
    ],
    [
      "a foreign Referer despite X-Requested-With",
      { referer: "https://evil.example/", "x-requested-with": "fetch" },
    ],
  ])("with %s → 403 CSRF_REJECTED", async (name, headers) => {
    const res = await createPolicy(`csrf ${name.replace(/[^a-z ]/gi, "")}`, headers);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("CSRF_REJECTED");
  });

  test.each([
    ["the public Origin", "origin ok", { origin: PUBLIC_URL }],
    ["a same-origin Referer", "referer ok", { referer: `${PUBLIC_URL}/console/policies` }],
    ["X-Requested-With and neither Origin nor Referer", "xrw ok", { "x-requested-with": "XMLHttpRequest" }],
  ])("with %s → allowed", async (_label, name, headers) => {
    const res = await createPolicy(name, headers);
    expect(res.status).toBe(201);
  });

  test("a cross-site logout is refused and leaves the cookie alone", async () => {
    const res = await ctx.call("POST", "/v1/auth/logout", { auth: { cookie, csrf: false } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("CSRF_REJECTED");
    expect(res.headers.get("set-cookie")).toBeNull();
    expect((await ctx.call("GET", "/v1/me", { auth: { cookie } })).status).toBe(200);
  });

  test("the refused request changed nothing", async () => {
    await createPolicy("never created", {});
    const list = await ctx.call("GET", "/v1/workspaces/{workspace_slug}/policies", {
      params: { workspace_slug: "default" },
    });
    expect(list.body.data.map((p: { name: string }) => p.name)).not.toContain("never created");
  });
});

describe("requests the rule does not apply to", () => {
  test("the same session token as Bearer needs no Origin", async () => {
    const res = await createPolicy("bearer ok", {}, { bearer: cookie });
    expect(res.status).toBe(201);
  });

  test("a PAK needs no Origin", async () => {
    const res = await ctx.call("PATCH", "/v1/workspaces/{workspace_slug}/api-keys/{id}", {
      params: { workspace_slug: "default", id: "00000000-0000-7000-8000-000000000000" },
      body: { name: "x" },
    });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("PAK_NOT_FOUND");
  });

  test("a cookie GET needs no Origin", async () => {
    const res = await ctx.call("GET", "/v1/me", { auth: { cookie, csrf: false } });
    expect(res.status).toBe(200);
  });
});
