/** @module Wire shapes of the sign-in MFA challenge, its completion (`auth/mfa/verify`, `auth/mfa/recover`) and step-up. */
import { z } from "zod";

/** The challenge token is a UUID; the bound only keeps garbage away from hashing. */
const mfaToken = z.string().min(1).max(128);
const totpCode = z.string().regex(/^[0-9]{6}$/, "must be 6 digits");
/** 16 hex characters, hyphens anywhere optional; compared lowercase without hyphens. */
const recoveryCode = z
  .string()
  .max(64)
  .transform((s) => s.replaceAll("-", "").toLowerCase())
  .refine((s) => /^[0-9a-f]{16}$/.test(s), "must be 16 hex characters (hyphens optional)");

export const mfaVerifySchema = z.object({ mfa_token: mfaToken, code: totpCode });
export const mfaRecoverSchema = z.object({ mfa_token: mfaToken, recovery_code: recoveryCode });
/** Step-up takes either kind of code in one field. */
export const stepUpSchema = z.object({
  code: z.union([totpCode, recoveryCode], { error: "must be a 6-digit code or a 16-hex recovery code" }),
});

/** The enrolment a required-MFA sign-in allows (appliance addition): start, then confirm with two codes. */
export const mfaEnrollSchema = z.object({
  mfa_token: mfaToken,
  label: z.string().trim().min(1).max(64).optional(),
});
export const mfaEnrollConfirmSchema = z.object({
  mfa_token: mfaToken,
  factor_id: z.string().min(1).max(64),
  codes: z.array(totpCode).length(2),
});

export type MfaEnrollInput = z.output<typeof mfaEnrollSchema>;
export type MfaEnrollConfirmInput = z.output<typeof mfaEnrollConfirmSchema>;
export type MfaVerifyInput = z.output<typeof mfaVerifySchema>;
export type MfaRecoverInput = z.output<typeof mfaRecoverSchema>;

export interface MfaChallengeFactor {
  id: string;
  type: string;
  label: string | null;
}

/** `ConsumerMfaChallengeResponseDto`. */
export interface MfaChallengeResponse {
  mfa_required: true;
  mfa_token: string;
  expires_at: string;
  factors: MfaChallengeFactor[];
  /** Appliance addition, on an enrolment challenge only: the app requires MFA and the account has none. */
  enrollment_required?: true;
}

/** `StepUpResponseDto`. */
export interface StepUpResponse {
  amr: string[];
  mfa_at: string;
}
