/** @module Platform subset wire model: zod request schemas, DTO mappers and the list cursor (docs/decisions.md, "Wire and HTTP" and "Platform subset"). */

import { z } from "zod";
import { isKnownActionPattern } from "../access/pak-policy.ts";
import { DAY, HOUR, iso } from "../core/clock.ts";
import { expiresAtSchema } from "../core/expiry.ts";
import { decodeCursor, isPosition } from "../core/pagination.ts";
import type { PolicyStatement, WorkspaceRole } from "../core/principal.ts";
import type { paks, platformSessions, platformUsers, workspacePolicies, workspaces } from "../db/schema.ts";

export type WorkspaceRow = typeof workspaces.$inferSelect;
export type UserRow = typeof platformUsers.$inferSelect;
export type SessionRow = typeof platformSessions.$inferSelect;
export type PolicyRow = typeof workspacePolicies.$inferSelect;
export type PakRow = typeof paks.$inferSelect;

// ─── Constants ───────────────────────────────────────────────────────────────

export const PAK_PREFIX = "pcft_live_";
export const PAK_PATTERN = /^pcft_live_[A-Za-z0-9_-]{32,}$/;
/** Characters of a PAK shown in listings: the fixed prefix plus four random characters. */
export const PAK_SHOWN_PREFIX_LENGTH = 14;
export const SESSION_PREFIX = "hps_";
export const SESSION_COOKIE = "auth_token";

export const DEFAULT_WORKSPACE_SLUG = "default";
export const ADMIN_POLICY_NAME = "heimdall-admin";
export const ADMIN_POLICY: PolicyStatement[] = [
  { effect: "allow", actions: ["heimdall.*"], resources: ["*"] },
];

export const DEFAULT_SESSION_SECONDS = (30 * DAY) / 1000;
export const SESSION_DURATIONS = { short: (24 * HOUR) / 1000, long: (90 * DAY) / 1000 } as const;
export const MIN_SESSION_SECONDS = 3600;
export const MAX_SESSION_SECONDS = 7_776_000;

/**
 * The appliance has three fixed workspace roles rather than role rows; the wire wants a role id, so each
 * role name gets a stable synthetic UUID.
 */
export const ROLE_IDS: Record<WorkspaceRole, string> = {
  owner: "6b1f0a52-8c1e-5d6f-9a40-000000000001",
  admin: "6b1f0a52-8c1e-5d6f-9a40-000000000002",
  viewer: "6b1f0a52-8c1e-5d6f-9a40-000000000003",
};

export const POLICY_NAME = /^[A-Za-z0-9 _-]{1,64}$/;

// ─── Request schemas ─────────────────────────────────────────────────────────

export const signInSchema = z.object({
  identifier: z.string().trim().min(1).max(320),
  password: z.string().min(1).max(1024),
  session_duration: z
    .union([z.enum(["short", "long"]), z.number().int().min(MIN_SESSION_SECONDS).max(MAX_SESSION_SECONDS)])
    .optional(),
});

export function sessionSeconds(d: z.infer<typeof signInSchema>["session_duration"]): number {
  if (d === undefined) return DEFAULT_SESSION_SECONDS;
  return typeof d === "number" ? d : SESSION_DURATIONS[d];
}

/** The spec calls the field `refresh_token`; the appliance has no refresh tokens, so it carries the session token. */
export const logoutSchema = z.object({ refresh_token: z.string().min(1).max(512).optional() }).optional();

const actionPattern = z
  .string()
  .min(1)
  .max(128)
  .refine(isKnownActionPattern, "unknown action: use `*`, a catalogued action, or a wildcard matching one");
const resourcePattern = z
  .string()
  .min(1)
  .max(256)
  .refine(
    (r) => r === "*" || /^pcft:heimdall:[^\s]*$/.test(r),
    "resource must be `*` or start with pcft:heimdall:",
  );

export const statementSchema = z.object({
  effect: z.enum(["allow", "deny"]),
  actions: z.array(actionPattern).min(1).max(64),
  resources: z.array(resourcePattern).min(1).max(64),
});
const statementsSchema = z.array(statementSchema).max(100);

const policyName = z.string().regex(POLICY_NAME, "1-64 letters, digits, spaces, underscores or hyphens");
const description = z.string().max(500);

export const createPolicySchema = z.object({
  name: policyName,
  description: description.nullable().optional(),
  policy: statementsSchema,
});

export const updatePolicySchema = z.object({
  name: policyName.optional(),
  description: description.nullable().optional(),
  policy: statementsSchema.optional(),
});

export const createPakSchema = z.object({
  name: z.string().trim().min(1).max(120),
  description: description.optional(),
  policy_ids: z.array(z.string().min(1).max(64)).min(1).max(50),
  /** Appliance addition (the contract has no expiry): after it the key is refused like a revoked one. */
  expires_at: expiresAtSchema,
});

export const updatePakSchema = z.object({
  name: z.string().trim().min(1).max(120).optional(),
  description: description.nullable().optional(),
});

/** A policy file for `heimdall pak create --policy`: a statement list, or an object holding one. */
export const policyFileSchema = z.union([
  statementsSchema,
  z.object({ policy: statementsSchema }).transform((o) => o.policy),
  z.object({ statements: statementsSchema }).transform((o) => o.statements),
]);

// ─── Pagination (docs/architecture.md, "Wire"): the shared helpers, with this module's cursor shape ──────

export { type Page, type Position, pageOf, parseLimit } from "../core/pagination.ts";

/** Opaque base64url JSON of `(created_at, id)`; anything that does not decode to that is a 400. */
export const parseCursor = (raw: string | undefined) => decodeCursor(raw, isPosition);

// ─── DTOs ────────────────────────────────────────────────────────────────────

export function workspaceDto(w: WorkspaceRow) {
  return {
    id: w.id,
    slug: w.slug,
    display_name: w.displayName,
    created_by: w.createdBy,
    status: w.status,
    settings: w.settings ?? {},
    created_at: iso(w.createdAt),
    updated_at: iso(w.updatedAt),
  };
}

export function workspaceListItemDto(w: WorkspaceRow, role: WorkspaceRole | null) {
  return { ...workspaceDto(w), member_role: role, member_role_id: role ? ROLE_IDS[role] : null };
}

export function meDto(u: UserRow) {
  return {
    id: u.id,
    email: u.email,
    username: u.username,
    display_name: u.displayName,
    status: u.status,
    email_verified_at: iso(u.emailVerifiedAt),
    avatar_url: null,
  };
}

export function sessionDto(s: SessionRow) {
  return {
    id: s.id,
    account_id: s.userId,
    ip: s.ip,
    user_agent: s.userAgent,
    created_at: iso(s.createdAt),
    expires_at: iso(s.expiresAt),
    last_used_at: iso(s.lastUsedAt),
  };
}

export interface BoundPolicy {
  id: string;
  name: string;
  description: string | null;
}

export function pakDto(k: PakRow, policies: BoundPolicy[]) {
  return {
    id: k.id,
    workspace_id: k.workspaceId,
    created_by: k.createdBy,
    name: k.name,
    description: k.description,
    token_prefix: k.tokenPrefix,
    policies: policies.map((p) => ({ id: p.id, name: p.name, description: p.description })),
    last_used_at: iso(k.lastUsedAt),
    revoked_at: iso(k.revokedAt),
    expires_at: iso(k.expiresAt),
    created_at: iso(k.createdAt),
    updated_at: iso(k.updatedAt),
  };
}

/** `created_by` is shown only to callers allowed to read the audit trail; others see null. */
export function policyDto(p: PolicyRow, revealCreator: boolean) {
  return {
    id: p.id,
    workspace_id: p.workspaceId,
    name: p.name,
    description: p.description,
    policy: p.statements,
    created_by: revealCreator ? p.createdBy : null,
    created_at: iso(p.createdAt),
    updated_at: iso(p.updatedAt),
  };
}

export function policyDetailDto(p: PolicyRow, revealCreator: boolean, pakBindings: number) {
  return { ...policyDto(p, revealCreator), binding_count: { pak: pakBindings, role: 0 } };
}

export interface MemberRow {
  id: string;
  userId: string;
  role: WorkspaceRole;
  createdAt: number;
  username: string;
  displayName: string | null;
  email: string;
}

export function memberDto(m: MemberRow) {
  return {
    id: m.id,
    account_id: m.userId,
    username: m.username,
    display_name: m.displayName,
    primary_email: m.email,
    role_id: ROLE_IDS[m.role],
    role: m.role,
    role_is_system: true,
    joined_at: iso(m.createdAt),
  };
}
