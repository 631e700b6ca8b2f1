/**
 * @module Wire shapes of tenants (organisations inside an app) and their memberships, for both surfaces:
 * request schemas, the slug rules, and row → DTO. The Admin and Consumer contracts name the same fields.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { iso } from "../core/clock.ts";
import type { tenantMembers, tenants } from "../db/schema.ts";
import { isEmail, normalizeEmail, normalizeUsername, USERNAME_PATTERN } from "../users/normalize.ts";

export type TenantRow = typeof tenants.$inferSelect;
export type TenantMemberRow = typeof tenantMembers.$inferSelect;
export const TENANT_STATUSES = ["active", "suspended", "archived"] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/** The contract's slug pattern: 1-64 of `a-z 0-9 -`, starting and ending with a letter or digit. */
export const TENANT_SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const MAX_SLUG = 64;
/** `tnt_` + 12 lowercase hex: the customer-facing id, accepted wherever a tenant id is. */
export const DISPLAY_ID_PATTERN = /^tnt_[0-9a-f]{12}$/;
/** Serialised size cap of `metadata`: it rides along in every tenant read and event. */
export const MAX_TENANT_METADATA_BYTES = 8 * 1024;
const MAX_DISPLAY_NAME = 200;
/** Role names are at most 48 characters; anything longer names no role. */
const MAX_ROLE_NAME = 48;
const MAX_EMAIL = 320;

export const newDisplayId = () => `tnt_${randomBytes(6).toString("hex")}`;

/**
 * A slug from a display name: accents dropped (NFKD, marks stripped), lower-cased, every run of other
 * characters one hyphen, at most 64 characters; `tenant` when nothing usable is left.
 */
export function slugFromName(name: string): string {
  const base = name
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  const cut = base.slice(0, MAX_SLUG).replace(/-+$/, "");
  return cut || "tenant";
}

/** `base-<6 hex>`, the base shortened so the whole stays a valid slug. */
export function suffixedSlug(base: string): string {
  const head = base.slice(0, MAX_SLUG - 7).replace(/-+$/, "");
  return `${head || "tenant"}-${randomBytes(3).toString("hex")}`;
}

const displayName = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(MAX_DISPLAY_NAME, `must be at most ${MAX_DISPLAY_NAME} characters`);

/** Slugs compare case-insensitively: a slug is stored and matched lower-cased. */
const slug = z
  .string()
  .max(MAX_SLUG, `must be at most ${MAX_SLUG} characters`)
  .transform((s) => s.toLowerCase())
  .refine(
    (s) => TENANT_SLUG_PATTERN.test(s),
    "must be 1-64 letters, digits or hyphens, starting and ending with a letter or digit",
  );

const metadata = z
  .record(z.string(), z.unknown())
  .refine((m) => Buffer.byteLength(JSON.stringify(m), "utf8") <= MAX_TENANT_METADATA_BYTES, {
    message: `must serialize to at most ${MAX_TENANT_METADATA_BYTES} bytes`,
  });

export const createTenantSchema = z.object({
  display_name: displayName,
  slug: slug.optional(),
  metadata: metadata.optional(),
});
export type CreateTenantInput = z.output<typeof createTenantSchema>;

export const updateTenantSchema = z.object({
  display_name: displayName.optional(),
  slug: slug.optional(),
  status: z.enum(TENANT_STATUSES).optional(),
  metadata: metadata.optional(),
});
export type UpdateTenantInput = z.output<typeof updateTenantSchema>;

export const listTenantsQuerySchema = z.object({
  limit: z.string().optional(),
  cursor: z.string().optional(),
  status: z.enum(TENANT_STATUSES).optional(),
});
export type ListTenantsQuery = z.output<typeof listTenantsQuerySchema>;

export const listMembersQuerySchema = z.object({
  limit: z.string().optional(),
  cursor: z.string().optional(),
});
export type ListMembersQuery = z.output<typeof listMembersQuerySchema>;

const roleName = z.string().min(1, "required").max(MAX_ROLE_NAME, "is not a role name");

/** `AddMemberDto`: an existing account (`account_id`) or an email that finds or creates one, never both. */
export const addMemberSchema = z
  .object({
    account_id: z.string().min(1).max(64, "is not an account id").optional(),
    email: z
      .string()
      .max(MAX_EMAIL)
      .transform(normalizeEmail)
      .refine(isEmail, "must be a valid email address")
      .optional(),
    role_name: roleName,
    username: z
      .string()
      .max(MAX_EMAIL)
      .transform(normalizeUsername)
      .refine(
        (u) => USERNAME_PATTERN.test(u),
        "must be 3-64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
      )
      .optional(),
    display_name: z
      .string()
      .trim()
      .max(MAX_DISPLAY_NAME, `must be at most ${MAX_DISPLAY_NAME} characters`)
      .transform((s) => s || null)
      .optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.account_id === undefined) === (v.email === undefined))
      ctx.addIssue({
        code: "custom",
        path: [v.account_id === undefined ? "account_id" : "email"],
        message: "give exactly one of account_id and email",
      });
    // The new account's fields mean nothing for an existing account: refused rather than ignored.
    if (v.account_id !== undefined)
      for (const f of ["username", "display_name"] as const)
        if (v[f] !== undefined)
          ctx.addIssue({ code: "custom", path: [f], message: "only with email (for a new account)" });
  });
export type AddMemberInput = z.output<typeof addMemberSchema>;

export const updateMemberRoleSchema = z.object({ role_name: roleName });
export type UpdateMemberRoleInput = z.output<typeof updateMemberRoleSchema>;

/** `TenantResponseDto` / `ConsumerTenantResponseDto`. */
export interface TenantDto {
  id: string;
  display_id: string;
  app_id: string;
  slug: string;
  display_name: string;
  status: TenantStatus;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export const toTenantDto = (r: TenantRow): TenantDto => ({
  id: r.id,
  display_id: r.displayId,
  app_id: r.appId,
  slug: r.slug,
  display_name: r.displayName,
  status: r.status,
  metadata: r.metadata ?? {},
  created_at: iso(r.createdAt),
  updated_at: iso(r.updatedAt),
});

/** A membership with its role's row id (the roles table), as the lists read it. */
export interface MemberView {
  member: TenantMemberRow;
  roleId: string | null;
}

/** `TenantMembershipResponseDto` / `ConsumerTenantMembershipResponseDto`. */
export interface TenantMembershipDto {
  id: string;
  tenant_id: string;
  account_id: string;
  role_id: string;
  role_name: string;
  joined_at: string;
  invited_by: string | null;
}

export const toMembershipDto = ({ member, roleId }: MemberView): TenantMembershipDto => ({
  id: member.id,
  tenant_id: member.tenantId,
  account_id: member.userId,
  // A role held by a member cannot be deleted, so the id is always there; "" only guards a hand-edited row.
  role_id: roleId ?? "",
  role_name: member.role,
  joined_at: iso(member.joinedAt),
  invited_by: member.invitedBy,
});

/** `AddMemberResponseDto` / `ConsumerAddMemberResponseDto`. */
export interface AddMemberResultDto {
  membership: TenantMembershipDto;
  account_id: string;
  created_account: boolean;
}
