/** @module The one error mapper: every thrown error becomes the wire shape of docs/architecture.md ("Wire"); internals are logged, never sent. */
import { WIRE_CODES } from "../core/error-catalogue.ts";
import { fail, HeimdallError, OAuthError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";

export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  details?: { field: string; reason: string }[];
  request_id: string;
}

export const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

/**
 * 401s about a credential in the body (a password, a refresh token), not about the request's bearer.
 * They still name the scheme (RFC 7235 §3.1: a 401 MUST carry a challenge), but never with
 * `error="invalid_token"`: that would tell a client to drop a token that is fine (`POST
 * /me/change-password` with a wrong current password).
 */
const BODY_CREDENTIAL_CODES = new Set([
  "INVALID_CREDENTIALS",
  "INVALID_REFRESH_TOKEN",
  "ID_TOKEN_INVALID",
  "NONCE_MISMATCH",
  "NONCE_REPLAYED",
  "OAUTH_CODE_INVALID",
]);

/**
 * The `WWW-Authenticate` value of a 401 with `code`: `error="invalid_token"` only when the request sent
 * a bearer token that was refused (RFC 6750 §3.1: no error code when it carried no credential).
 */
export function bearerChallenge(code: string, request: Request): string {
  if (BODY_CREDENTIAL_CODES.has(code)) return 'Bearer realm="heimdall"';
  const sent = /^Bearer[ \t]+\S/i.test(request.headers.get("authorization")?.trim() ?? "");
  return sent ? 'Bearer realm="heimdall", error="invalid_token"' : 'Bearer realm="heimdall"';
}

export function errorResponse(
  err: HeimdallError,
  requestId: string,
  extra: Record<string, string> = {},
): Response {
  const body: ErrorBody = {
    ...err.fields,
    statusCode: err.status,
    code: WIRE_CODES[err.code] ?? err.code,
    message: err.message,
    request_id: requestId,
  };
  if (err.details?.length) body.details = err.details;
  return new Response(JSON.stringify(body), {
    status: err.status,
    headers: { ...JSON_HEADERS, "x-request-id": requestId, ...err.headers, ...extra },
  });
}

/**
 * Maps anything thrown during a request. `elysiaCode` is Elysia's own classification
 * (NOT_FOUND, PARSE, VALIDATION, …) for errors raised by the framework rather than by us.
 */
export function mapError(
  error: unknown,
  elysiaCode: string | number,
  requestId: string,
  log: Logger,
  headers: Record<string, string> = {},
): Response {
  if (error instanceof HeimdallError) {
    if (error.status < 500 || EXPOSED_5XX.has(error.status)) return errorResponse(error, requestId, headers);
    // A 500 thrown on purpose (VAULT_ERROR, SIGNING_KEY_MISSING) still describes our internals.
    return internalError(error, requestId, log, headers);
  }
  if (error instanceof OAuthError) {
    return new Response(JSON.stringify({ error: error.error, error_description: error.description }), {
      status: error.status,
      headers: {
        ...JSON_HEADERS,
        "cache-control": "no-store",
        pragma: "no-cache",
        "x-request-id": requestId,
        ...error.headers,
        ...headers,
      },
    });
  }
  switch (elysiaCode) {
    case "NOT_FOUND":
      return errorResponse(fail("NOT_FOUND"), requestId, headers);
    case "PARSE":
      return errorResponse(fail("INVALID_JSON"), requestId, headers);
    case "VALIDATION":
      return errorResponse(fail("VALIDATION_ERROR"), requestId, headers);
    default:
      return internalError(error, requestId, log, headers);
  }
}

/**
 * 503 is the one server-side status whose codes are documented for clients (ENVOI_DISPATCH_FAILED,
 * ENVOI_NOT_WIRED, CODE_SPACE_EXHAUSTED: a dependency or capacity they can retry against).
 */
const EXPOSED_5XX = new Set([503]);

/** Generic body with the request id; the cause (message, stack, any secret id it names) goes to the log only. */
function internalError(
  error: unknown,
  requestId: string,
  log: Logger,
  headers: Record<string, string>,
): Response {
  log.error("unhandled error", {
    request_id: requestId,
    ...(error instanceof HeimdallError && { code: error.code }),
    err: error,
  });
  return errorResponse(fail("INTERNAL_ERROR"), requestId, headers);
}
