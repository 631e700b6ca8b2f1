/** @module Wire shapes of the Consumer sign-up, sign-in, refresh and logout endpoints, and their token response. */
import { z } from "zod";
import { MAX_PASSWORD_BYTES } from "../passwords/hasher.ts";
import { isEmail, normalizeEmail, normalizeUsername, USERNAME_PATTERN } from "../users/normalize.ts";
import { tenantRef } from "./tenant-model.ts";

/** Longest display name kept; the spec sets no bound, one row should not hold a novel. */
const MAX_DISPLAY_NAME = 256;
/** RFC 5321 caps an address at 254 octets; a username is at most 64. Anything longer cannot name an account. */
const MAX_IDENTIFIER = 320;

export const signupSchema = z.object({
  // Normalised here so uniqueness, the pattern and every later lookup see one canonical spelling.
  username: z
    .string()
    .max(MAX_IDENTIFIER)
    .transform(normalizeUsername)
    .refine(
      (u) => USERNAME_PATTERN.test(u),
      "must be 3-64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit (and not an email)",
    ),
  email: z
    .string()
    .max(MAX_IDENTIFIER)
    .transform(normalizeEmail)
    .refine(isEmail, "must be a valid email address"),
  // Length and strength belong to the app's policy (400 WEAK_PASSWORD), not to the shape check.
  password: z.string(),
  display_name: z
    .string()
    .trim()
    .refine((s) => [...s].length <= MAX_DISPLAY_NAME, `must be at most ${MAX_DISPLAY_NAME} characters`)
    .transform((s) => s || null)
    .nullish(),
});

export type SignupInput = z.output<typeof signupSchema>;

export const signinSchema = z.object({
  identifier: z.string().trim().min(1).max(MAX_IDENTIFIER),
  // No password can exceed what sign-up accepts, so longer input is refused before any hashing work.
  password: z
    .string()
    .min(1)
    .refine(
      (p) => Buffer.byteLength(p, "utf8") <= MAX_PASSWORD_BYTES,
      `must be at most ${MAX_PASSWORD_BYTES} bytes`,
    ),
  /** A tenant to act in (its UUID or `tnt_` display id); the account must be a member (auth/tenant-scope.ts). */
  tenant_id: tenantRef.optional(),
});

export type SigninInput = z.output<typeof signinSchema>;

/** Refresh tokens are short (`hrt_` + 43 chars); the bound only keeps garbage away from hashing. */
const refreshToken = z.string().min(1).max(512);

export const refreshSchema = z.object({ refresh_token: refreshToken });
export const logoutSchema = z.object({ refresh_token: refreshToken });

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  expires_in: number;
}

export const tokenResponse = (
  access: { token: string; expiresIn: number },
  refresh: string,
): TokenResponse => ({
  access_token: access.token,
  refresh_token: refresh,
  token_type: "Bearer",
  expires_in: access.expiresIn,
});
