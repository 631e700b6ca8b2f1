/** @module Hashing and constant-time comparison for opaque credentials (never for passwords). */
import { createHmac, timingSafeEqual } from "node:crypto";

export function sha256Hex(value: string | Uint8Array): string {
  // Bun's one-shot hasher: a third of node:crypto's createHash per call, on paths that hash every request.
  return Bun.SHA256.hash(value, "hex");
}

export function hmacSha256Hex(key: Uint8Array, value: string): string {
  return createHmac("sha256", key).update(value).digest("hex");
}

/** Constant-time equality of two strings; unequal lengths compare a dummy so timing does not leak length. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}
