/** @module The end-user password policy: one pure check shared by signup, change-password and reset-password. */
import type { AuthConfig } from "../apps/auth-config.ts";
import type { ErrorDetail } from "../core/errors.ts";
import { fail } from "../core/errors.ts";
import { foldPassword } from "./common-passwords.ts";
import { isCommonPassword, isTrivialPattern } from "./guessable.ts";
import { MAX_PASSWORD_BYTES } from "./hasher.ts";

/**
 * Upper bound in code points. Long passphrases are welcome, but a password is never silently truncated
 * (bcrypt-style): anything longer is refused, so what the user typed is exactly what gets hashed.
 */
export const MAX_PASSWORD_CODE_POINTS = 256;

export type PasswordPolicy = Pick<
  AuthConfig,
  "password_min_length" | "password_require_uppercase" | "password_require_number" | "password_require_symbol"
>;

export type PasswordFailure =
  | "too_short"
  | "too_long"
  | "missing_uppercase"
  | "missing_number"
  | "missing_symbol"
  | "common_password"
  | "repetitive_or_sequential";

const UPPERCASE = /\p{Lu}/u;
const DIGIT = /\p{Nd}/u;
/** A symbol is anything that is neither a letter nor a digit (so `é`, `ß` and `٣` never count as symbols). */
const SYMBOL = /[^\p{L}\p{Nd}]/u;

/** Every rule the password breaks, in a stable order; empty when it is acceptable. */
export function passwordFailures(
  password: string,
  policy: PasswordPolicy,
  identity: { username?: string | null; email?: string | null } = {},
): PasswordFailure[] {
  // Length in code points, not UTF-16 units: an emoji is one character to the person typing it.
  const length = [...password].length;
  if (length > MAX_PASSWORD_CODE_POINTS || Buffer.byteLength(password, "utf8") > MAX_PASSWORD_BYTES) {
    // Nothing else is worth checking (or worth scanning) on an input this size.
    return ["too_long"];
  }
  const failures: PasswordFailure[] = [];
  if (length < policy.password_min_length) failures.push("too_short");
  if (policy.password_require_uppercase && !UPPERCASE.test(password)) failures.push("missing_uppercase");
  if (policy.password_require_number && !DIGIT.test(password)) failures.push("missing_number");
  if (policy.password_require_symbol && !SYMBOL.test(password)) failures.push("missing_symbol");
  const folded = foldPassword(password);
  const sameAsIdentity = [identity.username, identity.email].some((v) => v && foldPassword(v) === folded);
  // One guessability reason, not two: a listed password is often also a keyboard walk (`qwertyuiop123`),
  // and the caller needs to know only that it must pick another.
  if (sameAsIdentity || isCommonPassword(folded)) failures.push("common_password");
  else if (isTrivialPattern(folded)) failures.push("repetitive_or_sequential");
  return failures;
}

/** Throws 400 WEAK_PASSWORD with one `{field: "password", reason}` detail per broken rule. */
export function checkPassword(
  password: string,
  policy: PasswordPolicy,
  identity: { username?: string | null; email?: string | null } = {},
): void {
  const failures = passwordFailures(password, policy, identity);
  if (failures.length === 0) return;
  const details: ErrorDetail[] = failures.map((reason) => ({ field: "password", reason }));
  throw fail("WEAK_PASSWORD", { details });
}
