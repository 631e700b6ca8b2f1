/**
 * @module Consumer routes for sign-up, sign-in, refresh and logout (AuthService), and the sign-in's MFA
 * challenge, the enrolment a required-MFA sign-in allows, and step-up (MfaSigninService), and the session's
 * tenant: `switch-tenant` and `/auth/me/tenants` (TenantScopeService): thin handlers.
 */

import { Elysia } from "elysia";
import { authorize } from "../access/authorize.ts";
import { appResource } from "../access/pak-policy.ts";
import type { AppRef } from "../core/app-ref.ts";
import { fail } from "../core/errors.ts";
import type { PakPrincipal } from "../core/principal.ts";
import { validate } from "../http/body.ts";
import { bearerToken, type ConsumerGuardDeps, consumerGuards } from "../http/consumer.ts";
import { callMeta } from "../http/guards.ts";
import { appNotFound } from "../verify/consumer-resolver.ts";
import {
  mfaEnrollConfirmSchema,
  mfaEnrollSchema,
  mfaRecoverSchema,
  mfaVerifySchema,
  stepUpSchema,
} from "./mfa-model.ts";
import type { MfaSigninService } from "./mfa-service.ts";
import { logoutSchema, refreshSchema, signinSchema, signupSchema } from "./model.ts";
import type { AuthService, SignupPak } from "./service.ts";
import { switchTenantSchema } from "./tenant-model.ts";
import type { TenantScopeService } from "./tenant-scope.ts";

/**
 * What the sign-in routes read besides the Consumer guards' deps (whose `platformAuth` also checks a
 * sign-up's PAK).
 */
export interface AuthRoutesDeps extends ConsumerGuardDeps {
  readonly auth: AuthService;
  readonly mfaSignin: MfaSigninService;
}

type Headers = Record<string, string | number>;

/** Token responses must never be cached (RFC 6749 §5.1). */
function noStore(headers: Headers): void {
  headers["cache-control"] = "no-store";
  headers.pragma = "no-cache";
}

export function authRoutes(deps: AuthRoutesDeps) {
  const svc = deps.auth;

  /**
   * The `consumerPak` guard's check, run when the app's config asks for it or the request presents a PAK
   * (see AuthService.signup). Any other bearer token (an end user's, say) is not a PAK and is ignored.
   */
  const signupPak = (request: Request, app: AppRef): SignupPak => {
    const token = bearerToken(request);
    return {
      presented: token?.startsWith("pcft_live_") ?? false,
      check: async () => {
        if (!token?.startsWith("pcft_live_"))
          throw fail("UNAUTHORIZED", { message: "A platform API key is required" });
        const principal = (await deps.platformAuth.authenticate(request, {
          allowPak: true,
          meta: callMeta(request),
        })) as PakPrincipal;
        authorize(principal, app.workspaceId, "heimdall.signup.create", appResource(app.id), () =>
          appNotFound(app.slug),
        );
        return principal;
      },
    };
  };

  return new Elysia()
    .use(consumerGuards(deps))
    .post(
      "/:app_slug/v1/auth/signup",
      async ({ app, meta, body, request, set }) => {
        const input = validate(signupSchema, body);
        noStore(set.headers);
        return await svc.signup(app, input, meta, signupPak(request, app));
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/auth/signin",
      async ({ app, meta, body, set }) => {
        const input = validate(signinSchema, body);
        noStore(set.headers);
        return await svc.signin(app, input, meta);
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/auth/refresh",
      async ({ app, meta, body, set }) => {
        const input = validate(refreshSchema, body);
        noStore(set.headers);
        return await svc.refresh(app, input.refresh_token, meta);
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/auth/logout",
      async ({ app, meta, body, set }) => {
        await svc.logout(app, validate(logoutSchema, body).refresh_token, meta);
        set.status = 204;
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/auth/mfa/verify",
      async ({ app, meta, body, set }) => {
        const input = validate(mfaVerifySchema, body);
        noStore(set.headers);
        return await deps.mfaSignin.verify(app, input, meta);
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/auth/mfa/recover",
      async ({ app, meta, body, set }) => {
        const input = validate(mfaRecoverSchema, body);
        noStore(set.headers);
        return await deps.mfaSignin.recover(app, input, meta);
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/auth/mfa/enroll",
      async ({ app, meta, body, set }) => {
        const input = validate(mfaEnrollSchema, body);
        noStore(set.headers);
        set.status = 201;
        return await deps.mfaSignin.enrollStart(app, input, meta);
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/auth/mfa/enroll/confirm",
      async ({ app, meta, body, set }) => {
        const input = validate(mfaEnrollConfirmSchema, body);
        noStore(set.headers);
        return await deps.mfaSignin.enrollConfirm(app, input, meta);
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/me/mfa/step-up",
      async ({ app, meta, body, endUser }) => {
        const input = validate(stepUpSchema, body);
        return await deps.mfaSignin.stepUp(
          app,
          { userId: endUser.userId, sessionId: endUser.sessionId },
          input.code,
          meta,
        );
      },
      { endUser: true },
    );
}

/** What the session's tenant routes read besides the Consumer guards' deps. */
export interface TenantScopeRoutesDeps extends ConsumerGuardDeps {
  readonly tenantScope: TenantScopeService;
}

/** `POST /auth/switch-tenant` and `GET /auth/me/tenants`, both on the EndUser lane. */
export function tenantScopeRoutes(deps: TenantScopeRoutesDeps) {
  return new Elysia({ name: "heimdall.auth.tenant-scope" })
    .use(consumerGuards(deps))
    .post(
      "/:app_slug/v1/auth/switch-tenant",
      async ({ app, meta, body, endUser, set }) => {
        const input = validate(switchTenantSchema, body);
        noStore(set.headers);
        return await deps.tenantScope.switchTenant(
          app,
          { userId: endUser.userId, sessionId: endUser.sessionId, role: endUser.role },
          input.tenant_id,
          meta,
        );
      },
      { endUser: true },
    )
    .get(
      "/:app_slug/v1/auth/me/tenants",
      async ({ app, endUser, set }) => {
        // Per caller, and changes with every membership edit.
        set.headers["cache-control"] = "no-store";
        return await deps.tenantScope.mine(app.id, endUser.userId);
      },
      { endUser: true },
    );
}
