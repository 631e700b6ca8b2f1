/**
 * @module The Consumer surface's plumbing: `/{app_slug}` resolution and the lane guards as macros (docs/architecture.md, "Which guard for which lane").
 *
 * Routes opt in with `{ consumer: true }` (the app only), `{ endUser: true }` (a live EndUser access
 * token of this app) or `{ consumerPak: "heimdall.user.verify.create" }` (a PAK whose policy allows the
 * action on this app). Every guard resolves `app` and `meta`; the lanes add `endUser` or `principal`.
 * The admin lane, `{ consumerAdmin: "user.list" }`, takes an EndUser or M2M token of this app or an
 * app API key and resolves `caller` with the permissions it holds.
 */

import { type DocumentDecoration, Elysia } from "elysia";
import { AccessDenied } from "../audit/denials.ts";
import type { AppRef } from "../core/app-ref.ts";
import { forbidden, HeimdallError, notFound, unauthorized } from "../core/errors.ts";
import type { AuditActor, ConsumerAdminCaller, PakPrincipal } from "../core/principal.ts";
import type { Deps } from "../deps.ts";
import type { AccountSnapshot } from "../sessions/store.ts";
import type { EndUserClaims } from "../tokens/service.ts";
import { TokenError } from "../tokens/service.ts";
import { createTokenInspector, type InspectFailure } from "../verify/inspect.ts";
import { authorize } from "../workspaces/authorize.ts";
import { appResource } from "../workspaces/pak-policy.ts";
import { callMeta } from "./guards.ts";

export interface EndUserPrincipal {
  readonly kind: "end_user";
  readonly userId: string;
  readonly sessionId: string;
  readonly role: string;
  readonly claims: EndUserClaims;
  /** The account as read with the session's liveness, in the same statement. */
  readonly account: AccountSnapshot;
}

type ConsumerDeps = Pick<
  Deps,
  | "directory"
  | "tokens"
  | "sessions"
  | "platformAuth"
  | "db"
  | "apps"
  | "apiKeys"
  | "permissions"
  | "enforcement"
>;

const API_KEY_PREFIX = "hdk_live_";

export const appNotFound = (slug: string) => notFound("APP_NOT_FOUND", `No app with slug ${slug}`);

/** The bearer token of a request, if it sent one. */
export function bearerToken(request: Request): string | null {
  const h = request.headers.get("authorization");
  if (!h) return null;
  const m = /^Bearer[ ]+(\S+)$/i.exec(h.trim());
  return m ? m[1]! : null;
}

// The `WWW-Authenticate: Bearer` challenge of every 401 is added in one place, by the error mapper.
const tokenError = (reason: string) =>
  new HeimdallError(
    401,
    reason === "TOKEN_EXPIRED" ? "TOKEN_EXPIRED" : "INVALID_TOKEN",
    "Access token is invalid or expired",
  );

/** The admin lane's RBAC refusal; audited as `access.denied` on the app's chain (see audit/denials.ts). */
const permissionDenied = (app: AppRef, actor: AuditActor, permission: string) =>
  new AccessDenied("PERMISSION_DENIED", `This route requires the ${permission} permission`, {
    reason: "permission",
    actor,
    appId: app.id,
    required: permission,
  });

export function createConsumerResolver(deps: ConsumerDeps) {
  /** Archived apps leave the Consumer API (404); suspended apps refuse it (403). */
  const app = (slug: string): AppRef => {
    const a = deps.directory.bySlug(slug);
    if (!a || a.status === "archived") throw appNotFound(slug);
    if (a.status === "suspended") throw forbidden("APP_SUSPENDED", "This app is suspended");
    return a;
  };

  /** Verifies an EndUser access token of `a` and that its session is live right now. */
  const endUser = async (a: AppRef, token: string): Promise<EndUserPrincipal> => {
    let claims: Awaited<ReturnType<typeof deps.tokens.verify>>;
    try {
      claims = await deps.tokens.verify(a, token);
    } catch (err) {
      if (err instanceof TokenError) throw tokenError(err.reason);
      throw err;
    }
    if (claims.type !== "end_user") throw tokenError("TOKEN_INVALID");
    const facts = deps.sessions.facts(claims.sid);
    if (!facts || facts.userId !== claims.sub || facts.appId !== a.id) throw tokenError("TOKEN_INVALID");
    if (facts.status !== "active") throw forbidden("ACCOUNT_SUSPENDED", "This account is not active");
    if (!deps.sessions.isLive(facts)) {
      throw new HeimdallError(401, "TOKEN_REVOKED", "The session of this token has ended");
    }
    deps.sessions.touch(claims.sid);
    return {
      kind: "end_user",
      userId: claims.sub,
      sessionId: claims.sid,
      role: facts.role,
      claims,
      account: facts.account,
    };
  };

  const inspector = createTokenInspector(deps);
  const adminLaneError = (failure: InspectFailure) =>
    failure === "ACCOUNT_SUSPENDED"
      ? forbidden("ACCOUNT_SUSPENDED", "This account is not active")
      : failure === "TOKEN_REVOKED"
        ? new HeimdallError(401, "TOKEN_REVOKED", "The session or client of this token has ended")
        : tokenError(failure);

  /**
   * The admin lane's credential: an app API key holds exactly its `permissions[]`; an M2M token its
   * scopes (while its client stays active); an EndUser token what the account's current role grants.
   */
  const adminCaller = async (a: AppRef, request: Request): Promise<ConsumerAdminCaller> => {
    const token = bearerToken(request);
    if (!token) throw unauthorized("UNAUTHORIZED", "An access token or app API key is required");
    if (token.startsWith(API_KEY_PREFIX)) {
      const key = deps.apiKeys.authenticate(a.id, token, callMeta(request));
      if (!key) throw tokenError("TOKEN_INVALID");
      return { kind: "api_key", id: key.id, held: new Set(key.permissions) };
    }
    const r = await inspector.inspect(a, token);
    if (!r.ok) throw adminLaneError(r.error);
    const p = r.principal;
    if (p.type === "m2m") return { kind: "m2m", id: p.clientId, held: new Set(p.scopes) };
    deps.sessions.touch(p.sessionId);
    return { kind: "end_user", id: p.sub, held: deps.permissions.forEndUser(a.id, p.role) };
  };

  return { app, endUser, adminCaller };
}

export function consumerGuards(deps: ConsumerDeps) {
  const resolver = createConsumerResolver(deps);
  return new Elysia().macro({
    consumer: {
      resolve({ params, request }) {
        return { app: resolver.app((params as { app_slug: string }).app_slug), meta: callMeta(request) };
      },
    },
    endUser: {
      async resolve({ params, request }) {
        const app = resolver.app((params as { app_slug: string }).app_slug);
        const token = bearerToken(request);
        if (!token) throw unauthorized("UNAUTHORIZED", "An EndUser access token is required");
        return { app, meta: callMeta(request), endUser: await resolver.endUser(app, token) };
      },
    },
    /**
     * The EndUser lane plus one app permission, checked when `enforce_app_permissions` is on (the
     * spec's rule for self-service routes such as revoking a session); registered as enforced.
     */
    endUserWith: (permission: string) => {
      deps.enforcement.register(permission);
      return {
        detail: { "x-required-permission": permission } as DocumentDecoration,
        async resolve({ params, request }) {
          const app = resolver.app((params as { app_slug: string }).app_slug);
          const token = bearerToken(request);
          if (!token) throw unauthorized("UNAUTHORIZED", "An EndUser access token is required");
          const endUser = await resolver.endUser(app, token);
          if (
            deps.apps.authConfigOf(app.id).enforce_app_permissions &&
            !deps.permissions.forEndUser(app.id, endUser.role).has(permission)
          ) {
            throw permissionDenied(app, { type: "end_user", id: endUser.userId }, permission);
          }
          return { app, meta: callMeta(request), endUser };
        },
      };
    },
    consumerPak: (action: string) => ({
      async resolve({ params, request }) {
        const app = resolver.app((params as { app_slug: string }).app_slug);
        const token = bearerToken(request);
        if (!token?.startsWith("pcft_live_"))
          throw unauthorized("UNAUTHORIZED", "A platform API key is required");
        const principal = (await deps.platformAuth.authenticate(request, {
          allowPak: true,
          meta: callMeta(request),
        })) as PakPrincipal;
        authorize(principal, app.workspaceId, action, appResource(app.id), () => appNotFound(app.slug));
        return { app, meta: callMeta(request), principal };
      },
    }),
    /**
     * With `enforce_app_permissions` off the hosted API lets any valid token through; an app API key is
     * always held to exactly its permissions. The permission is registered as enforced when a route
     * declares it, and stamped on the route (`x-required-permission`) so the route table names it too.
     */
    consumerAdmin: (permission: string) => {
      deps.enforcement.register(permission);
      return {
        detail: { "x-required-permission": permission } as DocumentDecoration,
        async resolve({ params, request }) {
          const app = resolver.app((params as { app_slug: string }).app_slug);
          const caller = await resolver.adminCaller(app, request);
          const enforced =
            caller.kind === "api_key" || deps.apps.authConfigOf(app.id).enforce_app_permissions;
          if (enforced && !caller.held.has(permission)) {
            throw permissionDenied(app, { type: caller.kind, id: caller.id }, permission);
          }
          return { app, meta: callMeta(request), caller };
        },
      };
    },
  });
}
