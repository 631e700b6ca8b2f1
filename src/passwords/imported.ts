/**
 * @module Password hashes brought from other systems: recognising their format, bounding their cost, and
 * verifying them (docs/decisions.md, "Imported password hashes"). Pure: no I/O, no clock.
 *
 * Every verification goes through a well-kept implementation: `@node-rs/argon2` for argon2, Bun's bcrypt for
 * bcrypt, `node:crypto` (`scryptSync`, `pbkdf2Sync`, `timingSafeEqual`) for scrypt and PBKDF2. What this file
 * adds is parsing: a hash is accepted only in its canonical encoding and with parameters a sign-in can
 * afford, so an import file cannot turn every sign-in into seconds of CPU or gigabytes of memory.
 */
import { pbkdf2Sync, scryptSync, timingSafeEqual } from "node:crypto";
import { verifySync as argon2Verify } from "@node-rs/argon2";
import { ARGON2_OPTIONS } from "./argon2-params.ts";

export type ImportedFormat =
  | "argon2id"
  | "argon2i"
  | "argon2d"
  | "bcrypt"
  | "scrypt"
  | "pbkdf2-sha256"
  | "pbkdf2-sha512"
  | "django-pbkdf2-sha256";

/**
 * The bounds a hash's parameters must stay within. Memory is the larger risk (it multiplies by the hashing
 * threads), so argon2 and scrypt share one ceiling; CPU is bounded per format at a few seconds at most.
 */
export const IMPORTED_HASH_LIMITS = {
  /** argon2 `m` (KiB) and scrypt's 128·N·r bytes: 256 MiB. */
  maxMemoryBytes: 256 * 1024 * 1024,
  argon2MaxTime: 10,
  /** argon2 `m`·`t` in KiB: 1 GiB of memory passes, five times argon2-cffi's default (64 MiB, t=3). */
  argon2MaxWorkKib: 1024 * 1024,
  /** scrypt's 128·N·r·p bytes: 512 MiB of memory passes, eight times passlib's default (ln=16, r=8, p=1). */
  scryptMaxWorkBytes: 512 * 1024 * 1024,
  maxParallelism: 16,
  bcryptMinCost: 4,
  bcryptMaxCost: 17,
  pbkdf2MinIterations: 1_000,
  pbkdf2MaxIterations: 10_000_000,
  /** Derived key and salt lengths, in bytes. */
  minKeyBytes: 16,
  maxKeyBytes: 128,
  minSaltBytes: 8,
  maxSaltBytes: 128,
  /** No imported hash is anywhere near this; a longer string is refused before any parsing. */
  maxHashChars: 512,
} as const;

const L = IMPORTED_HASH_LIMITS;

/** bcrypt reads at most 72 bytes of the password; every implementation outside Bun silently drops the rest. */
const BCRYPT_MAX_PASSWORD_BYTES = 72;

/** The prefix of every hash Heimdall writes; anything else is re-hashed at the next successful sign-in. */
export const HEIMDALL_HASH_PREFIX = `$argon2id$v=19$m=${ARGON2_OPTIONS.memoryCost},t=${ARGON2_OPTIONS.timeCost},p=${ARGON2_OPTIONS.parallelism}$`;

type Parsed =
  | { format: "argon2id" | "argon2i" | "argon2d"; hash: string }
  | { format: "bcrypt"; hash: string }
  | { format: "scrypt"; n: number; r: number; p: number; salt: Buffer; key: Buffer }
  | {
      format: "pbkdf2-sha256" | "pbkdf2-sha512" | "django-pbkdf2-sha256";
      digest: "sha256" | "sha512";
      iterations: number;
      salt: Buffer;
      key: Buffer;
    };

type ParseResult = { ok: true; parsed: Parsed } | { ok: false; reason: string };

const refuse = (reason: string): ParseResult => ({ ok: false, reason });

/** The format a hash's prefix names, or null for anything this module does not verify (including `$2x$`). */
export function importedHashFormat(hash: string): ImportedFormat | null {
  if (hash.startsWith("$argon2id$")) return "argon2id";
  if (hash.startsWith("$argon2i$")) return "argon2i";
  if (hash.startsWith("$argon2d$")) return "argon2d";
  if (/^\$2[aby]\$/.test(hash)) return "bcrypt";
  if (hash.startsWith("$scrypt$")) return "scrypt";
  if (hash.startsWith("$pbkdf2-sha256$")) return "pbkdf2-sha256";
  if (hash.startsWith("$pbkdf2-sha512$")) return "pbkdf2-sha512";
  if (hash.startsWith("pbkdf2_sha256$")) return "django-pbkdf2-sha256";
  return null;
}

/** Why the hash cannot be imported, or null when it can (a recognised format, well-formed, within bounds). */
export function validateImportedHash(hash: string): string | null {
  const result = parse(hash);
  return result.ok ? null : result.reason;
}

/**
 * True when `password` matches `hash`. False for a wrong password and for any hash `validateImportedHash`
 * refuses; never throws.
 */
export function verifyImported(hash: string, password: string): boolean {
  let result: ParseResult;
  try {
    result = parse(hash);
  } catch {
    return false;
  }
  if (!result.ok) return false;
  try {
    return verifyParsed(result.parsed, password);
  } catch {
    // A hash the library still refuses (a bad argon2 or bcrypt encoding) verifies nothing.
    return false;
  }
}

/** True unless the hash is argon2id with exactly Heimdall's parameters. */
export function needsRehash(hash: string): boolean {
  return !hash.startsWith(HEIMDALL_HASH_PREFIX);
}

function verifyParsed(parsed: Parsed, password: string): boolean {
  switch (parsed.format) {
    case "argon2id":
    case "argon2i":
    case "argon2d":
      return argon2Verify(parsed.hash, password);
    case "bcrypt": {
      // Bun pre-hashes passwords longer than 72 bytes (its own hashes do so too); foreign bcrypt hashes were
      // made from the first 72 bytes, so those are what is verified. The prefixes ($2a$, $2b$, $2y$) are the
      // same algorithm for passwords that hashed correctly, and Bun accepts all three.
      const bytes = Buffer.from(password, "utf8");
      const input =
        bytes.length > BCRYPT_MAX_PASSWORD_BYTES ? bytes.subarray(0, BCRYPT_MAX_PASSWORD_BYTES) : password;
      return Bun.password.verifySync(input, parsed.hash, "bcrypt");
    }
    case "scrypt": {
      const derived = scryptSync(password, parsed.salt, parsed.key.length, {
        N: parsed.n,
        r: parsed.r,
        p: parsed.p,
        // Node refuses above 32 MiB by default; the bound was checked when parsing.
        maxmem: 128 * parsed.n * parsed.r * 2 + 1024 * 1024,
      });
      return timingSafeEqual(derived, parsed.key);
    }
    default: {
      const derived = pbkdf2Sync(password, parsed.salt, parsed.iterations, parsed.key.length, parsed.digest);
      return timingSafeEqual(derived, parsed.key);
    }
  }
}

function parse(hash: string): ParseResult {
  if (typeof hash !== "string" || hash.length === 0) return refuse("empty hash");
  if (hash.length > L.maxHashChars) return refuse(`hash longer than ${L.maxHashChars} characters`);
  if (/^\$2x\$/.test(hash)) {
    return refuse("bcrypt $2x$ (hashes from the buggy crypt_blowfish before 2011) is not supported");
  }
  const format = importedHashFormat(hash);
  switch (format) {
    case null:
      return refuse("unknown hash format");
    case "argon2id":
    case "argon2i":
    case "argon2d":
      return parseArgon2(hash, format);
    case "bcrypt":
      return parseBcrypt(hash);
    case "scrypt":
      return parseScrypt(hash);
    case "pbkdf2-sha256":
    case "pbkdf2-sha512":
      return parsePbkdf2Phc(hash, format);
    case "django-pbkdf2-sha256":
      return parseDjango(hash);
  }
}

/** `$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` (PHC, unpadded standard base64). */
function parseArgon2(hash: string, format: "argon2id" | "argon2i" | "argon2d"): ParseResult {
  const parts = hash.split("$");
  if (parts.length !== 6) return refuse(`malformed ${format} hash`);
  const [, , version, params, salt, key] = parts as [string, string, string, string, string, string];
  if (version !== "v=19") return refuse(`${format}: only version 19 (v=19) is supported`);
  const p = paramList(params, ["m", "t", "p"]);
  if (!p) return refuse(`${format}: parameters must be m=…,t=…,p=…`);
  if (p.m * 1024 > L.maxMemoryBytes)
    return refuse(`${format}: memory above ${L.maxMemoryBytes / 1024 / 1024} MiB`);
  if (p.t < 1 || p.t > L.argon2MaxTime) return refuse(`${format}: t outside 1..${L.argon2MaxTime}`);
  if (p.p < 1 || p.p > L.maxParallelism) return refuse(`${format}: p outside 1..${L.maxParallelism}`);
  if (p.m < 8 * p.p) return refuse(`${format}: m below 8·p`);
  if (p.m * p.t > L.argon2MaxWorkKib) return refuse(`${format}: m·t above ${L.argon2MaxWorkKib} KiB`);
  const saltBytes = b64(salt, "phc");
  const keyBytes = b64(key, "phc");
  if (!saltBytes || !keyBytes) return refuse(`${format}: salt or hash is not canonical unpadded base64`);
  const lengths = checkLengths(format, saltBytes, keyBytes);
  if (lengths) return refuse(lengths);
  return { ok: true, parsed: { format, hash } };
}

/** `$2b$<cost>$<22 chars salt><31 chars hash>` in bcrypt's own base64 alphabet. */
function parseBcrypt(hash: string): ParseResult {
  const match = /^\$2[aby]\$(\d\d)\$([./A-Za-z0-9]{53})$/.exec(hash);
  if (!match) return refuse("malformed bcrypt hash");
  const cost = Number(match[1]);
  if (cost < L.bcryptMinCost || cost > L.bcryptMaxCost) {
    return refuse(`bcrypt: cost outside ${L.bcryptMinCost}..${L.bcryptMaxCost}`);
  }
  return { ok: true, parsed: { format: "bcrypt", hash } };
}

/** passlib's `$scrypt$ln=<log2 N>,r=…,p=…$<salt>$<hash>` (unpadded standard base64). */
function parseScrypt(hash: string): ParseResult {
  const parts = hash.split("$");
  if (parts.length !== 5) return refuse("malformed scrypt hash");
  const [, , params, salt, key] = parts as [string, string, string, string, string];
  const p = paramList(params, ["ln", "r", "p"]);
  if (!p) return refuse("scrypt: parameters must be ln=…,r=…,p=…");
  if (p.ln < 1 || p.ln > 30) return refuse("scrypt: ln outside 1..30");
  if (p.r < 1 || p.r > 32) return refuse("scrypt: r outside 1..32");
  if (p.p < 1 || p.p > L.maxParallelism) return refuse(`scrypt: p outside 1..${L.maxParallelism}`);
  const n = 2 ** p.ln;
  if (128 * n * p.r > L.maxMemoryBytes)
    return refuse(`scrypt: memory above ${L.maxMemoryBytes / 1024 / 1024} MiB`);
  if (128 * n * p.r * p.p > L.scryptMaxWorkBytes) {
    return refuse(`scrypt: 128·N·r·p above ${L.scryptMaxWorkBytes / 1024 / 1024} MiB`);
  }
  const saltBytes = b64(salt, "phc");
  const keyBytes = b64(key, "phc");
  if (!saltBytes || !keyBytes) return refuse("scrypt: salt or hash is not canonical unpadded base64");
  const lengths = checkLengths("scrypt", saltBytes, keyBytes);
  if (lengths) return refuse(lengths);
  return { ok: true, parsed: { format: "scrypt", n, r: p.r, p: p.p, salt: saltBytes, key: keyBytes } };
}

/**
 * `$pbkdf2-sha256$<rounds>$<salt>$<hash>` in passlib's "ab64" (base64 with `.` for `+`, unpadded), or the
 * PHC form `$pbkdf2-sha256$i=<rounds>,l=<key length>$<salt>$<hash>` in unpadded standard base64.
 */
function parsePbkdf2Phc(hash: string, format: "pbkdf2-sha256" | "pbkdf2-sha512"): ParseResult {
  const parts = hash.split("$");
  if (parts.length !== 5) return refuse(`malformed ${format} hash`);
  const [, , params, salt, key] = parts as [string, string, string, string, string];
  let iterations: number;
  let saltBytes: Buffer | null;
  let keyBytes: Buffer | null;
  if (/^\d+$/.test(params)) {
    iterations = decimal(params);
    saltBytes = b64(salt, "ab64");
    keyBytes = b64(key, "ab64");
  } else {
    const p = paramList(params, ["i", "l"]);
    if (!p) return refuse(`${format}: parameters must be <rounds> or i=…,l=…`);
    iterations = p.i;
    saltBytes = b64(salt, "phc");
    keyBytes = b64(key, "phc");
    if (keyBytes && keyBytes.length !== p.l) return refuse(`${format}: l does not match the hash's length`);
  }
  if (!saltBytes || !keyBytes) return refuse(`${format}: salt or hash is not canonical base64`);
  const bounds = checkIterations(format, iterations);
  if (bounds) return refuse(bounds);
  const lengths = checkLengths(format, saltBytes, keyBytes);
  if (lengths) return refuse(lengths);
  const digest = format === "pbkdf2-sha256" ? "sha256" : "sha512";
  return { ok: true, parsed: { format, digest, iterations, salt: saltBytes, key: keyBytes } };
}

/** Django's `pbkdf2_sha256$<iterations>$<salt>$<padded base64 hash>`; the salt is used as its UTF-8 text. */
function parseDjango(hash: string): ParseResult {
  const parts = hash.split("$");
  if (parts.length !== 4) return refuse("malformed django pbkdf2_sha256 hash");
  const [, rounds, salt, key] = parts as [string, string, string, string];
  if (!/^\d+$/.test(rounds)) return refuse("django pbkdf2_sha256: iterations must be a number");
  const iterations = decimal(rounds);
  const bounds = checkIterations("django pbkdf2_sha256", iterations);
  if (bounds) return refuse(bounds);
  if (!/^[\x21-\x7e]+$/.test(salt)) return refuse("django pbkdf2_sha256: salt must be printable ASCII");
  const keyBytes = b64(key, "padded");
  if (!keyBytes) return refuse("django pbkdf2_sha256: hash is not canonical base64");
  const saltBytes = Buffer.from(salt, "utf8");
  // Django's salts are 12 to 22 characters; the floor is the same as the other formats' salt bytes.
  const lengths = checkLengths("django pbkdf2_sha256", saltBytes, keyBytes);
  if (lengths) return refuse(lengths);
  return {
    ok: true,
    parsed: { format: "django-pbkdf2-sha256", digest: "sha256", iterations, salt: saltBytes, key: keyBytes },
  };
}

function checkIterations(label: string, iterations: number): string | null {
  // NaN (not a plain decimal) compares false with everything, so it is refused by name.
  if (Number.isNaN(iterations) || iterations < L.pbkdf2MinIterations || iterations > L.pbkdf2MaxIterations) {
    return `${label}: iterations outside ${L.pbkdf2MinIterations}..${L.pbkdf2MaxIterations}`;
  }
  return null;
}

function checkLengths(label: string, salt: Buffer, key: Buffer): string | null {
  if (salt.length < L.minSaltBytes || salt.length > L.maxSaltBytes) {
    return `${label}: salt length outside ${L.minSaltBytes}..${L.maxSaltBytes} bytes`;
  }
  if (key.length < L.minKeyBytes || key.length > L.maxKeyBytes) {
    return `${label}: hash length outside ${L.minKeyBytes}..${L.maxKeyBytes} bytes`;
  }
  return null;
}

/** A decimal without sign or leading zeros that fits comfortably in a double; NaN otherwise. */
function decimal(s: string): number {
  if (!/^(0|[1-9]\d{0,9})$/.test(s)) return Number.NaN;
  return Number(s);
}

/** `k1=v1,k2=v2` with exactly the keys given, in that order, each a decimal. */
function paramList<K extends string>(s: string, keys: readonly K[]): Record<K, number> | null {
  const pairs = s.split(",");
  if (pairs.length !== keys.length) return null;
  const out = {} as Record<K, number>;
  for (const [i, key] of keys.entries()) {
    const pair = pairs[i]!;
    if (!pair.startsWith(`${key}=`)) return null;
    const value = decimal(pair.slice(key.length + 1));
    if (Number.isNaN(value)) return null;
    out[key] = value;
  }
  return out;
}

const B64_PATTERNS = {
  phc: /^[A-Za-z0-9+/]+$/,
  ab64: /^[A-Za-z0-9./]+$/,
  padded: /^[A-Za-z0-9+/]+={0,2}$/,
} as const;

/**
 * Decodes only the canonical encoding: a string whose decoding does not encode back to itself (stray unused
 * bits, wrong padding) is refused, so a hash has exactly one spelling and a tampered one never verifies.
 */
function b64(s: string, kind: keyof typeof B64_PATTERNS): Buffer | null {
  if (!B64_PATTERNS[kind].test(s)) return null;
  const standard = kind === "ab64" ? s.replaceAll(".", "+") : s;
  const bytes = Buffer.from(standard, "base64");
  const again = bytes.toString("base64");
  const expected = kind === "padded" ? again : again.replace(/=+$/, "");
  return expected === standard ? bytes : null;
}
