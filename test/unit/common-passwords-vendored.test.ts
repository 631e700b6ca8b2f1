/**
 * @module The vendored breached-password list (src/passwords/common-passwords.txt) is exactly what
 * scripts/vendor-common-passwords.ts makes of the installed `@zxcvbn-ts/language-common`, so upgrading the
 * package without re-running the script fails here.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { commonPasswordsText, VENDORED_PATH } from "../../scripts/vendor-common-passwords.ts";
import { commonPasswords, foldPassword } from "../../src/passwords/common-passwords.ts";

describe("common-passwords.txt", () => {
  const vendored = readFileSync(VENDORED_PATH, "utf8");
  const lines = vendored.split("\n").slice(0, -1);

  test("equals the script's output from the installed package (re-run the script after an upgrade)", () => {
    expect(vendored).toBe(commonPasswordsText());
  });

  test("is one folded entry a line, sorted, no duplicates or blanks, ending in a newline", () => {
    expect(vendored.endsWith("\n")).toBe(true);
    expect(lines.length).toBeGreaterThanOrEqual(40_000);
    expect(new Set(lines).size).toBe(lines.length);
    expect(lines).toEqual([...lines].sort());
    for (const line of lines) {
      expect(line).not.toBe("");
      expect(line).toBe(foldPassword(line));
    }
  });

  test("every entry is in the screening set, along with the hand-kept additions", () => {
    const set = commonPasswords();
    for (const line of lines) expect(set.has(line)).toBe(true);
    // From the hand-kept list only: the package leaves these to its pattern matchers or never had them.
    for (const p of ["postgres", "changeme123"]) {
      expect(lines.includes(p)).toBe(false);
      expect(set.has(p)).toBe(true);
    }
  });

  test("finds nothing that is not an entry: neighbours, prefixes, extensions, the ends of the file", () => {
    const set = commonPasswords();
    const listed = new Set(set);
    const probes = ["", " ", "\n", "!", "~~~~~~~~", "\u00ff", "zzzzzzzzzzzzzzzzzzzz", "Lantern-Orbit-47"];
    for (const line of lines.filter((_, i) => i % 97 === 0))
      probes.push(line.slice(0, -1), `${line}~`, `${line}\n`, `!${line}`);
    let checked = 0;
    for (const p of probes) {
      if (listed.has(p)) continue;
      expect(set.has(p)).toBe(false);
      checked++;
    }
    expect(checked).toBeGreaterThan(1_000);
    expect(set.size).toBe(listed.size);
  });
});
