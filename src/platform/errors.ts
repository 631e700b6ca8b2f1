/** @module The one error type services throw; `http/errors.ts` maps it to the wire shape. */

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
