/** @module Bodies and responses of introspection, `/verify` and `/authorize*` (zod in, plain DTOs out). */
import { z } from "zod";

/** Checks a single `/authorize/batch` call may carry. */
export const MAX_BATCH_CHECKS = 100;
/** Permissions one check may require; far above any real route's needs. */
export const MAX_PERMISSIONS_PER_CHECK = 100;

const permission = z.string().min(1).max(256);
const bodyToken = z.string().min(1).optional();

const permissionsCheck = {
  permission: permission.optional(),
  permissions: z.array(permission).min(1).max(MAX_PERMISSIONS_PER_CHECK).optional(),
};

/** A check names either one permission or a list that must all be held — never both, never neither. */
function exactlyOne(v: { permission?: string; permissions?: string[] }, ctx: z.RefinementCtx): void {
  if ((v.permission === undefined) === (v.permissions === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: ["permission"],
      message: "provide exactly one of permission or permissions",
    });
  }
}

/**
 * RFC 7662 form or JSON; the whole body is optional because in the contract's mode the bearer is what gets
 * introspected. In the client-authenticated mode `client_id`/`client_secret` ride here too
 * (`client_secret_post`); the token endpoint's own parser checks them, so they stay unknown here. Open to
 * other parameters: RFC 7662 §2.1 lets a server take (and so a client send) more than these two, and an
 * OAuth library's extras must be ignored, as at the token endpoint (RFC 6749 §3.2).
 */
export const introspectSchema = z
  .looseObject({ token: z.string().optional(), token_type_hint: z.string().optional() })
  .optional();

export const verifySchema = z.object({ token: bodyToken }).optional();

export const authorizeSchema = z.object({ token: bodyToken, ...permissionsCheck }).superRefine(exactlyOne);

export const authorizeBatchSchema = z.object({
  token: bodyToken,
  checks: z
    .array(z.object({ id: z.string().max(256).optional(), ...permissionsCheck }).superRefine(exactlyOne))
    .max(MAX_BATCH_CHECKS),
});

export type IntrospectBody = z.output<typeof introspectSchema>;
export type VerifyBody = z.output<typeof verifySchema>;
export type AuthorizeBody = z.output<typeof authorizeSchema>;
export type AuthorizeBatchBody = z.output<typeof authorizeBatchSchema>;

/** The permissions a check requires, in the caller's order, without repeats. */
export const requiredOf = (c: { permission?: string; permissions?: string[] }): string[] =>
  c.permission !== undefined ? [c.permission] : [...new Set(c.permissions)];

export type IntrospectResponse =
  | { active: false }
  | {
      active: true;
      sub: string;
      aid: string;
      type: "end_user" | "m2m";
      iss: string;
      exp: number;
      iat: number;
      client_id?: string;
      scope?: string;
      scopes?: string[];
      role?: string;
      /** An EndUser token acting in a tenant: the tenant's UUID and the account's role there, as of now. */
      tid?: string;
      trole?: string;
      /** Client-authenticated (RFC 7662) mode only. */
      token_type?: "Bearer";
      aud?: string;
      jti?: string;
    };

export interface VerifyResponse {
  valid: boolean;
  error?: string;
  principal?: {
    sub: string;
    aid: string;
    type: "end_user" | "m2m";
    role?: string;
    /** As in introspection: the tenant an EndUser token acts in now, and the role there. */
    tid?: string;
    trole?: string;
    permissions?: string[];
  };
}

export interface AuthorizeResponse {
  authorized: boolean;
  error?: string;
  missing_permissions: string[];
}

export interface AuthorizeBatchResponse {
  /** Set when the token itself failed; every result is then unauthorized. */
  error?: string;
  results: { id?: string; authorized: boolean; missing_permissions: string[] }[];
}
