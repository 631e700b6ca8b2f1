/** @module The error types services throw; `http/errors.ts` maps them to the wire shape. */
import { ERROR_CATALOGUE, type ErrorCode } from "./error-catalogue.ts";

export type { ErrorCode } from "./error-catalogue.ts";

export interface ErrorDetail {
  field: string;
  reason: string;
}

export interface FailOptions {
  /** Overrides the catalogue's default message (say which thing: "No app with slug x"). */
  message?: string;
  details?: ErrorDetail[];
  headers?: Record<string, string>;
  /** Top-level fields added to the wire body beside `code` (e.g. `link_token` of a 409 link_required). */
  fields?: Record<string, string>;
}

/**
 * An API error. Its status is the catalogue's for its code (core/error-catalogue.ts), never the
 * thrower's choice, so a code cannot answer two statuses. Build it with `fail`; subclasses (the vault's,
 * access denials) pass their code to `super`.
 */
export class HeimdallError extends Error {
  readonly status: number;
  readonly details?: ErrorDetail[];
  readonly headers?: Record<string, string>;
  readonly fields?: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    options: FailOptions = {},
  ) {
    const entry = ERROR_CATALOGUE[code];
    super(options.message ?? entry.message);
    this.name = "HeimdallError";
    this.status = entry.status;
    if (options.details) this.details = options.details;
    if (options.headers) this.headers = options.headers;
    if (options.fields) this.fields = options.fields;
  }
}

/** `throw fail("APP_NOT_FOUND")`, `throw fail("VALIDATION_ERROR", { details })`: the one way to refuse. */
export const fail = (code: ErrorCode, options?: FailOptions): HeimdallError =>
  new HeimdallError(code, options);

/** 400 VALIDATION_ERROR with one `{field, reason}` per problem: the most common refusal, named for it. */
export const validationError = (details: ErrorDetail[], message?: string): HeimdallError =>
  fail("VALIDATION_ERROR", { details, ...(message !== undefined && { message }) });

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
  | "invalid_target"
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
