/** @module Fixtures for the `/me*` tests: an app, and end users with a session and an access token made directly in the store. */

import { eq } from "drizzle-orm";
import { newId } from "../../../src/core/ids.ts";
import { tx } from "../../../src/db/client.ts";
import { endUserSessions, endUsers } from "../../../src/db/schema.ts";
import type { TestApp } from "../../support/fixtures.ts";
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

/** A live session for `userId` and an access token bound to it. */
export async function openSession(
  ctx: TestContext,
  app: TestApp,
  userId: string,
  meta: { ip?: string; userAgent?: string } = {},
): Promise<{ sessionId: string; token: string }> {
  const { session } = tx(ctx.deps.db, () =>
    ctx.deps.sessions.create({
      appId: app.id,
      userId,
      amr: ["pwd"],
      durationMinutes: 7 * 24 * 60,
      maxSessions: 5,
      meta: { ip: meta.ip ?? "203.0.113.7", userAgent: meta.userAgent ?? "me-tests/1.0" },
    }),
  );
  const { token } = await ctx.deps.tokens.issueEndUser(app, {
    sub: userId,
    sid: session.id,
    role: "member",
    amr: ["pwd"],
  });
  return { sessionId: session.id, token };
}

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
  const passwordHash = password === null ? null : await ctx.deps.passwords.hash(password);
  const now = ctx.clock.now();
  const id = newId(ctx.clock);
  const email = opts.email === undefined ? `${username}@example.test` : opts.email;
  const emailContactId = email === null ? null : newId(ctx.clock);
  tx(ctx.deps.db, () => {
    ctx.deps.db
      .insert(endUsers)
      .values({
        id,
        appId: app.id,
        username,
        displayName: opts.displayName ?? null,
        passwordHash,
        createdAt: now,
        updatedAt: now,
      })
      .run();
    if (email !== null) {
      ctx.deps.db.$client
        .query(
          `INSERT INTO end_user_contacts (id, app_id, user_id, type, value, is_primary, verified_at, created_at)
           VALUES (?, ?, ?, 'email', ?, 1, ?, ?)`,
        )
        .run(emailContactId, app.id, id, email, opts.emailVerified === false ? null : now, now);
    }
  });
  const session = await openSession(ctx, app, id);
  return { id, username, password, emailContactId, ...session };
}

export const bearer = (u: { token: string }) => ({ bearer: u.token });

export function sessionRow(ctx: TestContext, id: string) {
  return ctx.deps.db.select().from(endUserSessions).where(eq(endUserSessions.id, id)).get();
}

export function userRow(ctx: TestContext, id: string) {
  return ctx.deps.db.select().from(endUsers).where(eq(endUsers.id, id)).get();
}
