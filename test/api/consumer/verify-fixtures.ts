/** @module Fixtures for the introspection, verify/authorize and admin-lane tests: accounts, sessions, M2M clients and tokens made directly. */
import { expect } from "bun:test";
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import { sha256Hex } from "../../../src/core/crypto.ts";
import { newId } from "../../../src/core/ids.ts";
import { setAuthConfig } from "../../support/end-users.ts";
import { insertEndUser, openSession, type TestApp } from "../../support/fixtures.ts";
import type { TestContext } from "../../support/harness.ts";

export type { TestApp };

export interface TestEndUser {
  id: string;
  sessionId: string;
  refreshToken: string;
  token: string;
}

/**
 * Inserts an account (no password: these tests never sign in) with an optional primary email, opens a
 * session and issues an access token for it. `sessionMinutes` shortens the session to test its end.
 */
export async function createEndUser(
  ctx: TestContext,
  app: TestApp,
  username: string,
  opts: { role?: string; email?: string | null; emailVerified?: boolean; sessionMinutes?: number } = {},
): Promise<TestEndUser> {
  const { id } = await insertEndUser(ctx, app, username, opts);
  const session = await openSession(ctx, app, id, { role: opts.role, minutes: opts.sessionMinutes });
  return { id, ...session };
}

/** A fresh access token for an existing session (e.g. after the clock moved). */
export async function reissue(
  ctx: TestContext,
  app: TestApp,
  user: TestEndUser,
  role = "member",
): Promise<string> {
  const { token } = await ctx.deps.tokens.issueEndUser(app, {
    sub: user.id,
    sid: user.sessionId,
    role,
    amr: ["pwd"],
  });
  return token;
}

export function setUser(ctx: TestContext, userId: string, set: { status?: string; role?: string }): void {
  if (set.status)
    ctx.deps.db.$client.query("UPDATE end_users SET status = ? WHERE id = ?").run(set.status, userId);
  if (set.role) ctx.deps.db.$client.query("UPDATE end_users SET role = ? WHERE id = ?").run(set.role, userId);
}

export interface TestM2mClient {
  clientId: string;
  token: string;
}

/** Inserts an `m2m_clients` row and issues a token for it, as the token endpoint would. */
export async function createM2mClient(
  ctx: TestContext,
  app: TestApp,
  scopes: string[],
): Promise<TestM2mClient> {
  const clientId = `m2m_${crypto.randomUUID().replaceAll("-", "")}`;
  const now = ctx.clock.now();
  ctx.deps.db.$client
    .query(
      `INSERT INTO m2m_clients (id, app_id, client_id, name, secret_hash, is_active, scopes, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)`,
    )
    .run(
      newId(ctx.clock),
      app.id,
      clientId,
      "test client",
      sha256Hex(crypto.randomUUID()),
      JSON.stringify(scopes),
      now,
      now,
    );
  const { token } = await ctx.deps.tokens.issueM2m(app, { clientId, scopes });
  return { clientId, token };
}

export function setM2mClientActive(ctx: TestContext, clientId: string, active: boolean): void {
  ctx.deps.db.$client
    .query("UPDATE m2m_clients SET is_active = ? WHERE client_id = ?")
    .run(active ? 1 : 0, clientId);
}

export function deleteM2mClient(ctx: TestContext, clientId: string): void {
  ctx.deps.db.$client.query("DELETE FROM m2m_clients WHERE client_id = ?").run(clientId);
}

/** The same header and claims as `genuine`, signed by a key the app never had. */
export async function forge(genuine: string, override: Record<string, unknown> = {}): Promise<string> {
  const { privateKey } = await generateKeyPair("RS256");
  const header = decodeProtectedHeader(genuine);
  return new SignJWT({ ...decodeJwt(genuine), ...override })
    .setProtectedHeader({ alg: "RS256", kid: header.kid, typ: header.typ })
    .sign(privateKey);
}

/** Mints an app API key through the Admin API; returns its id and the raw key. */
export async function createApiKey(
  ctx: TestContext,
  app: TestApp,
  permissions: string[],
): Promise<{ id: string; key: string }> {
  const res = await ctx.call("POST", "/v1/apps/{app_id}/api-keys", {
    params: { app_id: app.id },
    body: { name: `key ${permissions.join(" ")}`, permissions },
  });
  expect(res.status).toBe(201);
  return { id: res.body.id, key: res.body.key };
}

/** Turns the app's permission enforcement on or off through the Admin API. */
export function setEnforcement(ctx: TestContext, app: TestApp, on: boolean): Promise<void> {
  return setAuthConfig(ctx, app.id, { enforce_app_permissions: on });
}
