/** @module Fixtures for the code and email tests: apps, end users inserted directly, PAKs, settings, outbox reads. */
import { expect } from "bun:test";
import { eq } from "drizzle-orm";
import { MINUTE } from "../../../src/core/clock.ts";
import type { OutgoingEmail } from "../../../src/email/transport.ts";
import {
  type InsertEndUserOptions,
  type InsertedEndUser,
  insertEndUser,
  type TestApp,
} from "../../support/fixtures.ts";
import type { TestContext } from "../../support/harness.ts";

export { allow, deny, insertPak } from "../admin/fixtures.ts";

export type CodesApp = TestApp;

export type CodesUser = InsertedEndUser;

export const PASSWORD = "an old but fine passphrase";
export const NEW_PASSWORD = "Tangerine-Orbit-47-Lantern";

/**
 * An account with an email and/or a phone contact, inserted directly (no argon2 unless a password is asked
 * for). Unlike `insertEndUser`'s, its contacts start unverified: these tests are about verifying them.
 */
export async function insertUser(
  ctx: TestContext,
  app: CodesApp,
  username: string,
  opts: InsertEndUserOptions = {},
): Promise<CodesUser> {
  return await insertEndUser(ctx, app, username, { ...opts, emailVerified: opts.emailVerified ?? false });
}

export async function codeRows(ctx: TestContext, appId: string) {
  const { oneTimeCodes } = ctx.deps.db.tables;
  return await ctx.deps.db.select().from(oneTimeCodes).where(eq(oneTimeCodes.appId, appId));
}

export async function outboxRows(ctx: TestContext, appId: string) {
  const { emailOutbox } = ctx.deps.db.tables;
  return await ctx.deps.db.select().from(emailOutbox).where(eq(emailOutbox.appId, appId));
}

/** `POST request-verification` or `request-password-reset` expecting a code; returns it. */
export async function mintCode(
  ctx: TestContext,
  app: CodesApp,
  kind: "verification" | "password-reset",
  contact: { email: string } | { phone: string },
): Promise<string> {
  const res = await ctx.call("POST", `/{app_slug}/v1/auth/request-${kind}`, {
    params: { app_slug: app.slug },
    body: contact,
  });
  expect(res.status).toBe(201);
  expect(res.body.code).toMatch(/^\d{6}$/);
  return res.body.code;
}

export function submitVerify(ctx: TestContext, app: CodesApp, code: unknown) {
  return ctx.call("POST", "/{app_slug}/v1/auth/verify", {
    params: { app_slug: app.slug },
    body: { code },
    auth: null,
  });
}

export function submitReset(
  ctx: TestContext,
  app: CodesApp,
  code: unknown,
  newPassword: string = NEW_PASSWORD,
) {
  return ctx.call("POST", "/{app_slug}/v1/auth/reset-password", {
    params: { app_slug: app.slug },
    body: { code, new_password: newPassword },
    auth: null,
  });
}

/** Every code-route counter (flood guard, failures, locks) runs on windows of at most 15 minutes. */
export function freshWindows(ctx: TestContext): void {
  ctx.clock.advance(16 * MINUTE);
}

const deliveries = new WeakMap<TestContext, OutgoingEmail[]>();

/**
 * Every message the context's transport delivered, oldest first, as it went out. The outbox keeps only a
 * masked copy of a code email (the real body is sealed until delivery), so codes are read from here.
 */
export function sentMail(ctx: TestContext): OutgoingEmail[] {
  let sent = deliveries.get(ctx);
  if (!sent) {
    const list: OutgoingEmail[] = [];
    const transport = ctx.deps.email.transport;
    const send = transport.send.bind(transport);
    transport.send = async (m) => {
      const result = await send(m);
      if (result.ok) list.push(m);
      return result;
    };
    deliveries.set(ctx, list);
    sent = list;
  }
  return sent;
}

/** The delivered message of outbox row `outboxId`. */
export function deliveredMail(ctx: TestContext, outboxId: string): OutgoingEmail {
  const m = sentMail(ctx).find((x) => x.id === outboxId);
  if (!m) throw new Error(`outbox row ${outboxId} was not delivered`);
  return m;
}

/** Turns email on for the app with every built-in template and a sender; `patch` overrides. */
export async function enableEmail(
  ctx: TestContext,
  appId: string,
  patch: Record<string, unknown> = {},
): Promise<void> {
  const res = await ctx.call("PATCH", "/v1/apps/{app_id}/notification-settings", {
    params: { app_id: appId },
    body: {
      notifications_via_envoi: true,
      default_sender_address: "no-reply@acme.test",
      verification_template_name: "heimdall-verification",
      password_reset_template_name: "heimdall-password-reset",
      ...patch,
    },
  });
  expect(res.status).toBe(200);
  // From here on the app sends mail: start recording what is delivered.
  sentMail(ctx);
}

/** The 6-digit code in an email text. */
export function codeIn(text: string): string {
  const m = /Your code: (\d{6})/.exec(text);
  if (!m) throw new Error(`no code in email text: ${text}`);
  return m[1]!;
}
