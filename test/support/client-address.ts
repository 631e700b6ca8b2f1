/** @module Tests that need distinct client addresses: the in-process app behind a trusted proxy, X-Forwarded-For per call. */
/** The proxy every in-process request appears to come through; create the test context with `PROXY_ENV`. */
export const PROXY = "10.255.0.1";
export const PROXY_ENV = { HEIMDALL_TRUSTED_PROXIES: PROXY } as const;

/**
 * `app.handle` has no socket, so every request's address is unknown. Giving the app a server whose peer is
 * the trusted proxy lets the real address logic (request-state.ts) take the client from X-Forwarded-For.
 */
export function behindProxy(app: object): void {
  const server = { requestIP: () => ({ address: PROXY, family: "IPv4", port: 40000 }) };
  (app as { server?: unknown }).server = server;
}

/** Headers that make a call come from `ip`. */
export const from = (ip: string): Record<string, string> => ({ "x-forwarded-for": ip });
