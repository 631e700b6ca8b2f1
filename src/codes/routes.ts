/**
 * @module Consumer routes for codes: the four PAK-only mints (`request-verification`,
 * `request-password-reset`, `send-verification-email`, `send-password-reset-email`) and the two public
 * submissions (`verify`, `reset-password`); thin handlers over CodeService.
 */
import { Elysia } from "elysia";
import { validate } from "../http/body.ts";
import { type ConsumerGuardDeps, consumerGuards } from "../http/consumer.ts";
import type { CodeService } from "./context.ts";
import { contactRequestSchema, resetPasswordSchema, sendEmailSchema, verifySchema } from "./model.ts";

/** For the runtime OpenAPI document: mints take a PAK, submissions are public (the code is the credential). */
const PAK_ONLY = { security: [{ pak: [] }] };
const PUBLIC = { security: [] };

/** Codes are credentials: no cache may keep a response that carries or confirms one. */
const noStore = (headers: Record<string, string | number>) => {
  headers["cache-control"] = "no-store";
};

export interface CodesRoutesDeps extends ConsumerGuardDeps {
  readonly codes: CodeService;
}

export const codesRoutes = (deps: CodesRoutesDeps) =>
  new Elysia()
    .use(consumerGuards(deps))
    .post(
      "/:app_slug/v1/auth/request-verification",
      async ({ app, principal, meta, body, set }) => {
        const contact = validate(contactRequestSchema, body);
        set.status = 201;
        noStore(set.headers);
        return await deps.codes.requestVerification(app, principal, contact, meta);
      },
      { consumerPak: "heimdall.user.verify.create", detail: PAK_ONLY },
    )
    .post(
      "/:app_slug/v1/auth/request-password-reset",
      async ({ app, principal, meta, body, set }) => {
        const contact = validate(contactRequestSchema, body);
        set.status = 201;
        noStore(set.headers);
        return await deps.codes.requestPasswordReset(app, principal, contact, meta);
      },
      { consumerPak: "heimdall.user.password-reset.create", detail: PAK_ONLY },
    )
    .post(
      "/:app_slug/v1/auth/send-verification-email",
      async ({ app, principal, meta, body, set }) => {
        const contact = validate(sendEmailSchema, body);
        const res = await deps.codes.sendVerification(app, principal, contact, meta, "email");
        set.status = 201;
        return res;
      },
      { consumerPak: "heimdall.user.verify.send-email", detail: PAK_ONLY },
    )
    .post(
      "/:app_slug/v1/auth/send-password-reset-email",
      async ({ app, principal, meta, body, set }) => {
        const contact = validate(sendEmailSchema, body);
        const res = await deps.codes.sendPasswordResetEmail(app, principal, contact, meta);
        set.status = 201;
        return res;
      },
      { consumerPak: "heimdall.user.password-reset.send-email", detail: PAK_ONLY },
    )
    .post(
      "/:app_slug/v1/auth/verify",
      async ({ app, meta, body, set }) => {
        const { code } = validate(verifySchema, body);
        noStore(set.headers);
        return await deps.codes.verify(app, code, meta);
      },
      { consumer: true, detail: PUBLIC },
    )
    .post(
      "/:app_slug/v1/auth/reset-password",
      async ({ app, meta, body, set }) => {
        const input = validate(resetPasswordSchema, body);
        await deps.codes.resetPassword(app, input.code, input.new_password, meta);
        set.status = 204;
      },
      { consumer: true, detail: PUBLIC },
    );
