/** @module Per-request facts (id, start time, client ip) kept beside the Request, not in framework context. */
import type { Server } from "bun";
import { proxyMatcher } from "../core/ip-ranges.ts";

export interface RequestState {
  readonly id: string;
  readonly start: number;
  readonly ip: string | null;
}

const states = new WeakMap<Request, RequestState>();

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function beginRequest(
  request: Request,
  server: Server<unknown> | null | undefined,
  trustedProxies: readonly string[],
): RequestState {
  const sent = request.headers.get("x-request-id");
  // The client address is worked out only when something asks (audit, rate limits): most requests don't.
  let ip: string | null | undefined;
  const state: RequestState = {
    id: sent && REQUEST_ID.test(sent) ? sent : crypto.randomUUID(),
    start: performance.now(),
    get ip() {
      if (ip === undefined) ip = clientIp(request, server, trustedProxies);
      return ip;
    },
  };
  states.set(request, state);
  return state;
}

export function requestState(request: Request): RequestState {
  return states.get(request) ?? { id: "unknown", start: performance.now(), ip: null };
}

/**
 * The socket peer, unless it is a configured proxy: then the right-most X-Forwarded-For hop that
 * is not itself a trusted proxy (the left part of the header is client-controlled).
 */
export function clientIp(
  request: Request,
  server: Server<unknown> | null | undefined,
  trustedProxies: readonly string[],
): string | null {
  const peer = server?.requestIP(request)?.address ?? null;
  if (!peer || trustedProxies.length === 0 || !isTrusted(peer, trustedProxies)) return peer;
  const hops = (request.headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!isTrusted(hops[i]!, trustedProxies)) return hops[i]!;
  }
  return peer;
}

/** Parsed once per list (the config's frozen array): addresses, CIDR ranges and `a.b.c.*` prefixes. */
const matchers = new WeakMap<readonly string[], (ip: string) => boolean>();

function isTrusted(ip: string, trusted: readonly string[]): boolean {
  let match = matchers.get(trusted);
  if (!match) {
    match = proxyMatcher(trusted);
    matchers.set(trusted, match);
  }
  return match(ip);
}
