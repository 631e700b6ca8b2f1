/**
 * @module End-user sessions and refresh-token rotation (docs/architecture.md, "Tokens and sessions").
 *
 * Refresh tokens are opaque `hrt_` + 256 random bits, stored as SHA-256 and rotated on every use. The
 * successor of a token is derived from it (HMAC under a sealed server key), so a client that retries a
 * refresh — or sends two at once — within 60 s gets the same successor instead of forking the session.
 * Any other reuse (an older token, or the predecessor after its successor was used or after 60 s)
 * revokes the whole session: someone else holds a copy of the token.
 *
 * A tenant switch rotates too, without the refresh token in hand: its successor is derived from the live
 * token's hash instead, so the switched-from token follows the same rule (within 60 s it yields the
 * switch's token, the session's current one; after that, or once that one was used, it is a reuse).
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
  /** The tenant the session acts in from the start (sign-in with `tenant_id`); absent for app scope. */
  tenantId?: string | null;
  durationMinutes: number;
  maxSessions: number;
  meta: Partial<CallMeta>;
}

export interface SessionService {
  /** Opens a session and evicts the oldest beyond `maxSessions`. Synchronous: call inside the caller's tx. */
  create(input: NewSession): Promise<{ session: SessionRow; refreshToken: string }>;
  /** Exchanges a refresh token for its successor; 401 INVALID_REFRESH_TOKEN otherwise (reuse revokes the session). */
  rotate(
    appId: string,
    presented: string,
    meta: Partial<CallMeta>,
  ): Promise<{ session: SessionRow; refreshToken: string }>;
  /**
   * Moves a live session of `appId` into `tenantId` (null: app scope) and rotates its refresh token, the
   * previous one entering the retry window. Synchronous: call inside the caller's tx. Undefined when the
   * session is not live.
   */
  switchTenant(
    appId: string,
    sessionId: string,
    tenantId: string | null,
  ): Promise<{ session: SessionRow; refreshToken: string } | undefined>;
  /** Ends the session that owns `token` (any token of its history); false when none is live. */
  revokeByRefreshToken(appId: string, token: string, reason: string): Promise<SessionRow | undefined>;
  revoke(sessionId: string, reason: string): Promise<boolean>;
  revokeAllOfUser(userId: string, reason: string, exceptSessionId?: string): Promise<number>;
  /** Session and account facts for a request's `sid`, or undefined. */
  facts(sessionId: string): Promise<LiveSessionFacts | undefined>;
  /** Moves a live session into a tenant, or back to app scope with null; false when it is not live. */
  setTenant(sessionId: string, tenantId: string | null): Promise<boolean>;
  isLive(facts: LiveSessionFacts | undefined): boolean;
  liveOfUser(userId: string): Promise<SessionRow[]>;
  touch(sessionId: string): Promise<void>;
  purge(): Promise<number>;
}

const invalidRefresh = () => fail("INVALID_REFRESH_TOKEN");

/** The tenant an access token acts in, and the account's role there; both null for app scope. */
export interface ActingTenant {
  tenantId: string | null;
  tenantRole: string | null;
}

const APP_SCOPE: ActingTenant = Object.freeze({ tenantId: null, tenantRole: null });

/**
 * The tenant a request acts in: the session's tenant with the live membership role, but only for a token
 * whose `tid` names that tenant. A token minted before a switch (or before the session entered a tenant)
 * keeps to app scope: a resource server that scopes its data by the token's `tid` must never be answered
 * with another tenant's role (docs/decisions.md, "Tenants and invites").
 */
export function actingTenant(facts: LiveSessionFacts, tid: unknown): ActingTenant {
  if (facts.tenantRole === null || facts.tenantId === null || tid !== facts.tenantId) return APP_SCOPE;
  return { tenantId: facts.tenantId, tenantRole: facts.tenantRole };
}

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
  const successorOf = async (token: string) =>
    REFRESH_PREFIX +
    Buffer.from(hmacSha256Hex(await secrets.get("refresh_token_hmac"), token), "hex").toString("base64url");
  // Domain-separated from `successorOf`: the input is a token's hash, which a switch has instead of the token.
  const switchSuccessorOf = async (tokenHash: string) => await successorOf(`switch:${tokenHash}`);

  const service: SessionService = {
    async create(input) {
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
        tenantId: input.tenantId ?? null,
      } satisfies SessionRow;
      await store.insert(session);
      const live = await store.oldestLiveOfUser(input.userId, now);
      for (const old of live.slice(0, Math.max(0, live.length - input.maxSessions))) {
        await store.revoke(old.id, "evicted", now);
        await audit.record({
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

    async rotate(appId, presented, meta) {
      if (!presented.startsWith(REFRESH_PREFIX) || presented.length > 128) throw invalidRefresh();
      const hash = sha256Hex(presented);
      let successor = await successorOf(presented);
      let successorHash = sha256Hex(successor);
      const result = await tx(db, async () => {
        const now = clock.now();
        // Locked: a concurrent refresh of the same token waits here and then sees this one's rotation (a retry).
        const session = await store.byTokenHash(hash, true);
        if (!session || session.appId !== appId || session.revokedAt !== null || session.expiresAt <= now) {
          throw invalidRefresh();
        }
        if (session.refreshHash === hash) {
          await store.rotate(session.id, hash, successorHash, now);
          return {
            session: { ...session, refreshHash: successorHash, lastUsedAt: now },
            refreshToken: successor,
          };
        }
        if (session.prevRefreshHash === hash && session.refreshHash !== successorHash) {
          // The presented token may have been rotated by a tenant switch rather than a refresh.
          const switched = await switchSuccessorOf(hash);
          if (session.refreshHash === sha256Hex(switched)) {
            successor = switched;
            successorHash = session.refreshHash;
          }
        }
        const isRetry =
          session.prevRefreshHash === hash &&
          session.refreshHash === successorHash &&
          session.prevRotatedAt !== null &&
          now - session.prevRotatedAt <= REFRESH_RETRY_WINDOW;
        if (isRetry) return { session, refreshToken: successor };
        // Reuse: commit the revocation, then refuse.
        await store.revoke(session.id, "refresh_reuse", now);
        await audit.record({
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

    async switchTenant(appId, sessionId, tenantId) {
      const now = clock.now();
      const session = await store.byId(sessionId);
      if (!session || session.appId !== appId || session.revokedAt !== null || session.expiresAt <= now) {
        return undefined;
      }
      const refreshToken = await switchSuccessorOf(session.refreshHash);
      const refreshHash = sha256Hex(refreshToken);
      if (!(await store.rotate(session.id, session.refreshHash, refreshHash, now))) return undefined;
      await store.setTenant(session.id, tenantId);
      return {
        session: {
          ...session,
          refreshHash,
          prevRefreshHash: session.refreshHash,
          prevRotatedAt: now,
          lastUsedAt: now,
          tenantId,
        },
        refreshToken,
      };
    },

    async revokeByRefreshToken(appId, token, reason) {
      if (!token.startsWith(REFRESH_PREFIX) || token.length > 128) return undefined;
      const session = await store.byTokenHash(sha256Hex(token));
      if (!session || session.appId !== appId) return undefined;
      return (await store.revoke(session.id, reason, clock.now())) ? session : undefined;
    },

    revoke: async (sessionId, reason) => await store.revoke(sessionId, reason, clock.now()),
    revokeAllOfUser: async (userId, reason, exceptSessionId) =>
      await store.revokeAllOfUser(userId, reason, clock.now(), exceptSessionId),
    facts: async (sessionId) => await store.facts(sessionId),
    setTenant: async (sessionId, tenantId) => await store.setTenant(sessionId, tenantId),
    isLive: (f) =>
      f !== undefined && f.revokedAt === null && f.expiresAt > clock.now() && f.status === "active",
    liveOfUser: async (userId) => await store.liveOfUser(userId, clock.now()),
    async touch(sessionId) {
      // Remembered in memory too, so a busy session costs no statement at all between writes.
      const now = clock.now();
      if ((touched.get(sessionId) ?? 0) > now - TOUCH_DEBOUNCE) return;
      if (touched.size > 100_000) touched.clear();
      touched.set(sessionId, now);
      await store.touch(sessionId, now, TOUCH_DEBOUNCE);
    },
    purge: async () => await store.purge(clock.now() - 30 * 24 * 60 * MINUTE),
  };
  return service;
}
