/** @module Trusted-proxy entries: an IPv4 or IPv6 address, a CIDR range of either, or the older `a.b.c.*` prefix form; parsed once, matched per request. */
import { isIP } from "node:net";

/** An address range as the bits of its network and how many of them must match. */
interface Range {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** 4 or 16 bytes of an address Node accepts, or null. An IPv4-mapped IPv6 address counts as its IPv4 form. */
function addressBytes(ip: string): Uint8Array | null {
  const bare = ip.toLowerCase().startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const kind = isIP(bare);
  if (kind === 4) return Uint8Array.from(bare.split(".").map(Number));
  if (kind !== 6) return null;
  // Expand `::` and an embedded IPv4 tail into eight 16-bit groups.
  let text = bare.split("%")[0]!;
  const v4Tail = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4Tail) {
    const [a, b, c, d] = v4Tail[1]!.split(".").map(Number) as [number, number, number, number];
    text = `${text.slice(0, -v4Tail[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

/** One entry of HEIMDALL_TRUSTED_PROXIES as a range, or null when it is none of the accepted forms. */
export function parseProxyEntry(entry: string): Range | null {
  const wildcard = entry.match(/^((?:\d{1,3}\.){1,3})\*$/);
  if (wildcard) {
    const parts = wildcard[1]!.slice(0, -1).split(".").map(Number);
    if (parts.some((p) => p > 255)) return null;
    const bytes = new Uint8Array(4);
    bytes.set(parts);
    return { bytes, prefix: parts.length * 8 };
  }
  const [ip, bits, extra] = entry.split("/");
  if (extra !== undefined || ip === undefined) return null;
  const bytes = addressBytes(ip);
  if (!bytes) return null;
  const max = bytes.length * 8;
  if (bits === undefined) return { bytes, prefix: max };
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return null;
  return { bytes, prefix: Number(bits) };
}

function inRange(addr: Uint8Array, range: Range): boolean {
  if (addr.length !== range.bytes.length) return false;
  const full = range.prefix >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== range.bytes[i]) return false;
  const rest = range.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (addr[full]! & mask) === (range.bytes[full]! & mask);
}

/** A matcher over the configured entries; entries that do not parse match nothing (the config refuses them at start-up). */
export function proxyMatcher(entries: readonly string[]): (ip: string) => boolean {
  const ranges = entries.map(parseProxyEntry).filter((r): r is Range => r !== null);
  return (ip) => {
    const addr = addressBytes(ip);
    return addr !== null && ranges.some((r) => inRange(addr, r));
  };
}
