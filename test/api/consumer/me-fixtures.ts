/** @module Fixtures for the `/me*` tests: end users with a password, a session and an access token made directly in the store. */

import { eq } from "drizzle-orm";
import { first } from "../../../src/db/query.ts";
import { insertEndUser, openSession, type TestApp } from "../../support/fixtures.ts";
import type { TestContext } from "../../support/harness.ts";

export type { TestApp };

export interface TestUser {
  id: string;
  username: string;
  password: string | null;
  /** The primary email contact, when the user was given one. */
  emailContactId: string | null;
  sessionId: string;
  token: string;
}

export const DEFAULT_PASSWORD = "a perfectly fine passphrase";

/**
 * Inserts an account (with a primary email, verified unless told otherwise) and signs it in. `password: null`
 * makes an account without a password credential, as an operator would provision it.
 */
export async function createUser(
  ctx: TestContext,
  app: TestApp,
  username: string,
  opts: {
    password?: string | null;
    email?: string | null;
    emailVerified?: boolean;
    displayName?: string;
  } = {},
): Promise<TestUser> {
  const password = opts.password === undefined ? DEFAULT_PASSWORD : opts.password;
  const { id, emailContactId } = await insertEndUser(ctx, app, username, { ...opts, password });
  const { sessionId, token } = await openSession(ctx, app, id);
  return { id, username, password, emailContactId, sessionId, token };
}

export const bearer = (u: { token: string }) => ({ bearer: u.token });

export function sessionRow(ctx: TestContext, id: string) {
  const { endUserSessions } = ctx.deps.db.tables;
  return first(ctx.deps.db.select().from(endUserSessions).where(eq(endUserSessions.id, id)).limit(1));
}
