/**
 * @module Who calls the Consumer API: the app of a `/{app_slug}`, the EndUser of an access token with a
 * live session, and the admin lane's caller (EndUser or M2M token, or app API key) with what it holds.
 * The guard macros of `http/consumer.ts` ask it; built once in `deps.ts`.
 */
import type { ApiKeyService } from "../api-keys/service.ts";
import type { AppDirectory } from "../apps/directory.ts";
import type { AppRef } from "../core/app-ref.ts";
import { fail } from "../core/errors.ts";
import type { CallMeta, ConsumerAdminCaller } from "../core/principal.ts";
import type { PermissionResolver } from "../rbac/resolver.ts";
import { actingTenant, type SessionService } from "../sessions/service.ts";
import type { AccountSnapshot } from "../sessions/store.ts";
import { type EndUserClaims, TokenError, type TokenService } from "../tokens/service.ts";
import type { InspectFailure, TokenInspector } from "./inspect.ts";

export interface EndUserPrincipal {
  readonly kind: "end_user";
  readonly userId: string;
  readonly sessionId: string;
  readonly role: string;
  /** The tenant the token acts in and the account's role there now; both null for app scope. */
  readonly tenantId: string | null;
  readonly tenantRole: string | null;
  readonly claims: EndUserClaims;
  /** The account as read with the session's liveness, in the same statement. */
  readonly account: AccountSnapshot;
}

export interface ConsumerResolver {
  /** Archived apps leave the Consumer API (404); suspended apps refuse it (403). */
  app(slug: string): Promise<AppRef>;
  /** Verifies an EndUser access token of `app` and that its session is live right now. */
  endUser(app: AppRef, token: string): Promise<EndUserPrincipal>;
  /**
   * The admin lane's credential: an app API key holds exactly its `permissions[]`; an M2M token its
   * scopes (while its client stays active); an EndUser token what the account's current role grants,
   * with its tenant role's when it acts in a tenant.
   */
  adminCaller(app: AppRef, token: string | null, meta: CallMeta): Promise<ConsumerAdminCaller>;
}

const API_KEY_PREFIX = "hdk_live_";

export const appNotFound = (slug: string) => fail("APP_NOT_FOUND", { message: `No app with slug ${slug}` });

// The `WWW-Authenticate: Bearer` challenge of every 401 is added in one place, by the error mapper.
const tokenError = (reason: string) =>
  fail(reason === "TOKEN_EXPIRED" ? "TOKEN_EXPIRED" : "INVALID_TOKEN", {
    message: "Access token is invalid or expired",
  });

const adminLaneError = (failure: InspectFailure) =>
  failure === "ACCOUNT_SUSPENDED"
    ? fail("ACCOUNT_SUSPENDED")
    : failure === "TOKEN_REVOKED"
      ? fail("TOKEN_REVOKED", { message: "The session or client of this token has ended" })
      : tokenError(failure);

export function createConsumerResolver(deps: {
  directory: Pick<AppDirectory, "bySlug">;
  tokens: Pick<TokenService, "verify">;
  sessions: Pick<SessionService, "facts" | "isLive" | "touch">;
  apiKeys: Pick<ApiKeyService, "authenticate">;
  permissions: Pick<PermissionResolver, "forEndUser">;
  inspector: TokenInspector;
}): ConsumerResolver {
  const { directory, tokens, sessions, apiKeys, permissions, inspector } = deps;
  return {
    async app(slug) {
      const a = await directory.bySlug(slug);
      if (!a || a.status === "archived") throw appNotFound(slug);
      if (a.status === "suspended") throw fail("APP_SUSPENDED");
      return a;
    },

    async endUser(a, token) {
      let claims: Awaited<ReturnType<typeof tokens.verify>>;
      try {
        claims = await tokens.verify(a, token);
      } catch (err) {
        if (err instanceof TokenError) throw tokenError(err.reason);
        throw err;
      }
      if (claims.type !== "end_user") throw tokenError("TOKEN_INVALID");
      const facts = await sessions.facts(claims.sid);
      if (!facts || facts.userId !== claims.sub || facts.appId !== a.id) throw tokenError("TOKEN_INVALID");
      if (facts.status !== "active") throw fail("ACCOUNT_SUSPENDED");
      if (!sessions.isLive(facts)) {
        throw fail("TOKEN_REVOKED");
      }
      await sessions.touch(claims.sid);
      return {
        kind: "end_user",
        userId: claims.sub,
        sessionId: claims.sid,
        role: facts.role,
        ...actingTenant(facts, claims.tid),
        claims,
        account: facts.account,
      };
    },

    async adminCaller(a, token, meta) {
      if (!token) throw fail("UNAUTHORIZED", { message: "An access token or app API key is required" });
      if (token.startsWith(API_KEY_PREFIX)) {
        const key = await apiKeys.authenticate(a.id, token, meta);
        if (!key) throw tokenError("TOKEN_INVALID");
        return { kind: "api_key", id: key.id, held: new Set(key.permissions) };
      }
      const r = await inspector.inspect(a, token);
      if (!r.ok) throw adminLaneError(r.error);
      const p = r.principal;
      if (p.type === "m2m") return { kind: "m2m", id: p.clientId, held: new Set(p.scopes) };
      await sessions.touch(p.sessionId);
      return { kind: "end_user", id: p.sub, held: await permissions.forEndUser(a.id, p.role, p.tenantRole) };
    },
  };
}
