/** @module The Consumer admin lane's `/{app_slug}/v1/users/{user_id}/factors`: list, provision and disable another account's factors. */
import { beforeEach, describe, expect, test } from "bun:test";
import { and, asc, eq } from "drizzle-orm";
import { Secret, TOTP } from "otpauth";
import { tx } from "../../../src/db/client.ts";
import { queryRow, queryRows } from "../../support/end-users.ts";
import { auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import {
  createApiKey,
  createEndUser,
  createM2mClient,
  setUser,
  type TestApp,
  type TestEndUser,
} from "./verify-fixtures.ts";

const LIST = "/{app_slug}/v1/users/{user_id}/factors";
const ONE = "/{app_slug}/v1/users/{user_id}/factors/{factor_id}";
const ALL = ["factor.read", "factor.create", "factor.delete"];

let ctx: TestContext;
let app: TestApp;
let target: TestEndUser;
let m2m: string;

const call = (
  method: string,
  path: string,
  bearer: string,
  opts: { userId?: string; factorId?: string; body?: unknown; slug?: string } = {},
) =>
  ctx.call(method, path, {
    params: {
      app_slug: opts.slug ?? app.slug,
      user_id: opts.userId ?? target.id,
      ...(opts.factorId ? { factor_id: opts.factorId } : {}),
    },
    body: opts.body,
    auth: { bearer },
  });

const provision = async (bearer = m2m, userId = target.id) => {
  const res = await call("POST", LIST, bearer, {
    userId,
    body: { type: "totp", label: "Given at the desk" },
  });
  expect(res.status).toBe(201);
  return res.body as {
    factor: { id: string; enabled: boolean };
    enrollment: { secret: string; otpauth_uri: string };
    recovery_codes: string[];
  };
};

const events = async (type: string) => {
  const { events } = ctx.deps.db.tables;
  const rows = await ctx.deps.db
    .select()
    .from(events)
    .where(and(eq(events.type, type), eq(events.appId, app.id)))
    .orderBy(asc(events.createdAt), asc(events.id));
  return rows.map((r) => r.data);
};

beforeEach(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "mfa-lane", { display_name: "Lane App" });
  target = await createEndUser(ctx, app, "tess", { email: "tess@example.test" });
  m2m = (await createM2mClient(ctx, app, ALL)).token;
});

describe("POST /users/{user_id}/factors (provision)", () => {
  test("an enabled factor, its enrolment and a fresh set of recovery codes, audited with no secret", async () => {
    const res = await call("POST", LIST, m2m, { body: { type: "totp", label: "Given at the desk" } });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { factor, enrollment, recovery_codes } = res.body;
    expect(factor).toMatchObject({ type: "totp", label: "Given at the desk", enabled: true });
    expect(factor.enabled_at).toBe(new Date(ctx.clock.now()).toISOString());
    expect(enrollment.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(enrollment.otpauth_uri).toStartWith("otpauth://totp/Lane%20App:tess%40example.test?");
    expect(enrollment.qr_data_url).toStartWith("data:image/png;base64,");
    expect(recovery_codes).toHaveLength(10);

    // The provisioned factor works at once, with codes from the secret handed over.
    const code = new TOTP({ secret: Secret.fromBase32(enrollment.secret) }).generate({
      timestamp: ctx.clock.now(),
    });
    expect(await tx(ctx.deps.db, async () => await ctx.deps.mfa.verifyTotp(app.id, target.id, code))).toEqual(
      {
        factorId: factor.id,
      },
    );
    expect(
      await tx(
        ctx.deps.db,
        async () => await ctx.deps.mfa.useRecoveryCode(app.id, target.id, recovery_codes[0]),
      ),
    ).toBe(true);

    const audit = await auditRows(ctx, { app_id: app.id, action: "mfa.factor_provisioned" });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor_type).toBe("m2m");
    expect(audit[0]!.resource_id).toBe(factor.id);
    expect(audit[0]!.details).toMatchObject({ user_id: target.id, type: "totp", recovery_codes_minted: 10 });
    const dump = JSON.stringify(audit[0]);
    expect(dump).not.toContain(enrollment.secret);
    for (const c of recovery_codes) expect(dump).not.toContain(c);
    expect(await events("user.mfa.factor_enrolled")).toEqual([
      { user_id: target.id, factor_id: factor.id, type: "totp", via: "admin" },
    ]);

    const list = await call("GET", LIST, m2m);
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ data: [factor] });
    const own = await ctx.call("GET", "/{app_slug}/v1/me/mfa/factors", {
      params: { app_slug: app.slug },
      auth: { bearer: target.token },
    });
    expect(own.body.data).toEqual([factor]);
  });

  test("a second provision replaces the recovery codes", async () => {
    const a = await provision();
    const b = await provision();
    expect(
      await queryRows(ctx, "SELECT * FROM mfa_recovery_codes WHERE user_id = ?", target.id),
    ).toHaveLength(10);
    expect(
      await tx(
        ctx.deps.db,
        async () => await ctx.deps.mfa.useRecoveryCode(app.id, target.id, a.recovery_codes[0]!),
      ),
    ).toBe(false);
    expect(
      await tx(
        ctx.deps.db,
        async () => await ctx.deps.mfa.useRecoveryCode(app.id, target.id, b.recovery_codes[0]!),
      ),
    ).toBe(true);
    expect(await ctx.deps.mfa.enabledFactors(app.id, target.id)).toHaveLength(2);
  });

  test("bad bodies are 400; an unknown account or one of another app is 404", async () => {
    const bad = await call("POST", LIST, m2m, { body: { type: "webauthn" } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("VALIDATION_ERROR");
    const unknown = await call("POST", LIST, m2m, {
      userId: "00000000-0000-0000-0000-000000000000",
      body: { type: "totp" },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("USER_NOT_FOUND");
    const other = await createApp(ctx, "mfa-lane-other");
    const stranger = await createEndUser(ctx, other, "stranger");
    const res = await call("POST", LIST, m2m, { userId: stranger.id, body: { type: "totp" } });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("USER_NOT_FOUND");
    expect(await queryRows(ctx, "SELECT * FROM mfa_factors")).toHaveLength(0);
  });
});

describe("the lane's rules", () => {
  test("each route needs its own permission", async () => {
    const readOnly = (await createM2mClient(ctx, app, ["factor.read"])).token;
    const f = await provision();
    expect((await call("GET", LIST, readOnly)).status).toBe(200);
    const create = await call("POST", LIST, readOnly, { body: { type: "totp" } });
    expect(create.status).toBe(403);
    expect(create.body.code).toBe("PERMISSION_DENIED");
    const del = await call("DELETE", ONE, readOnly, { factorId: f.factor.id });
    expect(del.status).toBe(403);
    expect(del.body.code).toBe("PERMISSION_DENIED");
    const none = (await createM2mClient(ctx, app, ["user.read"])).token;
    const list = await call("GET", LIST, none);
    expect(list.status).toBe(403);
    expect(list.body.code).toBe("PERMISSION_DENIED");
    const anon = await ctx.call("GET", LIST, {
      params: { app_slug: app.slug, user_id: target.id },
      auth: null,
    });
    expect(anon.status).toBe(401);
  });

  test("an API key with the permissions works; a token of another app is 401", async () => {
    const key = await createApiKey(ctx, app, ALL);
    const res = await call("GET", LIST, key.key);
    expect(res.status).toBe(200);
    const other = await createApp(ctx, "mfa-lane-far");
    const foreign = (await createM2mClient(ctx, other, ALL)).token;
    const refused = await call("GET", LIST, foreign);
    expect(refused.status).toBe(401);
  });

  test("an EndUser holding factor.* may act on a member but not on an owner (the act-on rule)", async () => {
    // factor.* are Heimdall additions the documented admin does not hold: an operator binds them to a role.
    const documented = await createEndUser(ctx, app, "adam", { role: "admin" });
    const denied = await call("GET", LIST, documented.token);
    expect([denied.status, denied.body.code]).toEqual([403, "PERMISSION_DENIED"]);
    for (const [method, path, body] of [
      ["POST", "/v1/apps/{app_id}/roles", { name: "mfa-desk" }],
      ["PUT", "/v1/apps/{app_id}/roles/{role_name}/permissions", { permissions: ALL }],
    ] as const) {
      const res = await ctx.call(method, path, { params: { app_id: app.id, role_name: "mfa-desk" }, body });
      expect(res.status).toBeLessThan(300);
    }
    const admin = await createEndUser(ctx, app, "ada", { role: "mfa-desk" });
    const owner = await createEndUser(ctx, app, "owen", { role: "owner" });
    const ok = await call("POST", LIST, admin.token, { body: { type: "totp" } });
    expect(ok.status).toBe(201);
    const refused = await call("POST", LIST, admin.token, { userId: owner.id, body: { type: "totp" } });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe("PERMISSION_GRANT_DENIED");
    // Provisioned while a member, then promoted: the admin may no longer touch it.
    const promoted = await createEndUser(ctx, app, "pia");
    const f = await provision(m2m, promoted.id);
    setUser(ctx, promoted.id, { role: "owner" });
    const del = await call("DELETE", ONE, admin.token, { userId: promoted.id, factorId: f.factor.id });
    expect(del.status).toBe(403);
    expect(del.body.code).toBe("PERMISSION_GRANT_DENIED");
    expect(await ctx.deps.mfa.enabledFactors(app.id, promoted.id)).toHaveLength(1);
  });
});

describe("DELETE /users/{user_id}/factors/{factor_id}", () => {
  test("disables the factor: its secret and (last one) the recovery codes go, audited and emitted", async () => {
    const f = await provision();
    const secretId = (await queryRow(ctx, "SELECT secret_id FROM mfa_factors WHERE id = ?", f.factor.id))!
      .secret_id as string;
    const res = await call("DELETE", ONE, m2m, { factorId: f.factor.id });
    expect(res.status).toBe(204);
    expect(await queryRow(ctx, "SELECT id FROM mfa_factors WHERE id = ?", f.factor.id)).toBeUndefined();
    expect(await queryRow(ctx, "SELECT id FROM vault_secrets WHERE id = ?", secretId)).toBeUndefined();
    expect(
      await queryRows(ctx, "SELECT * FROM mfa_recovery_codes WHERE user_id = ?", target.id),
    ).toHaveLength(0);
    const audit = await auditRows(ctx, { app_id: app.id, action: "mfa.factor_disabled" });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor_type).toBe("m2m");
    expect(audit[0]!.details).toMatchObject({ user_id: target.id, via: "admin", remaining: 0 });
    expect(await events("user.mfa.factor_disabled")).toEqual([
      { user_id: target.id, factor_id: f.factor.id, type: "totp", remaining_factors: 0 },
    ]);
    const again = await call("DELETE", ONE, m2m, { factorId: f.factor.id });
    expect(again.status).toBe(404);
    expect(again.body.code).toBe("MFA_FACTOR_NOT_FOUND");
  });

  test("a factor of another account is 404 and stays", async () => {
    const other = await createEndUser(ctx, app, "otto");
    const f = await provision(m2m, other.id);
    const res = await call("DELETE", ONE, m2m, { factorId: f.factor.id });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("MFA_FACTOR_NOT_FOUND");
    expect(await ctx.deps.mfa.enabledFactors(app.id, other.id)).toHaveLength(1);
  });

  test("deleting the account through the lane destroys its factors' secrets", async () => {
    await provision();
    const secretIds = (
      await queryRows(ctx, "SELECT secret_id FROM mfa_factors WHERE user_id = ?", target.id)
    ).map((r) => r.secret_id as string);
    const deleter = (await createM2mClient(ctx, app, ["user.delete"])).token;
    const res = await ctx.call("DELETE", "/{app_slug}/v1/admin/users/{user_id}", {
      params: { app_slug: app.slug, user_id: target.id },
      auth: { bearer: deleter },
    });
    expect(res.status).toBe(204);
    for (const id of secretIds)
      expect(await queryRow(ctx, "SELECT id FROM vault_secrets WHERE id = ?", id)).toBeUndefined();
  });

  test("bulk deletion through the Admin API destroys them too", async () => {
    await provision();
    const secretIds = (
      await queryRows(ctx, "SELECT secret_id FROM mfa_factors WHERE user_id = ?", target.id)
    ).map((r) => r.secret_id as string);
    const res = await ctx.call("POST", "/v1/apps/{app_id}/end-users/bulk-delete", {
      params: { app_id: app.id },
      body: { selection: { mode: "ids", ids: [target.id] } },
    });
    expect(res.status).toBe(200);
    for (const id of secretIds)
      expect(await queryRow(ctx, "SELECT id FROM vault_secrets WHERE id = ?", id)).toBeUndefined();
  });
});

describe("deleting the app", () => {
  test("destroys every factor's sealed secret with it", async () => {
    await provision();
    const member = await createEndUser(ctx, app, "milo");
    await provision(m2m, member.id);
    const sealed = async () =>
      Number(
        (await queryRow(
          ctx,
          "SELECT CAST(count(*) AS INTEGER) AS n FROM vault_secrets WHERE aad LIKE ?",
          `mfa_factor:${app.id}:%`,
        ))!.n,
      );
    expect(await sealed()).toBe(2);
    const res = await ctx.call("DELETE", "/v1/apps/{app_id}", { params: { app_id: app.id } });
    expect(res.status).toBe(204);
    expect(await sealed()).toBe(0);
    expect(await queryRows(ctx, "SELECT * FROM mfa_factors WHERE app_id = ?", app.id)).toHaveLength(0);
  });
});
