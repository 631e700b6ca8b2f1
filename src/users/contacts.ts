/**
 * @module Contact rules that `/me/contacts` and the Admin API's end-user contacts share. Each caller finds
 * the user its own way (the caller's own account, or one in an admin's scope) and records its own audit
 * event; the rules themselves live here once. Synchronous: call inside the caller's transaction.
 */
import { iso } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import { isUniqueViolation } from "../db/query.ts";
import type { ContactRow, UserStore } from "./store.ts";

/** At most this many contacts per account: enough for real people, bounded against abuse of the unique index. */
export const MAX_CONTACTS_PER_USER = 10;

/** A contact on the wire, as `/me/contacts` and the Admin API's end-user contacts both answer it. */
export interface MeContactDto {
  id: string;
  type: "email" | "phone";
  value: string;
  is_primary: boolean;
  verified_at: string | null;
  created_at: string;
}

export function toContactDto(c: ContactRow): MeContactDto {
  return {
    id: c.id,
    type: c.type,
    value: c.value,
    is_primary: c.isPrimary,
    verified_at: iso(c.verifiedAt),
    created_at: iso(c.createdAt),
  };
}

export const contactNotFound = () => fail("CONTACT_NOT_FOUND");
export const contactNotVerified = () => fail("CONTACT_NOT_VERIFIED");
/** The contacts' unique index (one holder per value in an app), as each engine names it in a refusal. */
export const CONTACT_INDEX = { sqlite: "end_user_contacts.value", postgres: "end_user_contacts_app_value" };

export const contactTaken = (type: ContactRow["type"]) =>
  fail("CONTACT_TAKEN", { message: `This ${type} is already in use` });

/**
 * `err`, or CONTACT_TAKEN when it is the contacts' unique index refusing a value: with several writers
 * (PostgreSQL) another one may add it between the check and the insert.
 */
export function contactTakenError(err: unknown, type: ContactRow["type"]): unknown {
  return isUniqueViolation(err, {
    sqlite: "end_user_contacts.value",
    postgres: "end_user_contacts_app_value",
  })
    ? contactTaken(type)
    : err;
}

/** The user's contact, or 404 CONTACT_NOT_FOUND (another user's contact included). */
export async function contactOf(users: UserStore, userId: string, contactId: string): Promise<ContactRow> {
  const c = await users.contactOf(userId, contactId);
  if (!c) throw contactNotFound();
  return c;
}

/** Demotes the user's current primary of `type` (other than `exceptId`); its id, or null when there was none. */
export async function demotePrimary(
  users: UserStore,
  userId: string,
  type: ContactRow["type"],
  exceptId: string | null,
): Promise<string | null> {
  const previous = await users.primaryOf(userId, type, exceptId);
  if (previous) await users.setPrimary(previous.id, false);
  return previous?.id ?? null;
}

/**
 * Deletes a contact. The primary email is the account's recovery address (reset codes go there) and its
 * email sign-in identifier: it can be replaced (promote another) but not dropped. A primary phone can go.
 * `beforeChange` runs once the rules allow the delete and before it happens (the caller's own checks).
 */
export async function deleteContact(
  users: UserStore,
  c: ContactRow,
  beforeChange?: () => Promise<void>,
): Promise<void> {
  if (c.isPrimary && c.type === "email") {
    throw fail("CONTACT_IS_PRIMARY");
  }
  await beforeChange?.();
  await users.deleteContact(c.id);
}

/**
 * Makes a verified contact the primary of its type, demoting the previous one. `null` when it already was
 * primary (nothing changed, nothing to record); otherwise the demoted contact's id, if any. `beforeChange`
 * runs only when something is about to change.
 */
export async function promoteContact(
  users: UserStore,
  c: ContactRow,
  beforeChange?: () => Promise<void>,
): Promise<{ previous: string | null } | null> {
  if (c.verifiedAt === null) throw contactNotVerified();
  if (c.isPrimary) return null;
  await beforeChange?.();
  const previous = await demotePrimary(users, c.userId, c.type, c.id);
  await users.setPrimary(c.id, true);
  return { previous };
}
