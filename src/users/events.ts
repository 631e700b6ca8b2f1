/**
 * @module The end-user events (docs/webhooks.md, "Event types"), shaped in one place so that every path making
 * the same change — Admin API, Consumer admin lane, bulk operations, `/me`, role assignment — reports it with
 * the same type and data. Call inside the change's transaction. Data holds ids and plain facts only: every
 * event carries `user_id` and the `actor` (the audit row's actor), never a password, hash, code or token.
 */
import type { AuditActor } from "../core/principal.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { EndUserStatus } from "./model.ts";

/** The event a status change is: back to active is a reinstatement, whichever status it left. */
const STATUS_EVENT: Record<EndUserStatus, string> = {
  active: "user.reinstated",
  suspended: "user.suspended",
  deactivated: "user.deactivated",
};

/** How an account came to be: self sign-up, a sign-up a PAK made, an operator or admin-lane caller, an accepted invite. */
export type SignupVia = "self" | "pak" | "admin" | "invite";

/** Which route deleted an account. */
export type DeletedVia = "self" | "admin" | "bulk";

const actorData = (actor: AuditActor) => ({ type: actor.type, id: actor.id });
/** The account acting on itself: signing in, proving a contact, using a reset code. */
const self = (userId: string) => ({ type: "end_user", id: userId });

export interface UserEvents {
  signedUp(
    appId: string,
    /** `email` is the account's primary email, null when it has none (a provider gave no verified one). */
    user: { id: string; username: string; email: string | null; role: string },
    via: SignupVia,
    actor: AuditActor,
    /** Extra facts, e.g. the `provider` of a federated sign-up. */
    extra?: Record<string, unknown>,
  ): Promise<void>;
  /** A session opened by proving the password (and a second factor), or by a provider (`extra.provider`). */
  signedIn(
    appId: string,
    userId: string,
    session: { id: string; amr: readonly string[] },
    extra?: Record<string, unknown>,
  ): Promise<void>;
  /** A contact proved by its code; an email also yields `user.email_verified`. */
  contactVerified(
    appId: string,
    userId: string,
    contact: { id: string; type: string; value: string; isPrimary: boolean },
  ): Promise<void>;
  /** A reset code was issued (and, for `email`, queued) for a verified contact of an active account. */
  passwordResetRequested(
    appId: string,
    userId: string,
    contact: { id: string; type: string },
    delivery: "response" | "email",
    actor: AuditActor,
  ): Promise<void>;
  passwordResetCompleted(appId: string, userId: string, sessionsRevoked: number): Promise<void>;
  statusChanged(
    appId: string,
    userId: string,
    previous: EndUserStatus,
    status: EndUserStatus,
    actor: AuditActor,
    extra?: Record<string, unknown>,
  ): Promise<void>;
  roleChanged(
    appId: string,
    userId: string,
    previousRole: string,
    role: string,
    actor: AuditActor,
    extra?: Record<string, unknown>,
  ): Promise<void>;
  deleted(
    appId: string,
    userId: string,
    via: DeletedVia,
    actor: AuditActor,
    extra?: Record<string, unknown>,
  ): Promise<void>;
}

export function createUserEvents(events: Pick<EventEmitter, "emit">): UserEvents {
  return {
    async signedUp(appId, user, via, actor, extra = {}) {
      await events.emit({
        type: "user.signup",
        appId,
        data: {
          user_id: user.id,
          username: user.username,
          email: user.email,
          role: user.role,
          via,
          actor: actorData(actor),
          ...extra,
        },
      });
    },
    async signedIn(appId, userId, session, extra = {}) {
      await events.emit({
        type: "user.signin",
        appId,
        data: {
          user_id: userId,
          session_id: session.id,
          amr: [...session.amr],
          actor: self(userId),
          ...extra,
        },
      });
    },
    async contactVerified(appId, userId, contact) {
      const facts = { user_id: userId, contact_id: contact.id, is_primary: contact.isPrimary };
      await events.emit({
        type: "user.contact_verified",
        appId,
        data: { ...facts, contact_type: contact.type, value: contact.value, actor: self(userId) },
      });
      if (contact.type !== "email") return;
      await events.emit({
        type: "user.email_verified",
        appId,
        data: { ...facts, email: contact.value, actor: self(userId) },
      });
    },
    async passwordResetRequested(appId, userId, contact, delivery, actor) {
      await events.emit({
        type: "user.password_reset.requested",
        appId,
        data: {
          user_id: userId,
          contact_id: contact.id,
          contact_type: contact.type,
          delivery,
          actor: actorData(actor),
        },
      });
    },
    async passwordResetCompleted(appId, userId, sessionsRevoked) {
      await events.emit({
        type: "user.password_reset.completed",
        appId,
        data: { user_id: userId, sessions_revoked: sessionsRevoked, actor: self(userId) },
      });
    },
    async statusChanged(appId, userId, previous, status, actor, extra = {}) {
      if (previous === status) return;
      await events.emit({
        type: STATUS_EVENT[status],
        appId,
        data: { user_id: userId, previous_status: previous, status, actor: actorData(actor), ...extra },
      });
    },
    async roleChanged(appId, userId, previousRole, role, actor, extra = {}) {
      if (previousRole === role) return;
      await events.emit({
        type: "user.role_changed",
        appId,
        data: { user_id: userId, previous_role: previousRole, role, actor: actorData(actor), ...extra },
      });
    },
    async deleted(appId, userId, via, actor, extra = {}) {
      await events.emit({
        type: "user.deleted",
        appId,
        data: { user_id: userId, via, actor: actorData(actor), ...extra },
      });
    },
  };
}
