/**
 * @module An end user's contacts as the Admin API administers them: list, add, delete, promote, and
 * resend-verification, which hands the code to the operator through the codes module's one verification flow.
 */

import type { AppRow } from "../apps/model.ts";
import type { CodeService } from "../codes/service.ts";
import type { Clock } from "../core/clock.ts";
import { fail, validationError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { CallMeta, PlatformPrincipal } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import {
  contactNotFound,
  contactOf,
  contactTaken,
  contactTakenError,
  deleteContact,
  demotePrimary,
  MAX_CONTACTS_PER_USER,
  type MeContactDto,
  promoteContact,
  toContactDto,
} from "./contacts.ts";
import type { AddContactInput, IssuedCodeDto } from "./model.ts";
import { isEmail, isPhone, normalizePhone } from "./normalize.ts";
import { type NoticeMailer, noticePrimaryEmailChanged } from "./notices.ts";
import type { UserRules, UserScope } from "./scope.ts";
import { createUserStore } from "./store.ts";

export interface UserContactService {
  contacts(scope: UserScope, userId: string): Promise<{ data: MeContactDto[] }>;
  addContact(scope: UserScope, userId: string, input: AddContactInput, meta: CallMeta): Promise<MeContactDto>;
  deleteContact(scope: UserScope, userId: string, contactId: string, meta: CallMeta): Promise<void>;
  promoteContact(scope: UserScope, userId: string, contactId: string, meta: CallMeta): Promise<void>;
  /**
   * A fresh verification code for the contact (`null`: the primary email), returned to the operator and,
   * when the app sends email, also emailed to the address.
   */
  resendVerification(
    scope: UserScope,
    app: AppRow,
    principal: PlatformPrincipal,
    userId: string,
    contactId: string | null,
    meta: CallMeta,
  ): Promise<IssuedCodeDto>;
  /**
   * Emails a password-reset code to the account's verified primary address through the codes module's one
   * reset-email flow (the PAK lane's `send-password-reset-email`); the code never reaches the operator.
   */
  sendPasswordReset(
    scope: UserScope,
    app: AppRow,
    principal: PlatformPrincipal,
    userId: string,
    meta: CallMeta,
  ): Promise<void>;
}

export interface UserContactDeps {
  db: Db;
  clock: Clock;
  rules: UserRules;
  /** Security notices to the previous primary address. */
  email: NoticeMailer;
  codes: Pick<CodeService, "sendVerification" | "sendPasswordResetEmail">;
}

const alreadyVerified = () => fail("CONTACT_ALREADY_VERIFIED");

export function createUserContactService(deps: UserContactDeps): UserContactService {
  const { db, clock, rules } = deps;
  const users = createUserStore(db);

  return {
    async contacts(scope, userId) {
      const user = await rules.userOf(scope, userId);
      return { data: (await users.contactsOf(user.id)).map(toContactDto) };
    },

    async addContact(scope, userId, input, meta) {
      rules.writable(scope);
      const value =
        input.type === "email"
          ? input.value.normalize("NFKC").trim().toLowerCase()
          : normalizePhone(input.value);
      if (!(input.type === "email" ? isEmail(value) : isPhone(value))) {
        throw validationError([
          {
            field: "value",
            reason: input.type === "email" ? "must be an email address" : "must be a phone number (E.164)",
          },
        ]);
      }
      return await tx(db, async () => {
        const user = await rules.lockedUserOf(scope, userId);
        if ((await users.contactCount(user.id)) >= MAX_CONTACTS_PER_USER) {
          throw fail("CONTACT_LIMIT", {
            message: `An account holds at most ${MAX_CONTACTS_PER_USER} contacts`,
          });
        }
        if (await users.contactByValue(scope.appId, input.type, value)) {
          throw contactTaken(input.type);
        }
        // The spec lets an operator make the new (unverified) contact primary; the previous one is demoted.
        const isPrimary = input.is_primary === true;
        const former = isPrimary ? await users.primaryOf(user.id, input.type, null) : undefined;
        const previous = isPrimary ? await demotePrimary(users, user.id, input.type, null) : null;
        await noticePrimaryEmailChanged(deps.email, scope.appId, former, clock.now());
        const row = {
          id: newId(clock),
          appId: scope.appId,
          userId: user.id,
          type: input.type,
          value,
          isPrimary,
          verifiedAt: null,
          createdAt: clock.now(),
        };
        await users.insertContact(row);
        await rules.record(scope, meta, "contact.added", "contact", row.id, {
          user_id: user.id,
          type: row.type,
          is_primary: isPrimary,
          previous_primary_id: previous,
        });
        return toContactDto(row);
      }).catch((err) => {
        throw contactTakenError(err, input.type);
      });
    },

    async deleteContact(scope, userId, contactId, meta) {
      await tx(db, async () => {
        const user = await rules.lockedUserOf(scope, userId);
        const c = await contactOf(users, user.id, contactId);
        await deleteContact(users, c);
        await rules.record(scope, meta, "contact.deleted", "contact", c.id, {
          user_id: user.id,
          type: c.type,
          was_primary: c.isPrimary,
        });
      });
    },

    async promoteContact(scope, userId, contactId, meta) {
      rules.writable(scope);
      await tx(db, async () => {
        const user = await rules.lockedUserOf(scope, userId);
        const c = await contactOf(users, user.id, contactId);
        const promoted = await promoteContact(users, c);
        if (!promoted) return;
        const former = promoted.previous ? await users.contactOf(user.id, promoted.previous) : null;
        await noticePrimaryEmailChanged(deps.email, scope.appId, former, clock.now());
        await rules.record(scope, meta, "contact.promoted", "contact", c.id, {
          user_id: user.id,
          type: c.type,
          previous_contact_id: promoted.previous,
        });
      });
    },

    async resendVerification(scope, app, principal, userId, contactId, meta) {
      rules.writable(scope);
      const user = await rules.userOf(scope, userId);
      const contact =
        contactId === null ? await users.primaryEmail(user.id) : await contactOf(users, user.id, contactId);
      if (!contact) throw contactNotFound();
      if (contact.verifiedAt !== null) throw alreadyVerified();
      // The codes module mints (HMAC under the pepper, supersedes the previous code), emails it when the app
      // sends email (the per-address allowance the Consumer's send-verification-email also spends), audits.
      const minted = await deps.codes.sendVerification(
        app,
        principal,
        { type: contact.type, value: contact.value },
        meta,
        "operator",
      );
      // `{}` means the contact was verified meanwhile.
      if (minted.code === undefined) throw alreadyVerified();
      return { code: minted.code, expires_at: minted.expires_at };
    },

    async sendPasswordReset(scope, app, principal, userId, meta) {
      rules.writable(scope);
      const user = await rules.userOf(scope, userId);
      // A reset only reaches an active account (a code could not be redeemed by another one).
      if (user.status !== "active")
        throw fail("ACCOUNT_SUSPENDED", { message: "A password reset is sent only to an active account" });
      const email = await users.primaryEmail(user.id);
      if (!email) throw fail("CONTACT_NOT_FOUND", { message: "The account has no email address" });
      if (email.verifiedAt === null)
        throw fail("CONTACT_NOT_VERIFIED", {
          message: "The account's email address is not verified; a reset goes only to a verified address",
        });
      // The app's mail settings, the per-address allowance, the outbox and the audit rows are the codes module's.
      const sent = await deps.codes.sendPasswordResetEmail(
        app,
        principal,
        { type: "email", value: email.value },
        meta,
      );
      // `{}`: the address or the account changed meanwhile.
      if (!("expires_at" in sent)) throw fail("CONTACT_NOT_VERIFIED");
    },
  };
}
