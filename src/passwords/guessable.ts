/**
 * @module Offline guessability screens for end-user passwords: the breached-list lookup over the variants a
 * rule-based cracker tries first, and the repetitive or sequential shapes no list can enumerate.
 *
 * Both screens look at the whole password, never at substrings: `Tangerine-Orbit-47-Lantern` is made of
 * dictionary words and is a good passphrase, whereas `P@ssw0rd2024!` is one dictionary word dressed up the
 * way every cracking rule set (append digits, swap letters for look-alikes) undresses it.
 */
import { commonPasswords } from "./common-passwords.ts";

/** Digits and symbols wrapped around a word: `!!password2024` → `password`. Letters of any script stay. */
const AFFIXES = /^[^\p{L}]+|[^\p{L}]+$/gu;
const stripAffixes = (s: string) => s.replace(AFFIXES, "");
const stripSuffix = (s: string) => s.replace(/[^\p{L}]+$/u, "");

// The look-alike swaps of cracking rule sets; `1` reads as `i` or `l`, so both readings are tried.
const LEET: Record<string, string> = { "0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", $: "s" };
const LEET_CHARS = /[013457@$]/g;
const unleet = (s: string, one: "i" | "l") => s.replace(LEET_CHARS, (c) => (c === "1" ? one : LEET[c]!));

/**
 * Shorter cores than this are not looked up: stripping `1234!!!!abc!!!!` to `abc` says little about it,
 * and the list holds three-letter entries. The full (folded) password is always looked up.
 */
const MIN_CORE = 4;

/** True when `folded` (see `foldPassword`) or a normalised variant of it is on the breached list. */
export function isCommonPassword(folded: string): boolean {
  const COMMON_PASSWORDS = commonPasswords();
  if (COMMON_PASSWORDS.has(folded)) return true;
  // Digits are both padding and look-alikes, so the swaps are tried before and after each way of stripping:
  // `p@ssw0rd2024!` → `p@ssw0rd` → `password`; `4dm1n1str4tor` → `administrator`; `$un$hine7777` needs
  // its suffix gone but its leading `$` kept.
  const variants = new Set<string>();
  for (const cut of [folded, stripSuffix(folded), stripAffixes(folded)]) {
    for (const swapped of [cut, unleet(cut, "i"), unleet(cut, "l")]) {
      variants.add(swapped);
      variants.add(stripAffixes(swapped));
    }
  }
  return [...variants].some((v) => [...v].length >= MIN_CORE && COMMON_PASSWORDS.has(v));
}

/**
 * Orders a finger or an eye walks through. Each is read cyclically (`…890` runs on to `123…`), forwards
 * and backwards. The keyboard rows are also joined in reading order, so `qwertyuiopas` is one walk.
 */
const SEQUENCES = [
  "abcdefghijklmnopqrstuvwxyz",
  "1234567890",
  "qwertyuiop",
  "asdfghjkl",
  "zxcvbnm",
  "qwertyuiopasdfghjklzxcvbnm",
  "1234567890qwertyuiopasdfghjklzxcvbnm",
  "qazwsxedcrfvtgbyhnujmikolp",
  "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
].map((s) => ({ length: s.length, index: new Map([...s].map((c, i) => [c, i] as const)) }));

/** A run shorter than this is not a pattern: `ab` follows `a` in every alphabet. */
const MIN_RUN = 3;
/** Fewer distinct characters than this cannot make a strong password at any allowed length. */
const MIN_DISTINCT = 4;
/** How many runs may make up the whole password before it stops being a trivial shape (`qwerty123456`). */
const MAX_RUNS = 2;

/** Length of the longest repeat (`aaa`) or walk (`abc`, `cba`, `qwe`) starting at `i`. */
function runAt(chars: readonly string[], i: number): number {
  let best = 1;
  let same = i + 1;
  while (same < chars.length && chars[same] === chars[i]) same++;
  best = same - i;
  for (const seq of SEQUENCES) {
    const first = seq.index.get(chars[i]!);
    if (first === undefined) continue;
    for (const step of [1, -1]) {
      let j = i + 1;
      let at = first;
      while (j < chars.length) {
        const next = seq.index.get(chars[j]!);
        if (next !== (at + step + seq.length) % seq.length) break;
        at = next;
        j++;
      }
      best = Math.max(best, j - i);
    }
  }
  return best;
}

/** The password is one unit said again and again: `abcabcabcabc`, `121212121212`, `xyzxyzxyzx`. */
function isPeriodic(chars: readonly string[]): boolean {
  for (let p = 1; p * 2 <= chars.length; p++) {
    let ok = true;
    for (let i = p; i < chars.length && ok; i++) ok = chars[i] === chars[i - p];
    if (ok) return true;
  }
  return false;
}

/** At most {@link MAX_RUNS} runs of at least {@link MIN_RUN} cover the whole password (greedy, longest first). */
function isRuns(chars: readonly string[]): boolean {
  let i = 0;
  for (let runs = 0; runs < MAX_RUNS && i < chars.length; runs++) {
    const len = runAt(chars, i);
    if (len < MIN_RUN) return false;
    i += len;
  }
  return i >= chars.length;
}

/**
 * True for trivially repetitive or sequential passwords: `aaaaaaaaaaaa`, `abcabcabcabc`, `121212121212`,
 * `abcdefghijkl`, `123456789012`, `qwertyuiopas`, `qwerty123456`. Such shapes are absent from breached
 * lists (crackers generate them instead), so they are recognised by form. The core left after stripping
 * digits and symbols is judged too, so `abcdefghij!!` is no better than `abcdefghij`.
 */
export function isTrivialPattern(folded: string): boolean {
  const all = [...folded];
  const core = [...stripAffixes(folded)];
  const candidates = core.length >= MIN_RUN * 2 && core.length < all.length ? [all, core] : [all];
  return candidates.some((c) => new Set(c).size < MIN_DISTINCT || isPeriodic(c) || isRuns(c));
}
