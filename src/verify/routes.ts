/** @module Consumer API `/{app_slug}/v1/oauth/introspect`, `/verify`, `/authorize`, `/authorize/batch`: thin handlers over VerifyService. */
import { Elysia } from "elysia";
import { validate } from "../http/body.ts";
import { bearerToken, type ConsumerGuardDeps, consumerGuards } from "../http/consumer.ts";
import { authorizeBatchSchema, authorizeSchema, introspectSchema, verifySchema } from "./model.ts";
import type { VerifyService } from "./service.ts";

/** Answers describe a live credential: no cache may keep them (RFC 7662 §4 for introspection). */
const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" };

export interface VerifyRoutesDeps extends ConsumerGuardDeps {
  readonly verifier: VerifyService;
}

export const verifyRoutes = (deps: VerifyRoutesDeps) => {
  const { verifier } = deps;
  return new Elysia({ name: "heimdall.verify" })
    .use(consumerGuards(deps))
    .post(
      "/:app_slug/v1/oauth/introspect",
      async ({ app, meta, request, body, set }) => {
        Object.assign(set.headers, NO_STORE);
        return await verifier.introspect(
          app,
          {
            authorization: request.headers.get("authorization"),
            bearer: bearerToken(request),
            body: validate(introspectSchema, body),
          },
          meta,
        );
      },
      {
        consumer: true,
        detail: {
          description:
            "Two modes. The contract's: the Bearer access token introspects itself (a body `token` must equal it). Appliance addition, RFC 7662: an active M2M client of the app authenticates as at the token endpoint (HTTP Basic, or `client_id` and `client_secret` in the body) and sends any `token` of the app; the answer adds `token_type`, `aud` and `jti`, an inactive token is `{active: false}` only, and a failed client authentication is 401 `invalid_client` with a Basic challenge.",
        },
      },
    )
    .post(
      "/:app_slug/v1/verify",
      ({ app, request, body, set }) => {
        Object.assign(set.headers, NO_STORE);
        return verifier.verify(app, bearerToken(request), validate(verifySchema, body));
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/authorize",
      async ({ app, request, body, set }) => {
        Object.assign(set.headers, NO_STORE);
        return await verifier.authorize(app, bearerToken(request), validate(authorizeSchema, body));
      },
      { consumer: true },
    )
    .post(
      "/:app_slug/v1/authorize/batch",
      async ({ app, request, body, set }) => {
        Object.assign(set.headers, NO_STORE);
        return await verifier.authorizeBatch(app, bearerToken(request), validate(authorizeBatchSchema, body));
      },
      { consumer: true },
    );
};
