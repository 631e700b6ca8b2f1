/**
 * @module Wire shapes of end-user invites (`end-user-invites` on the Admin API, `accept-invite` on the Consumer
 * API): request schemas, the invite DTO and its mapper, and the invite code's form.
 */
import { z } from "zod";
import { signupSchema } from "../auth/model.ts";
import { iso } from "../core/clock.ts";
import type { endUserInvites } from "../db/schema.ts";

export type InviteRow = typeof endUserInvites.$inferSelect;

/** `inv_` + 32 random bytes in base64url (256 bits): unguessable, so the code itself is the authority. */
export const INVITE_CODE_PREFIX = "inv_";
export const INVITE_CODE_PATTERN = /^inv_[A-Za-z0-9_-]{43}$/;
/** How a listed invite shows its code: enough to tell invites apart, useless to guess. */
export const maskedCode = (hint: string) => `${INVITE_CODE_PREFIX}…${hint}`;

export const DEFAULT_INVITE_ROLE = "member";
export const DEFAULT_EXPIRES_IN_HOURS = 72;
export const MAX_EXPIRES_IN_HOURS = 720;
export const MAX_INVITE_USES = 10_000;
const MAX_NAME = 256;
/** Role names are at most 48 characters; anything longer names no role. */
const MAX_ROLE_NAME = 48;

export const INVITE_STATUSES = ["live", "revoked", "expired", "exhausted"] as const;
export type InviteStatus = (typeof INVITE_STATUSES)[number];

const wholeNumber = (min: number, max: number) =>
  z
    .number()
    .int("must be a whole number")
    .min(min, `must be between ${min} and ${max}`)
    .max(max, `must be between ${min} and ${max}`);

export const createInviteSchema = z.object({
  // Normalised as contacts are (NFKC, lower-cased), exactly as sign-up reads an address.
  email: signupSchema.shape.email,
  role_name: z.string().trim().min(1, "required").max(MAX_ROLE_NAME, "is not a role name").optional(),
  expires_in_hours: wholeNumber(1, MAX_EXPIRES_IN_HOURS).optional(),
  max_uses: wholeNumber(1, MAX_INVITE_USES).optional(),
  name: z
    .string()
    .trim()
    .refine((s) => [...s].length <= MAX_NAME, `must be at most ${MAX_NAME} characters`)
    .transform((s) => s || null)
    .optional(),
});
export type CreateInviteInput = z.output<typeof createInviteSchema>;

export const listInvitesQuerySchema = z.object({
  limit: z.string().optional(),
  cursor: z.string().optional(),
  email: signupSchema.shape.email.optional(),
  status: z.enum(INVITE_STATUSES).optional(),
});
export type ListInvitesQuery = z.output<typeof listInvitesQuerySchema>;

export const acceptInviteSchema = z.object({
  // Any string: a malformed code is simply one that matches no invite (404), like a wrong one.
  code: z.string().min(1).max(256),
  // Length and strength belong to the app's password policy (400 WEAK_PASSWORD), as at sign-up.
  password: signupSchema.shape.password,
  username: signupSchema.shape.username.optional(),
  display_name: signupSchema.shape.display_name,
});
export type AcceptInviteInput = z.output<typeof acceptInviteSchema>;

/** `EndUserInviteResponseDto`. */
export interface InviteDto {
  id: string;
  code: string;
  email: string | null;
  role_name: string | null;
  role_id: string;
  max_uses: number | null;
  use_count: number;
  expires_at: string | null;
  revoked_at: string | null;
  created_at: string;
}

/**
 * `code` is the real code only in the create response; everywhere else it is the masked hint (the contract
 * requires the field, and the code is stored only as its SHA-256).
 */
export function toInviteDto(row: InviteRow, roleId: string | null, code?: string): InviteDto {
  return {
    id: row.id,
    code: code ?? maskedCode(row.codeHint),
    email: row.email,
    role_name: row.role,
    // A role deleted after the invite was made has no id left to show.
    role_id: roleId ?? "",
    max_uses: row.maxUses,
    use_count: row.useCount,
    expires_at: iso(row.expiresAt),
    revoked_at: iso(row.revokedAt),
    created_at: iso(row.createdAt),
  };
}

/** Where an invite stands at `now`: revoked wins, then used up, then past its expiry. */
export function statusOf(row: InviteRow, now: number): InviteStatus {
  if (row.revokedAt !== null) return "revoked";
  if (row.useCount >= row.maxUses) return "exhausted";
  if (row.expiresAt <= now) return "expired";
  return "live";
}
