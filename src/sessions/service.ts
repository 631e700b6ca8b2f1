/**
 * @module End-user sessions and refresh-token rotation (docs/architecture.md, "Tokens and sessions").
 *
 * Refresh tokens are opaque `hrt_` + 256 random bits, stored as SHA-256 and rotated on every use. The
 * successor of a token is derived from it (HMAC under a sealed server key), so a client that retries a
 * refresh — or sends two at once — within 60 s gets the same successor instead of forking the session.
 * Any other reuse (an older token, or the predecessor after its successor was used or after 60 s)
 * revokes the whole session: someone else holds a copy of the token.
 */
import { randomBytes } from "node:crypto";
import type { AuditWriter } from "../audit/writer.ts";
import { type Clock, MINUTE, SECOND } from "../core/clock.ts";
import { hmacSha256Hex, sha256Hex } from "../core/crypto.ts";
import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { ServerSecrets } from "../vault/server-secrets.ts";
import { createSessionStore, type LiveSessionFacts, type SessionRow } from "./store.ts";

export const REFRESH_PREFIX = "hrt_";
export const REFRESH_RETRY_WINDOW = 60 * SECOND;
const TOUCH_DEBOUNCE = MINUTE;

export interface NewSession {
  appId: string;
  userId: string;
  amr: string[];
  /** When a second factor was proved for this sign-in (epoch ms); absent for a password-only sign-in. */
  mfaAt?: number;
  durationMinutes: number;
  maxSessions: number;
  meta: Partial<CallMeta>;
}

export interface SessionService {
  /** Opens a session and evicts the oldest beyond `maxSessions`. Synchronous: call inside the caller's tx. */
  create(input: NewSession): { session: SessionRow; refreshToken: string };
  /** Exchanges a refresh token for its successor; 401 INVALID_REFRESH_TOKEN otherwise (reuse revokes the session). */
  rotate(
    appId: string,
    presented: string,
    meta: Partial<CallMeta>,
  ): { session: SessionRow; refreshToken: string };
  /** Ends the session that owns `token` (any token of its history); false when none is live. */
  revokeByRefreshToken(appId: string, token: string, reason: string): SessionRow | undefined;
  revoke(sessionId: string, reason: string): boolean;
  revokeAllOfUser(userId: string, reason: string, exceptSessionId?: string): number;
  /** Session and account facts for a request's `sid`, or undefined. */
  facts(sessionId: string): LiveSessionFacts | undefined;
  isLive(facts: LiveSessionFacts | undefined): boolean;
  liveOfUser(userId: string): SessionRow[];
  touch(sessionId: string): void;
  purge(): number;
}

const invalidRefresh = () => fail("INVALID_REFRESH_TOKEN");

export function createSessionService({
  db,
  clock,
  secrets,
  audit,
}: {
  db: Db;
  clock: Clock;
  secrets: ServerSecrets;
  audit: AuditWriter;
}): SessionService {
  const store = createSessionStore(db);
  const touched = new Map<string, number>();
  const successorOf = (token: string) =>
    REFRESH_PREFIX +
    Buffer.from(hmacSha256Hex(secrets.get("refresh_token_hmac"), token), "hex").toString("base64url");

  const service: SessionService = {
    create(input) {
      const now = clock.now();
      const refreshToken = REFRESH_PREFIX + randomBytes(32).toString("base64url");
      const session = {
        id: newId(clock),
        appId: input.appId,
        userId: input.userId,
        refreshHash: sha256Hex(refreshToken),
        prevRefreshHash: null,
        prevRotatedAt: null,
        amr: input.amr,
        ip: input.meta.ip ?? null,
        userAgent: input.meta.userAgent?.slice(0, 512) ?? null,
        createdAt: now,
        authenticatedAt: now,
        expiresAt: now + input.durationMinutes * MINUTE,
        lastUsedAt: now,
        revokedAt: null,
        revokeReason: null,
        mfaAt: input.mfaAt ?? null,
      } satisfies SessionRow;
      store.insert(session);
      const live = store.oldestLiveOfUser(input.userId, now);
      for (const old of live.slice(0, Math.max(0, live.length - input.maxSessions))) {
        store.revoke(old.id, "evicted", now);
        audit.record({
          appId: input.appId,
          action: "session.evicted",
          resourceType: "session",
          resourceId: old.id,
          actor: { type: "system", id: null },
          details: { user_id: input.userId, max_sessions: input.maxSessions },
          meta: input.meta,
        });
      }
      return { session, refreshToken };
    },

    rotate(appId, presented, meta) {
      if (!presented.startsWith(REFRESH_PREFIX) || presented.length > 128) throw invalidRefresh();
      const hash = sha256Hex(presented);
      const successor = successorOf(presented);
      const successorHash = sha256Hex(successor);
      const result = tx(db, () => {
        const now = clock.now();
        const session = store.byTokenHash(hash);
        if (!session || session.appId !== appId || session.revokedAt !== null || session.expiresAt <= now) {
          throw invalidRefresh();
        }
        if (session.refreshHash === hash) {
          store.rotate(session.id, hash, successorHash, now);
          return {
            session: { ...session, refreshHash: successorHash, lastUsedAt: now },
            refreshToken: successor,
          };
        }
        const isRetry =
          session.prevRefreshHash === hash &&
          session.refreshHash === successorHash &&
          session.prevRotatedAt !== null &&
          now - session.prevRotatedAt <= REFRESH_RETRY_WINDOW;
        if (isRetry) return { session, refreshToken: successor };
        // Reuse: commit the revocation, then refuse.
        store.revoke(session.id, "refresh_reuse", now);
        audit.record({
          appId,
          action: "session.refresh_reuse_detected",
          resourceType: "session",
          resourceId: session.id,
          actor: { type: "end_user", id: session.userId },
          details: { user_id: session.userId },
          meta,
        });
        return "reused" as const;
      });
      if (result === "reused") throw invalidRefresh();
      return result;
    },

    revokeByRefreshToken(appId, token, reason) {
      if (!token.startsWith(REFRESH_PREFIX) || token.length > 128) return undefined;
      const session = store.byTokenHash(sha256Hex(token));
      if (!session || session.appId !== appId) return undefined;
      return store.revoke(session.id, reason, clock.now()) ? session : undefined;
    },

    revoke: (sessionId, reason) => store.revoke(sessionId, reason, clock.now()),
    revokeAllOfUser: (userId, reason, exceptSessionId) =>
      store.revokeAllOfUser(userId, reason, clock.now(), exceptSessionId),
    facts: (sessionId) => store.facts(sessionId),
    isLive: (f) =>
      f !== undefined && f.revokedAt === null && f.expiresAt > clock.now() && f.status === "active",
    liveOfUser: (userId) => store.liveOfUser(userId, clock.now()),
    touch(sessionId) {
      // Remembered in memory too, so a busy session costs no statement at all between writes.
      const now = clock.now();
      if ((touched.get(sessionId) ?? 0) > now - TOUCH_DEBOUNCE) return;
      if (touched.size > 100_000) touched.clear();
      touched.set(sessionId, now);
      store.touch(sessionId, now, TOUCH_DEBOUNCE);
    },
    purge: () => store.purge(clock.now() - 30 * 24 * 60 * MINUTE),
  };
  return service;
}
