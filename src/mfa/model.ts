/** @module MFA wire shapes: the request schemas and DTO mappers of `/me/mfa/*` and the admin lane's factor routes. */
import { z } from "zod";
import { iso } from "../core/clock.ts";
import type { MfaFactorRow } from "./store.ts";

/** Recovery codes per set: the common size (GitHub, Auth0), enough for years of lost phones. */
export const RECOVERY_CODES_PER_SET = 10;
/**
 * A pending (unconfirmed) factor older than this is abandoned: the next enrolment start deletes it and
 * destroys its secret instead of piling up half-enrolled factors.
 */
export const PENDING_FACTOR_TTL_MS = 15 * 60 * 1000;
/** Disabling a factor and regenerating recovery codes need the password or MFA proved this recently. */
export const MFA_RECENT_AUTH_MS = 10 * 60 * 1000;

export const StartEnrollmentSchema = z.object({
  type: z.literal("totp"),
  label: z.string().trim().min(1).max(64).optional(),
});
export type StartEnrollmentInput = z.infer<typeof StartEnrollmentSchema>;

export const ConfirmEnrollmentSchema = z.object({
  codes: z.array(z.string()).length(2),
});
export type ConfirmEnrollmentInput = z.infer<typeof ConfirmEnrollmentSchema>;

export interface PublicFactorDto {
  id: string;
  type: string;
  label: string | null;
  enabled: boolean;
  created_at: string;
  enabled_at: string | null;
}

export interface TotpEnrollmentDto {
  otpauth_uri: string;
  secret: string;
  qr_data_url: string;
  algorithm: string;
  digits: number;
  period: number;
}

export interface StartEnrollmentResponseDto {
  factor: PublicFactorDto;
  enrollment: TotpEnrollmentDto;
}

export interface ConfirmEnrollmentResponseDto {
  factor: PublicFactorDto;
  recovery_codes: string[];
}

export interface AdminProvisionFactorResponseDto {
  factor: PublicFactorDto;
  enrollment: TotpEnrollmentDto;
  recovery_codes: string[];
}

export function toFactorDto(row: MfaFactorRow): PublicFactorDto {
  return {
    id: row.id,
    type: row.type,
    label: row.label,
    enabled: row.enabledAt !== null,
    created_at: iso(row.createdAt),
    enabled_at: iso(row.enabledAt),
  };
}

/**
 * A recovery code as typed: case, hyphens and spaces do not matter. Null unless it is then exactly
 * 16 hex characters, so a malformed one never reaches a hash comparison.
 */
export function normalizeRecoveryCode(code: string): string | null {
  const n = code.toLowerCase().replace(/[\s-]/g, "");
  return /^[0-9a-f]{16}$/.test(n) ? n : null;
}

/** `a1b2c3d4e5f67890` → `a1b2-c3d4-e5f6-7890`, the shape shown to the user. */
export function formatRecoveryCode(hex16: string): string {
  return hex16.match(/.{4}/g)?.join("-") ?? hex16;
}
