/**
 * @module Where a webhook may point: http(s) only, https unless the host is loopback (or the operator allows
 * plain http), never Heimdall itself, never link-local or cloud-metadata addresses, and private ranges only
 * when the operator allows them (homelab receivers live there). The URL is checked when it is set; the
 * addresses its host resolves to are checked again before every attempt, so a DNS answer cannot move a
 * public name onto a forbidden address after the check.
 */
import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { validationError } from "../core/errors.ts";

export interface TargetPolicy {
  /** Plain http to any host (`webhook_allow_http`). */
  readonly allowHttp: boolean;
  /** Private ranges (`webhook_allow_private`). */
  readonly allowPrivate: boolean;
  /** Heimdall's own public URL and listen port: a webhook pointing back at the server is refused. */
  readonly publicUrl: string;
  readonly listenPort: number;
}

function blockList(entries: readonly [string, number, "ipv4" | "ipv6"][]): BlockList {
  const list = new BlockList();
  for (const [net, prefix, family] of entries) list.addSubnet(net, prefix, family);
  return list;
}

/** Never a target: link-local (cloud metadata at 169.254.169.254), unspecified, multicast, broadcast. */
const FORBIDDEN = blockList([
  ["169.254.0.0", 16, "ipv4"],
  ["0.0.0.0", 8, "ipv4"],
  ["224.0.0.0", 4, "ipv4"],
  ["255.255.255.255", 32, "ipv4"],
  ["fe80::", 10, "ipv6"],
  ["::", 128, "ipv6"],
  ["ff00::", 8, "ipv6"],
]);

/** Targets only with `webhook_allow_private`: RFC 1918, carrier-grade NAT, IPv6 unique-local. */
const PRIVATE = blockList([
  ["10.0.0.0", 8, "ipv4"],
  ["172.16.0.0", 12, "ipv4"],
  ["192.168.0.0", 16, "ipv4"],
  ["100.64.0.0", 10, "ipv4"],
  ["fc00::", 7, "ipv6"],
]);

const LOOPBACK = blockList([
  ["127.0.0.0", 8, "ipv4"],
  ["::1", 128, "ipv6"],
]);

const bare = (host: string) => host.replace(/^\[|\]$/g, "").toLowerCase();

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is judged as the IPv4 address it carries. */
function familyOf(ip: string): { address: string; family: "ipv4" | "ipv6" } {
  const mapped = ip.toLowerCase().match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
  if (mapped) return { address: mapped[1]!, family: "ipv4" };
  return { address: ip, family: isIP(ip) === 4 ? "ipv4" : "ipv6" };
}

const isLoopbackName = (host: string) => host === "localhost" || host.endsWith(".localhost");

/** Why this address may not receive webhooks, or null when it may. */
export function addressProblem(ip: string, policy: TargetPolicy): string | null {
  const { address, family } = familyOf(ip);
  if (FORBIDDEN.check(address, family)) return `${ip} is a link-local, metadata or non-unicast address`;
  if (!policy.allowPrivate && PRIVATE.check(address, family)) {
    return `${ip} is in a private range (allow it with webhook_allow_private)`;
  }
  return null;
}

const isLoopbackAddress = (ip: string) => {
  const { address, family } = familyOf(ip);
  return LOOPBACK.check(address, family);
};

const defaultPort = (u: URL) => Number(u.port || (u.protocol === "https:" ? 443 : 80));

/** The URL as stored, or a 400 naming `url` with the reason. Makes no network call. */
export function checkWebhookUrl(raw: string, policy: TargetPolicy): string {
  const refuse = (reason: string) => validationError([{ field: "url", reason }]);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse("must be an absolute http:// or https:// URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw refuse("must use https:// (or http://)");
  if (url.username || url.password) throw refuse("must not carry credentials; the signature authenticates");
  if (url.hash) throw refuse("must not have a #fragment");
  const host = bare(url.hostname);
  const literal = isIP(host) !== 0;
  const loopback = literal ? isLoopbackAddress(host) : isLoopbackName(host);
  if (url.protocol === "http:" && !loopback && !policy.allowHttp) {
    throw refuse("must use https:// unless the host is loopback (or the operator sets webhook_allow_http)");
  }
  if (literal) {
    const problem = addressProblem(host, policy);
    if (problem) throw refuse(`not allowed: ${problem}`);
  }
  const self = new URL(policy.publicUrl);
  const sameAsPublic = bare(self.hostname) === host && defaultPort(self) === defaultPort(url);
  if (sameAsPublic || (loopback && defaultPort(url) === policy.listenPort)) {
    throw refuse("must not point at this Heimdall server");
  }
  return url.href;
}

/**
 * Resolves the URL's host and checks every address it names, right before an attempt; the reason when one
 * is not allowed (the attempt is then recorded as failed without a request), null when all are.
 */
export async function resolvedTargetProblem(href: string, policy: TargetPolicy): Promise<string | null> {
  const host = bare(new URL(href).hostname);
  if (isIP(host) !== 0) return addressProblem(host, policy);
  if (isLoopbackName(host)) return null;
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true, verbatim: true });
  } catch (err) {
    return `cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? "lookup failed"}`;
  }
  for (const { address } of addresses) {
    const problem = addressProblem(address, policy);
    if (problem) return `${host} resolves to ${problem}`;
  }
  return null;
}
