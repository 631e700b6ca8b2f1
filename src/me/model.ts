/** @module Wire model of the signed-in EndUser's own account (`/me*`): request schemas, DTOs and row mappers. */
import { z } from "zod";
import type { AuditRow } from "../audit/store.ts";
import { iso } from "../core/clock.ts";
import type { AccountSnapshot, SessionRow } from "../sessions/store.ts";

export { MAX_CONTACTS_PER_USER, type MeContactDto, toContactDto } from "../users/contacts.ts";

/** Wrong current passwords on change-password, per account: a stolen access token must not become an oracle. */
export const CHANGE_PASSWORD_FAILURES = { max: 5, windowMs: 15 * 60 * 1000 } as const;

/**
 * How recent the session's last proof of the password must be for the account's recovery-critical changes
 * (promote a contact, change the password, delete a verified contact): a stolen access token alone, up to
 * an hour old, must not be enough to take the account over.
 */
export const REAUTH_WINDOW_MS = 10 * 60 * 1000;

/** Wrong passwords on re-authentication per client address and app, beside the per-account count above. */
export const REAUTH_FAILURES_PER_ADDRESS = { max: 20, windowMs: 15 * 60 * 1000 } as const;

export const reauthenticateSchema = z.object({ password: z.string().min(1).max(4096) });
export type ReauthenticateInput = z.output<typeof reauthenticateSchema>;

export interface ReauthenticationDto {
  authenticated_at: string;
}

export const updateMeSchema = z.object({
  // "" clears the name; omitted leaves it alone.
  display_name: z.string().max(120).optional(),
});
export type UpdateMeInput = z.output<typeof updateMeSchema>;

// Passwords are bounded by the password policy (too_long), not here, so the client gets WEAK_PASSWORD details.
export const changePasswordSchema = z.object({
  current_password: z.string().min(1).max(4096),
  new_password: z.string().max(4096),
});
export type ChangePasswordInput = z.output<typeof changePasswordSchema>;

export const addContactSchema = z.object({
  type: z.enum(["email", "phone"]),
  value: z.string().min(1).max(320),
  is_primary: z.boolean().optional(),
});
export type AddContactInput = z.output<typeof addContactSchema>;

export interface MeProfileDto {
  id: string;
  username: string;
  display_name: string | null;
  role: string | null;
  joined_at: string;
  created_at: string;
  email: string | null;
  email_verified_at: string | null;
  /**
   * OIDC UserInfo's claims (Core §5.1, §5.3.2), beside the contract's fields: discovery advertises `/me` as
   * the `userinfo_endpoint`, and stock clients refuse a UserInfo answer without `sub` (the account id, as in
   * the access token). Each means what OIDC says: `email_verified` is about `email`, `preferred_username`
   * is the app's username.
   */
  sub: string;
  email_verified: boolean;
  preferred_username: string;
}

export function toProfileDto(r: AccountSnapshot): MeProfileDto {
  const created = iso(r.createdAt);
  return {
    id: r.id,
    username: r.username,
    display_name: r.displayName,
    role: r.role,
    // An account joins its app when it is created; there is no separate membership row.
    joined_at: created,
    created_at: created,
    email: r.email,
    email_verified_at: iso(r.emailVerifiedAt),
    sub: r.id,
    email_verified: r.email !== null && r.emailVerifiedAt !== null,
    preferred_username: r.username,
  };
}

export interface MeSessionDto {
  id: string;
  ip: string | null;
  user_agent: string | null;
  created_at: string;
  last_used_at: string | null;
  expires_at: string;
  is_current: boolean;
}

export function toSessionDto(s: SessionRow, currentSessionId: string): MeSessionDto {
  return {
    id: s.id,
    ip: s.ip,
    user_agent: s.userAgent,
    created_at: iso(s.createdAt),
    last_used_at: iso(s.lastUsedAt),
    expires_at: iso(s.expiresAt),
    is_current: s.id === currentSessionId,
  };
}

export interface MeActivityEntryDto {
  id: string;
  app_id: string;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  actor_id: string | null;
  details: Record<string, unknown> | null;
  created_at: string;
}

/**
 * Only the user's own id is shown as an actor: when an operator or the system acted on the account,
 * the row says what happened, but the ids of PAKs and platform users stay out of the end user's view.
 */
export function toActivityDto(r: AuditRow, userId: string): MeActivityEntryDto {
  return {
    id: r.id,
    app_id: r.appId ?? "",
    action: r.action,
    resource_type: r.resourceType,
    resource_id: r.resourceId,
    actor_id: r.actorType === "end_user" && r.actorId === userId ? userId : null,
    details: r.details,
    created_at: iso(r.createdAt),
  };
}

/** Activity cursor: the audit `seq` of the last row shown (the chain order, so it never skips or repeats). */
export interface SeqCursor {
  s: number;
}

export const isSeqCursor = (v: unknown): v is SeqCursor =>
  typeof v === "object" && v !== null && Number.isSafeInteger((v as SeqCursor).s) && (v as SeqCursor).s > 0;
