/** @module Platform sign-in (throttled like end-user sign-in), logout, and the signed-in user's sessions and profile. */
import type { z } from "zod";
import type { AuditWriter } from "../audit/writer.ts";
import type { Clock } from "../core/clock.ts";
import { sha256Hex } from "../core/crypto.ts";
import { fail } from "../core/errors.ts";
import { newId, randomToken } from "../core/ids.ts";
import { type AuditActor, type CallMeta, type PlatformPrincipal, SYSTEM_ACTOR } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { PasswordHasher } from "../passwords/hasher.ts";
import type { RateLimiter } from "../ratelimit/limiter.ts";
import { createSigninThrottle, type ThrottleScope, type ThrottleTrip } from "../ratelimit/signin-throttle.ts";
import { pakNotAllowed } from "./access.ts";
import {
  meDto,
  SESSION_PREFIX,
  sessionDto,
  sessionSeconds,
  type signInSchema,
  type UserRow,
} from "./model.ts";
import { createWorkspaceStore } from "./store.ts";

export interface PlatformSessionServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  passwords: PasswordHasher;
  rateLimiter: RateLimiter;
}

/**
 * Operator sign-in is throttled like end-user sign-in (ratelimit/signin-throttle.ts), with the defaults of an
 * app: failures from one address for one identifier before its back-off starts, and attempts per address.
 */
export const PLATFORM_SIGNIN = {
  maxFailures: 5,
  perIp: { max: 30, windowMs: 60_000 },
} as const;

const invalidCredentials = () =>
  fail("INVALID_CREDENTIALS", { message: "Invalid email/username or password" });

export function createPlatformSessionService({
  db,
  clock,
  audit,
  passwords,
  rateLimiter,
}: PlatformSessionServiceDeps) {
  const store = createWorkspaceStore(db);
  const throttle = createSigninThrottle({ rateLimiter, clock });

  async function revokeSession(sessionId: string, userId: string, meta: CallMeta): Promise<void> {
    await tx(db, async () => {
      if (!(await store.revokeSession(sessionId, clock.now()))) return;
      await audit.record({
        workspaceId: (await store.firstWorkspaceIdOfUser(userId)) ?? null,
        action: "platform.logout",
        resourceType: "platform_session",
        resourceId: sessionId,
        actor: { type: "platform_user", id: userId },
        meta,
      });
    });
  }

  return {
    /**
     * Unknown identifier and wrong password do the same argon2 work and give the same 401; the audit row
     * tells them apart for the operator.
     */
    async signIn(input: z.infer<typeof signInSchema>, meta: CallMeta) {
      const ip = meta.ip ?? "unknown";
      await rateLimiter.consume([{ key: `platform-signin:ip:${ip}`, ...PLATFORM_SIGNIN.perIp }]);
      // Counted by what was typed (emails match case-insensitively), never by the account found.
      const throttled: ThrottleScope = {
        scope: "platform",
        identifier: input.identifier.toLowerCase(),
        ip,
        maxFailures: PLATFORM_SIGNIN.maxFailures,
      };
      const signinFailed = async (
        user: UserRow | undefined,
        details: Record<string, unknown>,
        trips: ThrottleTrip[],
      ) => {
        const chain = user ? ((await store.firstWorkspaceIdOfUser(user.id)) ?? null) : null;
        const actor: AuditActor = user ? { type: "platform_user", id: user.id } : SYSTEM_ACTOR;
        await tx(db, async () => {
          await audit.record({
            workspaceId: chain,
            action: "platform.signin_failed",
            resourceType: "platform_user",
            resourceId: user?.id ?? null,
            actor,
            details,
            meta,
          });
          for (const trip of trips) {
            await audit.record({
              workspaceId: chain,
              action: "platform.signin_throttled",
              resourceType: "platform_user",
              resourceId: user?.id ?? null,
              actor: SYSTEM_ACTOR,
              details: {
                throttle: trip.kind,
                failures: trip.failures,
                locked_until: new Date(trip.until).toISOString(),
              },
              meta,
            });
          }
        });
      };

      const refused = await throttle.begin(throttled);
      if (refused) {
        // Decided before the account is read; the lookup is for the audit row only.
        const user = await store.userByIdentifier(input.identifier);
        await signinFailed(user, { reason: "throttled", throttle: refused.kind }, []);
        throw refused.error;
      }
      const user = await store.userByIdentifier(input.identifier);
      const ok = user
        ? await passwords.verify(user.passwordHash, input.password, meta.signal)
        : await passwords.dummyVerify(input.password, meta.signal);
      if (!user || !ok || user.status !== "active") {
        const reason = !user ? "unknown_user" : !ok ? "wrong_password" : "user_inactive";
        await signinFailed(user, { reason }, await throttle.failed(throttled));
        throw invalidCredentials();
      }
      await throttle.succeeded(throttled);
      const chain = await store.firstWorkspaceIdOfUser(user.id);
      const seconds = sessionSeconds(input.session_duration);
      const token = randomToken(SESSION_PREFIX);
      const now = clock.now();
      const sessionId = newId(clock);
      await tx(db, async () => {
        await store.insertSession({
          id: sessionId,
          userId: user.id,
          tokenHash: sha256Hex(token),
          ip: meta.ip,
          userAgent: meta.userAgent?.slice(0, 512) ?? null,
          createdAt: now,
          expiresAt: now + seconds * 1000,
          lastUsedAt: null,
          revokedAt: null,
        });
        await audit.record({
          workspaceId: chain ?? null,
          action: "platform.signin",
          resourceType: "platform_session",
          resourceId: sessionId,
          actor: { type: "platform_user", id: user.id },
          details: { session_seconds: seconds },
          meta,
        });
      });
      return { token, expiresIn: seconds };
    },

    /** Revokes the session whose token is given (logout body) — possession of the token is the authority. */
    async logoutToken(token: string, meta: CallMeta): Promise<void> {
      const s = await store.sessionByTokenHash(sha256Hex(token));
      if (!s || s.revokedAt !== null || s.expiresAt <= clock.now()) {
        // 400 INVALID_SESSION_TOKEN, not 401 INVALID_TOKEN: the token is the body's data, not this
        // request's credential (the contract's 400 "invalid token"; docs/errors.md).
        throw fail("INVALID_SESSION_TOKEN");
      }
      await revokeSession(s.id, s.userId, meta);
    },

    /** Revokes the caller's own session (cookie or Bearer logout). */
    async logoutCurrent(p: PlatformPrincipal, meta: CallMeta): Promise<void> {
      if (p.kind !== "platform_user") return;
      await revokeSession(p.sessionId, p.userId, meta);
    },

    async sessions(p: PlatformPrincipal) {
      if (p.kind !== "platform_user") throw pakNotAllowed();
      return (await store.liveSessionsOf(p.userId, clock.now())).map(sessionDto);
    },

    async me(p: PlatformPrincipal) {
      if (p.kind !== "platform_user") throw pakNotAllowed();
      const user = await store.userById(p.userId);
      if (!user) throw fail("ACCOUNT_NOT_FOUND");
      return meDto(user);
    },
  };
}

export type PlatformSessionService = ReturnType<typeof createPlatformSessionService>;
