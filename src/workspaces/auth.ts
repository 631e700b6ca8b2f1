/** @module Platform credential check (docs/architecture.md, "Lanes"; CSRF in docs/decisions.md, "Platform subset"): PAK or platform session, CSRF for the cookie, no caching. */
import type { Database } from "bun:sqlite";
import { sql } from "drizzle-orm";
import type { AuditWriter } from "../audit/writer.ts";
import type { Config } from "../config/index.ts";
import { AccessDenied } from "../core/access-denied.ts";
import { type Clock, DAY, MINUTE } from "../core/clock.ts";
import { constantTimeEqual, sha256Hex } from "../core/crypto.ts";
import { fail } from "../core/errors.ts";
import { isExpired } from "../core/expiry.ts";
import type { Logger } from "../core/logger.ts";
import type { CallMeta, PlatformPrincipal, PolicyStatement, WorkspaceRole } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { exec, row, rows } from "../db/query.ts";
import { PAK_PREFIX, SESSION_COOKIE, SESSION_PREFIX } from "./model.ts";

export interface PlatformAuth {
  /** Resolves the caller or throws 401 (no/invalid credential) or 403 (PAK on a human-only route, CSRF). */
  authenticate(request: Request, opts: { allowPak: boolean; meta: CallMeta }): Promise<PlatformPrincipal>;
  /** Deletes sessions that expired or were revoked more than 30 days ago; returns how many. */
  purge(): Promise<number>;
}

export interface PlatformAuthDeps {
  db: Db;
  clock: Clock;
  config: Config;
  log: Logger;
  /** Records `pak.used`; built from `db` and `clock` when not given (the writer holds no state of its own). */
  audit: AuditWriter;
}

/** How often `last_used_at` (and the `pak.used` audit row) may be written for one credential. */
export const USE_DEBOUNCE_MS = MINUTE;
const PURGE_AFTER_MS = 30 * DAY;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface Credential {
  token: string;
  via: "cookie" | "bearer";
}

/** The credential a request carries: an `Authorization: Bearer` header wins over the `auth_token` cookie. */
export function requestCredential(request: Request): Credential | null {
  const header = request.headers.get("authorization");
  const bearer = header?.match(/^Bearer[ \t]+(\S+)[ \t]*$/i)?.[1];
  if (bearer) return { token: bearer, via: "bearer" };
  const cookie = readCookie(request.headers.get("cookie"), SESSION_COOKIE);
  return cookie ? { token: cookie, via: "cookie" } : null;
}

export function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/**
 * A state-changing request authenticated by the ambient cookie must prove it came from our own pages.
 * Browsers send `Origin` on every cross-site write, so when present it alone decides; without it a
 * `Referer` decides; with neither, an `X-Requested-With` header (which a cross-site form cannot send,
 * and a cross-site script cannot send without a CORS preflight we never grant) is accepted.
 */
export function csrfAllowed(request: Request, publicOrigin: string): boolean {
  if (SAFE_METHODS.has(request.method)) return true;
  const origin = request.headers.get("origin");
  if (origin !== null) return origin === publicOrigin;
  const referer = request.headers.get("referer");
  if (referer) return URL.parse(referer)?.origin === publicOrigin;
  return request.headers.has("x-requested-with");
}

const isStale = (lastUsedAt: number | null, now: number) =>
  lastUsedAt === null || lastUsedAt <= now - USE_DEBOUNCE_MS;

// The `WWW-Authenticate: Bearer` challenge of every 401 is added in one place, by the error mapper.
const missing = () => fail("UNAUTHORIZED");
const invalid = () => fail("INVALID_TOKEN");

interface PakLookup {
  id: string;
  workspaceId: string;
  tokenHash: string;
  revokedAt: number | null;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

interface SessionLookup {
  id: string;
  userId: string;
  tokenHash: string;
  expiresAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
  userStatus: string;
}

/** The statements a request's credential check runs, prepared once on SQLite (the Admin API's hot path). */
interface AuthQueries {
  pakByHash(hash: string): Promise<PakLookup | undefined>;
  pakStatements(pakId: string): Promise<PolicyStatement[]>;
  /** Conditional on the previous write being old enough: the row itself is the debounce state. Rows changed. */
  touchPak(now: number, id: string, cutoff: number): Promise<number>;
  sessionByHash(hash: string): Promise<SessionLookup | undefined>;
  membershipsOf(userId: string): Promise<{ workspaceId: string; role: WorkspaceRole }[]>;
  touchSession(now: number, id: string, cutoff: number): Promise<number>;
  purgeSessions(cutoff: number): Promise<number>;
}

function sqliteAuthQueries(client: Database): AuthQueries {
  const pakByHash = client.query<PakLookup, [string]>(
    "SELECT id, workspace_id AS workspaceId, token_hash AS tokenHash, revoked_at AS revokedAt, expires_at AS expiresAt, last_used_at AS lastUsedAt FROM paks WHERE token_hash = ?",
  );
  const pakStatements = client.query<{ statements: string }, [string]>(
    "SELECT wp.statements FROM pak_policies pp JOIN workspace_policies wp ON wp.id = pp.policy_id WHERE pp.pak_id = ?",
  );
  const touchPak = client.query<never, [number, string, number]>(
    "UPDATE paks SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
  );
  const sessionByHash = client.query<SessionLookup, [string]>(
    `SELECT s.id, s.user_id AS userId, s.token_hash AS tokenHash, s.expires_at AS expiresAt,
            s.revoked_at AS revokedAt, s.last_used_at AS lastUsedAt, u.status AS userStatus
       FROM platform_sessions s JOIN platform_users u ON u.id = s.user_id
      WHERE s.token_hash = ?`,
  );
  const membershipsOf = client.query<{ workspaceId: string; role: WorkspaceRole }, [string]>(
    "SELECT workspace_id AS workspaceId, role FROM workspace_members WHERE user_id = ? ORDER BY created_at, id",
  );
  const touchSession = client.query<never, [number, string, number]>(
    "UPDATE platform_sessions SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
  );
  const purgeSessions = client.query<never, [number, number]>(
    "DELETE FROM platform_sessions WHERE expires_at < ? OR (revoked_at IS NOT NULL AND revoked_at < ?)",
  );
  return {
    async pakByHash(hash) {
      return pakByHash.get(hash) ?? undefined;
    },
    async pakStatements(pakId) {
      return pakStatements.all(pakId).flatMap((r) => JSON.parse(r.statements) as PolicyStatement[]);
    },
    async touchPak(now, id, cutoff) {
      return touchPak.run(now, id, cutoff).changes;
    },
    async sessionByHash(hash) {
      return sessionByHash.get(hash) ?? undefined;
    },
    async membershipsOf(userId) {
      return membershipsOf.all(userId);
    },
    async touchSession(now, id, cutoff) {
      return touchSession.run(now, id, cutoff).changes;
    },
    async purgeSessions(cutoff) {
      return purgeSessions.run(cutoff, cutoff).changes;
    },
  };
}

/** The same statements on PostgreSQL (its client prepares them per connection): bigint columns as numbers, jsonb as objects. */
function portableAuthQueries(db: Db): AuthQueries {
  const ms = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return {
    async pakByHash(hash) {
      const r = await row<PakLookup>(
        db,
        sql`SELECT id, workspace_id AS "workspaceId", token_hash AS "tokenHash", revoked_at AS "revokedAt",
                   expires_at AS "expiresAt", last_used_at AS "lastUsedAt"
              FROM paks WHERE token_hash = ${hash}`,
      );
      return (
        r && { ...r, revokedAt: ms(r.revokedAt), expiresAt: ms(r.expiresAt), lastUsedAt: ms(r.lastUsedAt) }
      );
    },
    async pakStatements(pakId) {
      const found = await rows<{ statements: PolicyStatement[] | string }>(
        db,
        sql`SELECT wp.statements FROM pak_policies pp JOIN workspace_policies wp ON wp.id = pp.policy_id
             WHERE pp.pak_id = ${pakId}`,
      );
      return found.flatMap((r) =>
        typeof r.statements === "string" ? (JSON.parse(r.statements) as PolicyStatement[]) : r.statements,
      );
    },
    async touchPak(now, id, cutoff) {
      return await exec(
        db,
        sql`UPDATE paks SET last_used_at = ${now}
             WHERE id = ${id} AND (last_used_at IS NULL OR last_used_at <= ${cutoff})`,
      );
    },
    async sessionByHash(hash) {
      const r = await row<SessionLookup>(
        db,
        sql`SELECT s.id, s.user_id AS "userId", s.token_hash AS "tokenHash", s.expires_at AS "expiresAt",
                   s.revoked_at AS "revokedAt", s.last_used_at AS "lastUsedAt", u.status AS "userStatus"
              FROM platform_sessions s JOIN platform_users u ON u.id = s.user_id
             WHERE s.token_hash = ${hash}`,
      );
      return (
        r && {
          ...r,
          expiresAt: Number(r.expiresAt),
          revokedAt: ms(r.revokedAt),
          lastUsedAt: ms(r.lastUsedAt),
        }
      );
    },
    async membershipsOf(userId) {
      return await rows<{ workspaceId: string; role: WorkspaceRole }>(
        db,
        sql`SELECT workspace_id AS "workspaceId", role FROM workspace_members
             WHERE user_id = ${userId} ORDER BY created_at, id`,
      );
    },
    async touchSession(now, id, cutoff) {
      return await exec(
        db,
        sql`UPDATE platform_sessions SET last_used_at = ${now}
             WHERE id = ${id} AND (last_used_at IS NULL OR last_used_at <= ${cutoff})`,
      );
    },
    async purgeSessions(cutoff) {
      return await exec(
        db,
        sql`DELETE FROM platform_sessions
             WHERE expires_at < ${cutoff} OR (revoked_at IS NOT NULL AND revoked_at < ${cutoff})`,
      );
    },
  };
}

export function createPlatformAuth({ db, clock, config, log, audit }: PlatformAuthDeps): PlatformAuth {
  const publicOrigin = new URL(config.publicUrl).origin;
  // Every request reads the rows afresh (one indexed lookup), so a revocation takes effect on the next call.
  const q = db.engine === "sqlite" ? sqliteAuthQueries(db.$client) : portableAuthQueries(db);

  async function pakPrincipal(
    request: Request,
    token: string,
    allowPak: boolean,
    meta: CallMeta,
  ): Promise<PlatformPrincipal> {
    const hash = sha256Hex(token);
    const row = await q.pakByHash(hash);
    // An expired key is refused exactly like a revoked one: same code, no hint which it was.
    if (
      !row ||
      !constantTimeEqual(row.tokenHash, hash) ||
      row.revokedAt !== null ||
      isExpired(row.expiresAt, clock.now())
    ) {
      throw invalid();
    }
    if (!allowPak) {
      throw fail("PAK_NOT_ALLOWED");
    }
    const statements = await q.pakStatements(row.id);
    if (isStale(row.lastUsedAt, clock.now())) await recordUse(request, row, meta);
    return { kind: "pak", pakId: row.id, workspaceId: row.workspaceId, statements };
  }

  /** `last_used_at` and the `pak.used` audit row, at most once per debounce window (the guarded UPDATE decides). */
  async function recordUse(request: Request, row: PakLookup, meta: CallMeta): Promise<void> {
    const now = clock.now();
    await tx(db, async () => {
      if ((await q.touchPak(now, row.id, now - USE_DEBOUNCE_MS)) === 0) return;
      await audit.record({
        workspaceId: row.workspaceId,
        action: "pak.used",
        resourceType: "pak",
        resourceId: row.id,
        actor: { type: "pak", id: row.id },
        details: { method: request.method, path: new URL(request.url).pathname },
        meta,
      });
    });
  }

  async function sessionPrincipal(
    request: Request,
    token: string,
    via: "cookie" | "bearer",
  ): Promise<PlatformPrincipal> {
    if (!token.startsWith(SESSION_PREFIX)) throw invalid();
    const hash = sha256Hex(token);
    const row = await q.sessionByHash(hash);
    const now = clock.now();
    if (!row || !constantTimeEqual(row.tokenHash, hash) || row.revokedAt !== null || row.expiresAt <= now) {
      throw invalid();
    }
    if (row.userStatus !== "active") throw invalid();
    if (via === "cookie" && !csrfAllowed(request, publicOrigin)) {
      // Audited on the user's first workspace, the chain its sign-ins use.
      throw new AccessDenied(
        "CSRF_REJECTED",
        "Cross-site request rejected: Origin does not match PUBLIC_URL",
        {
          reason: "csrf",
          actor: { type: "platform_user", id: row.userId },
          workspaceId: (await q.membershipsOf(row.userId))[0]?.workspaceId ?? null,
        },
      );
    }
    if (isStale(row.lastUsedAt, now)) await q.touchSession(now, row.id, now - USE_DEBOUNCE_MS);
    return {
      kind: "platform_user",
      userId: row.userId,
      sessionId: row.id,
      via,
      memberships: await q.membershipsOf(row.userId),
    };
  }

  return {
    async authenticate(request, { allowPak, meta }) {
      const cred = requestCredential(request);
      if (!cred) throw missing();
      if (cred.via === "bearer" && cred.token.startsWith(PAK_PREFIX))
        return await pakPrincipal(request, cred.token, allowPak, meta);
      return await sessionPrincipal(request, cred.token, cred.via);
    },
    async purge() {
      const cutoff = clock.now() - PURGE_AFTER_MS;
      const n = await q.purgeSessions(cutoff);
      if (n > 0) log.debug("purged platform sessions", { count: n });
      return n;
    },
  };
}
