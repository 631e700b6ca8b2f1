/** @module Pure TOTP helpers over `otpauth` (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps), timed by the caller's clock. */
import { Secret, TOTP } from "otpauth";

export const TOTP_ALGORITHM = "SHA1";
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD = 30;
/** Steps of drift accepted either side of now: a phone a little fast or slow, or a code typed at a step's end. */
export const TOTP_WINDOW = 1;
/** 160 bits, the size RFC 4226 recommends for an HMAC-SHA-1 key (and what authenticator apps expect). */
export const TOTP_SECRET_BYTES = 20;

/** A fresh random shared secret (raw bytes; sealed by the vault, shown to the user in Base32). */
export function generateTotpSecret(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new Secret({ size: TOTP_SECRET_BYTES }).bytes);
}

export function base32Of(secret: Uint8Array): string {
  return new Secret({ buffer: toArrayBuffer(secret) }).base32;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

function totpOf(secret: Uint8Array, issuer = "", label = "OTPAuth"): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD,
    secret: new Secret({ buffer: toArrayBuffer(secret) }),
  });
}

/** `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`. */
export function otpauthUri(secret: Uint8Array, issuer: string, account: string): string {
  return totpOf(secret, issuer, account).toString();
}

/** The time step (RFC 6238's T) that `nowMs` falls in. */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD);
}

/** The code for `nowMs`: for tests and tooling; the server only verifies. */
export function totpCode(secret: Uint8Array, nowMs: number): string {
  return totpOf(secret).generate({ timestamp: nowMs });
}

/** A well-formed TOTP code: exactly six ASCII digits. */
export function isTotpCode(code: string): boolean {
  return /^[0-9]{6}$/.test(code);
}

/**
 * The time step `code` belongs to, within ±TOTP_WINDOW steps of `nowMs`, or null. The caller compares
 * the step with the factor's last accepted one to refuse a replay. otpauth compares in constant time.
 */
export function verifyTotp(secret: Uint8Array, code: string, nowMs: number): number | null {
  if (!isTotpCode(code)) return null;
  const delta = totpOf(secret).validate({ token: code, timestamp: nowMs, window: TOTP_WINDOW });
  return delta === null ? null : totpStep(nowMs) + delta;
}
