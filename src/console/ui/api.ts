/**
 * @module The console's one door to the server: `api(method, path, body)` calls the Admin and platform APIs
 * like any client (the platform session cookie rides along; nothing is stored in the page), turns the wire
 * error shape into an `ApiError` whose `details` name fields, and sends a 401 back to sign-in.
 */

/** One refused field, as the API's validation errors name it. */
export interface FieldProblem {
  readonly field: string;
  readonly reason: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly FieldProblem[] = [],
    readonly requestId?: string,
  ) {
    super(message);
  }

  /** The reason given for `field` (or a nested `field.x`, `field[0]`), if the API named it. */
  forField(field: string): string | undefined {
    return this.details.find(
      (d) => d.field === field || d.field.startsWith(`${field}.`) || d.field.startsWith(`${field}[`),
    )?.reason;
  }
}

/** A page of any cursor-paginated list. */
export interface Page<T> {
  readonly data: T[];
  readonly pagination: { readonly has_more: boolean; readonly next_cursor: string | null };
}

let onUnauthorized: () => void = () => {};

/** Set once by the shell: what a 401 on any call does (back to sign-in, remembering the page). */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

type Query = Record<string, string | number | boolean | undefined | null>;

/** `/v1/apps/{id}` with `id` encoded, plus the query string without empty values. */
export function path(template: string, params: Record<string, string> = {}, query: Query = {}): string {
  let out = template.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(params[k] ?? ""));
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
  if (qs.size > 0) out += `?${qs}`;
  return out;
}

function errorFrom(status: number, body: unknown): ApiError {
  // The appliance's shape is flat ({code, message, details}); `{error: {...}}` is accepted too.
  const b = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
  const e = (b.error && typeof b.error === "object" ? b.error : b) as Record<string, unknown>;
  const details = Array.isArray(e.details)
    ? e.details.flatMap((d: unknown) => {
        const x = d as Record<string, unknown>;
        return typeof x?.field === "string"
          ? [{ field: x.field, reason: String(x.reason ?? x.message ?? "") }]
          : [];
      })
    : [];
  return new ApiError(
    status,
    typeof e.code === "string" ? e.code : `HTTP_${status}`,
    typeof e.message === "string" ? e.message : `The server answered ${status}`,
    details,
    typeof b.request_id === "string" ? b.request_id : undefined,
  );
}

export interface CallOptions {
  /** A 401 is the caller's to handle (the sign-in form's wrong password), not a lost session. */
  readonly allowUnauthorized?: boolean;
}

export async function api<T = unknown>(
  method: string,
  url: string,
  body?: unknown,
  opts: CallOptions = {},
): Promise<T> {
  const headers: Record<string, string> = {
    accept: "application/json",
    // The CSRF check reads Origin, which browsers send on these writes; this header is the fallback it accepts.
    "x-requested-with": "heimdall-console",
  };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "NETWORK_ERROR", "The server could not be reached.");
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (res.ok) return parsed as T;
  const err = errorFrom(res.status, parsed);
  if (res.status === 401 && !opts.allowUnauthorized) onUnauthorized();
  throw err;
}
