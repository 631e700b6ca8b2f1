/**
 * @module Importing end users into an app (`heimdall users import`, and the seed file's `users`): idempotent by
 * email, with the password hashes of the system the users come from (docs/operations.md, "Importing users").
 *
 * An existing account with the record's email is updated (username, display name, verified flag, role, hash —
 * each only when the record gives it) or left alone when equal; nothing is ever duplicated. A bad line is
 * reported with its number and the rest imported. Rows are written in chunks, each one transaction of prepared
 * statements, so 100,000 accounts take seconds (docs/benchmarks.md, "User import"); hashes are stored as given
 * and verified at the first sign-in (`passwords/imported.ts`), which re-hashes them to argon2id.
 *
 * The audit log gets one `users.imported` row per run with the counts, in the transaction of the last write;
 * no row per account and no per-account events (docs/decisions.md, "User import").
 */

import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import { type AuditActor, type CallMeta, SYSTEM_ACTOR } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { isUniqueViolation } from "../db/query.ts";
import type { PasswordHasher } from "../passwords/hasher.ts";
import { passwordFailures } from "../passwords/password-policy.ts";
import type { SessionService } from "../sessions/service.ts";
import { CONTACT_INDEX } from "./contacts.ts";
import {
  describeIssues,
  type ImportLine,
  type ImportLineError,
  type ImportRecord,
  type ImportResult,
  importRecordSchema,
} from "./import-model.ts";
import { createUserImportStore } from "./import-store.ts";
import { USERNAME_INDEX } from "./scope.ts";
import { freeUsernameFor, usernameFromEmail } from "./service.ts";
import type { EndUserRow } from "./store.ts";

/** Rows per transaction: large enough that the commit's fsync is noise, small enough to keep the write lock brief. */
export const IMPORT_CHUNK = 1000;
/** Plain passwords hashed at once: the hasher's own queue (64) refuses more, and sign-ins need it too. */
const HASH_CONCURRENCY = 2;

export interface ImportOptions {
  /** Who ran it, for the audit row (default: the system, as every command-line change). */
  actor?: AuditActor;
  meta?: Partial<CallMeta>;
  /** Named in the audit row: `cli`, `seed`. */
  source?: string;
  /** Rows per transaction (default {@link IMPORT_CHUNK}). */
  chunkSize?: number;
}

/** A record that passed validation, with the line it came from. */
export interface ImportRow {
  line: number;
  record: ImportRecord;
}

export interface UserImportService {
  /**
   * Imports numbered lines (from `jsonlRecords`/`csvRecords`, or any iterable of them) into the app, in
   * transactions of `chunkSize` rows; plain passwords are hashed (argon2id) before each chunk's transaction.
   */
  importUsers(
    appId: string,
    lines: AsyncIterable<ImportLine> | Iterable<ImportLine>,
    opts?: ImportOptions,
  ): Promise<ImportResult>;
  /**
   * The same for a caller that holds the transaction (the seed file's `users`): writes the rows and, when anything
   * changed, the `users.imported` audit row, and opens no transaction of its own. Synchronous, so a record with a
   * plain `password` is refused: hash it first (`deps.passwords.hash`) and pass it as `password_hash`.
   */
  importRecords(appId: string, lines: readonly ImportLine[], opts?: ImportOptions): Promise<ImportResult>;
}

export interface UserImportDeps {
  db: Db;
  clock: Clock;
  audit: Pick<AuditWriter, "record">;
  apps: Pick<AppService, "authConfigOf">;
  passwords: Pick<PasswordHasher, "hash" | "verify">;
  /** A replaced password ends the account's sessions, as a reset does. */
  sessions: Pick<SessionService, "revokeAllOfUser">;
}

/** The state of one run across its chunks. */
interface Run {
  readonly appId: string;
  readonly roles: ReadonlySet<string>;
  readonly defaultRole: string;
  /** Email → the line it was first seen on: a later line with it fails. */
  readonly seen: Map<string, number>;
  readonly result: ImportResult;
}

export function createUserImportService(deps: UserImportDeps): UserImportService {
  const { db, clock } = deps;
  const store = createUserImportStore(db);

  async function startRun(appId: string): Promise<Run> {
    return {
      appId,
      roles: new Set(await store.roleNames(appId)),
      defaultRole: (await deps.apps.authConfigOf(appId)).signup_default_role,
      seen: new Map(),
      result: { created: 0, updated: 0, unchanged: 0, failed: 0, passwords_hashed: 0, errors: [] },
    };
  }

  const refuse = (run: Run, line: number, error: string, email?: string) => {
    run.result.failed++;
    run.result.errors.push(email === undefined ? { line, error } : { line, email, error });
  };

  /** A line's record, validated; null (after reporting it) when the line fails. */
  function validated(run: Run, item: ImportLine): ImportRow | null {
    if ("parseError" in item) {
      refuse(run, item.line, item.parseError);
      return null;
    }
    const parsed = importRecordSchema.safeParse(item.record);
    if (!parsed.success) {
      const raw = (item.record as { email?: unknown }).email;
      refuse(run, item.line, describeIssues(parsed.error), typeof raw === "string" ? raw : undefined);
      return null;
    }
    return { line: item.line, record: parsed.data };
  }

  /** Writes one row, or returns why it cannot; every check comes before the first write of the row. */
  async function writeRow(run: Run, { line, record: r }: ImportRow, now: number): Promise<string | null> {
    const { appId } = run;
    const first = run.seen.get(r.email);
    if (first !== undefined) return `duplicate email in the file (first on line ${first})`;
    run.seen.set(r.email, line);
    if (r.password !== undefined) return "a plain password must be hashed before importRecords";
    if (r.role !== undefined && !run.roles.has(r.role)) return `this app has no role named ${r.role}`;
    const verifiedAt = r.email_verified ? now : null;
    const contact = await store.contactByEmail(appId, r.email);
    if (!contact) {
      let username: string;
      if (r.username !== undefined) {
        if ((await store.usernameHolder(appId, r.username)) !== undefined)
          return `username ${r.username} is taken by another account`;
        username = r.username;
      } else {
        username = await freeUsernameFor(
          usernameFromEmail(r.email),
          async (u) => (await store.usernameHolder(appId, u)) !== undefined,
        );
      }
      const id = newId(clock);
      const hash = r.password_hash ?? null;
      await store.insertUser({
        id,
        appId,
        username,
        displayName: r.display_name ?? null,
        passwordHash: hash,
        status: "active",
        role: r.role ?? run.defaultRole,
        failedLoginCount: 0,
        passwordChangedAt: hash === null ? null : now,
        createdAt: now,
        updatedAt: now,
      });
      await store.insertContact({
        id: newId(clock),
        appId,
        userId: id,
        type: "email",
        value: r.email,
        isPrimary: true,
        verifiedAt,
        createdAt: now,
      });
      run.result.created++;
      return null;
    }
    const user = (await store.userById(appId, contact.userId))!;
    const set: Partial<EndUserRow> = {};
    if (r.username !== undefined && r.username !== user.username) {
      const holder = await store.usernameHolder(appId, r.username);
      if (holder !== undefined && holder !== user.id)
        return `username ${r.username} is taken by another account`;
      set.username = r.username;
    }
    if (r.display_name !== undefined && r.display_name !== user.displayName) set.displayName = r.display_name;
    if (r.role !== undefined && r.role !== user.role) set.role = r.role;
    if (r.password_hash !== undefined && r.password_hash !== user.passwordHash) {
      set.passwordHash = r.password_hash;
      set.passwordChangedAt = now;
    }
    const verify = r.email_verified !== undefined && r.email_verified !== (contact.verifiedAt !== null);
    if (Object.keys(set).length === 0 && !verify) {
      run.result.unchanged++;
      return null;
    }
    if (Object.keys(set).length > 0) await store.updateUser(user.id, { ...set, updatedAt: now });
    if (verify) await store.setVerified(contact.id, verifiedAt);
    // A new password ends the sessions opened with the old one, as a reset does.
    if (set.passwordHash !== undefined) await deps.sessions.revokeAllOfUser(user.id, "password_imported");
    run.result.updated++;
    return null;
  }

  async function writeRows(run: Run, rows: readonly ImportRow[]): Promise<void> {
    const now = clock.now();
    for (const row of rows) {
      const problem = await (db.engine === "sqlite" ? writeRow(run, row, now) : raced(run, row, now));
      if (problem !== null) refuse(run, row.line, problem, row.record.email);
    }
  }

  /**
   * `writeRow` in a savepoint, for several writers (PostgreSQL): another writer may take the email or the
   * username between the check and the insert, and then the unique index refuses that line alone. SQLite's
   * one writer makes the check enough, and the import's speed there rests on not paying for a savepoint a row.
   */
  async function raced(run: Run, row: ImportRow, now: number): Promise<string | null> {
    try {
      return await tx(db, async () => await writeRow(run, row, now));
    } catch (err) {
      // writeRow counts a row only after its last write, so a refused one was never counted.
      if (isUniqueViolation(err, CONTACT_INDEX)) return "the email was taken by another account meanwhile";
      if (isUniqueViolation(err, USERNAME_INDEX))
        return row.record.username === undefined
          ? "the username derived from the email was taken by another account meanwhile"
          : `username ${row.record.username} is taken by another account`;
      throw err;
    }
  }

  async function recordSummary(run: Run, opts: ImportOptions): Promise<void> {
    const r = run.result;
    // Counts only: the rows hold no address and no hash (docs/decisions.md, "User import").
    await deps.audit.record({
      appId: run.appId,
      action: "users.imported",
      resourceType: "user",
      resourceId: null,
      actor: opts.actor ?? SYSTEM_ACTOR,
      details: {
        source: opts.source ?? null,
        created: r.created,
        updated: r.updated,
        unchanged: r.unchanged,
        failed: r.failed,
        passwords_hashed: r.passwords_hashed,
      },
      meta: opts.meta,
    });
  }

  const finish = (run: Run): ImportResult => {
    run.result.errors.sort((a, b) => a.line - b.line);
    return run.result;
  };

  /**
   * Plain passwords of a chunk → argon2id hashes, a few at a time; a weak one fails its line. An existing
   * account whose stored hash already matches keeps it, so importing the same file twice changes nothing.
   */
  async function hashPlain(run: Run, rows: ImportRow[], opts: ImportOptions): Promise<ImportRow[]> {
    const policy = await deps.apps.authConfigOf(run.appId);
    const out: (ImportRow | null)[] = [...rows];
    const plain = rows.flatMap((row, i) => (row.record.password === undefined ? [] : [i]));
    const one = async (i: number) => {
      const { line, record } = rows[i]!;
      const { password, ...rest } = record as ImportRecord & { password: string };
      const contact = await store.contactByEmail(run.appId, record.email);
      const stored = contact ? (await store.userById(run.appId, contact.userId))?.passwordHash : null;
      if (stored && (await deps.passwords.verify(stored, password, opts.meta?.signal))) {
        out[i] = { line, record: rest };
        return;
      }
      const weak = passwordFailures(password, policy, { username: record.username, email: record.email });
      if (weak.length > 0) {
        refuse(run, line, `password: ${weak.join("; ")}`, record.email);
        out[i] = null;
        return;
      }
      out[i] = {
        line,
        record: { ...rest, password_hash: await deps.passwords.hash(password, opts.meta?.signal) },
      };
      run.result.passwords_hashed++;
    };
    for (let k = 0; k < plain.length; k += HASH_CONCURRENCY) {
      await Promise.all(plain.slice(k, k + HASH_CONCURRENCY).map(one));
    }
    return out.filter((r): r is ImportRow => r !== null);
  }

  return {
    async importUsers(appId, lines, opts = {}) {
      const run = await startRun(appId);
      const size = opts.chunkSize ?? IMPORT_CHUNK;
      let chunk: ImportRow[] = [];
      let wrote = false;
      const flush = async (last: boolean) => {
        const rows = chunk.some((r) => r.record.password !== undefined)
          ? await hashPlain(run, chunk, opts)
          : chunk;
        chunk = [];
        await tx(db, async () => {
          await writeRows(run, rows);
          if (last && (wrote || run.result.created + run.result.updated > 0)) await recordSummary(run, opts);
        });
        wrote ||= run.result.created + run.result.updated > 0;
      };
      try {
        for await (const item of lines) {
          const row = validated(run, item);
          if (row) chunk.push(row);
          if (chunk.length >= size) await flush(false);
        }
        await flush(true);
      } catch (err) {
        // The chunks before this one are committed: their summary row is still written, marked as cut short.
        if (wrote) {
          try {
            await tx(
              db,
              async () =>
                await recordSummary(run, { ...opts, source: `${opts.source ?? "import"} (interrupted)` }),
            );
          } catch {
            // the original error is the one to report
          }
        }
        throw err;
      }
      return finish(run);
    },

    async importRecords(appId, lines, opts = {}) {
      const run = await startRun(appId);
      const rows = lines.flatMap((item) => validated(run, item) ?? []);
      await writeRows(run, rows);
      if (run.result.created + run.result.updated > 0) await recordSummary(run, opts);
      return finish(run);
    },
  };
}

export type { ImportLine, ImportLineError, ImportRecord, ImportResult };
