/**
 * @module What `heimdall users import` reads (docs/operations.md, "Importing users"): one record's schema, and
 * the JSON-lines and CSV readers that turn a file's lines into numbered records or numbered parse errors. Pure:
 * the caller hands in the lines, so a 100,000-line file never has to be in memory at once.
 */
import { z } from "zod";
import { validateImportedHash } from "../passwords/imported.ts";
import { displayNameField, emailField, usernameField } from "./model.ts";

/** The columns (CSV) and keys (JSON) a record may carry; anything else is refused, since a typo would import silently wrong. */
export const IMPORT_FIELDS = [
  "email",
  "username",
  "display_name",
  "email_verified",
  "role",
  "password_hash",
  "password",
] as const;

/** Long enough for every hash format accepted; a longer value is garbage, not a hash. */
const MAX_HASH = 1024;
/** As the sign-in body's password field: longer is refused before argon2 sees it. */
const MAX_PASSWORD = 1024;

export const importRecordSchema = z
  .strictObject({
    email: emailField,
    username: usernameField.optional(),
    display_name: displayNameField.nullable().optional(),
    email_verified: z.boolean().optional(),
    // Role names are lower-case (`^[a-z][a-z0-9_-]{1,47}$`), so folding the case is the case-insensitive match.
    role: z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(48, "is not a role name")
      .transform((r) => r.toLowerCase())
      .optional(),
    password_hash: z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(MAX_HASH, "is too long to be a password hash")
      .superRefine((hash, ctx) => {
        const problem = validateImportedHash(hash);
        if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
      })
      .optional(),
    password: z.string().min(1, "must not be empty").max(MAX_PASSWORD).optional(),
  })
  .refine((r) => r.password === undefined || r.password_hash === undefined, {
    message: "give password_hash or password, not both",
  });

/** One record after validation: the email and username normalised, the role folded, the hash format known. */
export type ImportRecord = z.output<typeof importRecordSchema>;

/** One numbered line of the file (a CSV record that spans lines is numbered by its first). */
export type ImportLine = { line: number; record: unknown } | { line: number; parseError: string };

/** A refused line: `line 17: duplicate email in the file (first on line 3)`. */
export interface ImportLineError {
  line: number;
  email?: string;
  error: string;
}

export interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  /** Plain `password` fields hashed with Heimdall's argon2id (about 50 ms each on one core). */
  passwords_hashed: number;
  /** In line order. */
  errors: ImportLineError[];
}

/** A record's validation problems as one sentence: `email: must be a valid email address; role: …`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      if (i.code === "unrecognized_keys")
        return `unknown field${i.keys.length > 1 ? "s" : ""} ${i.keys.join(", ")}`;
      const path = i.path.join(".");
      if (i.code === "invalid_type" && i.input === undefined) return `${path}: is required`;
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join("; ");
}

export type ImportFormat = "jsonl" | "csv";

/** The format a file name implies, or null when its extension says nothing. */
export function formatOfPath(path: string): ImportFormat | null {
  const ext = path.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (ext === "jsonl" || ext === "ndjson" || ext === "json") return "jsonl";
  if (ext === "csv") return "csv";
  return null;
}

/** JSON lines: one object per line; blank lines are skipped. */
export async function* jsonlRecords(
  lines: AsyncIterable<string> | Iterable<string>,
): AsyncGenerator<ImportLine> {
  let n = 0;
  for await (const raw of lines) {
    n++;
    const text = n === 1 ? raw.replace(/^\uFEFF/, "") : raw;
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      yield {
        line: n,
        parseError:
          text.trimStart().startsWith("[") && n === 1
            ? "not a JSON object: give one object per line (a JSON array converts with `jq -c '.[]'`)"
            : "malformed JSON",
      };
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      yield { line: n, parseError: "not a JSON object" };
      continue;
    }
    yield { line: n, record: value };
  }
}

/** A CSV file that cannot be read at all (a bad header): no line of it would import. */
export class ImportFileError extends Error {
  override readonly name = "ImportFileError";
}

const BOOLEANS: Record<string, boolean> = { true: true, false: false, "1": true, "0": false };

/**
 * CSV (RFC 4180: commas, double-quoted fields with `""` for a quote, quoted fields may span lines) with a header
 * row naming the columns. An empty cell is an absent field; `email_verified` takes true/false/1/0.
 * Throws ImportFileError for a header that names an unknown or repeated column or lacks `email`.
 */
export async function* csvRecords(
  lines: AsyncIterable<string> | Iterable<string>,
): AsyncGenerator<ImportLine> {
  let header: string[] | null = null;
  let n = 0;
  // A record being read across lines (an open quoted field), and the line it started on.
  let pending: { start: number; text: string } | null = null;
  for await (const raw of lines) {
    n++;
    const text = n === 1 ? raw.replace(/^\uFEFF/, "").replace(/\r$/, "") : raw.replace(/\r$/, "");
    const current: { start: number; text: string } = pending
      ? { start: pending.start, text: `${pending.text}\n${text}` }
      : { start: n, text };
    const fields = splitCsv(current.text);
    if (fields === "open") {
      pending = current;
      continue;
    }
    pending = null;
    if (fields === "malformed") {
      if (!header) throw new ImportFileError("the CSV header row is malformed");
      yield {
        line: current.start,
        parseError: "malformed CSV row (a quote in an unquoted field, or text after a closing quote)",
      };
      continue;
    }
    if (!header) {
      if (current.text.trim() === "") continue;
      header = fields.map((f) => f.trim().toLowerCase());
      const unknown = header.filter((h) => !(IMPORT_FIELDS as readonly string[]).includes(h));
      if (unknown.length > 0)
        throw new ImportFileError(
          `the CSV header names unknown column${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (known: ${IMPORT_FIELDS.join(", ")})`,
        );
      const repeated = header.filter((h, i) => header!.indexOf(h) !== i);
      if (repeated.length > 0) throw new ImportFileError(`the CSV header repeats ${repeated.join(", ")}`);
      if (!header.includes("email")) throw new ImportFileError("the CSV header has no email column");
      continue;
    }
    if (current.text.trim() === "") continue;
    if (fields.length !== header.length) {
      yield { line: current.start, parseError: `has ${fields.length} fields, the header ${header.length}` };
      continue;
    }
    const record: Record<string, unknown> = {};
    let problem: string | null = null;
    header.forEach((column, i) => {
      const cell = fields[i]!;
      if (cell === "") return;
      if (column === "email_verified") {
        const b = BOOLEANS[cell.trim().toLowerCase()];
        if (b === undefined) problem = `email_verified: must be true, false, 1 or 0 (got "${cell}")`;
        else record[column] = b;
      } else record[column] = cell;
    });
    yield problem ? { line: current.start, parseError: problem } : { line: current.start, record };
  }
  if (pending) yield { line: pending.start, parseError: "a quoted field is never closed" };
}

/** One CSV record's fields; "open" while a quoted field continues on the next line. */
function splitCsv(text: string): string[] | "open" | "malformed" {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q === -1) return "open";
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === text.length) return fields;
      if (text[i] !== ",") return "malformed";
      i++;
    } else {
      const comma = text.indexOf(",", i);
      const value = comma === -1 ? text.slice(i) : text.slice(i, comma);
      if (value.includes('"')) return "malformed";
      fields.push(value);
      if (comma === -1) return fields;
      i = comma + 1;
    }
  }
}
