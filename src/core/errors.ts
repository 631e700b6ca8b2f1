/** @module The error types services throw; `http/errors.ts` maps them to the wire shape. */
import { ERROR_CATALOGUE, type ErrorCode } from "./error-catalogue.ts";

export type { ErrorCode } from "./error-catalogue.ts";

export interface ErrorDetail {
  field: string;
  reason: string;
}

export class HeimdallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "HeimdallError";
  }
}

export interface FailOptions {
  /** Overrides the catalogue's default message (say which thing: "No app with slug x"). */
  message?: string;
  details?: ErrorDetail[];
  headers?: Record<string, string>;
}

/**
 * The one way to build an API error: the status comes from the catalogue, so a code cannot answer two
 * statuses. `throw fail("APP_NOT_FOUND")`, `throw fail("VALIDATION_ERROR", { details })`.
 */
export function fail(code: ErrorCode, options: FailOptions = {}): HeimdallError {
  const entry = ERROR_CATALOGUE[code];
  return new HeimdallError(
    entry.status,
    code,
    options.message ?? entry.message,
    options.details,
    options.headers,
  );
}

export const badRequest = (code: string, message: string, details?: ErrorDetail[]) =>
  new HeimdallError(400, code, message, details);
export const validationError = (details: ErrorDetail[], message = "Request validation failed") =>
  new HeimdallError(400, "VALIDATION_ERROR", message, details);
export const unauthorized = (code = "UNAUTHORIZED", message = "Authentication required") =>
  new HeimdallError(401, code, message);
export const forbidden = (code: string, message: string) => new HeimdallError(403, code, message);
export const notFound = (code: string, message: string) => new HeimdallError(404, code, message);
export const conflict = (code: string, message: string) => new HeimdallError(409, code, message);

/**
 * RFC 6749 §5.2 `error` values the token endpoint answers with: a registry of the RFC's, not ours, so
 * they stay out of the API catalogue (their status varies with the case, e.g. invalid_request is 413
 * for an oversized body).
 */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "temporarily_unavailable";

/** RFC 6749 §5.2 error for the OAuth token endpoint: routes throw it and the mapper keeps its shape. */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}
