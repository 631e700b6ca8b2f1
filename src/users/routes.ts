/** @module Consumer admin lane `/{app_slug}/v1/admin/users*`: end-user administration by app admins, M2M clients and app API keys. */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { validate } from "../http/body.ts";
import { consumerGuards } from "../http/consumer.ts";
import { queryParam } from "../http/pagination.ts";
import { listUsersQuerySchema } from "./model.ts";
import { createUserAdminService } from "./service.ts";

export const consumerAdminUserRoutes = (deps: Deps) => {
  const users = createUserAdminService(deps);
  return new Elysia({ name: "heimdall.consumer-admin.users" }).use(consumerGuards(deps)).get(
    "/:app_slug/v1/admin/users",
    ({ app, caller, query, meta }) => {
      const q = query as Record<string, unknown>;
      const input = validate(listUsersQuerySchema, {
        limit: queryParam(q, "limit"),
        cursor: queryParam(q, "cursor"),
        status: queryParam(q, "status"),
        search: queryParam(q, "search"),
      });
      return users.list(app.id, { type: caller.kind, id: caller.id }, input, meta);
    },
    { consumerAdmin: "user.list" },
  );
};
