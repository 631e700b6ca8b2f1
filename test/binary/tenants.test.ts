/**
 * @module Tenants through the compiled binary, as a B2B customer's backend and front end use them: the Admin API
 * and the Consumer PAK lane over raw HTTP (the SDK has no tenant methods), sign-in into a tenant and
 * `switch-tenant` with the official SDK verifying the `tid`/`trole` claims, `/me/tenants`, and a removed
 * member losing the tenant scope at the next refresh.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Heimdall } from "@productcraft/heimdall";
import { decodeJwt } from "jose";
import { type Appliance, startAppliance } from "./support.ts";

const PAK = `pcft_live_${"N".repeat(43)}`;
const SLUG = "tenants-bin";
const PASSWORD = "Difference-Engine-1822";

let appliance: Appliance;

beforeAll(async () => {
  appliance = await startAppliance("tenants", PAK);
}, 60_000);

afterAll(async () => {
  if (appliance) expect(await appliance.dispose()).toBe(0);
});

async function call(method: string, path: string, body?: unknown, bearer: string = PAK) {
  const res = await fetch(`${appliance.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: the wire bodies are asserted field by field below.
  return { status: res.status, body: (text ? JSON.parse(text) : null) as any };
}

describe("tenants against the appliance", () => {
  test("Admin and Consumer lanes, tenant-scoped tokens, switching, and a removed member's refresh", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: the SDK's generated types are not what this test checks.
    const sdk: any = new Heimdall({ baseUrl: appliance.baseUrl, auth: { type: "apiKey", key: PAK } });
    const app = await sdk.apps.create({ slug: SLUG, display_name: "Tenants" });
    const consumer = sdk.consumer(SLUG);

    // Two organisations: one by the operator (Admin API), one by the customer's backend (Consumer PAK lane).
    const acme = await call("POST", `/v1/apps/${app.id}/tenants`, { display_name: "Acme Corp" });
    expect(acme.status).toBe(201);
    expect(acme.body).toMatchObject({ slug: "acme-corp", status: "active", app_id: app.id });
    expect(acme.body.display_id).toMatch(/^tnt_[0-9a-f]{12}$/);
    const globex = await call("POST", `/${SLUG}/v1/tenants`, { display_name: "Globex", slug: "globex" });
    expect(globex.status).toBe(201);
    const byDisplayId = await call("GET", `/${SLUG}/v1/tenants/${acme.body.display_id}`);
    expect(byDisplayId.body.id).toBe(acme.body.id);

    // An end user signs up, and is added to both: owner of Acme, member of Globex.
    await consumer.auth.signup({ username: "grace", email: "grace@example.test", password: PASSWORD });
    const me = await call("GET", `/v1/apps/${app.id}/end-users?search=grace`);
    const accountId = me.body.data[0].id as string;
    const added = await call("POST", `/v1/apps/${app.id}/tenants/${acme.body.id}/members`, {
      account_id: accountId,
      role_name: "OWNER",
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ account_id: accountId, created_account: false });
    expect(added.body.membership.role_name).toBe("owner");
    const byEmail = await call("POST", `/${SLUG}/v1/tenants/${globex.body.id}/members`, {
      email: "grace@example.test",
      role_name: "member",
    });
    expect(byEmail.status).toBe(201);
    expect(byEmail.body.created_account).toBe(false);
    // The last owner of a tenant cannot be removed.
    const lastOwner = await call("DELETE", `/v1/apps/${app.id}/tenants/${acme.body.id}/members/${accountId}`);
    expect(lastOwner.status).toBe(409);
    expect(lastOwner.body.code).toBe("LAST_TENANT_OWNER");

    // Sign in into Acme: the token carries tid/trole, verified by the SDK against the JWKS.
    const signedIn = await consumer.auth.signin({
      identifier: "grace",
      password: PASSWORD,
      tenant_id: acme.body.id,
    });
    const claims = await consumer.verifyToken(signedIn.access_token);
    expect(claims).toMatchObject({ tid: acme.body.id, trole: "owner" });
    const mine = await call("GET", `/${SLUG}/v1/auth/me/tenants`, undefined, signedIn.access_token);
    expect(mine.status).toBe(200);
    expect(mine.body.data.map((t: { tenant_slug: string }) => t.tenant_slug).sort()).toEqual([
      "acme-corp",
      "globex",
    ]);

    // Switch to Globex: same session, new claims.
    const switched = await call(
      "POST",
      `/${SLUG}/v1/auth/switch-tenant`,
      { tenant_id: globex.body.display_id },
      signedIn.access_token,
    );
    expect(switched.status).toBe(200);
    const switchedClaims = await consumer.verifyToken(switched.body.access_token);
    expect(switchedClaims).toMatchObject({ tid: globex.body.id, trole: "member" });
    expect(switchedClaims.sid).toBe(decodeJwt(signedIn.access_token).sid);

    // Not a member of a third tenant: 403, and a plain sign-in carries no tenant.
    const initech = await call("POST", `/v1/apps/${app.id}/tenants`, { display_name: "Initech" });
    const refused = await call(
      "POST",
      `/${SLUG}/v1/auth/switch-tenant`,
      { tenant_id: initech.body.id },
      switched.body.access_token,
    );
    expect(refused.status).toBe(403);
    const plain = await consumer.auth.signin({ identifier: "grace", password: PASSWORD });
    expect(decodeJwt(plain.access_token).tid).toBeUndefined();

    // Removed from Globex: the next refresh loses the tenant scope.
    const removed = await call("DELETE", `/${SLUG}/v1/tenants/${globex.body.id}/members/${accountId}`);
    expect(removed.status).toBe(204);
    const refreshed = await consumer.auth.refresh({ refresh_token: switched.body.refresh_token });
    const after = decodeJwt(refreshed.access_token);
    expect(after.tid).toBeUndefined();
    expect(after.trole).toBeUndefined();

    // The tenant of this app is invisible from another app.
    const other = await sdk.apps.create({ slug: `${SLUG}-other`, display_name: "Other" });
    const hidden = await call("GET", `/v1/apps/${other.id}/tenants/${acme.body.id}`);
    expect(hidden.status).toBe(404);
    expect(hidden.body.code).toBe("TENANT_NOT_FOUND");
  }, 60_000);
});
