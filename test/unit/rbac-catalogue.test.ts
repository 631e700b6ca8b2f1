/** @module The system permission catalogue and seeded bindings are the hosted documentation's, and docs/integrating.md's table says so. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  HEIMDALL_ADDED_PERMISSIONS,
  SYSTEM_PERMISSION_KEYS,
  SYSTEM_PERMISSIONS,
  SYSTEM_ROLE_PERMISSIONS,
  UNWEIGHED_PERMISSIONS,
} from "../../src/rbac/catalog.ts";
import { assertCanActOn, assertCanAssign } from "../../src/rbac/narrowing.ts";

/** As the hosted documentation lists them. */
const HOSTED =
  "user.create user.read user.update user.delete user.list role.create role.read role.update role.delete role.assign role.revoke permission.create permission.read permission.delete session.revoke token.create".split(
    " ",
  );
const sorted = (s: Iterable<string>) => [...s].sort();

describe("the catalogue", () => {
  test("is the hosted list plus Heimdall's additions, each with a description", () => {
    expect(sorted(SYSTEM_PERMISSION_KEYS)).toEqual(sorted([...HOSTED, ...HEIMDALL_ADDED_PERMISSIONS]));
    expect(sorted(HEIMDALL_ADDED_PERMISSIONS)).toEqual([
      "factor.create",
      "factor.delete",
      "factor.read",
      "user.status",
    ]);
    expect(SYSTEM_PERMISSIONS).toHaveLength(20);
    for (const p of SYSTEM_PERMISSIONS) expect([p.key, p.description.length > 0]).toEqual([p.key, true]);
  });

  test("seeds the documented bindings", () => {
    expect(sorted(SYSTEM_ROLE_PERMISSIONS.owner)).toEqual(sorted(SYSTEM_PERMISSION_KEYS));
    expect(sorted(SYSTEM_ROLE_PERMISSIONS.admin)).toEqual(
      sorted(["user.read", "user.list", "user.update", "role.assign", "role.revoke"]),
    );
    expect(sorted(SYSTEM_ROLE_PERMISSIONS.member)).toEqual(["role.read", "user.read"]);
  });

  test("docs/integrating.md's table lists every permission with its seeded roles and marks the additions", () => {
    const page = readFileSync(join(import.meta.dir, "../../docs/integrating.md"), "utf8");
    const section = page.slice(page.indexOf("## Roles and permissions"));
    const rows = section
      .split("\n")
      .filter((l) => /^\| `[a-z]+\.[a-z]+`/.test(l))
      .map((l) => l.split("|").map((c) => c.trim()));
    const documented = rows.map((r) => r[1]!.match(/`([a-z.]+)`/)![1]!);
    expect(sorted(documented)).toEqual(sorted(SYSTEM_PERMISSION_KEYS));
    for (const r of rows) {
      const key = r[1]!.match(/`([a-z.]+)`/)![1]!;
      const held = (["owner", "admin", "member"] as const).filter((_, i) => r[3 + i] === "✓");
      const seeded = (["owner", "admin", "member"] as const).filter((role) =>
        SYSTEM_ROLE_PERMISSIONS[role].has(key),
      );
      expect([key, held]).toEqual([key, seeded]);
      expect([key, r[1]!.includes("(*added*)")]).toEqual([key, HEIMDALL_ADDED_PERMISSIONS.has(key)]);
    }
  });
});

describe("what the act-on rule and role assignment weigh", () => {
  const who = { actor: { type: "end_user" as const, id: "caller" }, appId: "app" };

  test("the documented admin may act on and hand out the documented member", () => {
    expect(() =>
      assertCanActOn(SYSTEM_ROLE_PERMISSIONS.admin, SYSTEM_ROLE_PERMISSIONS.member, who),
    ).not.toThrow();
    expect(() =>
      assertCanAssign(SYSTEM_ROLE_PERMISSIONS.admin, SYSTEM_ROLE_PERMISSIONS.member, who),
    ).not.toThrow();
  });

  test("but not act on an owner, nor hand out a role that can change what it cannot", () => {
    expect(() => assertCanActOn(SYSTEM_ROLE_PERMISSIONS.admin, SYSTEM_ROLE_PERMISSIONS.owner, who)).toThrow(
      expect.objectContaining({ code: "PERMISSION_GRANT_DENIED" }),
    );
    expect(() => assertCanAssign(SYSTEM_ROLE_PERMISSIONS.admin, ["user.read", "user.delete"], who)).toThrow(
      expect.objectContaining({ code: "PERMISSION_GRANT_DENIED" }),
    );
  });

  test("only read-only permissions and the self-service session.revoke go unweighed", () => {
    expect(sorted(UNWEIGHED_PERMISSIONS)).toEqual([
      "factor.read",
      "permission.read",
      "role.read",
      "session.revoke",
      "user.list",
      "user.read",
    ]);
  });
});
