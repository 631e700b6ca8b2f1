/**
 * @module The Consumer surface's plumbing: `/{app_slug}` resolution and the lane guards (DESIGN §3) as macros.
 *
 * Routes opt in with `{ consumer: true }` (the app only), `{ endUser: true }` (a live EndUser access
 * token of this app) or `{ consumerPak: "heimdall.user.verify.create" }` (a PAK whose policy allows the
 * action on this app). Every guard resolves `app` and `meta`; the lanes add `endUser` or `principal`.
 */
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { forbidden, HeimdallError, notFound, unauthorized } from "../platform/errors.ts";
import type { EndUserClaims } from "../sessions/tokens.ts";
import { TokenError } from "../sessions/tokens.ts";
import { appResource } from "../workspaces/policy.ts";
import { authorize } from "../workspaces/authorize.ts";
import { callMeta } from "./guards.ts";
import type { PakPrincipal } from "./principal.ts";

export interface ConsumerApp {
  readonly id: string;
  readonly slug: string;
  readonly workspaceId: string;
  readonly status: "active" | "suspended" | "archived";
}

export interface EndUserPrincipal {
  readonly kind: "end_user";
  readonly userId: string;
  readonly sessionId: string;
  readonly role: string;
  readonly claims: EndUserClaims;
}

type ConsumerDeps = Pick<Deps, "directory" | "tokens" | "sessions" | "platformAuth">;

export const appNotFound = (slug: string) => notFound("APP_NOT_FOUND", `No app with slug ${slug}`);

/** The bearer token of a request, if it sent one. */
export function bearerToken(request: Request): string | null {
  const h = request.headers.get("authorization");
  if (!h) return null;
  const m = /^Bearer[ ]+(\S+)$/i.exec(h.trim());
  return m ? m[1]! : null;
}

const tokenError = (reason: string) =>
  new HeimdallError(401, reason === "TOKEN_EXPIRED" ? "TOKEN_EXPIRED" : "INVALID_TOKEN", "Access token is invalid or expired", undefined, {
    "www-authenticate": `Bearer error="invalid_token"`,
  });

export function createConsumerResolver(deps: ConsumerDeps) {
  /** Archived apps leave the Consumer API (404); suspended apps refuse it (403). */
  const app = (slug: string): ConsumerApp => {
    const a = deps.directory.bySlug(slug);
    if (!a || a.status === "archived") throw appNotFound(slug);
    if (a.status === "suspended") throw forbidden("APP_SUSPENDED", "This app is suspended");
    return a;
  };

  /** Verifies an EndUser access token of `a` and that its session is live right now. */
  const endUser = async (a: ConsumerApp, token: string): Promise<EndUserPrincipal> => {
    let claims: Awaited<ReturnType<typeof deps.tokens.verify>>;
    try {
      claims = await deps.tokens.verify(a, token);
    } catch (err) {
      if (err instanceof TokenError) throw tokenError(err.reason);
      throw err;
    }
    if (claims.type !== "end_user") throw tokenError("TOKEN_INVALID");
    const facts = deps.sessions.facts(claims.sid);
    if (!facts || facts.userId !== claims.sub || facts.appId !== a.id) throw tokenError("TOKEN_INVALID");
    if (facts.status !== "active") throw forbidden("ACCOUNT_SUSPENDED", "This account is not active");
    if (!deps.sessions.isLive(facts)) {
      throw new HeimdallError(401, "TOKEN_REVOKED", "The session of this token has ended", undefined, {
        "www-authenticate": `Bearer error="invalid_token"`,
      });
    }
    deps.sessions.touch(claims.sid);
    return { kind: "end_user", userId: claims.sub, sessionId: claims.sid, role: facts.role, claims };
  };

  return { app, endUser };
}

export function consumerGuards(deps: ConsumerDeps) {
  const resolver = createConsumerResolver(deps);
  return new Elysia().macro({
    consumer: {
      resolve({ params, request }) {
        return { app: resolver.app((params as { app_slug: string }).app_slug), meta: callMeta(request) };
      },
    },
    endUser: {
      async resolve({ params, request }) {
        const app = resolver.app((params as { app_slug: string }).app_slug);
        const token = bearerToken(request);
        if (!token) throw unauthorized("UNAUTHORIZED", "An EndUser access token is required");
        return { app, meta: callMeta(request), endUser: await resolver.endUser(app, token) };
      },
    },
    consumerPak: (action: string) => ({
      async resolve({ params, request }) {
        const app = resolver.app((params as { app_slug: string }).app_slug);
        const token = bearerToken(request);
        if (!token?.startsWith("pcft_live_")) throw unauthorized("UNAUTHORIZED", "A platform API key is required");
        const principal = (await deps.platformAuth.authenticate(request, { allowPak: true })) as PakPrincipal;
        authorize(principal, app.workspaceId, action, appResource(app.id), () => appNotFound(app.slug));
        return { app, meta: callMeta(request), principal };
      },
    }),
  });
}
