/** @module The one error mapper: every thrown error becomes the DESIGN §2 wire shape; internals are logged, never sent. */
import { HeimdallError } from "../platform/errors.ts";
import type { Logger } from "../platform/logger.ts";

export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  details?: { field: string; reason: string }[];
  request_id: string;
}

/** RFC 6749 §5.2 error for the OAuth token endpoint: routes throw it and the mapper keeps its shape. */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

export const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

export function errorResponse(
  err: HeimdallError,
  requestId: string,
  extra: Record<string, string> = {},
): Response {
  const body: ErrorBody = {
    statusCode: err.status,
    code: err.code,
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
  if (error instanceof HeimdallError) return errorResponse(error, requestId, headers);
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
      return errorResponse(new HeimdallError(404, "NOT_FOUND", "Route not found"), requestId, headers);
    case "PARSE":
      return errorResponse(
        new HeimdallError(400, "INVALID_JSON", "Request body is not valid JSON"),
        requestId,
        headers,
      );
    case "VALIDATION":
      return errorResponse(
        new HeimdallError(400, "VALIDATION_ERROR", "Request validation failed"),
        requestId,
        headers,
      );
    default:
      log.error("unhandled error", { request_id: requestId, err: error });
      return errorResponse(
        new HeimdallError(500, "INTERNAL_ERROR", "Internal server error"),
        requestId,
        headers,
      );
  }
}
