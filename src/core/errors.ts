/** @module The error types services throw; `http/errors.ts` maps them to the wire shape. */

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

export const badRequest = (code: string, message: string, details?: ErrorDetail[]) =>
  new HeimdallError(400, code, message, details);
export const validationError = (details: ErrorDetail[], message = "Request validation failed") =>
  new HeimdallError(400, "VALIDATION_ERROR", message, details);
export const unauthorized = (code = "UNAUTHORIZED", message = "Authentication required") =>
  new HeimdallError(401, code, message);
export const forbidden = (code: string, message: string) => new HeimdallError(403, code, message);
export const notFound = (code: string, message: string) => new HeimdallError(404, code, message);
export const conflict = (code: string, message: string) => new HeimdallError(409, code, message);

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
