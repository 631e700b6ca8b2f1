/** @module POST /{app_slug}/v1/auth/signin with a password hash imported from another system: verified, then re-hashed to argon2id once. */
import { beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { createApp as createHttpApp } from "../../../src/app.ts";
import { createAuthService } from "../../../src/auth/service.ts";
import { createAuthStore } from "../../../src/auth/store.ts";
import { MINUTE } from "../../../src/core/clock.ts";
import { exec } from "../../../src/db/query.ts";
import type { PasswordHasher } from "../../../src/passwords/hasher.ts";
import { GOOD_PASSWORD, setAuthConfig } from "../../support/end-users.ts";
import { auditRows, createApp, insertEndUser, type TestApp, userRow } from "../../support/fixtures.ts";
import { passlibHash } from "../../support/foreign-hashes.ts";
import { createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";

const HEIMDALL_PREFIX = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/;

let ctx: TestContext;
let app: TestApp;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "imported-hashes");
});

// Fresh per-minute sign-in windows for every test.
beforeEach(() => ctx.clock.advance(MINUTE + 1));

const signin = (slug: string, identifier: string, password: string) =>
  ctx.call("POST", "/{app_slug}/v1/auth/signin", {
    params: { app_slug: slug },
    body: { identifier, password },
    auth: null,
  });

const hashOf = async (userId: string) => String((await userRow(ctx, userId))!.passwordHash);

const passwordChangedAt = async (userId: string) => (await userRow(ctx, userId))!.passwordChangedAt;

const setHash = async (id: string, hash: string) =>
  await exec(ctx.deps.db, sql`UPDATE end_users SET password_hash = ${hash} WHERE id = ${id}`);

/** An end user whose stored hash came from elsewhere, as `heimdall users import` writes it. */
async function importedUser(target: TestApp, username: string, hash: string): Promise<string> {
  const { id } = await insertEndUser(ctx, target, username);
  await setHash(id, hash);
  return id;
}

describe("a user with a passlib pbkdf2_sha256 hash", () => {
  let userId: string;
  let imported: string;

  beforeAll(async () => {
    imported = passlibHash("pbkdf2_sha256", GOOD_PASSWORD);
    userId = await importedUser(app, "migrated", imported);
  });

  test("a wrong password is 401 INVALID_CREDENTIALS and the imported hash stays", async () => {
    const res = await signin(app.slug, "migrated", `${GOOD_PASSWORD}!`);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("INVALID_CREDENTIALS");
    expect(await hashOf(userId)).toBe(imported);
    expect(await auditRows(ctx, { app_id: app.id, action: "user.password_rehashed" })).toHaveLength(0);
    expect((await auditRows(ctx, { app_id: app.id, action: "user.signin_failed" })).at(-1)).toMatchObject({
      resource_id: userId,
      details: { reason: "wrong_password" },
    });
  });

  test("the right password signs in, the hash becomes Heimdall's argon2id, and the change is audited without a hash", async () => {
    const changedAt = await passwordChangedAt(userId);
    const res = await signin(app.slug, "migrated@example.test", GOOD_PASSWORD);
    expect(res.status).toBe(200);
    expect(typeof res.body.access_token).toBe("string");
    const now = await hashOf(userId);
    expect(now).toMatch(HEIMDALL_PREFIX);
    expect(await passwordChangedAt(userId)).toBe(changedAt);
    const rows = await auditRows(ctx, { app_id: app.id, action: "user.password_rehashed" });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      resource_type: "end_user",
      resource_id: userId,
      actor_type: "end_user",
      actor_id: userId,
      details: { previous_format: "pbkdf2-sha256", algorithm: "argon2id" },
    });
    const serialised = JSON.stringify(rows[0]!.details);
    expect(serialised).not.toContain(imported.split("$").at(-1)!);
    expect(serialised).not.toContain(now.split("$").at(-1)!);
  });

  test("the next sign-in verifies against the new hash and re-hashes nothing", async () => {
    const before = await hashOf(userId);
    const res = await signin(app.slug, "migrated", GOOD_PASSWORD);
    expect(res.status).toBe(200);
    expect(await hashOf(userId)).toBe(before);
    expect(await auditRows(ctx, { app_id: app.id, action: "user.password_rehashed" })).toHaveLength(1);
    const wrong = await signin(app.slug, "migrated", `${GOOD_PASSWORD}!`);
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe("INVALID_CREDENTIALS");
  });
});

test("when an MFA challenge follows, the password is proven all the same: the hash is re-hashed", async () => {
  const strict = await createApp(ctx, "imported-mfa");
  await setAuthConfig(ctx, strict.id, { mfa_required: true });
  const imported = passlibHash("scrypt", GOOD_PASSWORD, { rounds: 12 });
  const userId = await importedUser(strict, "mfa-migrated", imported);
  const res = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
    params: { app_slug: strict.slug },
    body: { identifier: "mfa-migrated", password: GOOD_PASSWORD },
    auth: null,
  });
  expect(res.status).toBe(200);
  expect(res.body.mfa_required).toBe(true);
  expect(res.body.access_token).toBeUndefined();
  expect(await hashOf(userId)).toMatch(HEIMDALL_PREFIX);
  expect(await auditRows(ctx, { app_id: strict.id, action: "user.password_rehashed" })).toMatchObject([
    { resource_id: userId, details: { previous_format: "scrypt" } },
  ]);
});

test("a re-hash that fails is logged and leaves the imported hash; the sign-in still succeeds", async () => {
  const imported = passlibHash("django_pbkdf2_sha256", GOOD_PASSWORD, { rounds: 20_000 });
  const userId = await importedUser(app, "unlucky", imported);
  // The real hasher, except that hashing fails as it would when the thread dies or the queue is full.
  const passwords: PasswordHasher = {
    ...ctx.deps.passwords,
    hash: () => Promise.reject(new Error("the hashing thread stopped")),
  };
  const deps = { ...ctx.deps, passwords, auth: createAuthService({ ...ctx.deps, passwords }) };
  const res = await createHttpApp(deps).handle(
    new Request(`${PUBLIC_URL}/${app.slug}/v1/auth/signin`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identifier: "unlucky", password: GOOD_PASSWORD }),
    }),
  );
  expect(res.status).toBe(200);
  expect(typeof ((await res.json()) as { access_token: string }).access_token).toBe("string");
  expect(await hashOf(userId)).toBe(imported);
  expect(
    (await auditRows(ctx, { app_id: app.id, action: "user.password_rehashed" })).filter(
      (r) => r.resource_id === userId,
    ),
  ).toHaveLength(0);
  const warning = ctx.log.lines.find((l) => l.includes("re-hashing the password failed"));
  expect(warning).toBeDefined();
  expect(warning).toContain(userId);
  expect(warning).not.toContain(GOOD_PASSWORD);
  expect(warning).not.toContain(imported);
});

test("the re-hash is a compare-and-set: a hash changed in the meantime is not overwritten", async () => {
  const imported = passlibHash("pbkdf2_sha512", GOOD_PASSWORD);
  const userId = await importedUser(app, "raced", imported);
  const store = createAuthStore(ctx.deps.db);
  await setHash(userId, "changed-by-reset");
  expect(await store.replacePasswordHash(userId, imported, "$argon2id$new")).toBe(false);
  expect(await hashOf(userId)).toBe("changed-by-reset");
  expect(await store.replacePasswordHash(userId, "changed-by-reset", "$argon2id$new")).toBe(true);
  expect(await hashOf(userId)).toBe("$argon2id$new");
});
