/** @module Consumer API `/{app_slug}/v1/me*`: the signed-in EndUser's own account; thin handlers over MeService. */
import { Elysia } from "elysia";
import { queryParam } from "../core/pagination.ts";
import { validate } from "../http/body.ts";
import { type ConsumerGuardDeps, consumerGuards } from "../http/consumer.ts";
import type { EndUserPrincipal } from "../verify/consumer-resolver.ts";
import {
  addContactSchema,
  changePasswordSchema,
  reauthenticateSchema,
  toProfileDto,
  updateMeSchema,
} from "./model.ts";
import type { MeCaller, MeService } from "./service.ts";

/** What the `/me*` routes read besides the Consumer guards' deps. */
export interface MeRoutesDeps extends ConsumerGuardDeps {
  readonly me: MeService;
}

const callerOf = (app: { id: string }, u: EndUserPrincipal): MeCaller => ({
  appId: app.id,
  userId: u.userId,
  sessionId: u.sessionId,
});

export const meRoutes = (deps: MeRoutesDeps) => {
  const { me } = deps;
  return (
    new Elysia({ name: "heimdall.me" })
      .use(consumerGuards(deps))
      // The account was read with the session's liveness, in one statement: nothing more to look up.
      .get("/:app_slug/v1/me", ({ endUser }) => toProfileDto(endUser.account), { endUser: true })
      .patch(
        "/:app_slug/v1/me",
        async ({ app, endUser, body, meta }) =>
          await me.update(callerOf(app, endUser), validate(updateMeSchema, body), meta),
        { endUser: true },
      )
      .delete(
        "/:app_slug/v1/me",
        async ({ app, endUser, meta, set }) => {
          await me.deleteAccount(callerOf(app, endUser), meta);
          set.status = 204;
        },
        { endUser: true },
      )
      .get(
        "/:app_slug/v1/me/sessions",
        async ({ app, endUser }) => await me.sessions(callerOf(app, endUser)),
        {
          endUser: true,
        },
      )
      // The spec: revoking a session needs `session.revoke` when the app enforces its permissions.
      .delete(
        "/:app_slug/v1/me/sessions/:id",
        async ({ app, endUser, params, meta, set }) => {
          await me.revokeSession(callerOf(app, endUser), params.id, meta);
          set.status = 204;
        },
        { endUserWith: "session.revoke" },
      )
      .post(
        "/:app_slug/v1/me/change-password",
        async ({ app, endUser, body, meta, set }) => {
          await me.changePassword(callerOf(app, endUser), validate(changePasswordSchema, body), meta);
          set.status = 204;
        },
        { endUser: true },
      )
      // Appliance addition (documented in http/openapi-known.ts): what unlocks the changes that need a recent sign-in.
      .post(
        "/:app_slug/v1/me/reauthenticate",
        async ({ app, endUser, body, meta }) =>
          await me.reauthenticate(callerOf(app, endUser), validate(reauthenticateSchema, body), meta),
        { endUser: true },
      )
      .get(
        "/:app_slug/v1/me/contacts",
        async ({ app, endUser }) => await me.contacts(callerOf(app, endUser)),
        {
          endUser: true,
        },
      )
      .post(
        "/:app_slug/v1/me/contacts",
        async ({ app, endUser, body, meta, set }) => {
          const contact = await me.addContact(callerOf(app, endUser), validate(addContactSchema, body), meta);
          set.status = 201;
          return contact;
        },
        { endUser: true },
      )
      .delete(
        "/:app_slug/v1/me/contacts/:id",
        async ({ app, endUser, params, meta, set }) => {
          await me.deleteContact(callerOf(app, endUser), params.id, meta);
          set.status = 204;
        },
        { endUser: true },
      )
      .post(
        "/:app_slug/v1/me/contacts/:id/promote",
        async ({ app, endUser, params, meta, set }) => {
          await me.promoteContact(callerOf(app, endUser), params.id, meta);
          set.status = 204;
        },
        { endUser: true },
      )
      .get(
        "/:app_slug/v1/me/activity",
        async ({ app, endUser, query }) =>
          await me.activity(callerOf(app, endUser), {
            limit: queryParam(query, "limit"),
            cursor: queryParam(query, "cursor"),
          }),
        { endUser: true },
      )
  );
};
