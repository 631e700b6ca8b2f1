/** @module Lane guards as Elysia macros, declared once: routes opt in with `{ platform: "any" }` and read `principal`. */
import { Elysia } from "elysia";
import type { CallMeta, PlatformPrincipal } from "../core/principal.ts";
import type { PlatformAuth } from "../workspaces/auth.ts";
import { requestState } from "./request-state.ts";

/** Read lazily: most requests never look at the address, the user agent or the signal. */
export function callMeta(request: Request): CallMeta {
  const s = requestState(request);
  return {
    requestId: s.id,
    get ip() {
      return s.ip;
    },
    get userAgent() {
      return request.headers.get("user-agent");
    },
    get signal() {
      return request.signal;
    },
  };
}

/**
 * `platform: "any"` accepts the `auth_token` session (cookie or Bearer) and a PAK;
 * `platform: "user"` accepts only a human session (PAKs get 403, e.g. PAK minting).
 * Resolution happens after body validation, never in `derive`.
 */
/** What the platform guard reads: only the session and PAK authenticator. */
export interface PlatformGuardDeps {
  readonly platformAuth: PlatformAuth;
}

export function guards(deps: PlatformGuardDeps) {
  // Unnamed on purpose: each module gets its own copy bound to the same deps (a named plugin would be
  // deduplicated by a seed that Elysia serialises, and deps is a cyclic graph).
  return new Elysia().macro({
    platform: (mode: "any" | "user") => ({
      async resolve({ request }) {
        const meta = callMeta(request);
        const principal: PlatformPrincipal = await deps.platformAuth.authenticate(request, {
          allowPak: mode === "any",
          meta,
        });
        return { principal, meta };
      },
    }),
  });
}
