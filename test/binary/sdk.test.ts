/**
 * @module The official Node SDK (`@productcraft/heimdall` 0.4.1), unchanged, against the compiled binary:
 * apps, roles and permissions, end-user administration and `verify.authorize`, with `baseUrl` pointed here;
 * every body the SDK sends for the methods called here is accepted, and the README's camelCase
 * `authConfig.update({ passwordMinLength: 12 })` is refused naming the field it meant.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Heimdall, HeimdallHttpError } from "@productcraft/heimdall";
import { type Appliance, startAppliance } from "./support.ts";

const PAK = `pcft_live_${"K".repeat(43)}`;
const SLUG = "sdk-app";
const PASSWORD = "Difference-Engine-1822";
let appliance: Appliance;
let baseUrl = "";

beforeAll(async () => {
  appliance = await startAppliance("sdk", PAK);
  baseUrl = appliance.baseUrl;
}, 60_000);

afterAll(async () => {
  if (appliance) expect(await appliance.dispose()).toBe(0);
});

describe("@productcraft/heimdall 0.4.1 against the appliance", () => {
  test("roles, permissions, end users and authorize, end to end", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: the SDK's generated types are not what this test checks.
    const sdk: any = new Heimdall({ baseUrl, auth: { type: "apiKey", key: PAK } });

    const app = await sdk.apps.create({ slug: SLUG, display_name: "SDK app" });
    expect(app).toMatchObject({ slug: SLUG, status: "active" });
    const admin = sdk.app(app.id);
    const consumer = sdk.consumer(SLUG);

    const signup = await fetch(`${baseUrl}/${SLUG}/v1/auth/signup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "babbage", email: "babbage@example.test", password: PASSWORD }),
    });
    expect(signup.status).toBe(200);
    const { access_token: accessToken } = (await signup.json()) as { access_token: string };
    // The SDK's own verifier accepts the appliance's tokens (issuer = baseUrl/slug, audience = slug).
    const claims = await consumer.verifyToken(accessToken);
    const userId = claims.sub as string;

    const catalogue = await admin.permissions.list();
    // The documented catalogue, role.revoke and token.create included, and Heimdall's additions.
    expect(catalogue.map((p: { resource: string; action: string }) => `${p.resource}.${p.action}`)).toEqual(
      expect.arrayContaining(["user.read", "role.revoke", "token.create", "user.status"]),
    );

    const role = await admin.roles.create({ name: "auditor", description: "Reads users" });
    expect(role).toMatchObject({ name: "auditor", is_system: false });
    await admin.roles.setPermissions("auditor", { permissions: ["user.read", "user.list"] });
    await admin.roles.assign({ account_id: userId, role: "auditor" });

    const page = await admin.endUsers.list({ search: "babbage" });
    expect(page.data).toHaveLength(1);
    expect(page.data[0]).toMatchObject({ id: userId, role: "auditor", status: "active" });

    const allowed = await consumer.verify.authorize({ token: accessToken, permission: "user.read" });
    expect(allowed).toMatchObject({ authorized: true, missing_permissions: [] });
    const refused = await consumer.verify.authorize({
      token: accessToken,
      permissions: ["user.read", "user.delete"],
    });
    expect(refused).toMatchObject({ authorized: false, missing_permissions: ["user.delete"] });

    await admin.endUsers.updateStatus(userId, { status: "suspended" });
    const suspended = await consumer.verify.authorize({ token: accessToken, permission: "user.read" });
    expect(suspended.authorized).toBe(false);
    expect(suspended.error).toBe("ACCOUNT_SUSPENDED");
  }, 60_000);

  test("every body the SDK sends is accepted: nothing it sends is an unknown field", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    const sdk: any = new Heimdall({ baseUrl, auth: { type: "apiKey", key: PAK } });
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    const anonymous: any = new Heimdall({ baseUrl });
    const slug = "sdk-bodies";

    const app = await sdk.apps.create({ slug, display_name: "SDK bodies" });
    const admin = sdk.app(app.id);
    const updated = await admin.update({ display_name: "SDK bodies, renamed", metadata: { tier: "gold" } });
    expect(updated).toMatchObject({ display_name: "SDK bodies, renamed", metadata: { tier: "gold" } });
    const config = await admin.authConfig.update({ password_min_length: 14, signup_enabled: true });
    expect(config).toMatchObject({ password_min_length: 14, signup_enabled: true });

    const permission = await admin.permissions.create({
      resource: "invoice",
      action: "read",
      description: "Reads",
    });
    expect(permission).toMatchObject({ resource: "invoice", action: "read" });
    await admin.roles.create({ name: "clerk", description: "Invoices" });
    expect(await admin.roles.update("clerk", { description: "Reads invoices" })).toMatchObject({
      description: "Reads invoices",
    });
    await admin.roles.setPermissions("clerk", { permissions: ["invoice.read"] });
    const key = await admin.apiKeys.create({ name: "ci", permissions: ["user.read"] });
    expect(key.key).toStartWith("hdk_live_");

    const client = await admin.credentials.create({ name: "backend-svc" });
    await admin.credentials.update(client.client_id, { is_active: true });
    await admin.credentials.setScopes(client.client_id, { permissions: ["user.read"] });
    expect(await admin.credentials.get(client.client_id)).toMatchObject({
      is_active: true,
      scopes: [{ resource: "user", action: "read" }],
    });
    const rotated = await admin.credentials.rotateSecret(client.client_id);
    const m2m = await anonymous.consumer(slug).oauth.clientCredentials({
      grant_type: "client_credentials",
      client_id: client.client_id,
      client_secret: rotated.client_secret,
    });
    expect(m2m.token_type).toBe("Bearer");

    const consumer = anonymous.consumer(slug);
    const signedUp = await consumer.auth.signup({
      username: "lovelace",
      email: "ada@example.test",
      password: PASSWORD,
      display_name: "Ada",
    });
    const userId = (await consumer.verifyToken(signedUp.access_token)).sub as string;
    const minted = await sdk.consumer(slug).auth.requestVerification({ email: "ada@example.test" });
    expect(await consumer.auth.verify({ code: minted.code })).toMatchObject({ account_id: userId });
    const reset = await sdk.consumer(slug).auth.requestReset({ email: "ada@example.test" });
    await consumer.auth.resetPassword({ code: reset.code, new_password: `${PASSWORD}-2` });

    const session = await consumer.auth.signin({ identifier: "lovelace", password: `${PASSWORD}-2` });
    const refreshed = await consumer.auth.refresh({ refresh_token: session.refresh_token });
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    const asUser: any = new Heimdall({ baseUrl, auth: { type: "bearer", token: refreshed.access_token } });
    expect(await asUser.consumer(slug).me.updateProfile({ display_name: "Ada L." })).toMatchObject({
      display_name: "Ada L.",
    });

    await admin.endUsers.update(userId, { display_name: "Ada Lovelace" });
    await admin.endUsers.updateRole(userId, { role_name: "clerk" });
    const checks = sdk.consumer(slug).verify;
    const reissued = await consumer.auth.signin({ identifier: "lovelace", password: `${PASSWORD}-2` });
    expect(await checks.verify({ token: reissued.access_token })).toMatchObject({ valid: true });
    const batch = await checks.authorizeBatch({
      token: reissued.access_token,
      checks: [
        { id: "one", permission: "invoice.read" },
        { id: "all", permissions: ["invoice.read", "user.delete"] },
      ],
    });
    expect(JSON.stringify(batch)).toContain("user.delete");
    await consumer.auth.logout({ refresh_token: reissued.refresh_token });
  }, 60_000);

  test("the README's authConfig.update({ passwordMinLength: 12 }) is a 400 naming password_min_length", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    const sdk: any = new Heimdall({ baseUrl, auth: { type: "apiKey", key: PAK } });
    const app = await sdk.apps.create({ slug: "sdk-readme", display_name: "SDK README" });
    const admin = sdk.app(app.id);
    const before = await admin.authConfig.get();

    const error = await admin.authConfig.update({ passwordMinLength: 12 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeimdallHttpError);
    expect(error.status).toBe(400);
    expect(error.data).toMatchObject({
      statusCode: 400,
      code: "VALIDATION_ERROR",
      details: [{ field: "passwordMinLength", reason: "unknown field; did you mean password_min_length?" }],
    });
    // Nothing was applied: the setting is what it was.
    expect(await admin.authConfig.get()).toEqual(before);
  }, 60_000);
});
