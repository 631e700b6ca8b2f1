/** @module Audit row size: a token grant's row carries what an auditor needs once, not twice. */
import { expect, test } from "bun:test";
import { auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext } from "../../support/harness.ts";

test("m2m.token_issued names the client once (actor_id), with the granted scopes, method, secret and lifetime", async () => {
  const ctx = await createTestContext();
  const app = await createApp(ctx, "row-size");
  const created = await ctx.call("POST", "/v1/apps/{app_id}/credentials", {
    params: { app_id: app.id },
    body: { name: "svc", scopes: ["user.read", "user.list"] },
  });
  expect(created.status).toBe(201);
  const client = created.body as { id: string; client_id: string; client_secret: string };
  const res = await ctx.call("POST", "/{app_slug}/v1/oauth/token", {
    params: { app_slug: app.slug },
    raw: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: client.client_id,
      client_secret: client.client_secret,
    }).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    auth: null,
  });
  expect(res.status).toBe(200);
  const row = (await auditRows(ctx, { app_id: app.id, action: "m2m.token_issued" }))[0]!;
  expect(row.actor_id).toBe(client.client_id);
  expect(row.resource_id).toBe(client.id);
  expect(row.details).toEqual({
    scopes: ["user.read", "user.list"],
    auth_method: "client_secret_post",
    secret: "current",
    expires_in: res.body.expires_in,
  });
  expect(await ctx.deps.audit.verify()).toMatchObject({ ok: true });
});
