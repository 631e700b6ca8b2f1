/** @module Platform subset routes (docs/decisions.md, "Platform subset"): sign-in, logout, sessions, me, workspaces, members, PAKs, policies. */
import { Elysia } from "elysia";
import type { Config } from "../config/index.ts";
import { fail, HeimdallError } from "../core/errors.ts";
import { validate } from "../http/body.ts";
import { callMeta, guards, type PlatformGuardDeps } from "../http/guards.ts";
import { requestCredential } from "./auth.ts";
import {
  createPakSchema,
  createPolicySchema,
  logoutSchema,
  SESSION_COOKIE,
  signInSchema,
  updatePakSchema,
  updatePolicySchema,
} from "./model.ts";
import type { PakService } from "./paks.ts";
import type { PolicyService } from "./policies.ts";
import type { PlatformSessionService } from "./sessions.ts";
import type { WorkspaceService } from "./workspaces.ts";

/** What the platform routes read besides the platform guard's deps; `config` for the cookie's `Secure`. */
export interface PlatformRoutesDeps extends PlatformGuardDeps {
  readonly platformSessions: PlatformSessionService;
  readonly workspaces: WorkspaceService;
  readonly paks: PakService;
  readonly policies: PolicyService;
  readonly config: Pick<Config, "publicUrl">;
}

type Query = Record<string, string | undefined>;

export function platformRoutes(deps: PlatformRoutesDeps) {
  const { platformSessions, workspaces, paks, policies, platformAuth, config } = deps;
  const secure = config.publicUrl.startsWith("https:") ? "; Secure" : "";
  const sessionCookie = (token: string, maxAge: number) =>
    `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${secure}`;
  const clearCookie = sessionCookie("", 0);

  return (
    new Elysia()
      .use(guards({ platformAuth }))
      // ─── Authentication ────────────────────────────────────────────────────
      .post("/v1/auth/signin", async ({ body, request, set }) => {
        const input = validate(signInSchema, body);
        const { token, expiresIn } = await platformSessions.signIn(input, callMeta(request));
        set.headers["set-cookie"] = sessionCookie(token, expiresIn);
        set.headers["cache-control"] = "no-store";
        // The session token is the bearer credential; the appliance issues no refresh token.
        return { access_token: token, token_type: "Bearer", expires_in: expiresIn };
      })
      .post("/v1/auth/logout", async ({ body, request, set }) => {
        const token = validate(logoutSchema, body)?.refresh_token;
        const cred = requestCredential(request);
        try {
          if (token !== undefined) {
            await platformSessions.logoutToken(token, callMeta(request));
          } else {
            if (!cred) {
              throw fail("VALIDATION_ERROR", { details: [{ field: "refresh_token", reason: "required" }] });
            }
            await platformSessions.logoutCurrent(
              await platformAuth.authenticate(request, { allowPak: false, meta: callMeta(request) }),
              callMeta(request),
            );
          }
        } catch (err) {
          // A dead cookie is cleared; any other refusal (CSRF, a PAK) leaves the browser's cookie alone.
          if (err instanceof HeimdallError && err.status === 401 && cred?.via === "cookie") {
            throw fail(err.code, {
              message: err.message,
              details: err.details,
              headers: { ...err.headers, "set-cookie": clearCookie },
            });
          }
          throw err;
        }
        // Only the cookie of the session that ended is cleared, so a body token cannot log a browser out.
        if (cred?.via === "cookie" && (token === undefined || token === cred.token)) {
          set.headers["set-cookie"] = clearCookie;
        }
        set.status = 204;
      })
      .get("/v1/session", async ({ principal }) => await platformSessions.sessions(principal), {
        platform: "user",
      })
      .get("/v1/me", async ({ principal }) => await platformSessions.me(principal), { platform: "user" })
      // ─── Workspaces ────────────────────────────────────────────────────────
      .get(
        "/v1/workspaces",
        async ({ principal, query }) => await workspaces.listWorkspaces(principal, query as Query),
        {
          platform: "any",
        },
      )
      .get(
        "/v1/workspaces/:workspace_slug",
        async ({ principal, params }) => await workspaces.getWorkspace(principal, params.workspace_slug),
        {
          platform: "any",
        },
      )
      .get(
        "/v1/workspaces/:workspace_slug/members",
        async ({ principal, params, query, meta }) =>
          await workspaces.listMembers(principal, params.workspace_slug, query as Query, meta),
        { platform: "any" },
      )
      // ─── Platform API keys ─────────────────────────────────────────────────
      .get(
        "/v1/workspaces/:workspace_slug/api-keys",
        async ({ principal, params }) => await paks.listPaks(principal, params.workspace_slug),
        {
          platform: "any",
        },
      )
      .post(
        "/v1/workspaces/:workspace_slug/api-keys",
        async ({ principal, params, body, meta, set }) => {
          const input = validate(createPakSchema, body);
          set.status = 201;
          set.headers["cache-control"] = "no-store";
          return await paks.mintPak(principal, params.workspace_slug, input, meta);
        },
        {
          platform: "user",
          detail: {
            description:
              "Appliance addition: an optional `expires_at` (ISO 8601, in the future, at most 730 days ahead; null or absent never expires). After it the key is refused with 401 `INVALID_TOKEN`, as a revoked key is. PAK records carry `expires_at`.",
          },
        },
      )
      .get(
        "/v1/workspaces/:workspace_slug/api-keys/:id",
        async ({ principal, params }) => await paks.getPak(principal, params.workspace_slug, params.id),
        { platform: "any" },
      )
      .patch(
        "/v1/workspaces/:workspace_slug/api-keys/:id",
        async ({ principal, params, body, meta }) =>
          await paks.updatePak(
            principal,
            params.workspace_slug,
            params.id,
            validate(updatePakSchema, body),
            meta,
          ),
        { platform: "any" },
      )
      .delete(
        "/v1/workspaces/:workspace_slug/api-keys/:id",
        async ({ principal, params, meta, set }) => {
          await paks.revokePak(principal, params.workspace_slug, params.id, meta);
          set.status = 204;
        },
        { platform: "any" },
      )
      // ─── Managed policies ──────────────────────────────────────────────────
      .get(
        "/v1/workspaces/:workspace_slug/policies/actions/catalog",
        async ({ principal, params }) => await policies.catalog(principal, params.workspace_slug),
        { platform: "any" },
      )
      .get(
        "/v1/workspaces/:workspace_slug/policies",
        async ({ principal, params }) => await policies.listPolicies(principal, params.workspace_slug),
        {
          platform: "any",
        },
      )
      .post(
        "/v1/workspaces/:workspace_slug/policies",
        async ({ principal, params, body, meta, set }) => {
          const input = validate(createPolicySchema, body);
          set.status = 201;
          return await policies.createPolicy(principal, params.workspace_slug, input, meta);
        },
        { platform: "user" },
      )
      .get(
        "/v1/workspaces/:workspace_slug/policies/:policy_id",
        async ({ principal, params }) =>
          await policies.getPolicy(principal, params.workspace_slug, params.policy_id),
        { platform: "any" },
      )
      .patch(
        "/v1/workspaces/:workspace_slug/policies/:policy_id",
        async ({ principal, params, body, meta }) =>
          await policies.updatePolicy(
            principal,
            params.workspace_slug,
            params.policy_id,
            validate(updatePolicySchema, body),
            meta,
          ),
        { platform: "user" },
      )
      .delete(
        "/v1/workspaces/:workspace_slug/policies/:policy_id",
        async ({ principal, params, meta, set }) => {
          await policies.deletePolicy(principal, params.workspace_slug, params.policy_id, meta);
          set.status = 204;
        },
        { platform: "user" },
      )
  );
}
