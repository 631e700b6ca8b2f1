/** @module request-verification and request-password-reset: who gets a code, the `{}` branches, lanes, validation, storage. */
import { beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { hmacSha256Hex } from "../../../src/core/crypto.ts";
import { exec } from "../../../src/db/query.ts";
import { auditRows, createApp, insertWorkspace } from "../../support/fixtures.ts";
import { type Auth, createTestContext, type TestContext } from "../../support/harness.ts";
import {
  allow,
  type CodesApp,
  type CodesUser,
  codeRows,
  deny,
  insertPak,
  insertUser,
  mintCode,
} from "./codes-fixtures.ts";

let ctx: TestContext;
let app: CodesApp;
let other: CodesApp;
let alice: CodesUser; // unverified email, unverified phone
let bob: CodesUser; // verified email and phone

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "mint-app");
  other = await createApp(ctx, "mint-other");
  alice = await insertUser(ctx, app, "alice", { phone: "+15550001111" });
  bob = await insertUser(ctx, app, "bob", {
    phone: "+15550002222",
    emailVerified: true,
    phoneVerified: true,
  });
  await insertUser(ctx, app, "carol", { emailVerified: true, status: "suspended" });
  // Same address in the other app, verified there: must never leak into this app's answers.
  await insertUser(ctx, other, "alice", { email: "alice@example.test", emailVerified: true });
});

const call = (kind: string, body: unknown, opts: { auth?: Auth; slug?: string; unchecked?: boolean } = {}) =>
  ctx.call("POST", `/{app_slug}/v1/auth/request-${kind}`, {
    params: { app_slug: opts.slug ?? app.slug },
    body,
    auth: opts.auth,
    unchecked: opts.unchecked,
  });

describe("request-verification", () => {
  test("an unverified email gets a 6-digit code living 10 minutes; the store keeps only its MAC", async () => {
    const res = await call("verification", { email: "alice@example.test" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body.code).toMatch(/^\d{6}$/);
    expect(res.body.expires_at).toBe(new Date(ctx.clock.now() + 10 * 60_000).toISOString());

    const rows = (await codeRows(ctx, app.id)).filter((r) => r.contactId === alice.emailContactId);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.purpose).toBe("verify");
    expect(row.userId).toBe(alice.id);
    expect(row.codeHash).toBe(
      hmacSha256Hex(await ctx.deps.secrets.get("code_pepper"), `${app.id}:verify:${res.body.code}`),
    );
    // No column of any code row holds the plaintext.
    const dump = JSON.stringify(await codeRows(ctx, app.id));
    expect(dump.includes(res.body.code)).toBe(false);

    const audit = (await auditRows(ctx, { app_id: app.id, action: "code.issued" })).at(-1)!;
    expect(audit.actor_type).toBe("pak");
    expect(audit.resource_id).toBe(alice.emailContactId);
    expect(audit.details).toMatchObject({
      purpose: "verification",
      contact_type: "email",
      delivery: "response",
    });
    expect(JSON.stringify(audit).includes(res.body.code)).toBe(false);
    expect((await ctx.deps.audit.verify()).ok).toBe(true);
  });

  test("a phone contact, written in any format, gets a code; the email lookup is normalised too", async () => {
    const code = await mintCode(ctx, app, "verification", { phone: "+1 (555) 000-1111" });
    expect(
      (await codeRows(ctx, app.id)).some(
        (r) => r.contactId === alice.phoneContactId && r.expiresAt > ctx.clock.now(),
      ),
    ).toBe(true);
    expect(code).toMatch(/^\d{6}$/);
    await mintCode(ctx, app, "verification", { email: "  ALICE@Example.TEST " });
  });

  test("a new code supersedes the contact's previous one", async () => {
    await mintCode(ctx, app, "verification", { email: "alice@example.test" });
    await mintCode(ctx, app, "verification", { email: "alice@example.test" });
    const live = (await codeRows(ctx, app.id)).filter(
      (r) => r.contactId === alice.emailContactId && r.consumedAt === null,
    );
    expect(live).toHaveLength(1);
  });

  test.each([
    ["an unknown email", { email: "nobody@example.test" }],
    ["an unknown phone", { phone: "+15559999999" }],
    ["an already verified email", { email: "bob@example.test" }],
    ["an already verified phone", { phone: "+15550002222" }],
  ])("%s gets {} and no code row", async (_name, body) => {
    const before = (await codeRows(ctx, app.id)).length;
    const res = await call("verification", body, { unchecked: true });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({});
    expect(await codeRows(ctx, app.id)).toHaveLength(before);
  });

  test("a contact verified only in another app is no match here, and vice versa", async () => {
    const res = await call(
      "verification",
      { email: "alice@example.test" },
      { slug: other.slug, unchecked: true },
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({});
  });
});

describe("request-password-reset", () => {
  test("a verified contact of an active account gets a reset code", async () => {
    const res = await call("password-reset", { email: "bob@example.test" });
    expect(res.status).toBe(201);
    expect(res.body.code).toMatch(/^\d{6}$/);
    const row = (await codeRows(ctx, app.id)).find(
      (r) => r.contactId === bob.emailContactId && r.purpose === "reset",
    );
    expect(row?.userId).toBe(bob.id);
    expect((await auditRows(ctx, { app_id: app.id, action: "code.issued" })).at(-1)!.details).toMatchObject({
      purpose: "password_reset",
    });
    await mintCode(ctx, app, "password-reset", { phone: "+15550002222" });
  });

  test.each([
    ["an unverified email", { email: "alice@example.test" }],
    ["an unverified phone", { phone: "+15550001111" }],
    ["an unknown email", { email: "nobody@example.test" }],
    ["a suspended account", { email: "carol@example.test" }],
  ])("%s gets {}", async (_name, body) => {
    const res = await call("password-reset", body, { unchecked: true });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({});
  });

  test("reset and verification codes of one contact live side by side", async () => {
    const dora = await insertUser(ctx, app, "dora");
    await mintCode(ctx, app, "verification", { email: "dora@example.test" });
    // Verified meanwhile by another channel: a reset code is minted, and it does not supersede the verify code.
    await exec(
      ctx.deps.db,
      sql`UPDATE end_user_contacts SET verified_at = ${ctx.clock.now()} WHERE id = ${dora.emailContactId}`,
    );
    await mintCode(ctx, app, "password-reset", { email: "dora@example.test" });
    const live = (await codeRows(ctx, app.id)).filter((r) => r.consumedAt === null && r.userId === dora.id);
    expect(live.map((r) => r.purpose).sort()).toEqual(["reset", "verify"]);
  });
});

describe("validation", () => {
  test.each([
    ["no body", undefined],
    ["empty object", {}],
    ["both email and phone", { email: "alice@example.test", phone: "+15550001111" }],
    ["a malformed email", { email: "not-an-email" }],
    ["a malformed phone", { phone: "call me" }],
    ["a non-string email", { email: 42 }],
    ["an overlong email", { email: `${"a".repeat(400)}@example.test` }],
  ])("%s → 400 VALIDATION_ERROR", async (_name, body) => {
    for (const kind of ["verification", "password-reset"]) {
      const res = await call(kind, body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
      expect(res.body.details.length).toBeGreaterThan(0);
    }
  });
});

describe("lanes", () => {
  test("no credential → 401 UNAUTHORIZED on both mints", async () => {
    for (const kind of ["verification", "password-reset"]) {
      const res = await call(kind, { email: "alice@example.test" }, { auth: null });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("UNAUTHORIZED");
    }
  });

  test("a platform session token is not a PAK → 401", async () => {
    const cookie = await ctx.signIn();
    const res = await call("verification", { email: "alice@example.test" }, { auth: { bearer: cookie } });
    expect(res.status).toBe(401);
  });

  test.each([
    [
      "verification, PAK with the reset action only",
      "verification",
      [allow(["heimdall.user.password-reset.create"])],
    ],
    [
      "password-reset, PAK with the verify action only",
      "password-reset",
      [allow(["heimdall.user.verify.create"])],
    ],
    [
      "verification, PAK with Admin actions only",
      "verification",
      [allow(["heimdall.read", "heimdall.update"])],
    ],
    [
      "verification, wildcard with a deny",
      "verification",
      [allow(["heimdall.*"]), deny(["heimdall.user.verify.create"])],
    ],
  ] as const)("%s → 403 POLICY_DENIED", async (_name, kind, statements) => {
    const pak = await insertPak(ctx, [...statements]);
    const res = await call(kind, { email: "alice@example.test" }, { auth: { pak: pak.token } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("POLICY_DENIED");
  });

  test("a PAK narrowed to another app's URN → 403; narrowed to this app → 201", async () => {
    const elsewhere = await insertPak(ctx, [
      allow(["heimdall.user.verify.create"], [`pcft:heimdall:app/${other.id}`]),
    ]);
    const denied = await call(
      "verification",
      { email: "alice@example.test" },
      { auth: { pak: elsewhere.token } },
    );
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe("POLICY_DENIED");
    const here = await insertPak(ctx, [
      allow(["heimdall.user.verify.create"], [`pcft:heimdall:app/${app.id}`]),
    ]);
    const ok = await call("verification", { email: "alice@example.test" }, { auth: { pak: here.token } });
    expect(ok.status).toBe(201);
    expect((await auditRows(ctx, { app_id: app.id, action: "code.issued" })).at(-1)!.actor_id).toBe(here.id);
  });

  test("a PAK of another workspace sees no app (404); an unknown slug is 404 too", async () => {
    const ws = await insertWorkspace(ctx, "elsewhere-ws");
    const foreign = await insertPak(ctx, [allow(["*"])], ws);
    const res = await call("verification", { email: "alice@example.test" }, { auth: { pak: foreign.token } });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("APP_NOT_FOUND");
    const unknown = await call("verification", { email: "alice@example.test" }, { slug: "no-such-app" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("APP_NOT_FOUND");
  });
});
