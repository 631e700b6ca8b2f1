/** @module Codes wire model: the bodies of the six code routes, normalised to what the service works with. */
import { z } from "zod";
import { isEmail, isPhone, normalizeEmail, normalizePhone } from "../users/normalize.ts";

export interface ContactRef {
  type: "email" | "phone";
  /** Normalised as stored in `end_user_contacts`. */
  value: string;
}

const EXACTLY_ONE = "provide exactly one of email or phone";

const emailField = z
  .string()
  .max(320)
  .transform((s, ctx) => {
    const email = normalizeEmail(s);
    if (!isEmail(email)) {
      ctx.addIssue({ code: "custom", message: "must be an email address" });
      return z.NEVER;
    }
    return email;
  });

const phoneField = z
  .string()
  .max(64)
  .transform((s, ctx) => {
    const phone = normalizePhone(s);
    if (!isPhone(phone)) {
      ctx.addIssue({ code: "custom", message: "must be a phone number (E.164 recommended)" });
      return z.NEVER;
    }
    return phone;
  });

/** `request-verification` / `request-password-reset`: exactly one of `email`, `phone`. */
export const contactRequestSchema = z
  .object({ email: emailField.optional(), phone: phoneField.optional() })
  .superRefine((v, ctx) => {
    if ((v.email === undefined) === (v.phone === undefined))
      ctx.addIssue({ code: "custom", message: EXACTLY_ONE });
  })
  .transform(
    (v): ContactRef =>
      v.email !== undefined ? { type: "email", value: v.email } : { type: "phone", value: v.phone! },
  );

/** `send-verification-email` / `send-password-reset-email`. */
export const sendEmailSchema = z
  .object({ email: emailField })
  .transform((v): ContactRef => ({ type: "email", value: v.email }));

/**
 * A submitted code is any string: one that is not six digits is simply a wrong code (410, counted
 * towards the lock), so a typo gets the same answer as a guess.
 */
const codeField = z.string().max(64);

export const verifySchema = z.object({ code: codeField });

export const resetPasswordSchema = z.object({ code: codeField, new_password: z.string() });

export interface CodeIssueDto {
  code: string;
  expires_at: string;
}

export interface CodeDispatchDto {
  expires_at: string;
}

export interface VerifyResultDto {
  account_id: string;
  contact_id: string;
  type: "email" | "phone";
  value: string;
  verified_at: string;
}
