/**
 * @module Vendors the `passwords-common` dictionary of `@zxcvbn-ts/language-common` as plain data:
 * `bun scripts/vendor-common-passwords.ts` writes src/passwords/common-passwords.txt, one folded entry per
 * line, sorted and without duplicates. The server reads that file (src/passwords/common-passwords.ts) rather
 * than the package, which decompresses all of its dictionaries when loaded (25–30 MiB of RSS for one list).
 * Re-run after upgrading the package; test/unit/common-passwords-vendored.test.ts notices when it is due.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { dictionary } from "@zxcvbn-ts/language-common";
import { foldPassword } from "../src/passwords/common-passwords.ts";

export const VENDORED_PATH = resolve(import.meta.dir, "../src/passwords/common-passwords.txt");

/** The file's text: the package list folded like a candidate, deduplicated, sorted by code unit. */
export function commonPasswordsText(): string {
  const entries = new Set(dictionary["passwords-common"].map(foldPassword));
  entries.delete("");
  return `${[...entries].sort().join("\n")}\n`;
}

if (import.meta.main) {
  const text = commonPasswordsText();
  writeFileSync(VENDORED_PATH, text);
  console.log(`${VENDORED_PATH}: ${text.split("\n").length - 1} entries, ${text.length} bytes`);
}
