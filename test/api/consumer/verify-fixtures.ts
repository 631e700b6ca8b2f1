/** @module Fixtures for the introspection, verify/authorize and admin-lane tests: accounts, sessions, M2M clients and tokens made directly. */
import { expect } from "bun:test";
import { eq } from "drizzle-orm";
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

export async function setUser(
  ctx: TestContext,
  userId: string,
  set: { status?: string; role?: string },
): Promise<void> {
  const { endUsers } = ctx.deps.db.tables;
  type Status = (typeof endUsers.$inferInsert)["status"];
  if (set.status)
    await ctx.deps.db
      .update(endUsers)
      .set({ status: set.status as Status })
      .where(eq(endUsers.id, userId));
  if (set.role) await ctx.deps.db.update(endUsers).set({ role: set.role }).where(eq(endUsers.id, userId));
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
  await ctx.deps.db.insert(ctx.deps.db.tables.m2mClients).values({
    id: newId(ctx.clock),
    appId: app.id,
    clientId,
    name: "test client",
    secretHash: sha256Hex(crypto.randomUUID()),
    isActive: true,
    scopes,
    createdAt: now,
    updatedAt: now,
  });
  const { token } = await ctx.deps.tokens.issueM2m(app, { clientId, scopes });
  return { clientId, token };
}

export async function setM2mClientActive(ctx: TestContext, clientId: string, active: boolean): Promise<void> {
  const { m2mClients } = ctx.deps.db.tables;
  await ctx.deps.db.update(m2mClients).set({ isActive: active }).where(eq(m2mClients.clientId, clientId));
}

export async function deleteM2mClient(ctx: TestContext, clientId: string): Promise<void> {
  const { m2mClients } = ctx.deps.db.tables;
  await ctx.deps.db.delete(m2mClients).where(eq(m2mClients.clientId, clientId));
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
