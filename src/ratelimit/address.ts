/**
 * @module The source a per-address limit counts against: an IPv4 address, or the /64 network of an IPv6 one.
 *
 * One IPv6 host is routinely handed a whole /64 (SLAAC, privacy addresses, a VPS's allocation), so a
 * limit keyed on the full address gives a single machine 2^64 fresh allowances. Counting by /64 treats a
 * network as the one client it usually is; IPv4-mapped addresses count as their IPv4 address.
 */

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** `a.b.c.d`, `xxxx:xxxx:xxxx:xxxx::/64`, or the input unchanged when it is neither (never throws). */
export function addressKey(ip: string | null | undefined): string {
  if (!ip) return "unknown";
  const bare = ip.split("%")[0]!.toLowerCase();
  if (!bare.includes(":")) return bare;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare);
  if (mapped) return mapped[1]!;
  const halves = bare.split("::");
  if (halves.length > 2) return bare;
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  // A dotted IPv4 tail fills the last two groups; it never reaches the first four that matter here.
  const tailWidth = tail.reduce((n, g) => n + (IPV4.test(g) ? 2 : 1), 0);
  const gap = halves.length === 2 ? Array(Math.max(0, 8 - head.length - tailWidth)).fill("0") : [];
  const full = [...head, ...gap, ...tail];
  const network = full.slice(0, 4);
  if (network.length < 4 || !network.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return bare;
  return `${network.map((g) => Number.parseInt(g, 16).toString(16)).join(":")}::/64`;
}
