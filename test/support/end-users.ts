/** @module Test helpers for end users: sign up and sign in through the real Consumer API, and read the results. */
import { expect } from "bun:test";
import { type SQL, sql } from "drizzle-orm";
import { decodeJwt } from "jose";
import { exec, rows } from "../../src/db/query.ts";
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
export async function verifyPrimaryEmail(ctx: TestContext, userId: string): Promise<void> {
  await exec(
    ctx.deps.db,
    sql`UPDATE end_user_contacts SET verified_at = ${ctx.clock.now()}
        WHERE user_id = ${userId} AND type = 'email' AND is_primary = ${true}`,
  );
}

/**
 * One row of a raw SQL query, keyed by column name, as the engine returns it: on PostgreSQL bigint columns
 * and `count(*)` arrive as strings, booleans as true/false (SQLite: 1/0) and jsonb parsed (SQLite: JSON text).
 * Wrap such values in `Number()`/`Boolean()` or select them with a builder.
 */
export type DbRow = Record<string, unknown>;

/** A value bound to a `?` of a raw query string. */
export type QueryParam = string | number | boolean | null;

/** `query` as a drizzle `sql` template: a string's `?` placeholders bind `params` in order (none may be quoted). */
function toSql(query: SQL | string, params: QueryParam[]): SQL {
  if (typeof query !== "string") return query;
  const parts = query.split("?");
  if (parts.length - 1 !== params.length)
    throw new Error(`query has ${parts.length - 1} placeholders but ${params.length} params`);
  const out = sql.empty();
  parts.forEach((part, i) => {
    out.append(sql.raw(part));
    if (i < params.length) out.append(sql`${params[i]}`);
  });
  return out;
}

/** The first row of `query` (a `sql` template, or a string with `?` placeholders), or undefined. */
export async function queryRow(
  ctx: TestContext,
  query: SQL | string,
  ...params: QueryParam[]
): Promise<DbRow | undefined> {
  return (await rows<DbRow>(ctx.deps.db, toSql(query, params)))[0];
}

/** Every row of `query` (a `sql` template, or a string with `?` placeholders). */
export async function queryRows(
  ctx: TestContext,
  query: SQL | string,
  ...params: QueryParam[]
): Promise<DbRow[]> {
  return rows<DbRow>(ctx.deps.db, toSql(query, params));
}

/** Every row of `query`, with booleans as SQLite gives them (1/0), so one expectation holds on both engines. */
export async function queryRowsAsSqlite<T = DbRow>(
  ctx: TestContext,
  query: SQL | string,
  ...params: QueryParam[]
): Promise<T[]> {
  return (await queryRows(ctx, query, ...params)).map(
    (r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "boolean" ? Number(v) : v])) as T,
  );
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
