/**
 * @module Security notices about an end-user account: "your password was changed" to its primary email, and
 * "this is no longer your primary email" to the address that stopped being it. Queued in the transaction of
 * the change (synchronous: call inside it). An app that sends no email sends none, and the change goes
 * ahead all the same: a notice reports a change, it never gates one.
 */

import { iso } from "../core/clock.ts";
import type { EmailService } from "../email/service.ts";
import type { ContactRow, UserStore } from "./store.ts";

export type NoticeMailer = Pick<EmailService, "noticePlan" | "enqueue">;

/**
 * Only a verified address hears about the account: an unverified one was typed by someone and may belong
 * to anyone, who has no business learning what happens to the account.
 */
const reachable = (c: ContactRow | undefined | null): c is ContactRow =>
  !!c && c.type === "email" && c.verifiedAt !== null;

/** Tells the account's verified primary email that the password changed; the outbox id, or null. */
export async function noticePasswordChanged(
  email: NoticeMailer,
  users: Pick<UserStore, "primaryEmail">,
  appId: string,
  userId: string,
  now: number,
): Promise<string | null> {
  const to = await users.primaryEmail(userId);
  if (!reachable(to)) return null;
  const plan = await email.noticePlan(appId, "password_changed");
  return plan ? await email.enqueue(appId, plan, to.value, { changedAt: iso(now) }) : null;
}

/**
 * Tells the former primary email (demoted or replaced) that it no longer is one, so that a takeover
 * reaches the owner's inbox; the outbox id, or null. The new address is not named in it.
 */
export async function noticePrimaryEmailChanged(
  email: NoticeMailer,
  appId: string,
  former: ContactRow | undefined | null,
  now: number,
): Promise<string | null> {
  if (!reachable(former)) return null;
  const plan = await email.noticePlan(appId, "primary_email_changed");
  return plan ? await email.enqueue(appId, plan, former.value, { changedAt: iso(now) }) : null;
}
