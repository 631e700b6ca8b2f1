/** @module Imported password hashes: hashes made by other systems' tools verify, wrong and tampered ones do not, absurd ones are refused. */
import { describe, expect, test } from "bun:test";
import { hashSync } from "@node-rs/argon2";
import { ARGON2_OPTIONS } from "../../src/passwords/argon2-params.ts";
import { createPasswordHasher } from "../../src/passwords/hasher.ts";
import {
  type ImportedFormat,
  importedHashFormat,
  needsRehash,
  validateImportedHash,
  verifyImported,
} from "../../src/passwords/imported.ts";
import { htpasswdBcrypt, mkpasswd, passlibHash, phcPbkdf2 } from "../support/foreign-hashes.ts";

const PASSWORD = "Tangerine-Orbit-47-Lantern é✓";
const WRONG = "Tangerine-Orbit-47-Lantern é✗";

/** One character in the middle of the last `$` segment (the derived key) swapped for another of its alphabet. */
function tamper(hash: string): string {
  const at = hash.lastIndexOf("$") + Math.floor((hash.length - hash.lastIndexOf("$")) / 2);
  const swapped = hash[at] === "A" ? "B" : "A";
  return hash.slice(0, at) + swapped + hash.slice(at + 1);
}

// Parameters low enough to keep the suite fast, all within the accepted bounds.
const FOREIGN: { name: string; format: ImportedFormat; make: (password: string) => string }[] = [
  { name: "htpasswd -B ($2y$)", format: "bcrypt", make: (p) => htpasswdBcrypt(p) },
  { name: "mkpasswd -m bcrypt ($2b$)", format: "bcrypt", make: (p) => mkpasswd("bcrypt", p) },
  { name: "mkpasswd -m bcrypt-a ($2a$)", format: "bcrypt", make: (p) => mkpasswd("bcrypt-a", p) },
  { name: "passlib bcrypt", format: "bcrypt", make: (p) => passlibHash("bcrypt", p, { rounds: 5 }) },
  {
    name: "passlib pbkdf2_sha256 (defaults)",
    format: "pbkdf2-sha256",
    make: (p) => passlibHash("pbkdf2_sha256", p),
  },
  {
    name: "passlib pbkdf2_sha512 (defaults)",
    format: "pbkdf2-sha512",
    make: (p) => passlibHash("pbkdf2_sha512", p),
  },
  {
    name: "PHC pbkdf2-sha256 (hashlib)",
    format: "pbkdf2-sha256",
    make: (p) => phcPbkdf2("sha256", p, 10_000),
  },
  {
    name: "PHC pbkdf2-sha512 (hashlib)",
    format: "pbkdf2-sha512",
    make: (p) => phcPbkdf2("sha512", p, 10_000),
  },
  { name: "passlib scrypt", format: "scrypt", make: (p) => passlibHash("scrypt", p, { rounds: 12 }) },
  {
    name: "passlib argon2 (argon2id)",
    format: "argon2id",
    make: (p) => passlibHash("argon2", p, { memory_cost: 8192, rounds: 2, parallelism: 2 }),
  },
  {
    name: "passlib argon2 (argon2i)",
    format: "argon2i",
    make: (p) => passlibHash("argon2", p, { type: "I", memory_cost: 8192, rounds: 2, parallelism: 1 }),
  },
  {
    name: "passlib django_pbkdf2_sha256",
    format: "django-pbkdf2-sha256",
    make: (p) => passlibHash("django_pbkdf2_sha256", p, { rounds: 20_000 }),
  },
];

describe("hashes made by other systems' tools", () => {
  for (const { name, format, make } of FOREIGN) {
    test(name, () => {
      const hash = make(PASSWORD);
      expect(importedHashFormat(hash)).toBe(format);
      expect(validateImportedHash(hash)).toBeNull();
      expect(verifyImported(hash, PASSWORD)).toBe(true);
      expect(verifyImported(hash, WRONG)).toBe(false);
      expect(verifyImported(hash, "")).toBe(false);
      const tampered = tamper(hash);
      expect(tampered).not.toBe(hash);
      expect(verifyImported(tampered, PASSWORD)).toBe(false);
      expect(needsRehash(hash)).toBe(true);
    });
  }

  test("passlib's default parameters are within the bounds", () => {
    for (const scheme of ["argon2", "scrypt"] as const) {
      const hash = passlibHash(scheme, PASSWORD);
      expect([scheme, validateImportedHash(hash)]).toEqual([scheme, null]);
    }
  });

  test("bcrypt of a password over 72 bytes verifies as every bcrypt does: on its first 72 bytes", () => {
    const long = `${"x".repeat(70)}-long-tail-the-original-system-ignored`;
    const hash = htpasswdBcrypt(long);
    expect(verifyImported(hash, long)).toBe(true);
    expect(verifyImported(hash, `${"x".repeat(70)}-y`)).toBe(false);
  });

  test("the hashing threads verify imported hashes; a hash of no known format verifies nothing", async () => {
    const hasher = createPasswordHasher({ concurrency: 1, priority: "normal" });
    const pbkdf2 = passlibHash("pbkdf2_sha256", PASSWORD);
    const bcrypt = htpasswdBcrypt(PASSWORD);
    expect(await hasher.verify(pbkdf2, PASSWORD)).toBe(true);
    expect(await hasher.verify(pbkdf2, WRONG)).toBe(false);
    expect(await hasher.verify(bcrypt, PASSWORD)).toBe(true);
    expect(await hasher.verify(mkpasswd("sha512crypt", PASSWORD, 5000), PASSWORD)).toBe(false);
    expect(await hasher.verify("not a hash", PASSWORD)).toBe(false);
    const own = await hasher.hash(PASSWORD);
    expect(await hasher.verify(own, PASSWORD)).toBe(true);
    expect(hasher.needsRehash(own)).toBe(false);
    expect(hasher.needsRehash(pbkdf2)).toBe(true);
  });
});

describe("needsRehash", () => {
  test("false only for argon2id with exactly Heimdall's parameters", () => {
    const own = hashSync(PASSWORD, ARGON2_OPTIONS);
    expect(own.startsWith("$argon2id$v=19$m=19456,t=2,p=1$")).toBe(true);
    expect(needsRehash(own)).toBe(false);
    expect(validateImportedHash(own)).toBeNull();
    expect(verifyImported(own, PASSWORD)).toBe(true);
    const weaker = hashSync(PASSWORD, { ...ARGON2_OPTIONS, memoryCost: 8192 });
    expect(needsRehash(weaker)).toBe(true);
    expect(verifyImported(weaker, PASSWORD)).toBe(true);
    expect(needsRehash("")).toBe(true);
  });
});

describe("refused hashes", () => {
  const pbkdf2 = passlibHash("pbkdf2_sha256", PASSWORD);
  const bcrypt = mkpasswd("bcrypt", PASSWORD);
  const scrypt = passlibHash("scrypt", PASSWORD, { rounds: 12 });
  const argon2 = passlibHash("argon2", PASSWORD, { memory_cost: 8192, rounds: 2, parallelism: 1 });
  const salt16 = "c2FsdHNhbHRzYWx0c2FsdA";
  const key32 = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U";

  const cases: { name: string; hash: string; format: ImportedFormat | null }[] = [
    { name: "sha512crypt ($6$, mkpasswd)", hash: mkpasswd("sha512crypt", PASSWORD, 5000), format: null },
    { name: "md5: prefix", hash: "md5:5f4dcc3b5aa765d61d8327deb882cf99", format: null },
    { name: "bare hex", hash: "5f4dcc3b5aa765d61d8327deb882cf99", format: null },
    { name: "bcrypt $2x$", hash: bcrypt.replace(/^\$2b\$/, "$2x$"), format: null },
    { name: "empty", hash: "", format: null },
    { name: "garbage", hash: "$$$$", format: null },
    {
      name: "an enormous string",
      hash: `$pbkdf2-sha256$29000$${"A".repeat(100_000)}$x`,
      format: "pbkdf2-sha256",
    },
    { name: "bcrypt cost 18", hash: bcrypt.replace(/^\$2b\$05\$/, "$2b$18$"), format: "bcrypt" },
    { name: "bcrypt cost 31", hash: bcrypt.replace(/^\$2b\$05\$/, "$2b$31$"), format: "bcrypt" },
    { name: "bcrypt cut short", hash: bcrypt.slice(0, -1), format: "bcrypt" },
    { name: "bcrypt with a foreign character", hash: `${bcrypt.slice(0, -1)}!`, format: "bcrypt" },
    { name: "pbkdf2 999 rounds", hash: pbkdf2.replace("$29000$", "$999$"), format: "pbkdf2-sha256" },
    { name: "pbkdf2 20M rounds", hash: pbkdf2.replace("$29000$", "$20000000$"), format: "pbkdf2-sha256" },
    {
      name: "pbkdf2 rounds with a sign",
      hash: pbkdf2.replace("$29000$", "$+29000$"),
      format: "pbkdf2-sha256",
    },
    {
      name: "pbkdf2 rounds absurdly long",
      hash: pbkdf2.replace("$29000$", `$${"9".repeat(400)}$`),
      format: "pbkdf2-sha256",
    },
    {
      name: "pbkdf2 with a part missing",
      hash: pbkdf2.slice(0, pbkdf2.lastIndexOf("$")),
      format: "pbkdf2-sha256",
    },
    { name: "pbkdf2 empty key", hash: pbkdf2.slice(0, pbkdf2.lastIndexOf("$") + 1), format: "pbkdf2-sha256" },
    {
      name: "pbkdf2 PHC with l not the key's length",
      hash: `$pbkdf2-sha256$i=10000,l=64$${salt16}$${key32}`,
      format: "pbkdf2-sha256",
    },
    {
      name: "pbkdf2 PHC with a parameter missing",
      hash: `$pbkdf2-sha256$i=10000$${salt16}$${key32}`,
      format: "pbkdf2-sha256",
    },
    {
      name: "pbkdf2 non-canonical base64 (unused bits set)",
      hash: `$pbkdf2-sha256$i=10000,l=32$${salt16}$${key32.slice(0, -1)}V`,
      format: "pbkdf2-sha256",
    },
    { name: "scrypt 1 GiB (ln=20, r=8)", hash: scrypt.replace(/ln=\d+/, "ln=20"), format: "scrypt" },
    { name: "scrypt p=64", hash: scrypt.replace(/p=\d+/, "p=64"), format: "scrypt" },
    {
      name: "scrypt 256 MiB × p=4",
      hash: scrypt.replace(/ln=\d+/, "ln=18").replace(/p=\d+/, "p=4"),
      format: "scrypt",
    },
    { name: "scrypt ln=0", hash: scrypt.replace(/ln=\d+/, "ln=0"), format: "scrypt" },
    {
      name: "scrypt parameters reordered",
      hash: scrypt.replace(/ln=(\d+),r=(\d+)/, "r=$2,ln=$1"),
      format: "scrypt",
    },
    { name: "argon2 1 GiB", hash: argon2.replace(/m=\d+/, "m=1048576"), format: "argon2id" },
    { name: "argon2 t=1000", hash: argon2.replace(/t=\d+/, "t=1000"), format: "argon2id" },
    {
      name: "argon2 256 MiB × t=8",
      hash: argon2.replace(/m=\d+/, "m=262144").replace(/t=\d+/, "t=8"),
      format: "argon2id",
    },
    { name: "argon2 v=16", hash: argon2.replace("v=19", "v=16"), format: "argon2id" },
    {
      name: "argon2 salt with padding",
      hash: `$argon2id$v=19$m=8192,t=2,p=1$${salt16}==$${key32}`,
      format: "argon2id",
    },
    {
      name: "django with 100 rounds",
      hash: "pbkdf2_sha256$100$saltsaltsalt$c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdHNhbHQ=",
      format: "django-pbkdf2-sha256",
    },
    {
      name: "django without the hash's padding",
      hash: passlibHash("django_pbkdf2_sha256", PASSWORD, { rounds: 20_000 }).replace(/=$/, ""),
      format: "django-pbkdf2-sha256",
    },
  ];

  for (const { name, hash, format } of cases) {
    test(name, () => {
      expect(importedHashFormat(hash)).toBe(format);
      const reason = validateImportedHash(hash);
      expect(typeof reason).toBe("string");
      expect(reason!.length).toBeGreaterThan(0);
      expect(verifyImported(hash, PASSWORD)).toBe(false);
      expect(needsRehash(hash)).toBe(true);
    });
  }

  test("a reason names the bound, and never the hash", () => {
    const reason = validateImportedHash(scrypt.replace(/ln=\d+/, "ln=20"))!;
    expect(reason).toContain("256 MiB");
    expect(reason).not.toContain(scrypt.split("$").at(-1)!);
  });
});
