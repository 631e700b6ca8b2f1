/** @module The data-dir lock: `<data dir>/heimdall.lock`, held by `serve` for its whole life and by every CLI command that writes the data dir. */
import { dlopen, FFIType, read } from "bun:ffi";
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CliError, EXIT_FAILURE } from "./args.ts";

/**
 * flock(2) through libc, because neither Node nor Bun exposes it. flock is the right primitive here:
 * the kernel drops it when the holder's last descriptor closes, which includes every kind of death
 * (kill -9, OOM kill, crash), so a stale lock cannot outlive its process; and unlike fcntl(2) locks it
 * belongs to the open file description, so the server reading or closing some other descriptor of the
 * lock file cannot drop it by accident. PIDs are never trusted for exclusion: the PID in the file is
 * only there to name the holder in the refusal.
 */
interface Flock {
  /** 0 when taken; "busy" when another open file description holds it; an errno for anything else. */
  tryExclusive(fd: number): 0 | "busy" | number;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
/** EWOULDBLOCK: 11 on Linux, 35 on the BSDs and macOS. */
const EWOULDBLOCK = process.platform === "linux" ? 11 : 35;

let cached: Flock | null | undefined;

/** Loads flock from libc once; null where no libc can be opened (then the fallback below applies). */
function libcFlock(): Flock | null {
  if (cached !== undefined) return cached;
  cached = null;
  const candidates =
    process.platform === "darwin"
      ? ["libSystem.B.dylib", "libc.dylib"]
      : ["libc.so.6", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`, "libc.so"];
  const errnoSymbol = process.platform === "darwin" ? "__error" : "__errno_location";
  for (const name of candidates) {
    try {
      const lib = dlopen(name, {
        flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        [errnoSymbol]: { args: [], returns: FFIType.ptr },
      });
      const errno = lib.symbols[errnoSymbol] as unknown as () => number | null;
      cached = {
        tryExclusive(fd) {
          if (lib.symbols.flock(fd, LOCK_EX | LOCK_NB) === 0) return 0;
          const p = errno();
          const code = p === null ? -1 : read.i32(p as never, 0);
          return code === EWOULDBLOCK ? "busy" : code;
        },
      };
      break;
    } catch {
      // not this name (or no FFI on this platform): try the next
    }
  }
  return cached;
}

/** What the holder wrote into the lock file, to name it in a refusal. */
interface Holder {
  pid: number;
  command: string;
  since: string;
}

export interface DataDirLock {
  /** Releases the lock (closing the descriptor); the process exiting does the same. */
  release(): void;
}

/** What a refused command tells the operator to do instead; one clause, appended to the refusal. */
export type Instead = string;

export const lockFile = (dataDir: string) => join(dataDir, "heimdall.lock");

/**
 * Takes the data-dir lock for `command` or refuses (exit 1, one line) naming who holds it and what to
 * do instead. The data dir must exist. Never waits: a second `serve` must fail at once, not hang.
 */
export function lockDataDir(dataDir: string, command: string, instead: Instead): DataDirLock {
  const path = lockFile(dataDir);
  // "a+" never truncates: the holder's PID stays readable until we actually hold the lock.
  const fd = openSync(path, "a+", 0o600);
  let taken = false;
  try {
    const flock = libcFlock();
    if (flock) {
      const r = flock.tryExclusive(fd);
      if (r === "busy") throw busy(dataDir, path, readHolder(path), instead);
      if (r !== 0)
        throw new CliError(
          `heimdall: cannot lock ${path} (flock failed, errno ${r}); the data dir must be on a local file system`,
          EXIT_FAILURE,
        );
    } else {
      fallbackCheck(dataDir, path, instead);
    }
    const holder: Holder = { pid: process.pid, command, since: new Date().toISOString() };
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(holder)}\n`, 0);
    taken = true;
    return {
      release() {
        if (!taken) return;
        taken = false;
        // The file stays: deleting it would let a process that opened the old inode and one that
        // creates a new one both "hold" a lock. Its stale content is harmless (nothing holds the flock).
        try {
          ftruncateSync(fd, 0);
        } catch {
          // best effort: the content only names the holder
        }
        closeSync(fd);
      },
    };
  } finally {
    if (!taken) closeSync(fd);
  }
}

/**
 * Whether a server (or a writing command) holds the data dir right now, for read-only commands that
 * must not write (no migrations) beside one. It takes the lock for an instant when it is free.
 */
export function dataDirHolder(dataDir: string): Holder | null {
  const flock = libcFlock();
  const path = lockFile(dataDir);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null; // no lock file: nothing ever held this data dir
  }
  try {
    if (flock) return flock.tryExclusive(fd) === "busy" ? (readHolder(path) ?? unknownHolder()) : null;
    const h = readHolder(path);
    return h && pidAlive(h.pid) ? h : null;
  } finally {
    closeSync(fd); // also releases the instant lock
  }
}

const unknownHolder = (): Holder => ({ pid: 0, command: "unknown", since: "" });

function readHolder(path: string): Holder | null {
  try {
    const h = JSON.parse(readFileSync(path, "utf8")) as Partial<Holder>;
    return typeof h.pid === "number" && typeof h.command === "string"
      ? { pid: h.pid, command: h.command, since: String(h.since ?? "") }
      : null;
  } catch {
    return null; // empty (being written, or released) or not ours
  }
}

function busy(dataDir: string, path: string, holder: Holder | null, instead: Instead): CliError {
  const who = holder
    ? holder.command === "serve"
      ? `a running Heimdall server (pid ${holder.pid}${holder.since ? `, up since ${holder.since}` : ""})`
      : `\`heimdall ${holder.command}\` (pid ${holder.pid}); wait for it to finish`
    : "another Heimdall process";
  return new CliError(
    `heimdall: the data dir ${dataDir} is in use by ${who} (lock ${path}); ${instead}`,
    EXIT_FAILURE,
  );
}

/**
 * Without flock (no libc reachable through FFI: not Linux or macOS) the PID in the lock file is all
 * there is. It errs towards refusing: a reused PID makes a dead holder look alive, and the message
 * then names the file to delete. It cannot stop two processes that start in the same instant.
 */
function fallbackCheck(dataDir: string, path: string, instead: Instead): void {
  const holder = readHolder(path);
  if (holder && holder.pid !== process.pid && pidAlive(holder.pid)) {
    throw new CliError(
      `${busy(dataDir, path, holder, instead).message} (no flock on this platform: if pid ${holder.pid} is not Heimdall, delete ${path})`,
      EXIT_FAILURE,
    );
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
