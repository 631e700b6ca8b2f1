/** @module Provider configuration on the Admin API: list, read, write and delete per kind, secrets sealed and never returned, audit rows. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportPKCS8, generateKeyPair } from "jose";
import { queryRows } from "../../support/end-users.ts";
import { type AppBody, auditRows, createApp } from "../../support/fixtures.ts";
import { closeTestContext, createTestContext, type TestContext } from "../../support/harness.ts";
import { allow, insertPak } from "../admin/fixtures.ts";

const LIST = "/v1/apps/{app_id}/auth-config/providers";
const ONE = "/v1/apps/{app_id}/auth-config/providers/{provider}";
const SECRET = "gh-secret-DO-NOT-LEAK-0123456789";

let ctx: TestContext;
let app: AppBody;
let applePem = "";
/** An app with no provider configured, for the refusals (a secret on file would make it optional). */
let bare: AppBody;

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "fedcfg");
  bare = await createApp(ctx, "fedcfg-bare");
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  applePem = await exportPKCS8(privateKey);
});
afterAll(() => closeTestContext(ctx));

/** The `oidc` kind is an appliance addition: its path is outside the contract's provider enum. */
const put = (
  provider: string,
  body: unknown,
  opts: { unchecked?: boolean; auth?: { pak: string }; appId?: string } = {},
) =>
  ctx.call("PUT", ONE, {
    params: { app_id: opts.appId ?? app.id, provider },
    body,
    unchecked: opts.unchecked,
    auth: opts.auth,
  });
const get = (provider: string, unchecked = false) =>
  ctx.call("GET", ONE, { params: { app_id: app.id, provider }, unchecked });

/** Every text column of every row of the app's database, to prove a secret is nowhere in plain text. */
async function everyStoredText(): Promise<string> {
  const catalogue =
    ctx.deps.db.engine === "postgres"
      ? "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
      : "SELECT name FROM sqlite_master WHERE type = 'table'";
  const tables = (await queryRows(ctx, catalogue)).map((r) => String(r.name));
  const texts: string[] = [];
  // jsonb arrives parsed on PostgreSQL: its text is what SQLite would hold.
  for (const t of tables)
    for (const row of await queryRows(ctx, `SELECT * FROM "${t}"`))
      for (const v of Object.values(row))
        if (typeof v === "string") texts.push(v);
        else if (v !== null && typeof v === "object" && !(v instanceof Uint8Array))
          texts.push(JSON.stringify(v));
  return texts.join("\n");
}

describe("the provider list", () => {
  test("names every supported provider, none configured yet", async () => {
    const res = await ctx.call("GET", LIST, { params: { app_id: app.id } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { provider: "apple", display_name: "Apple", configured: false, enabled: false, updated_at: null },
      { provider: "google", display_name: "Google", configured: false, enabled: false, updated_at: null },
      { provider: "github", display_name: "GitHub", configured: false, enabled: false, updated_at: null },
      {
        provider: "oidc",
        display_name: "OpenID Connect",
        configured: false,
        enabled: false,
        updated_at: null,
      },
    ]);
  });
});

describe("writing a config", () => {
  test("github: stored disabled by default, the secret sealed and shown only as a flag", async () => {
    const res = await put("github", { config: { client_id: "Iv1.abc", client_secret: SECRET } });
    expect(res.status).toBe(200);
    expect(res.body.enabled).toBe(false);
    expect(res.body.config).toEqual({ client_id: "Iv1.abc", client_secret_present: true });
    expect(res.text).not.toContain(SECRET);
    expect(await everyStoredText()).not.toContain(SECRET);
    const row = (
      await queryRows(ctx, "SELECT secret_id, config FROM identity_providers WHERE app_id = ?", app.id)
    )[0]!;
    expect(row.secret_id).toBeString();
    expect(String(row.config)).not.toContain("client_secret");
    const audit = await auditRows(ctx, { app_id: app.id, action: "identity_provider.created" });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.details).toEqual({
      provider: "github",
      enabled: false,
      fields: ["client_id"],
      secret_replaced: true,
    });
    expect(JSON.stringify(audit)).not.toContain(SECRET);
    expect(ctx.log.lines.join("\n")).not.toContain(SECRET);
  });

  test("a later write may leave the secret out (it stays) and flips enabled; the list shows it", async () => {
    const res = await put("github", { config: { client_id: "Iv1.def" }, enabled: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      enabled: true,
      config: { client_id: "Iv1.def", client_secret_present: true },
    });
    const got = await get("github");
    expect(got.status).toBe(200);
    expect(got.body.config).toEqual({ client_id: "Iv1.def", client_secret_present: true });
    const list = await ctx.call("GET", LIST, { params: { app_id: app.id } });
    expect(list.body.find((p: { provider: string }) => p.provider === "github")).toMatchObject({
      configured: true,
      enabled: true,
    });
    expect(await (await ctx.deps.providerConfigs.resolve(app.id, "github")).secret()).toBe(SECRET);
    expect(await auditRows(ctx, { app_id: app.id, action: "identity_provider.updated" })).toHaveLength(1);
  });

  test("google with native client ids and an issuer override", async () => {
    const res = await put("google", {
      config: {
        client_id: "web.apps.googleusercontent.com",
        client_secret: "g-secret-123456",
        native_client_ids: ["ios.apps.googleusercontent.com"],
        issuer: "http://127.0.0.1:9999",
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.config).toEqual({
      client_id: "web.apps.googleusercontent.com",
      native_client_ids: ["ios.apps.googleusercontent.com"],
      issuer: "http://127.0.0.1:9999",
      client_secret_present: true,
    });
  });

  test("apple: the .p8 key is checked to be an ES256 key and reported as private_key_present", async () => {
    const config = {
      service_id: "com.example.web",
      bundle_ids: ["com.example.ios"],
      team_id: "ABCDE12345",
      key_id: "KEY1234567",
    };
    const bad = await put("apple", {
      config: { ...config, private_key_pem: "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("VALIDATION_ERROR");
    expect(bad.body.details[0].field).toBe("config.private_key_pem");
    const res = await put("apple", { config: { ...config, private_key_pem: applePem } });
    expect(res.status).toBe(200);
    expect(res.body.config).toEqual({ ...config, private_key_present: true });
    expect(res.text).not.toContain("PRIVATE KEY");
    expect(await everyStoredText()).not.toContain(applePem.split("\n")[1]!);
  });

  test("oidc (appliance kind): issuer, scopes and display name; the display name shows in the list", async () => {
    const res = await put(
      "oidc",
      {
        config: {
          issuer: "https://keycloak.example.com/realms/acme",
          client_id: "heimdall",
          client_secret: "kc-secret-123456",
          scopes: ["openid", "email"],
          display_name: "Acme SSO",
        },
        enabled: true,
      },
      { unchecked: true },
    );
    expect(res.status).toBe(200);
    expect(res.body.config.client_secret_present).toBe(true);
    const list = await ctx.call("GET", LIST, { params: { app_id: app.id } });
    expect(list.body.find((p: { provider: string }) => p.provider === "oidc")).toMatchObject({
      display_name: "Acme SSO",
      configured: true,
      enabled: true,
    });
  });

  const invalid: [string, string, unknown, string][] = [
    ["github without a secret", "github", { config: { client_id: "x" } }, "config.client_secret"],
    [
      "google with an http issuer off loopback",
      "google",
      { config: { client_id: "x", client_secret: "y", issuer: "http://idp.example.com" } },
      "config.issuer",
    ],
    ["oidc without an issuer", "oidc", { config: { client_id: "x", client_secret: "y" } }, "config.issuer"],
    [
      "oidc issuer with credentials",
      "oidc",
      { config: { issuer: "https://u:p@idp.example.com", client_id: "x", client_secret: "y" } },
      "config.issuer",
    ],
    [
      "an unknown config field",
      "github",
      { config: { client_id: "x", client_secret: "y", tenant: "z" } },
      "config.tenant",
    ],
    [
      "apple with a malformed team id",
      "apple",
      { config: { service_id: "s", team_id: "abc", key_id: "KEY1234567", private_key_pem: "x" } },
      "config.team_id",
    ],
    ["no config at all", "github", { enabled: true }, "config"],
  ];
  test.each(invalid)("%s → 400 VALIDATION_ERROR naming the field", async (_name, provider, body, field) => {
    const res = await put(provider, body, { unchecked: provider === "oidc", appId: bare.id });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
  });
});

describe("unknown providers, absent configs, delete", () => {
  test("an unknown provider id is 400 UNKNOWN_PROVIDER on read, write and delete", async () => {
    for (const method of ["GET", "PUT", "DELETE"] as const) {
      const res = await ctx.call(method, ONE, {
        params: { app_id: app.id, provider: "facebook" },
        body: method === "PUT" ? { config: {} } : undefined,
        unchecked: true,
      });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("UNKNOWN_PROVIDER");
    }
  });

  test("reading a provider without a config is 404 PROVIDER_NOT_CONFIGURED", async () => {
    const res = await ctx.call("GET", ONE, { params: { app_id: bare.id, provider: "apple" } });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("PROVIDER_NOT_CONFIGURED");
  });

  test("delete: 204, the sealed secret destroyed, audited; again 204 with no second row", async () => {
    const before = (
      await queryRows(
        ctx,
        "SELECT secret_id FROM identity_providers WHERE app_id = ? AND provider = 'github'",
        app.id,
      )
    )[0]!;
    const res = await ctx.call("DELETE", ONE, { params: { app_id: app.id, provider: "github" } });
    expect(res.status).toBe(204);
    expect(
      await queryRows(ctx, "SELECT id FROM vault_secrets WHERE id = ?", String(before.secret_id)),
    ).toHaveLength(0);
    expect((await get("github")).status).toBe(404);
    const again = await ctx.call("DELETE", ONE, { params: { app_id: app.id, provider: "github" } });
    expect(again.status).toBe(204);
    expect(await auditRows(ctx, { app_id: app.id, action: "identity_provider.deleted" })).toHaveLength(1);
  });

  test("a PAK allowed only heimdall.read may list and read but not write or delete", async () => {
    const { token: pak } = await insertPak(ctx, [allow(["heimdall.read"])]);
    const list = await ctx.call("GET", LIST, { params: { app_id: app.id }, auth: { pak } });
    expect(list.status).toBe(200);
    const write = await put("github", { config: { client_id: "x", client_secret: "y" } }, { auth: { pak } });
    expect(write.status).toBe(403);
    const del = await ctx.call("DELETE", ONE, {
      params: { app_id: app.id, provider: "google" },
      auth: { pak },
    });
    expect(del.status).toBe(403);
    expect((await get("google")).status).toBe(200);
  });
});

describe("first writes racing", () => {
  // On PostgreSQL each PUT's transaction reads "not configured" before either commits; the loser's insert
  // must not surface as a 500, but land as the update it would have been a moment later.
  test("concurrent PUTs of one provider all succeed: one row, one sealed secret, one created row", async () => {
    const raced = await createApp(ctx, "fedcfg-race");
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        put(
          "github",
          { config: { client_id: `Iv1.race${i}`, client_secret: `${SECRET}-${i}` } },
          { appId: raced.id },
        ),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const rows = await queryRows(
      ctx,
      `SELECT secret_id FROM identity_providers WHERE app_id = '${raced.id}' AND provider = 'github'`,
    );
    expect(rows).toHaveLength(1);
    // Every replaced secret was destroyed: only the surviving row's is still in the vault.
    const sealed = await queryRows(ctx, `SELECT id FROM vault_secrets WHERE id = '${rows[0]!.secret_id}'`);
    expect(sealed).toHaveLength(1);
    const actions = (await auditRows(ctx, { app_id: raced.id }))
      .map((r) => r.action)
      .filter((a) => a.startsWith("identity_provider."));
    expect(actions.sort()).toEqual([
      "identity_provider.created",
      "identity_provider.updated",
      "identity_provider.updated",
      "identity_provider.updated",
    ]);
  });
});
