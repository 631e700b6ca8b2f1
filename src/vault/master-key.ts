/** @module The master key file: `<key_id> <base64 32 bytes>` per line, first line active; create, load, rotate, retire. */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { type Clock, systemClock } from "../core/clock.ts";
import { HeimdallError } from "../core/errors.ts";

/**
 * Anything wrong with the master key file or a sealed secret. A 500 on purpose: if one ever escapes
 * into a request, the error mapper answers with a generic body and the message stays in the log.
 */
export class VaultError extends HeimdallError {
  constructor(message: string) {
    super("VAULT_ERROR", { message });
    this.name = "VaultError";
  }
}

export interface MasterKeys {
  readonly active: { readonly id: string; readonly key: Buffer };
  readonly all: ReadonlyMap<string, Buffer>;
}

const KEY_BYTES = 32;
const LINE = /^([A-Za-z0-9._-]{1,64}) ([A-Za-z0-9+/]{43}=)$/;

export function newMasterKeyId(clock: Clock = systemClock): string {
  return `mk-${clock.now().toString(36)}-${randomBytes(2).toString("hex")}`;
}

const newLine = (clock: Clock) => `${newMasterKeyId(clock)} ${randomBytes(KEY_BYTES).toString("base64")}`;

/** Creates a fresh file with one key; refuses to overwrite, because that would orphan every sealed secret. */
export function createMasterKeyFile(path: string, clock: Clock = systemClock): string {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const line = newLine(clock);
  try {
    writeDurably(path, `${line}\n`, "wx");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new VaultError(`master key file ${path} already exists; refusing to overwrite it`);
    }
    throw err;
  }
  return line.split(" ")[0]!;
}

export function loadMasterKeys(path: string): MasterKeys {
  return read(path).keys;
}

/** Adds a new key in front (so it becomes active) and keeps the old ones, which still unwrap existing DEKs. */
export function appendMasterKey(path: string, clock: Clock = systemClock): string {
  const { lines } = read(path); // parses fully first: never build on a broken file
  const line = newLine(clock);
  replaceFile(path, [line, ...lines]);
  return line.split(" ")[0]!;
}

/**
 * Keeps only the active line. `referencedKekIds` are the kek ids still used by sealed secrets (from
 * `vault.kekIdsInUse()`); if any is not the active key, dropping the others would make those secrets
 * undecryptable forever, so this refuses until `rewrapAll` has run.
 */
export function retireOldMasterKeys(path: string, referencedKekIds: Iterable<string>): number {
  const { lines, keys } = read(path);
  const { active, all } = keys;
  const stale = [...referencedKekIds].filter((id) => id !== active.id);
  if (stale.length > 0) {
    throw new VaultError(
      `secrets are still wrapped by master key(s) ${stale.join(", ")}; re-wrap them first`,
    );
  }
  if (lines.length > 1) replaceFile(path, lines.slice(0, 1));
  return all.size - 1;
}

function read(path: string): { lines: string[]; keys: MasterKeys } {
  let mode: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new VaultError(`master key file ${path} is not a regular file`);
    mode = st.mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new VaultError(
        `master key file ${path} does not exist; create it with \`heimdall init\` or restore it`,
      );
    }
    throw err;
  }
  if ((mode & 0o077) !== 0) {
    throw new VaultError(
      `master key file ${path} is accessible by group or others (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`,
    );
  }
  const lines = readFileSync(path, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  if (lines.length === 0)
    throw new VaultError(
      `master key file ${path} is empty; restore it from your backup (a new key cannot open the old secrets)`,
    );
  const all = new Map<string, Buffer>();
  for (const [i, line] of lines.entries()) {
    const m = LINE.exec(line);
    const key = m ? Buffer.from(m[2]!, "base64") : undefined;
    // The message names the line, never its content: the content is the secret.
    if (!m || key?.length !== KEY_BYTES) {
      throw new VaultError(
        `master key file ${path} is malformed at line ${i + 1}: expected "<key_id> <base64 of 32 bytes>"`,
      );
    }
    if (all.has(m[1]!)) throw new VaultError(`master key file ${path} repeats key id ${m[1]}`);
    all.set(m[1]!, key);
  }
  const [id, key] = all.entries().next().value!;
  return { lines, keys: { active: { id, key }, all } };
}

/** Temp file + fsync + rename: a crash leaves either the old file or the new one, never half of each. */
function replaceFile(path: string, lines: string[]): void {
  const tmp = `${path}.tmp-${randomBytes(4).toString("hex")}`;
  writeDurably(tmp, `${lines.join("\n")}\n`, "wx");
  renameSync(tmp, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

function writeDurably(path: string, content: string, flag: string): void {
  const fd = openSync(path, flag, 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
