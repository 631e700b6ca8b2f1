/** @module The OpenAPI document's surfaces (its tags) and each route's default security requirement. */
import type { Security } from "./openapi-schemas.ts";

export type Surface = "consumer" | "admin" | "platform" | "ops";

const OPS_PATHS = new Set(["/healthz", "/readyz", "/metrics", "/openapi.json"]);

export function surfaceOf(path: string): Surface {
  if (OPS_PATHS.has(path)) return "ops";
  if (/^\/v1\/(apps|stats)(\/|$)/.test(path)) return "admin";
  if (path.startsWith("/v1/")) return "platform";
  return "consumer";
}

const ADMIN_SECURITY: Security = [{ cookieAuth: [] }, { sessionBearer: [] }, { pak: [] }];

const PUBLIC_PLATFORM = new Set(["POST /v1/auth/signin"]);
/** Consumer routes that take no bearer credential: the sign-in family carries its proof in the body. */
const PUBLIC_CONSUMER =
  /^POST \/\{[^}]+\}\/v1\/auth\/(signup|signin|refresh|logout|mfa\/verify|mfa\/recover|mfa\/enroll|mfa\/enroll\/confirm)$/;
export const TOKEN_ENDPOINT = /^POST \/\{[^}]+\}\/v1\/oauth\/token$/;
/** Introspection: an M2M client's credentials (RFC 7662) or the contract's Bearer self-introspection. */
export const INTROSPECTION = /^POST \/\{[^}]+\}\/v1\/oauth\/introspect$/;
/** Platform routes a PAK may not call (docs/decisions.md, "Platform subset": a PAK cannot mint a PAK; profile and sessions are a person's). */
const HUMAN_ONLY =
  /^(GET \/v1\/(me|session)|POST \/v1\/auth\/logout|POST \/v1\/workspaces\/\{[^}]+\}\/api-keys)$/;

export function defaultSecurity(method: string, path: string, surface: Surface): Security {
  const key = `${method} ${path}`;
  if (surface === "ops" || PUBLIC_PLATFORM.has(key) || PUBLIC_CONSUMER.test(key)) return [];
  // The client authenticates with HTTP Basic or with client_id/client_secret in the body (the empty requirement).
  if (TOKEN_ENDPOINT.test(key)) return [{ clientBasic: [] }, {}];
  if (INTROSPECTION.test(key)) return [{ clientBasic: [] }, { appBearer: [] }, {}];
  if (surface === "consumer") return path.includes("/.well-known/") ? [] : [{ appBearer: [] }];
  if (HUMAN_ONLY.test(key)) return ADMIN_SECURITY.filter((s) => !("pak" in s));
  return ADMIN_SECURITY;
}
