/** @module Wire shapes of end-user administration (Admin API and Consumer admin lane): request schemas, DTOs, mappers. */
import { z } from "zod";
import { iso } from "../core/clock.ts";
import type { roles } from "../db/schema.ts";
import { isEmail, normalizeEmail, normalizeUsername, USERNAME_PATTERN } from "./normalize.ts";
import type { EndUserRow } from "./store.ts";

export const END_USER_STATUSES = ["active", "suspended", "deactivated"] as const;
export type EndUserStatus = (typeof END_USER_STATUSES)[number];

/** Long enough for any email address; a search is a prefix, so nothing longer can match. */
const MAX_SEARCH = 320;
/** RFC 5321 caps an address at 254 octets; the margin only keeps garbage out of normalisation. */
const MAX_IDENTIFIER = 320;
/** As at sign-up: the spec sets no bound, one row should not hold a novel. */
const MAX_DISPLAY_NAME = 256;
/** Role names are at most 48 characters (`^[a-z][a-z0-9_-]{1,47}$`); anything longer names no role. */
const MAX_ROLE_NAME = 48;
/** The spec's cap on an explicit bulk selection. */
export const MAX_BULK_IDS = 5000;

export const listUsersQuerySchema = z.object({
  limit: z.string().optional(),
  cursor: z.string().optional(),
  status: z.enum(END_USER_STATUSES).optional(),
  search: z.string().max(MAX_SEARCH).optional(),
});
export type ListUsersQuery = z.output<typeof listUsersQuerySchema>;

export const listMembersQuerySchema = z.object({
  limit: z.string().optional(),
  cursor: z.string().optional(),
});
export type ListMembersQuery = z.output<typeof listMembersQuerySchema>;

/** Stored forms are case-folded and NFKC, so a search prefix is too; blank means no filter. */
export function normalizeSearch(raw: string | undefined): string | undefined {
  return raw?.normalize("NFKC").trim().toLowerCase() || undefined;
}

export const emailField = z
  .string()
  .max(MAX_IDENTIFIER)
  .transform(normalizeEmail)
  .refine(isEmail, "must be a valid email address");

export const usernameField = z
  .string()
  .max(MAX_IDENTIFIER)
  .transform(normalizeUsername)
  .refine(
    (u) => USERNAME_PATTERN.test(u),
    "must be 3-64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit (and not an email)",
  );

/** Surrounding blanks are never meant; "" (or only blanks) clears the name. */
export const displayNameField = z
  .string()
  .trim()
  .refine((s) => [...s].length <= MAX_DISPLAY_NAME, `must be at most ${MAX_DISPLAY_NAME} characters`)
  .transform((s) => s || null);

const roleNameField = z.string().min(1, "required").max(MAX_ROLE_NAME, "is not a role name");

export const createUserSchema = z.object({
  email: emailField,
  username: usernameField.optional(),
  display_name: displayNameField.optional(),
  // Strength and length belong to the app's password policy (400 WEAK_PASSWORD with details).
  password: z.string().optional(),
  role_name: roleNameField.optional(),
});
export type CreateUserInput = z.output<typeof createUserSchema>;

/** `UpdateEndUserDto` (Admin) and `AdminUpdateUserDto` (Consumer) are the same two optional fields. */
export const updateUserSchema = z.object({
  display_name: displayNameField.optional(),
  email: emailField.optional(),
});
export type UpdateUserInput = z.output<typeof updateUserSchema>;

export const updateRoleSchema = z.object({ role_name: roleNameField });
export const updateStatusSchema = z.object({ status: z.enum(END_USER_STATUSES) });

export const addContactSchema = z.object({
  type: z.enum(["email", "phone"]),
  value: z.string().min(1).max(MAX_IDENTIFIER),
  is_primary: z.boolean().optional(),
});
export type AddContactInput = z.output<typeof addContactSchema>;

/**
 * `BulkSelectionDto`. A field of the other mode is refused rather than ignored: on a destructive write,
 * `{mode: "ids", ids, status}` is more likely a misunderstanding than a request to drop the filter.
 */
const selectionSchema = z
  .object({
    mode: z.enum(["ids", "filter"]),
    ids: z
      .array(z.string().max(64, "is not an account id"))
      .max(MAX_BULK_IDS, `must have at most ${MAX_BULK_IDS} entries`)
      .optional(),
    status: z.enum(END_USER_STATUSES).optional(),
    search: z.string().max(MAX_SEARCH).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.mode === "ids") {
      if (s.ids === undefined)
        ctx.addIssue({ code: "custom", path: ["ids"], message: "required when mode is ids" });
      for (const f of ["status", "search"] as const)
        if (s[f] !== undefined) ctx.addIssue({ code: "custom", path: [f], message: "only with mode filter" });
    } else if (s.ids !== undefined) {
      ctx.addIssue({ code: "custom", path: ["ids"], message: "only with mode ids" });
    }
  });

export type BulkSelection =
  | { mode: "ids"; ids: string[] }
  | { mode: "filter"; status?: EndUserStatus; search?: string };

function toSelection(s: z.output<typeof selectionSchema>): BulkSelection {
  return s.mode === "ids"
    ? { mode: "ids", ids: [...new Set(s.ids)] }
    : { mode: "filter", status: s.status, search: normalizeSearch(s.search) };
}

/**
 * The spec defines `confirm_all_in_app` on bulk-delete; the appliance accepts it on every bulk write and
 * requires it for a whole-app selection everywhere, since suspending or demoting every account is no less
 * drastic than deleting them.
 */
const bulkBase = { selection: selectionSchema, confirm_all_in_app: z.boolean().optional() };

export const bulkSchema = z.object(bulkBase).transform((b) => ({
  selection: toSelection(b.selection),
  confirmAll: b.confirm_all_in_app === true,
}));
export const bulkRoleSchema = z.object({ ...bulkBase, role_name: roleNameField }).transform((b) => ({
  selection: toSelection(b.selection),
  confirmAll: b.confirm_all_in_app === true,
  roleName: b.role_name,
}));
export const bulkStatusSchema = z
  .object({ ...bulkBase, status: z.enum(END_USER_STATUSES) })
  .transform((b) => ({
    selection: toSelection(b.selection),
    confirmAll: b.confirm_all_in_app === true,
    status: b.status,
  }));
export type BulkInput = z.output<typeof bulkSchema>;

// ─── Responses ───────────────────────────────────────────────────────────────

/** An account with what every admin view shows next to it: primary email and live-session count. */
export interface UserViewRow {
  user: EndUserRow;
  email: string | null;
  emailVerifiedAt: number | null;
  activeSessions: number;
}

/** `EndUserSummaryDto` (Admin) and `ConsumerAdminEndUserDto` (Consumer) have the same fields. */
export interface AdminEndUserDto {
  id: string;
  username: string;
  display_name: string | null;
  status: EndUserStatus;
  role: string | null;
  joined_at: string | null;
  created_at: string;
  email: string | null;
  email_verified_at: string | null;
  active_session_count: number;
  last_used_at: string | null;
}

/** An account joins its app when it is created; app membership has no separate date here. */
export function toAdminEndUserDto(r: UserViewRow): AdminEndUserDto {
  const u = r.user;
  return {
    id: u.id,
    username: u.username,
    display_name: u.displayName,
    status: u.status,
    role: u.role,
    joined_at: iso(u.createdAt),
    created_at: iso(u.createdAt),
    email: r.email,
    email_verified_at: iso(r.emailVerifiedAt),
    active_session_count: Number(r.activeSessions),
    last_used_at: iso(u.lastUsedAt),
  };
}

export interface CreatedUserDto {
  id: string;
  username: string;
  display_name: string | null;
  email: string;
  email_verified: boolean;
  role: string | null;
  status: string;
  created_at: string;
}

/**
 * `AppMemberSummaryDto`: the hosted API's membership of a global account in an app. Here an account
 * belongs to exactly one app, so the membership and the account are one row and share the id.
 */
export interface AppMemberDto {
  id: string;
  account_id: string;
  username: string;
  display_name: string | null;
  role_id: string;
  role_name: string;
  joined_at: string;
  primary_email: string | null;
}

export function toAppMemberDto(r: UserViewRow, roleIds: ReadonlyMap<string, string>): AppMemberDto {
  const u = r.user;
  return {
    id: u.id,
    account_id: u.id,
    username: u.username,
    display_name: u.displayName,
    // A role in use cannot be deleted, so the lookup only misses for data written around the API.
    role_id: roleIds.get(u.role) ?? "",
    role_name: u.role,
    joined_at: iso(u.createdAt),
    primary_email: r.email,
  };
}

export type RoleRow = typeof roles.$inferSelect;

export interface IssuedCodeDto {
  code: string;
  expires_at: string;
}

/** Search results are ordered by the identifier that matched; the cursor is that key. */
export interface SearchCursor {
  k: string;
}

export const isSearchCursor = (v: unknown): v is SearchCursor =>
  typeof v === "object" &&
  v !== null &&
  Object.keys(v).length === 1 &&
  typeof (v as SearchCursor).k === "string" &&
  (v as SearchCursor).k.length <= MAX_SEARCH + 64;

/** One live session of an account as the Admin API shows it (appliance addition): never a token. */
export interface AdminSessionDto {
  id: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
  amr: string[];
  tenant_id: string | null;
}

export function toAdminSessionDto(s: {
  id: string;
  createdAt: number;
  lastUsedAt: number | null;
  expiresAt: number;
  ip: string | null;
  userAgent: string | null;
  amr: string[];
  tenantId: string | null;
}): AdminSessionDto {
  return {
    id: s.id,
    created_at: iso(s.createdAt),
    last_used_at: iso(s.lastUsedAt),
    expires_at: iso(s.expiresAt),
    ip: s.ip,
    user_agent: s.userAgent,
    amr: s.amr,
    tenant_id: s.tenantId,
  };
}

/** An account's tenant membership as the Admin API shows it (appliance addition), whatever the tenant's status. */
export interface UserTenantRow {
  tenantId: string;
  displayId: string;
  slug: string;
  displayName: string;
  status: string;
  role: string;
  joinedAt: number;
}

export interface UserTenantDto {
  tenant_id: string;
  display_id: string;
  tenant_slug: string;
  display_name: string;
  tenant_status: string;
  role_name: string;
  joined_at: string;
}

export function toUserTenantDto(r: UserTenantRow): UserTenantDto {
  return {
    tenant_id: r.tenantId,
    display_id: r.displayId,
    tenant_slug: r.slug,
    display_name: r.displayName,
    tenant_status: r.status,
    role_name: r.role,
    joined_at: iso(r.joinedAt),
  };
}
