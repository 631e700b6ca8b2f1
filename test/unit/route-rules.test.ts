/** @module routeRules: a route's exceptions to the global hooks reach exactly the requests addressed to its path templates. */
import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { type RouteRules, routeRules, routeRulesOf } from "../../src/http/route-rules.ts";

const BIG: RouteRules = { bodyLimit: 1024 };

/** A bare app whose last onRequest records what the rules said, as the app's NUL check runs last. */
function appWith(templates: string[]) {
  const seen: RouteRules[] = [];
  const app = new Elysia().use(routeRules("probe", templates, BIG)).onRequest(({ request }) => {
    seen.push(routeRulesOf(request));
  });
  return {
    async rulesFor(target: string, method = "POST") {
      seen.length = 0;
      await app.handle(new Request(`http://localhost${target}`, { method }));
      return seen[0];
    },
  };
}

describe("routeRules", () => {
  const { rulesFor } = appWith(["/:app_slug/v1/oauth/token", "/v1/apps/:app_id/end-users/bulk-delete"]);

  test.each([
    ["a slug in the parameter", "/acme/v1/oauth/token"],
    ["a query string", "/acme/v1/oauth/token?x=%00"],
    ["a percent-encoded parameter", "/v1/apps/a%2Fb/end-users/bulk-delete"],
    ["any method (the path decides, before routing)", "/acme/v1/oauth/token"],
  ])("tags %s", async (_name, target) => {
    expect(await rulesFor(target, "GET")).toBe(BIG);
  });

  test.each([
    ["another route", "/acme/v1/auth/signin"],
    ["a parameter spanning two segments", "/a/b/v1/oauth/token"],
    ["a longer path", "/acme/v1/oauth/token/extra"],
    ["a trailing slash", "/acme/v1/oauth/token/"],
    ["a path that only ends like a template", "/x/v1/apps/1/end-users/bulk-delete"],
    ["a sibling of a literal segment", "/v1/apps/1/end-users/bulk-deletes"],
  ])("leaves %s alone", async (_name, target) => {
    expect(await rulesFor(target)).toEqual({});
  });

  test("a regexp metacharacter in a template is literal", async () => {
    const { rulesFor: probe } = appWith(["/v1/a.b"]);
    expect(await probe("/v1/a.b")).toBe(BIG);
    expect(await probe("/v1/axb")).toEqual({});
  });

  test("a request no plugin tagged has no rules", () => {
    expect(routeRulesOf(new Request("http://localhost/acme/v1/oauth/token"))).toEqual({});
  });
});
