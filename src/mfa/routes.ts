/**
 * @module Consumer API MFA routes: the signed-in EndUser's factors and recovery codes (`/me/mfa/*`), and
 * the admin lane's `/users/{user_id}/factors` (`factor.read|create|delete`); thin handlers over MfaService.
 */
import { Elysia } from "elysia";
import { validate } from "../http/body.ts";
import { type ConsumerGuardDeps, consumerGuards } from "../http/consumer.ts";
import { consumerScope } from "../users/scope.ts";
import type { EndUserPrincipal } from "../verify/consumer-resolver.ts";
import { ConfirmEnrollmentSchema, StartEnrollmentSchema } from "./model.ts";
import type { MfaCaller, MfaService } from "./service.ts";

/** What the MFA routes read besides the Consumer guards' deps. */
export interface MfaRoutesDeps extends ConsumerGuardDeps {
  readonly mfa: MfaService;
}

const callerOf = (app: { id: string }, u: EndUserPrincipal): MfaCaller => ({
  appId: app.id,
  userId: u.userId,
  sessionId: u.sessionId,
});

/** Enrolment payloads and recovery codes are secrets: no cache may keep them. */
const NO_STORE = { "cache-control": "no-store" };

export const mfaRoutes = (deps: MfaRoutesDeps) => {
  const { mfa } = deps;
  return new Elysia({ name: "heimdall.mfa" })
    .use(consumerGuards(deps))
    .get("/:app_slug/v1/me/mfa/factors", async ({ app, endUser }) => await mfa.list(callerOf(app, endUser)), {
      endUser: true,
    })
    .post(
      "/:app_slug/v1/me/mfa/factors",
      async ({ app, endUser, body, meta, set }) => {
        const res = await mfa.startEnrollment(
          callerOf(app, endUser),
          validate(StartEnrollmentSchema, body),
          meta,
        );
        set.status = 201;
        Object.assign(set.headers, NO_STORE);
        return res;
      },
      { endUser: true },
    )
    .post(
      "/:app_slug/v1/me/mfa/factors/:id/verify",
      async ({ app, endUser, params, body, meta, set }) => {
        const res = await mfa.confirmEnrollment(
          callerOf(app, endUser),
          params.id,
          validate(ConfirmEnrollmentSchema, body),
          meta,
        );
        Object.assign(set.headers, NO_STORE);
        return res;
      },
      { endUser: true },
    )
    .delete(
      "/:app_slug/v1/me/mfa/factors/:id",
      async ({ app, endUser, params, meta, set }) => {
        await mfa.disable(callerOf(app, endUser), params.id, meta);
        set.status = 204;
      },
      { endUser: true },
    )
    .post(
      "/:app_slug/v1/me/mfa/recovery-codes/regenerate",
      async ({ app, endUser, meta, set }) => {
        const res = await mfa.regenerateRecoveryCodes(callerOf(app, endUser), meta);
        Object.assign(set.headers, NO_STORE);
        return res;
      },
      { endUser: true },
    )
    .get(
      "/:app_slug/v1/users/:user_id/factors",
      async ({ app, caller, params }) => await mfa.adminList(consumerScope(app, caller), params.user_id),
      { consumerAdmin: "factor.read" },
    )
    .post(
      "/:app_slug/v1/users/:user_id/factors",
      async ({ app, caller, params, body, meta, set }) => {
        const input = validate(StartEnrollmentSchema, body);
        const res = await mfa.adminProvision(consumerScope(app, caller), params.user_id, input, meta);
        set.status = 201;
        Object.assign(set.headers, NO_STORE);
        return res;
      },
      { consumerAdmin: "factor.create" },
    )
    .delete(
      "/:app_slug/v1/users/:user_id/factors/:factor_id",
      async ({ app, caller, params, meta, set }) => {
        await mfa.adminDisable(consumerScope(app, caller), params.user_id, params.factor_id, meta);
        set.status = 204;
      },
      { consumerAdmin: "factor.delete" },
    );
};
