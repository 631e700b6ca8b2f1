/** @module Consumer routes completing a sign-in's MFA challenge and stepping up a session: thin handlers over MfaSigninService. */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { validate } from "../http/body.ts";
import { consumerGuards } from "../http/consumer.ts";
import { mfaRecoverSchema, mfaVerifySchema, stepUpSchema } from "./mfa-model.ts";

type Headers = Record<string, string | number>;

/** Token responses must never be cached (RFC 6749 §5.1). */
function noStore(headers: Headers): void {
  headers["cache-control"] = "no-store";
  headers.pragma = "no-cache";
}

export function mfaSigninRoutes(deps: Deps) {
  const svc = deps.mfaSignin;
  return new Elysia()
    .use(consumerGuards(deps))
    .post(
      "/:app_slug/v1/auth/mfa/verify",
      async ({ app, meta, body, set }) => {
        const input = validate(mfaVerifySchema, body);
        noStore(set.headers);
        return svc.verify(app, input, meta);
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/auth/mfa/recover",
      async ({ app, meta, body, set }) => {
        const input = validate(mfaRecoverSchema, body);
        noStore(set.headers);
        return svc.recover(app, input, meta);
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/me/mfa/step-up",
      ({ app, meta, body, endUser }) => {
        const input = validate(stepUpSchema, body);
        return svc.stepUp(app, { userId: endUser.userId, sessionId: endUser.sessionId }, input.code, meta);
      },
      { endUser: true },
    );
}
