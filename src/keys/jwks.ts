/** @module The JWKS document of one app: public members only, a stable order, and an ETag over the exact bytes. */
import { createHash } from "node:crypto";
import type { KeyRow, KeyState } from "./store.ts";

export interface JwksDocument {
  readonly body: string;
  readonly etag: string;
}

// Active first: some clients try keys in order. The rest is fixed so unchanged keys give unchanged bytes.
const RANK: Record<KeyState, number> = { active: 0, next: 1, retiring: 2, retired: 3 };

export function buildJwks(rows: readonly KeyRow[]): JwksDocument {
  const keys = [...rows]
    .sort(
      (a, b) => RANK[a.state] - RANK[b.state] || b.activatesAt - a.activatesAt || (a.kid < b.kid ? -1 : 1),
    )
    // Built member by member, never spread from the row, so nothing but these six can ever be served.
    .map((r) => ({
      kty: r.publicJwk.kty,
      n: r.publicJwk.n,
      e: r.publicJwk.e,
      kid: r.kid,
      alg: "RS256",
      use: "sig",
    }));
  const body = JSON.stringify({ keys });
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
  return { body, etag };
}
