/** @module Platform-user password hashing: argon2id (m=19456 KiB, t=2, p=1), computed off the main thread. */
import { hash, verify } from "@node-rs/argon2";

// `Algorithm` is a `const enum` in the package's typings, which `verbatimModuleSyntax` cannot import; 2 is Argon2id.
const ARGON2ID = 2;
const OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/**
 * A hash of a throw-away password with the same parameters as real hashes. Verifying against it costs what a
 * real verification costs, so an unknown identifier and a wrong password are indistinguishable by timing.
 */
const DUMMY_HASH =
  "$argon2id$v=19$m=19456,t=2,p=1$tWQ8Wa6YZzFwQQGS08A6Pg$8eo/WZob4cdCynmezK/rYL7AAszp0kaF1ECcyhTXLmY";

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

/** False for a wrong password and for a malformed stored hash (never throws on bad input). */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** Burns one verification's worth of work; always false. */
export async function dummyVerify(password = ""): Promise<false> {
  await verifyPassword(DUMMY_HASH, password);
  return false;
}
