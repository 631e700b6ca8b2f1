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
}

/** `StepUpResponseDto`. */
export interface StepUpResponse {
  amr: string[];
  mfa_at: string;
}
