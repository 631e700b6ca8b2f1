/** @module Federated sign-in routes: provider config on the Admin API, the redirect and native flows and linking on the Consumer API; thin handlers. */
import { Elysia } from "elysia";
import { validate } from "../http/body.ts";
import { type ConsumerGuardDeps, consumerGuards } from "../http/consumer.ts";
import { guards, type PlatformGuardDeps } from "../http/guards.ts";
import type { ProviderConfigService } from "./config-service.ts";
import {
  callbackParamsSchema,
  exchangeSchema,
  linkSchema,
  nativeSigninSchema,
  providerId,
  upsertSchemaFor,
} from "./model.ts";
import type { FederationService } from "./service.ts";

export interface ProviderAdminRoutesDeps extends PlatformGuardDeps {
  readonly providerConfigs: ProviderConfigService;
}

export const providerAdminRoutes = (deps: ProviderAdminRoutesDeps) =>
  new Elysia({ name: "heimdall.federation.admin" })
    .use(guards({ platformAuth: deps.platformAuth }))
    .get(
      "/v1/apps/:app_id/auth-config/providers",
      async ({ params, principal }) => await deps.providerConfigs.list(principal, params.app_id),
      { platform: "any" },
    )
    .get(
      "/v1/apps/:app_id/auth-config/providers/:provider",
      async ({ params, principal }) =>
        await deps.providerConfigs.get(principal, params.app_id, providerId(params.provider)),
      { platform: "any" },
    )
    .put(
      "/v1/apps/:app_id/auth-config/providers/:provider",
      async ({ params, body, principal, meta }) => {
        const provider = providerId(params.provider);
        return await deps.providerConfigs.put(
          principal,
          params.app_id,
          provider,
          validate(upsertSchemaFor(provider), body),
          meta,
        );
      },
      { platform: "any" },
    )
    .delete(
      "/v1/apps/:app_id/auth-config/providers/:provider",
      async ({ params, principal, meta, set }) => {
        await deps.providerConfigs.remove(principal, params.app_id, providerId(params.provider), meta);
        set.status = 204;
      },
      { platform: "any" },
    );

export interface FederationRoutesDeps extends ConsumerGuardDeps {
  readonly federation: FederationService;
}

type Headers = Record<string, string | number>;

/** The MFA answer is an appliance extension of the contract's token-only 200 (docs/federation.md). */
const MFA_EXTENSION =
  "When the account has an enabled second factor, or the app requires MFA of it (`mfa_required`, `mfa_required_roles`), the 200 is the MFA challenge `POST …/auth/signin` answers (`ConsumerMfaChallengeResponseDto`: `mfa_required`, `mfa_token`, `expires_at`, `factors`; with `enrollment_required: true` and no factors when a factor must be enrolled first) instead of tokens. Complete it with `POST …/auth/mfa/verify` (or `…/mfa/recover`, or `…/mfa/enroll` then `…/mfa/enroll/confirm`); the session's `amr` is then `oauth`, the provider, and `totp` (or `recovery_code`).";

/** Token responses and redirects carrying codes must never be cached. */
function noStore(headers: Headers): void {
  headers["cache-control"] = "no-store";
  headers.pragma = "no-cache";
}

function redirect(set: { status?: number | string; headers: Headers }, status: 302 | 303, location: string) {
  set.status = status;
  set.headers.location = location;
  noStore(set.headers);
  // Keep the code out of the Referer a landing page's subresources would send.
  set.headers["referrer-policy"] = "no-referrer";
}

export const federationRoutes = (deps: FederationRoutesDeps) =>
  new Elysia({ name: "heimdall.federation" })
    .use(consumerGuards(deps))
    .post(
      "/:app_slug/v1/auth/oauth/exchange",
      async ({ app, body, meta, set }) => {
        const { code } = validate(exchangeSchema, body);
        const tokens = await deps.federation.exchange(app, code, meta);
        noStore(set.headers);
        return tokens;
      },
      { consumer: true, detail: { description: MFA_EXTENSION } },
    )
    .post(
      "/:app_slug/v1/auth/oauth/link",
      async ({ app, body, meta, endUser }) =>
        await deps.federation.link(app, endUser.userId, validate(linkSchema, body).link_token, meta),
      { endUser: true },
    )
    .post(
      "/:app_slug/v1/auth/oauth/:provider",
      async ({ app, params, body, meta, set }) => {
        const provider = providerId(params.provider);
        const tokens = await deps.federation.native(app, provider, validate(nativeSigninSchema, body), meta);
        noStore(set.headers);
        return tokens;
      },
      { consumer: true, detail: { description: MFA_EXTENSION } },
    )
    .get(
      "/:app_slug/v1/auth/oauth/:provider/authorize",
      async ({ app, params, query, meta, set }) => {
        const provider = providerId(params.provider);
        const returnTo = typeof query.return_to === "string" ? query.return_to : undefined;
        redirect(set, 302, await deps.federation.authorize(app, provider, returnTo, meta));
      },
      { consumer: true },
    )
    .get(
      "/:app_slug/v1/auth/oauth/:provider/callback",
      async ({ app, params, query, meta, set }) => {
        const provider = providerId(params.provider);
        const input = validate(callbackParamsSchema, query);
        redirect(set, 303, await deps.federation.callback(app, provider, input, meta));
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/auth/oauth/:provider/callback",
      async ({ app, params, body, meta, set }) => {
        const provider = providerId(params.provider);
        const input = validate(callbackParamsSchema, body ?? {});
        redirect(set, 303, await deps.federation.callback(app, provider, input, meta));
      },
      { consumer: true },
    );
