/** @module The redirect targets of the web flow: `return_to` checked against the app's allowed origins, and the parameters added to it. */
import { fail } from "../core/errors.ts";

/** Only exact, same-origin redirects: docs/federation.md, "The redirect flow". */
export function checkReturnTo(raw: string | undefined, allowed: readonly string[]): URL {
  if (allowed.length === 0) {
    throw fail("RETURN_TO_NOT_ALLOWED", {
      message: "The web flow is off for this app: allowed_redirect_origins is empty",
    });
  }
  const refuse = () => fail("RETURN_TO_NOT_ALLOWED");
  // An absolute http(s) URL, nothing a browser would re-interpret (backslashes, controls, spaces).
  const odd = (ch: string) => ch <= " " || ch === "\x7f" || ch === "\\";
  if (!raw || raw.length > 2048 || !/^https?:\/\/[^/\\]/i.test(raw) || [...raw].some(odd)) {
    throw refuse();
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse();
  }
  if (url.username || url.password || !allowed.includes(url.origin)) throw refuse();
  return url;
}

export function withParams(target: string, params: Record<string, string>): string {
  const url = new URL(target);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}
