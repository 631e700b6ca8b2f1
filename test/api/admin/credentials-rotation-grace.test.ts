/** @module M2M secret rotation with a grace period: the old secret keeps working until its window ends, then never again. */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { HOUR, SECOND } from "../../../src/core/clock.ts";
import { sha256Hex } from "../../../src/core/crypto.ts";
import type { Tables } from "../../../src/db/client.ts";
import { MAX_ROTATION_GRACE_SECONDS } from "../../../src/m2m/model.ts";
import { type AppBody, auditRows, createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { expectResponseMatches } from "../../support/openapi.ts";
import { detailFields, errCode, expectLastAudit } from "./fixtures.ts";

type Client = { id: string; client_id: string; client_secret: string };
type Rotated = { client_id: string; client_secret: string; previous_secret_expires_at: string | null };

let ctx: TestContext;
// The context's tables (PostgreSQL's twins on a PostgreSQL run), taken once the context exists.
let { m2mClients } = {} as Tables;
let app: AppBody;

const BASE = "/v1/apps/{app_id}/credentials";
const ONE = "/v1/apps/{app_id}/credentials/{client_id}";
const ROTATE = `${ONE}/rotate`;
const TOKEN = "/{app_slug}/v1/oauth/token";

beforeAll(async () => {
  ctx = await createTestContext();
  ({ m2mClients } = ctx.deps.db.tables);
  app = await createApp(ctx, "grace-app");
});

async function createClient(name: string): Promise<Client> {
  const res = await ctx.call<Client>("POST", BASE, {
    params: { app_id: app.id },
    body: { name, scopes: ["user.read"] },
  });
  if (res.status !== 201) throw new Error(`create client failed: ${res.status} ${res.text}`);
  return res.body;
}

async function rotate(client: Client, opts: { body?: unknown; query?: Record<string, string> } = {}) {
  return ctx.call<Rotated>("POST", ROTATE, {
    params: { app_id: app.id, client_id: client.client_id },
    body: opts.body,
    query: opts.query,
  });
}

/** The token endpoint's status for a client_secret_post grant with this secret. */
async function grant(clientId: string, secret: string): Promise<number> {
  const res = await ctx.call("POST", TOKEN, {
    params: { app_slug: app.slug },
    raw: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: secret,
    }).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded" },
    auth: null,
    unchecked: true,
  });
  if (res.status === 200) expectResponseMatches("heimdall", "POST", TOKEN, 200, res.body, { strict: true });
  else expect(res.body.error).toBe("invalid_client");
  return res.status;
}

const lastDetails = async (clientRowId: string, action: string) =>
  (await auditRows(ctx, { resource_id: clientRowId, action })).at(-1)?.details;

const rowOf = async (clientId: string) =>
  (await ctx.deps.db.select().from(m2mClients).where(eq(m2mClients.clientId, clientId)).limit(1))[0]!;

/** The rotate response: the contract's fields exactly (strict), plus the one documented addition. */
function expectRotateShape(body: Rotated) {
  const { previous_secret_expires_at, ...contractPart } = body;
  expectResponseMatches("heimdall", "POST", ROTATE, 200, contractPart, { strict: true });
  expect(Object.keys(body).sort()).toEqual(["client_id", "client_secret", "previous_secret_expires_at"]);
  return previous_secret_expires_at;
}

describe("rotation with a grace period", () => {
  test("the old secret works until the window ends, then is refused; the response and audit say when", async () => {
    const client = await createClient("graceful");
    expect(await grant(client.client_id, client.client_secret)).toBe(200);
    expect(await lastDetails(client.id, "m2m.token_issued")).toMatchObject({ secret: "current" });

    const res = await rotate(client, { body: { grace_period_seconds: 3600 } });
    expect(res.status).toBe(200);
    const until = new Date(ctx.clock.now() + HOUR).toISOString();
    expect(expectRotateShape(res.body)).toBe(until);
    const row = await rowOf(client.client_id);
    expect(row.secretHash).toBe(sha256Hex(res.body.client_secret));
    expect(row.prevSecretHash).toBe(sha256Hex(client.client_secret));
    const audit = await expectLastAudit(ctx, app.id, "m2m_client.secret_rotated", "pak");
    expect(audit.details).toMatchObject({ grace_period_seconds: 3600, previous_secret_expires_at: until });
    expect(JSON.stringify(audit.details)).not.toContain(res.body.client_secret);

    // Both secrets work during the window, and the issuance rows say which one was used.
    expect(await grant(client.client_id, client.client_secret)).toBe(200);
    expect(await lastDetails(client.id, "m2m.token_issued")).toMatchObject({ secret: "previous" });
    expect(await grant(client.client_id, res.body.client_secret)).toBe(200);
    expect(await lastDetails(client.id, "m2m.token_issued")).toMatchObject({ secret: "current" });

    ctx.clock.advance(HOUR - SECOND);
    expect(await grant(client.client_id, client.client_secret)).toBe(200);

    ctx.clock.advance(SECOND);
    expect(await grant(client.client_id, client.client_secret)).toBe(401);
    expect(await lastDetails(client.id, "m2m.token_failed")).toMatchObject({
      reason: "previous_secret_expired",
    });
    expect(await grant(client.client_id, res.body.client_secret)).toBe(200);
  });

  test("no grace (the default, and what an SDK sending no body gets): the old secret dies at once", async () => {
    const client = await createClient("no grace");
    const res = await rotate(client);
    expect(res.status).toBe(200);
    expect(expectRotateShape(res.body)).toBeNull();
    expect((await rowOf(client.client_id)).prevSecretHash).toBeNull();
    expect(await grant(client.client_id, client.client_secret)).toBe(401);
    expect(await lastDetails(client.id, "m2m.token_failed")).toMatchObject({ reason: "invalid_secret" });
    expect(await grant(client.client_id, res.body.client_secret)).toBe(200);

    const zero = await rotate(client, { body: { grace_period_seconds: 0 } });
    expect(zero.status).toBe(200);
    expect(zero.body.previous_secret_expires_at).toBeNull();
    expect(await grant(client.client_id, res.body.client_secret)).toBe(401);
    expect((await expectLastAudit(ctx, app.id, "m2m.token_failed", "m2m")).details).toMatchObject({
      reason: "invalid_secret",
    });
  });

  test("the grace period may come as a query parameter instead of a body", async () => {
    const client = await createClient("by query");
    const res = await rotate(client, { query: { grace_period_seconds: "60" } });
    expect(res.status).toBe(200);
    expect(res.body.previous_secret_expires_at).toBe(new Date(ctx.clock.now() + 60 * SECOND).toISOString());
    expect(await grant(client.client_id, client.client_secret)).toBe(200);
    ctx.clock.advance(60 * SECOND);
    expect(await grant(client.client_id, client.client_secret)).toBe(401);
  });

  test("the maximum, 7 days, is accepted", async () => {
    const client = await createClient("a week");
    const res = await rotate(client, { body: { grace_period_seconds: MAX_ROTATION_GRACE_SECONDS } });
    expect(res.status).toBe(200);
    expect(res.body.previous_secret_expires_at).toBe(new Date(ctx.clock.now() + 7 * 24 * HOUR).toISOString());
  });

  test("a second rotation replaces the previous secret: only one previous secret is ever kept", async () => {
    const client = await createClient("twice");
    const first = await rotate(client, { body: { grace_period_seconds: 3600 } });
    const second = await rotate(client, { body: { grace_period_seconds: 3600 } });
    expect(second.status).toBe(200);
    expect((await expectLastAudit(ctx, app.id, "m2m_client.secret_rotated", "pak")).details).toMatchObject({
      earlier_secret_ended: true,
    });
    expect(await grant(client.client_id, client.client_secret)).toBe(401);
    expect(await grant(client.client_id, first.body.client_secret)).toBe(200);
    expect(await lastDetails(client.id, "m2m.token_issued")).toMatchObject({ secret: "previous" });
    expect(await grant(client.client_id, second.body.client_secret)).toBe(200);
  });

  test("deactivating ends the grace window for good; reactivating does not revive the old secret", async () => {
    const client = await createClient("deactivated");
    const rotated = await rotate(client, { body: { grace_period_seconds: 3600 } });
    const params = { app_id: app.id, client_id: client.client_id };
    expect((await ctx.call("PATCH", ONE, { params, body: { is_active: false } })).status).toBe(200);
    expect((await expectLastAudit(ctx, app.id, "m2m_client.updated", "pak")).details).toMatchObject({
      previous_secret_ended: true,
    });
    expect(await rowOf(client.client_id)).toMatchObject({ prevSecretHash: null, prevSecretExpiresAt: null });
    expect((await ctx.call("PATCH", ONE, { params, body: { is_active: true } })).status).toBe(200);
    expect(await grant(client.client_id, client.client_secret)).toBe(401);
    expect(await grant(client.client_id, rotated.body.client_secret)).toBe(200);
  });

  test("deleting the client ends both secrets", async () => {
    const client = await createClient("deleted");
    const rotated = await rotate(client, { body: { grace_period_seconds: 3600 } });
    const params = { app_id: app.id, client_id: client.client_id };
    expect((await ctx.call("DELETE", ONE, { params })).status).toBe(204);
    expect(await grant(client.client_id, client.client_secret)).toBe(401);
    expect(await grant(client.client_id, rotated.body.client_secret)).toBe(401);
  });
});

describe("invalid grace periods → 400 VALIDATION_ERROR, nothing rotated", () => {
  test.each([
    ["more than 7 days", { body: { grace_period_seconds: MAX_ROTATION_GRACE_SECONDS + 1 } }],
    ["negative", { body: { grace_period_seconds: -1 } }],
    ["a fraction", { body: { grace_period_seconds: 1.5 } }],
    ["a string in the body", { body: { grace_period_seconds: "60" } }],
    ["more than 7 days by query", { query: { grace_period_seconds: "604801" } }],
    ["not a number by query", { query: { grace_period_seconds: "1h" } }],
    [
      "body and query disagree",
      { body: { grace_period_seconds: 60 }, query: { grace_period_seconds: "61" } },
    ],
  ])("%s", async (_name, opts) => {
    const client = await createClient(`bad ${_name}`);
    const before = await rowOf(client.client_id);
    const res = await rotate(client, opts as { body?: unknown; query?: Record<string, string> });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toEqual(["grace_period_seconds"]);
    expect(await rowOf(client.client_id)).toEqual(before);
    expect(await grant(client.client_id, client.client_secret)).toBe(200);
  });
});
