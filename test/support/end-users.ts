/** @module Test helpers for end users: sign up and sign in through the real Consumer API, and read the results. */
import type { SQLQueryBindings } from "bun:sqlite";
import { expect } from "bun:test";
import { decodeJwt } from "jose";
import type { TestContext } from "./harness.ts";

export interface EndUserTokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  /** `sub` of the access token: the account id. */
  userId: string;
  /** `sid` of the access token: the session id. */
  sessionId: string;
}

export interface SignUpInput {
  username: string;
  email: string;
  password: string;
  display_name?: string;
}

/** A password every default policy accepts. */
export const GOOD_PASSWORD = "Tangerine-Orbit-47-Lantern";

function withIds(body: Omit<EndUserTokens, "userId" | "sessionId">): EndUserTokens {
  const claims = decodeJwt(body.access_token);
  return { ...body, userId: claims.sub as string, sessionId: claims.sid as string };
}

/** `POST /{slug}/v1/auth/signup`; fails the test unless it answers 200. */
export async function signUp(
  ctx: TestContext,
  slug: string,
  input: SignUpInput,
  opts: { pak?: string } = {},
): Promise<EndUserTokens> {
  const res = await ctx.call("POST", "/{app_slug}/v1/auth/signup", {
    params: { app_slug: slug },
    body: input,
    auth: opts.pak ? { pak: opts.pak } : null,
  });
  if (res.status !== 200) throw new Error(`sign-up failed: ${res.status} ${res.text}`);
  return withIds(res.body);
}

/** `POST /{slug}/v1/auth/signin`; fails the test unless it answers 200. */
export async function signIn(
  ctx: TestContext,
  slug: string,
  identifier: string,
  password: string,
): Promise<EndUserTokens> {
  const res = await ctx.call("POST", "/{app_slug}/v1/auth/signin", {
    params: { app_slug: slug },
    body: { identifier, password },
    auth: null,
  });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${res.text}`);
  return withIds(res.body);
}

/** Marks the account's primary email verified, as the verification flow would. */
export function verifyPrimaryEmail(ctx: TestContext, userId: string): void {
  ctx.deps.db.$client
    .query(
      "UPDATE end_user_contacts SET verified_at = ? WHERE user_id = ? AND type = 'email' AND is_primary = 1",
    )
    .run(ctx.clock.now(), userId);
}

/** One row of a raw SQL query, keyed by SQLite column name. */
export type DbRow = Record<string, unknown>;

/** The first row of `sql`, or undefined. */
export function queryRow(ctx: TestContext, sql: string, ...params: SQLQueryBindings[]): DbRow | undefined {
  return (ctx.deps.db.$client.query(sql).get(...params) as DbRow | null) ?? undefined;
}

export function queryRows(ctx: TestContext, sql: string, ...params: SQLQueryBindings[]): DbRow[] {
  return ctx.deps.db.$client.query(sql).all(...params) as DbRow[];
}

/** Patches the app's auth config through the Admin API. */
export async function setAuthConfig(
  ctx: TestContext,
  appId: string,
  patch: Record<string, unknown>,
): Promise<void> {
  const res = await ctx.call("PATCH", "/v1/apps/{app_id}/auth-config", {
    params: { app_id: appId },
    body: patch,
  });
  expect(res.status).toBe(200);
}
