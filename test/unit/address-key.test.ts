/** @module addressKey: the source a per-address limit counts against (IPv4 as is, IPv6 by /64, mapped IPv4 unwrapped). */
import { expect, test } from "bun:test";
import { addressKey } from "../../src/ratelimit/address.ts";

test.each([
  ["no address", null, "unknown"],
  ["IPv4", "192.0.2.7", "192.0.2.7"],
  ["IPv4-mapped IPv6", "::ffff:192.0.2.7", "192.0.2.7"],
  ["a full IPv6 address", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
  ["compressed, same /64", "2001:db8:1:2::9", "2001:db8:1:2::/64"],
  ["upper case, leading zeros, a zone", "2001:DB8:0001:0002:ffff::1%eth0", "2001:db8:1:2::/64"],
  ["the gap inside the network part", "1::2:3:4:5:6:7", "1:0:2:3::/64"],
  ["loopback", "::1", "0:0:0:0::/64"],
  ["an embedded IPv4 tail", "2001:db8::1.2.3.4", "2001:db8:0:0::/64"],
  ["garbage is kept as it is", "garbage:zz::1", "garbage:zz::1"],
])("%s: %p → %p", (_name, ip, key) => {
  expect(addressKey(ip)).toBe(key);
});
