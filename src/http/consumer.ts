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
import { authorize } from "../access/authorize.ts";
import { appResource } from "../access/pak-policy.ts";
import type { AppService } from "../apps/service.ts";
import { AccessDenied } from "../core/access-denied.ts";
import type { AppRef } from "../core/app-ref.ts";
import { fail } from "../core/errors.ts";
import type { AuditActor, PakPrincipal } from "../core/principal.ts";
import type { EnforcementRegistry } from "../rbac/enforced.ts";
import type { PermissionResolver } from "../rbac/resolver.ts";
import { appNotFound, type ConsumerResolver } from "../verify/consumer-resolver.ts";
import type { PlatformAuth } from "../workspaces/auth.ts";
import { callMeta } from "./guards.ts";

/**
 * What the Consumer lanes read. The lanes' facts come from the resolver built in deps.ts; these macros
 * only read the request and ask it (`apps` for the app's auth config, `platformAuth` for `consumerPak`).
 */
export interface ConsumerGuardDeps {
  readonly consumerResolver: ConsumerResolver;
  readonly platformAuth: PlatformAuth;
  readonly apps: Pick<AppService, "authConfigOf">;
  readonly permissions: PermissionResolver;
  readonly enforcement: EnforcementRegistry;
}

/** The bearer token of a request, if it sent one. */
export function bearerToken(request: Request): string | null {
  const h = request.headers.get("authorization");
  if (!h) return null;
  const m = /^Bearer[ ]+(\S+)$/i.exec(h.trim());
  return m ? m[1]! : null;
}

/** The admin lane's RBAC refusal; audited as `access.denied` on the app's chain (see audit/denials.ts). */
const permissionDenied = (app: AppRef, actor: AuditActor, permission: string) =>
  new AccessDenied("PERMISSION_DENIED", `This route requires the ${permission} permission`, {
    reason: "permission",
    actor,
    appId: app.id,
    required: permission,
  });

export function consumerGuards(deps: ConsumerGuardDeps) {
  const resolver = deps.consumerResolver;
  return new Elysia().macro({
    consumer: {
      async resolve({ params, request }) {
        return {
          app: await resolver.app((params as { app_slug: string }).app_slug),
          meta: callMeta(request),
        };
      },
    },
    endUser: {
      async resolve({ params, request }) {
        const app = await resolver.app((params as { app_slug: string }).app_slug);
        const token = bearerToken(request);
        if (!token) throw fail("UNAUTHORIZED", { message: "An EndUser access token is required" });
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
          const app = await resolver.app((params as { app_slug: string }).app_slug);
          const token = bearerToken(request);
          if (!token) throw fail("UNAUTHORIZED", { message: "An EndUser access token is required" });
          const endUser = await resolver.endUser(app, token);
          if (
            (await deps.apps.authConfigOf(app.id)).enforce_app_permissions &&
            !(await deps.permissions.forEndUser(app.id, endUser.role, endUser.tenantRole)).has(permission)
          ) {
            throw permissionDenied(app, { type: "end_user", id: endUser.userId }, permission);
          }
          return { app, meta: callMeta(request), endUser };
        },
      };
    },
    consumerPak: (action: string) => ({
      async resolve({ params, request }) {
        const app = await resolver.app((params as { app_slug: string }).app_slug);
        const token = bearerToken(request);
        if (!token?.startsWith("pcft_live_"))
          throw fail("UNAUTHORIZED", { message: "A platform API key is required" });
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
          const app = await resolver.app((params as { app_slug: string }).app_slug);
          const meta = callMeta(request);
          const caller = await resolver.adminCaller(app, bearerToken(request), meta);
          const enforced =
            caller.kind === "api_key" || (await deps.apps.authConfigOf(app.id)).enforce_app_permissions;
          if (enforced && !caller.held.has(permission)) {
            throw permissionDenied(app, { type: caller.kind, id: caller.id }, permission);
          }
          return { app, meta, caller };
        },
      };
    },
  });
}
