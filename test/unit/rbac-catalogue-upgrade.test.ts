/** @module Migration 0012_rbac_catalogue: apps from before the documented catalogue get its bindings, except on roles an operator edited. */
import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../src/core/clock.ts";
import { type Db, embeddedMigrations, migrate, openDatabase } from "../../src/db/client.ts";
import { JOURNAL } from "../../src/db/migrations.ts";
import { SYSTEM_PERMISSION_KEYS, SYSTEM_ROLE_PERMISSIONS } from "../../src/rbac/catalog.ts";
import { seedSystemPermissions } from "../../src/rbac/seed.ts";

/** What Heimdall seeded before this migration: 18 system permissions and these bindings. */
const OLD_CATALOGUE = [
  "user.read",
  "user.list",
  "user.create",
  "user.update",
  "user.delete",
  "user.status",
  "role.read",
  "role.create",
  "role.update",
  "role.delete",
  "role.assign",
  "permission.read",
  "permission.create",
  "permission.delete",
  "session.revoke",
  "factor.read",
  "factor.create",
  "factor.delete",
];
const OLD_ADMIN = OLD_CATALOGUE.filter(
  (k) => !["role.delete", "permission.create", "permission.delete"].includes(k),
);
const OLD_DESCRIPTION = {
  admin: "Runs the user base; cannot delete roles or change the permission catalogue",
  member: "Default role for new sign-ups; no administrative permission",
};

const CREATED = 1_790_000_000_000;
const EDITED = CREATED + 86_400_000;
const sorted = (s: Iterable<string>) => [...s].sort();

/** A database as the Heimdall before this migration left it (the migrations before it, rows it wrote). */
function oldDatabase(): Db {
  const db = openDatabase(":memory:");
  const idx = JOURNAL.entries.findIndex((e) => e.tag === "0012_rbac_catalogue");
  expect(idx).toBeGreaterThan(0);
  // biome-ignore lint/suspicious/noExplicitAny: drizzle exposes the dialect migrator only untyped.
  const d = db as any;
  d.dialect.migrate(embeddedMigrations().slice(0, idx), d.session, {});
  const s = db.$client;
  s.run(
    "INSERT INTO workspaces (id, slug, display_name, created_by, created_at, updated_at) VALUES ('w', 'w', 'W', 'u', ?, ?)",
    [CREATED, CREATED],
  );
  for (const key of OLD_CATALOGUE) {
    const [resource, action] = key.split(".");
    s.run(
      "INSERT INTO permissions (id, app_id, key, resource, action, description, is_system, created_at) VALUES (?, NULL, ?, ?, ?, ?, 1, ?)",
      [`p-${key}`, key, resource!, action!, key, CREATED],
    );
  }
  return db;
}

interface OldRole {
  bindings: string[];
  edited?: boolean;
}

function oldApp(db: Db, id: string, roles: Record<string, OldRole>): void {
  const s = db.$client;
  s.run(
    "INSERT INTO apps (id, workspace_id, slug, display_name, created_by, created_at, updated_at) VALUES (?, 'w', ?, ?, 'u', ?, ?)",
    [id, id, id, CREATED, CREATED],
  );
  for (const [name, role] of Object.entries(roles)) {
    const system = ["owner", "admin", "member"].includes(name) ? 1 : 0;
    const description = name === "admin" || name === "member" ? OLD_DESCRIPTION[name] : `${name} of ${id}`;
    s.run(
      "INSERT INTO roles (id, app_id, name, description, is_system, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      [`${id}-${name}`, id, name, description, system, CREATED, role.edited ? EDITED : CREATED],
    );
    for (const key of role.bindings)
      s.run("INSERT INTO role_permissions (role_id, permission_id) VALUES (?, ?)", [
        `${id}-${name}`,
        `p-${key}`,
      ]);
  }
}

const bindingsOf = (db: Db, roleId: string) =>
  db.$client
    .query<{ key: string }, [string]>(
      "SELECT p.key FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id WHERE rp.role_id = ? ORDER BY p.key",
    )
    .all(roleId)
    .map((r) => r.key);
const roleRow = (db: Db, roleId: string) =>
  db.$client
    .query<{ description: string; updated_at: number }, [string]>(
      "SELECT description, updated_at FROM roles WHERE id = ?",
    )
    .get(roleId)!;

describe("migration 0012_rbac_catalogue", () => {
  test("untouched system roles get the documented bindings; edited ones and custom roles stay as they were", async () => {
    const db = oldDatabase();
    const owner = { bindings: OLD_CATALOGUE };
    // Created after members were seeded with session.revoke (or adopted the secure default): untouched.
    oldApp(db, "untouched", {
      owner,
      admin: { bindings: OLD_ADMIN },
      member: { bindings: ["session.revoke"] },
      editor: { bindings: ["user.read", "user.list"] },
    });
    // Created before members held anything, never adopted the secure default: untouched too.
    oldApp(db, "older", { owner, admin: { bindings: OLD_ADMIN }, member: { bindings: [] } });
    // An operator took user.delete away from admin.
    const editedAdmin = OLD_ADMIN.filter((k) => k !== "user.delete");
    oldApp(db, "admin-edited", {
      owner,
      admin: { bindings: editedAdmin, edited: true },
      member: { bindings: ["session.revoke"] },
    });
    // An operator gave members user.list.
    oldApp(db, "member-edited", {
      owner,
      admin: { bindings: OLD_ADMIN },
      member: { bindings: ["session.revoke", "user.list"], edited: true },
    });
    // An operator unbound session.revoke from member: the old default set of older apps, but chosen.
    oldApp(db, "member-emptied", {
      owner,
      admin: { bindings: OLD_ADMIN },
      member: { bindings: [], edited: true },
    });
    // Edited and set back: the same bindings as seeded, but written through the roles API.
    oldApp(db, "admin-restored", {
      owner,
      admin: { bindings: OLD_ADMIN, edited: true },
      member: { bindings: [] },
    });

    migrate(db);

    const newAdmin = sorted(SYSTEM_ROLE_PERMISSIONS.admin);
    const newMember = sorted(SYSTEM_ROLE_PERMISSIONS.member);
    expect(newAdmin).toEqual(["role.assign", "role.revoke", "user.list", "user.read", "user.update"]);
    expect(newMember).toEqual(["role.read", "user.read"]);

    // The two new system permissions exist once each, system-wide, and every owner holds the whole catalogue.
    const system = db.$client
      .query<{ key: string; app_id: string | null; is_system: number; id: string }, []>(
        "SELECT key, app_id, is_system, id FROM permissions ORDER BY key",
      )
      .all();
    expect(sorted(system.map((p) => p.key))).toEqual(sorted(SYSTEM_PERMISSION_KEYS));
    for (const p of system) expect([p.key, p.app_id, p.is_system]).toEqual([p.key, null, 1]);
    const added = system.filter((p) => p.key === "role.revoke" || p.key === "token.create");
    for (const p of added)
      expect(p.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    for (const app of [
      "untouched",
      "older",
      "admin-edited",
      "member-edited",
      "member-emptied",
      "admin-restored",
    ])
      expect(bindingsOf(db, `${app}-owner`)).toEqual(sorted(SYSTEM_PERMISSION_KEYS));

    // Untouched: the documented sets, the descriptions that say so, and updated_at marks the change.
    for (const app of ["untouched", "older"]) {
      expect(bindingsOf(db, `${app}-admin`)).toEqual(newAdmin);
      expect(bindingsOf(db, `${app}-member`)).toEqual(newMember);
      expect(roleRow(db, `${app}-admin`).description).toBe(
        "Reads and edits end users; assigns and revokes their roles",
      );
      expect(roleRow(db, `${app}-member`).description).toBe(
        "Default role for new sign-ups; reads end users and roles",
      );
      expect(roleRow(db, `${app}-admin`).updated_at).toBeGreaterThan(CREATED);
    }
    expect(bindingsOf(db, "untouched-editor")).toEqual(["user.list", "user.read"]);
    expect(roleRow(db, "untouched-editor").updated_at).toBe(CREATED);

    // Edited roles: exactly as the operator left them; the other system role of the app still moves.
    expect(bindingsOf(db, "admin-edited-admin")).toEqual(sorted(editedAdmin));
    expect(roleRow(db, "admin-edited-admin")).toEqual({
      description: OLD_DESCRIPTION.admin,
      updated_at: EDITED,
    });
    expect(bindingsOf(db, "admin-edited-member")).toEqual(newMember);
    expect(bindingsOf(db, "member-edited-member")).toEqual(["session.revoke", "user.list"]);
    expect(roleRow(db, "member-edited-member")).toEqual({
      description: OLD_DESCRIPTION.member,
      updated_at: EDITED,
    });
    expect(bindingsOf(db, "member-edited-admin")).toEqual(newAdmin);
    expect(bindingsOf(db, "member-emptied-member")).toEqual([]);
    expect(bindingsOf(db, "member-emptied-admin")).toEqual(newAdmin);
    expect(bindingsOf(db, "admin-restored-admin")).toEqual(sorted(OLD_ADMIN));
    expect(bindingsOf(db, "admin-restored-member")).toEqual(newMember);

    // Start-up seeding finds nothing left to add, and the migration is recorded: a second run changes nothing.
    expect(await seedSystemPermissions(db, new FakeClock())).toBe(0);
    const before = db.$client.query("SELECT * FROM role_permissions ORDER BY role_id, permission_id").all();
    migrate(db);
    expect(db.$client.query("SELECT * FROM role_permissions ORDER BY role_id, permission_id").all()).toEqual(
      before,
    );
    db.$client.close();
  });

  test("a database without a catalogue yet gets none from the migration (start-up seeds the whole one)", async () => {
    const db = oldDatabase();
    db.$client.run("DELETE FROM permissions");
    migrate(db);
    expect(db.$client.query("SELECT count(*) AS n FROM permissions").get()).toEqual({ n: 0 });
    expect(await seedSystemPermissions(db, new FakeClock())).toBe(SYSTEM_PERMISSION_KEYS.size);
    db.$client.close();
  });
});
