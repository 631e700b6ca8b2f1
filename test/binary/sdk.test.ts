/**
 * @module The official Node SDK (`@productcraft/heimdall` 0.4.1), unchanged, against the compiled binary:
 * apps, roles and permissions, end-user administration and `verify.authorize`, with `baseUrl` pointed here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Heimdall } from "@productcraft/heimdall";
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
    expect(catalogue.map((p: { resource: string; action: string }) => `${p.resource}.${p.action}`)).toContain(
      "user.read",
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
});
