/** @module Canonical forms of end-user identifiers, so that lookups and uniqueness never depend on spelling. */
import { z } from "zod";

/** Usernames: case-folded, 3–64 of `a-z 0-9 . _ -`, starting with a letter or digit; never an email. */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{2,63}$/;

export function normalizeUsername(raw: string): string {
  return raw.normalize("NFKC").trim().toLowerCase();
}

/** Emails: NFKC, trimmed, lower-cased (the local part too — what every mainstream IdP does). */
export function normalizeEmail(raw: string): string {
  return raw.normalize("NFKC").trim().toLowerCase();
}

const emailSchema = z.email();

export function isEmail(value: string): boolean {
  return value.length <= 254 && emailSchema.safeParse(value).success;
}

/** Phones: keep a leading `+` and the digits; E.164 allows at most 15 digits. */
export function normalizePhone(raw: string): string {
  const trimmed = raw.normalize("NFKC").trim();
  return (trimmed.startsWith("+") ? "+" : "") + trimmed.replace(/\D/g, "");
}

export function isPhone(value: string): boolean {
  return /^\+?[1-9]\d{6,14}$/.test(value);
}

export function emailDomain(email: string): string {
  return email.slice(email.lastIndexOf("@") + 1);
}
