/** @module The JWKS document of one app: public members only, a stable order, and an ETag over the exact bytes. */
import { createHash } from "node:crypto";
import type { KeyRow, KeyState } from "./store.ts";

export interface JwksDocument {
  readonly body: string;
  readonly etag: string;
  /**
   * The algorithms of the published keys, the active key's first, each once: what discovery lists as
   * `*_signing_alg_values_supported` and what a verifier of this app must accept.
   */
  readonly algs: readonly string[];
}

// Active first: some clients try keys in order. The rest is fixed so unchanged keys give unchanged bytes.
const RANK: Record<KeyState, number> = { active: 0, next: 1, retiring: 2, retired: 3 };

/**
 * The public members of one key, built member by member, never spread from the row, so nothing but
 * these can ever be served: RSA `n`, `e`; EC `crv`, `x`, `y`; OKP `crv`, `x` (RFC 7518 §6, RFC 8037 §2).
 */
function publicKeyMembers(jwk: KeyRow["publicJwk"]) {
  if (jwk.kty === "EC") return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  if (jwk.kty === "OKP") return { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  return { kty: jwk.kty, n: jwk.n, e: jwk.e };
}

export function buildJwks(rows: readonly KeyRow[]): JwksDocument {
  const sorted = [...rows].sort(
    (a, b) => RANK[a.state] - RANK[b.state] || b.activatesAt - a.activatesAt || (a.kid < b.kid ? -1 : 1),
  );
  const keys = sorted.map((r) => ({ ...publicKeyMembers(r.publicJwk), kid: r.kid, alg: r.alg, use: "sig" }));
  const body = JSON.stringify({ keys });
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
  return { body, etag, algs: Object.freeze([...new Set(sorted.map((r) => r.alg))]) };
}
