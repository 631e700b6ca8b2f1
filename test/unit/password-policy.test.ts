/** @module The end-user password policy: lengths in code points, Unicode-aware classes, the breached list and its variants, repetitive and sequential shapes, identity echo. */
import { describe, expect, test } from "bun:test";
import { AUTH_CONFIG_DEFAULTS } from "../../src/apps/auth-config.ts";
import { HeimdallError } from "../../src/core/errors.ts";
import { commonPasswords } from "../../src/passwords/common-passwords.ts";
import { MAX_PASSWORD_BYTES } from "../../src/passwords/hasher.ts";
import {
  checkPassword,
  MAX_PASSWORD_CODE_POINTS,
  type PasswordPolicy,
  passwordFailures,
} from "../../src/passwords/password-policy.ts";

const base: PasswordPolicy = {
  password_min_length: 12,
  password_require_uppercase: false,
  password_require_number: false,
  password_require_symbol: false,
};
const strict: PasswordPolicy = {
  ...base,
  password_require_uppercase: true,
  password_require_number: true,
  password_require_symbol: true,
};

/** 256 code points that repeat no pattern (a pseudo-random walk over the lower-case letters). */
const LONG_256 = (() => {
  let x = 12345;
  return Array.from({ length: MAX_PASSWORD_CODE_POINTS }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return String.fromCharCode(97 + ((x >> 16) % 26));
  }).join("");
})();

describe("passwordFailures", () => {
  const cases: Array<{
    name: string;
    password: string;
    policy?: PasswordPolicy;
    identity?: object;
    expected: string[];
  }> = [
    { name: "a long passphrase passes the defaults", password: "lantern orbit tangerine", expected: [] },
    { name: "exactly the minimum passes", password: "lanternorbit", expected: [] },
    { name: "one short of the minimum", password: "lanternorbi", expected: ["too_short"] },
    // 6 astral emoji are 12 UTF-16 units but 6 characters.
    {
      name: "length counts code points, not UTF-16 units",
      password: "🦊🐙🦉🐝🦀🐢",
      expected: ["too_short"],
    },
    { name: "12 emoji are 12 characters", password: "🦊🐙🦉🐝🦀🐢🦔🐳🦋🐌🦜🐬", expected: [] },
    {
      name: "257 code points is too long",
      password: "a".repeat(MAX_PASSWORD_CODE_POINTS + 1),
      expected: ["too_long"],
    },
    { name: "256 code points is fine", password: LONG_256, expected: [] },
    {
      name: "too long reports nothing else",
      password: "a".repeat(2000),
      policy: strict,
      expected: ["too_long"],
    },
    {
      name: "strict policy lists every missing class, in order",
      password: "onlylowercaseletters",
      policy: strict,
      expected: ["missing_uppercase", "missing_number", "missing_symbol"],
    },
    { name: "strict policy satisfied", password: "Lantern-Orbit-47", policy: strict, expected: [] },
    { name: "non-ASCII uppercase counts (É)", password: "élan-vital-Énorme-9", policy: strict, expected: [] },
    {
      name: "non-ASCII digits count (Arabic-Indic ٣)",
      password: "Lantern-Orbit-٣",
      policy: strict,
      expected: [],
    },
    { name: "a space is a symbol", password: "Lantern Orbit 47", policy: strict, expected: [] },
    {
      name: "accented letters are not symbols",
      password: "Lanterné0rbitß47",
      policy: strict,
      expected: ["missing_symbol"],
    },
    { name: "a breached password", password: "qwertyuiop123", expected: ["common_password"] },
    { name: "breached list is case-insensitive", password: "QwertyUIOP123", expected: ["common_password"] },
    {
      name: "short and breached reports both",
      password: "password",
      policy: { ...base, password_min_length: 12 },
      expected: ["too_short", "common_password"],
    },
    {
      name: "equal to the username (any case)",
      password: "Jane.Doe.Example",
      identity: { username: "jane.doe.example" },
      expected: ["common_password"],
    },
    {
      name: "equal to the email (any case)",
      password: "JANE@EXAMPLE.COM",
      identity: { email: "jane@example.com" },
      expected: ["common_password"],
    },
    {
      name: "containing the username is fine",
      password: "jane.doe.example and more",
      identity: { username: "jane.doe.example" },
      expected: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      expect(passwordFailures(c.password, c.policy ?? base, c.identity)).toEqual(c.expected as never);
    });
  }

  test("the app defaults are a valid policy", () => {
    expect(passwordFailures("lantern orbit tangerine", AUTH_CONFIG_DEFAULTS)).toEqual([]);
  });

  test("256 four-byte characters sit exactly on both bounds and pass", () => {
    // The byte bound can only bite first if the code-point bound is ever raised; this pins the two together.
    // Distinct emoji (U+1F400 on): 256 of one would be refused as repetitive, which is not what is tested here.
    const emoji = (n: number) =>
      Array.from({ length: n }, (_, i) => String.fromCodePoint(0x1f400 + i)).join("");
    expect(Buffer.byteLength(emoji(256))).toBe(MAX_PASSWORD_BYTES);
    expect(passwordFailures(emoji(256), base)).toEqual([]);
    expect(passwordFailures(emoji(257), base)).toEqual(["too_long"]);
  });
});

describe("guessable passwords at the 12-character minimum", () => {
  const dictionary: Array<[string, string]> = [
    ["a listed word padded with digits", "password1234567"],
    ["capitalised, digits and a symbol", "Password123!"],
    ["a listed number", "123456789012"],
    ["look-alikes and a year", "P@ssw0rd2024!"],
    ["look-alikes throughout, 1 read as i", "4dm1n1str4tor"],
    ["1 read as l", "1etmein12345"],
    ["$ and 5 for s, 7 for t", "$un$hine7777"],
    ["leading digits and symbols", "2024!!sunshine"],
    ["full-width letters fold (NFKC)", "ＰＡＳＳＷＯＲＤ１２３４"],
    ["a keyboard walk with digits", "qwerty123456"],
    ["a service default", "changeme123!"],
  ];
  for (const [name, password] of dictionary) {
    test(`${name}: ${password} → common_password`, () => {
      expect(passwordFailures(password, base)).toEqual(["common_password"]);
    });
  }

  const shapes: Array<[string, string]> = [
    ["one character", "aaaaaaaaaaaa"],
    ["a repeated unit", "abcabcabcabc"],
    ["a repeated pair of digits", "121212121212"],
    ["the alphabet", "abcdefghijkl"],
    ["the alphabet backwards", "lkjihgfedcba"],
    ["a keyboard row running on to the next", "qwertyuiopas"],
    ["the alphabet with symbols around it", "!!abcdefghij!!"],
    ["two runs", "mnopqr765432"],
    ["three characters", "abbaabbabaab"],
    ["digits running past 9", "789012345678"],
  ];
  for (const [name, password] of shapes) {
    test(`${name}: ${password} → repetitive_or_sequential`, () => {
      expect(passwordFailures(password, base)).toEqual(["repetitive_or_sequential"]);
    });
  }

  test("the examples also fail the strict policy's other rules only where they should", () => {
    expect(passwordFailures("Password123!", strict)).toEqual(["common_password"]);
    expect(passwordFailures("Abcdefghijk1!", strict)).toEqual(["repetitive_or_sequential"]);
  });

  const good = [
    "correct horse battery staple",
    "Tangerine-Orbit-47-Lantern",
    "an old but fine passphrase",
    "Analytical-Engine-1843",
    "xK9#mQ2$vL7!",
    "lanternorbit",
    "7rou8ad0r&horse",
    "élan-vital-Énorme-9",
    "walrus sunshine 1984 kettle",
    "🦊🐙🦉🐝🦀🐢🦔🐳🦋🐌🦜🐬",
  ];
  for (const password of good) {
    test(`accepted: ${password}`, () => {
      expect(passwordFailures(password, base)).toEqual([]);
    });
  }

  test("checkPassword reports a shape as one WEAK_PASSWORD detail", () => {
    expect(() => checkPassword("abcdefghijkl", base)).toThrow(HeimdallError);
    try {
      checkPassword("abcdefghijkl", base);
    } catch (err) {
      expect((err as HeimdallError).details).toEqual([
        { field: "password", reason: "repetitive_or_sequential" },
      ]);
    }
  });
});

describe("checkPassword", () => {
  test("throws 400 WEAK_PASSWORD with one password detail per failure", () => {
    let caught: unknown;
    try {
      checkPassword("zqxv", strict);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HeimdallError);
    const err = caught as HeimdallError;
    expect(err.status).toBe(400);
    expect(err.code).toBe("WEAK_PASSWORD");
    expect(err.details).toEqual([
      { field: "password", reason: "too_short" },
      { field: "password", reason: "missing_uppercase" },
      { field: "password", reason: "missing_number" },
      { field: "password", reason: "missing_symbol" },
    ]);
  });

  test("returns quietly for an acceptable password", () => {
    expect(() =>
      checkPassword("Lantern-Orbit-47", strict, { username: "jane", email: "j@example.com" }),
    ).not.toThrow();
  });
});

describe("commonPasswords()", () => {
  const COMMON_PASSWORDS = commonPasswords();
  test("holds the package dictionary (tens of thousands of folded entries), including the classics", () => {
    expect(COMMON_PASSWORDS.size).toBeGreaterThanOrEqual(40_000);
    for (const p of COMMON_PASSWORDS) expect(p).toBe(p.toLowerCase());
    for (const p of ["123456", "password", "qwerty", "iloveyou", "letmein", "123456789", "football"]) {
      expect(COMMON_PASSWORDS.has(p)).toBe(true);
    }
    // From the package dictionary, absent from the old hand-kept list.
    for (const p of ["tangerine", "administrator", "trustno1", "sunshine"])
      expect(COMMON_PASSWORDS.has(p)).toBe(true);
  });
});
