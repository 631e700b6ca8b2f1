/**
 * @module The event types a webhook may subscribe to: plain data with no imports, so the console's bundle uses
 * the same list as the server (docs/webhooks.md, "Event types").
 */

/** The contract's event list (`UpsertAppWebhookDto.event_types`). */
export const CONTRACT_EVENT_TYPES = [
  "user.signup",
  "user.signin",
  "user.contact_verified",
  "user.email_verified",
  "user.password_reset.requested",
  "user.password_reset.completed",
  "user.suspended",
  "user.deactivated",
  "user.reinstated",
  "user.role_changed",
  "user.deleted",
  "tenant.created",
  "tenant.updated",
  "tenant.deleted",
  "tenant.member.added",
  "tenant.member.removed",
  "tenant.member.role_changed",
  "app.slug_changed",
  "user.mfa.factor_enrolled",
  "user.mfa.factor_disabled",
  "user.mfa.recovery_code_used",
  "user.mfa.step_up_succeeded",
  "user.mfa.step_up_locked",
] as const;

/** Heimdall's additions (docs/webhooks.md): M2M credentials and end-user invites. */
export const HEIMDALL_EVENT_TYPES = [
  "m2m.credential.created",
  "m2m.credential.rotated",
  "m2m.credential.deleted",
  "invite.created",
  "invite.revoked",
] as const;

export const EVENT_TYPES: readonly string[] = [...CONTRACT_EVENT_TYPES, ...HEIMDALL_EVENT_TYPES];
