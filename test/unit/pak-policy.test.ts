/** @module PAK policy evaluation: wildcards, deny wins, resource scoping, grant ceilings, role rights. */
import { describe, expect, test } from "bun:test";
import {
  actionCovers,
  actionMatches,
  appResource,
  evaluatePolicy,
  firstUngranted,
  HEIMDALL_ACTIONS,
  isKnownActionPattern,
  resourceCovers,
  resourceMatches,
  roleAllows,
  roleStatements,
} from "../../src/access/pak-policy.ts";
import type { PolicyStatement } from "../../src/core/principal.ts";

const APP_A = appResource("0190a0a0-0000-7000-8000-00000000000a");
const APP_B = appResource("0190a0a0-0000-7000-8000-00000000000b");
const allow = (actions: string[], resources = ["*"]): PolicyStatement => ({
  effect: "allow",
  actions,
  resources,
});
const deny = (actions: string[], resources = ["*"]): PolicyStatement => ({
  effect: "deny",
  actions,
  resources,
});

describe("actionMatches", () => {
  test.each([
    ["*", "heimdall.read", true],
    ["heimdall.read", "heimdall.read", true],
    ["heimdall.read", "heimdall.create", false],
    ["heimdall.*", "heimdall.read", true],
    ["heimdall.*", "heimdall.tenant.read", true],
    ["heimdall.tenant.*", "heimdall.tenant.delete", true],
    ["heimdall.tenant.*", "heimdall.read", false],
    ["heimdall.*", "heimdallx.read", false],
    ["*.read", "heimdall.read", true],
    ["*.read", "heimdall.tenant.read", true],
    ["*.read", "heimdall.audit.read", true],
    ["*.read", "heimdall.create", false],
    ["heimdall.re*", "heimdall.read", false],
  ])("%s vs %s → %p", (pattern, action, expected) => {
    expect(actionMatches(pattern, action)).toBe(expected);
  });
});

describe("resourceMatches", () => {
  test.each([
    ["*", APP_A, true],
    [APP_A, APP_A, true],
    [APP_A, APP_B, false],
    ["pcft:heimdall:app/*", APP_A, true],
    ["pcft:heimdall:*", APP_B, true],
    ["pcft:other:*", APP_A, false],
  ])("%s vs %s → %p", (pattern, resource, expected) => {
    expect(resourceMatches(pattern, resource)).toBe(expected);
  });
});

describe("evaluatePolicy", () => {
  test.each<[string, PolicyStatement[], string, string, boolean]>([
    ["no statements deny everything", [], "heimdall.read", APP_A, false],
    ["an exact allow", [allow(["heimdall.read"])], "heimdall.read", APP_A, true],
    ["an allow of another action", [allow(["heimdall.read"])], "heimdall.delete", APP_A, false],
    ["the admin wildcard", [allow(["heimdall.*"])], "heimdall.rotate-secret", APP_A, true],
    ["a suffix wildcard", [allow(["*.read"])], "heimdall.tenant.read", APP_A, true],
    [
      "deny wins over a broader allow",
      [allow(["*"]), deny(["heimdall.delete"])],
      "heimdall.delete",
      APP_A,
      false,
    ],
    [
      "deny wins whatever the order",
      [deny(["heimdall.delete"]), allow(["*"])],
      "heimdall.delete",
      APP_A,
      false,
    ],
    [
      "a deny leaves other actions alone",
      [allow(["*"]), deny(["heimdall.delete"])],
      "heimdall.read",
      APP_A,
      true,
    ],
    ["a scoped allow on its app", [allow(["heimdall.read"], [APP_A])], "heimdall.read", APP_A, true],
    ["a scoped allow on another app", [allow(["heimdall.read"], [APP_A])], "heimdall.read", APP_B, false],
    ["a scoped deny on its app", [allow(["*"]), deny(["*"], [APP_A])], "heimdall.read", APP_A, false],
    ["a scoped deny on another app", [allow(["*"]), deny(["*"], [APP_A])], "heimdall.read", APP_B, true],
    ["a prefix resource", [allow(["heimdall.read"], ["pcft:heimdall:app/*"])], "heimdall.read", APP_B, true],
    [
      "union of statements",
      [allow(["heimdall.read"]), allow(["heimdall.create"], [APP_B])],
      "heimdall.create",
      APP_B,
      true,
    ],
  ])("%s", (_name, statements, action, resource, expected) => {
    expect(evaluatePolicy(statements, action, resource)).toBe(expected);
  });
});

describe("covering (for grant ceilings)", () => {
  test.each([
    ["*", "*", true],
    ["*", "heimdall.*", true],
    ["heimdall.*", "*", false],
    ["heimdall.*", "heimdall.tenant.*", true],
    ["heimdall.tenant.*", "heimdall.*", false],
    ["heimdall.*", "*.read", false],
    ["*.read", "heimdall.read", true],
    ["*.read", "*.read", true],
    ["*.read", "heimdall.*", false],
    ["heimdall.read", "heimdall.*", false],
  ])("action %s covers %s → %p", (outer, inner, expected) => {
    expect(actionCovers(outer, inner)).toBe(expected);
  });

  test.each([
    ["*", APP_A, true],
    [APP_A, "*", false],
    ["pcft:heimdall:*", "pcft:heimdall:app/*", true],
    ["pcft:heimdall:app/*", "pcft:heimdall:*", false],
    [APP_A, APP_B, false],
  ])("resource %s covers %s → %p", (outer, inner, expected) => {
    expect(resourceCovers(outer, inner)).toBe(expected);
  });
});

describe("firstUngranted", () => {
  const viewer = roleStatements("viewer");
  test.each<[string, PolicyStatement[], PolicyStatement[], boolean]>([
    ["anything within an owner's rights", [allow(["heimdall.*"])], roleStatements("owner"), true],
    ["reads within a viewer's rights", [allow(["heimdall.read", "heimdall.audit.read"])], viewer, true],
    ["a scoped read within a viewer's rights", [allow(["heimdall.read"], [APP_A])], viewer, true],
    ["a write beyond a viewer's rights", [allow(["heimdall.update"])], viewer, false],
    ["a wildcard beyond a viewer's rights", [allow(["heimdall.*"])], viewer, false],
    ["a suffix wildcard that may grow beyond a viewer's rights", [allow(["*.read"])], viewer, false],
    ["deny statements never exceed", [deny(["*"])], viewer, true],
    [
      "an app-scoped granter cannot grant workspace-wide",
      [allow(["heimdall.read"])],
      [allow(["*"], [APP_A])],
      false,
    ],
    [
      "an app-scoped granter can grant its app",
      [allow(["heimdall.read"], [APP_A])],
      [allow(["*"], [APP_A])],
      true,
    ],
    [
      "a granter's deny caps the grant",
      [allow(["heimdall.delete"])],
      [allow(["*"]), deny(["heimdall.delete"])],
      false,
    ],
    [
      "a granter's deny of wildcards caps wildcards",
      [allow(["heimdall.*"])],
      [allow(["*"]), deny(["*.read"])],
      false,
    ],
    [
      "a granter's deny elsewhere is no obstacle",
      [allow(["heimdall.read"], [APP_A])],
      [allow(["*"]), deny(["*"], [APP_B])],
      true,
    ],
  ])("%s", (_name, requested, granter, within) => {
    expect(firstUngranted(requested, granter) === null).toBe(within);
  });

  test("names the first excess pair", () => {
    expect(firstUngranted([allow(["heimdall.read", "heimdall.create"], [APP_A])], viewer)).toEqual({
      action: "heimdall.create",
      resource: APP_A,
    });
  });
});

describe("roles", () => {
  test.each([
    ["owner", "heimdall.delete", true],
    ["admin", "heimdall.rotate-secret", true],
    ["viewer", "heimdall.read", true],
    ["viewer", "heimdall.audit.read", true],
    ["viewer", "heimdall.tenant.read", true],
    ["viewer", "heimdall.create", false],
    ["viewer", "heimdall.tenant.update", false],
  ] as const)("%s may %s → %p", (role, action, expected) => {
    expect(roleAllows(role, action)).toBe(expected);
  });

  test("roleStatements agree with roleAllows on every catalogued action", () => {
    for (const role of ["owner", "admin", "viewer"] as const) {
      for (const action of HEIMDALL_ACTIONS) {
        expect(evaluatePolicy(roleStatements(role), action, APP_A)).toBe(roleAllows(role, action));
      }
    }
  });
});

describe("isKnownActionPattern", () => {
  test.each([
    ["*", true],
    ["heimdall.read", true],
    ["heimdall.*", true],
    ["*.read", true],
    ["heimdall.user.*", true],
    ["heimdall.reed", false],
    ["mail.*", false],
    ["*.list", false],
    ["", false],
  ])("%p → %p", (pattern, expected) => {
    expect(isKnownActionPattern(pattern)).toBe(expected);
  });
});
