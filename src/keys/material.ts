/** @module Fresh key material for one signing key (RS256, ES256 or EdDSA): generated off the event loop, private half kept opaque. */
import { generateKeyPair, type KeyObject, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import type { Clock } from "../core/clock.ts";

/** The JWS algorithms an app may sign with (docs/decisions.md, "Per-app signing algorithm"). */
export const SIGNING_ALGS = ["RS256", "ES256", "EdDSA"] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export const isSigningAlg = (v: unknown): v is SigningAlg =>
  typeof v === "string" && (SIGNING_ALGS as readonly string[]).includes(v);

/**
 * The public members of a signing key, per RFC 7518 §6 / RFC 8037: RSA `n`, `e`; EC `crv`, `x`, `y`
 * (P-256); OKP `crv`, `x` (Ed25519). Rows written before ES256/EdDSA hold only the RSA members.
 */
export interface PublicJwk {
  kty: string;
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
}

const generate = promisify(generateKeyPair) as unknown as (
  type: string,
  options: Record<string, unknown>,
) => Promise<{ publicKey: KeyObject; privateKey: KeyObject }>;

/**
 * A generated key pair on its way into the vault. The private key sits in an ES private field, so
 * `JSON.stringify`, spreading or logging a Material never reveals it; only the key service reads it.
 */
export class Material {
  readonly #pkcs8: Uint8Array;

  constructor(
    readonly kid: string,
    readonly alg: SigningAlg,
    /** RSA modulus length; 256 for P-256 and Ed25519 (their security level is comparable, and the column is not null). */
    readonly bits: number,
    readonly publicJwk: PublicJwk,
    pkcs8: Uint8Array,
  ) {
    this.#pkcs8 = pkcs8;
  }

  /** The PKCS#8 DER private key, for sealing. A static, not a getter, so no generic walk of the object finds it. */
  static privateKeyDer(material: Material): Uint8Array {
    return material.#pkcs8;
  }
}

const KID_PREFIX: Record<SigningAlg, string> = { RS256: "rs256", ES256: "es256", EdDSA: "eddsa" };

export function newKid(clock: Clock, alg: SigningAlg = "RS256"): string {
  return `${KID_PREFIX[alg]}-${clock.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

/** Exactly the public members of each key type, never whatever else an export might carry. */
function publicMembers(alg: SigningAlg, jwk: Record<string, unknown>): PublicJwk {
  const s = (k: string) => {
    const v = jwk[k];
    if (typeof v !== "string" || !v) throw new Error(`${alg} key generation returned no ${k}`);
    return v;
  };
  if (alg === "RS256") return { kty: s("kty"), n: s("n"), e: s("e") };
  if (alg === "ES256") return { kty: s("kty"), crv: s("crv"), x: s("x"), y: s("y") };
  return { kty: s("kty"), crv: s("crv"), x: s("x") };
}

const EXPECTED: Record<SigningAlg, { kty: string; crv?: string }> = {
  RS256: { kty: "RSA" },
  ES256: { kty: "EC", crv: "P-256" },
  EdDSA: { kty: "OKP", crv: "Ed25519" },
};

/**
 * node:crypto's async keygen runs on the thread pool (WebCrypto's generateKey blocks the loop under Bun).
 * `bits` applies to RSA only (`HEIMDALL_RSA_BITS`); P-256 and Ed25519 have one size.
 */
export async function generateKeyMaterial(
  clock: Clock,
  bits: number,
  alg: SigningAlg = "RS256",
): Promise<Material> {
  const { publicKey, privateKey } =
    alg === "RS256"
      ? await generate("rsa", { modulusLength: bits, publicExponent: 0x10001 })
      : alg === "ES256"
        ? await generate("ec", { namedCurve: "P-256" })
        : await generate("ed25519", {});
  const jwk = publicMembers(alg, publicKey.export({ format: "jwk" }) as Record<string, unknown>);
  const want = EXPECTED[alg];
  if (jwk.kty !== want.kty || jwk.crv !== want.crv)
    throw new Error(`${alg} key generation returned an unexpected public key`);
  const der = privateKey.export({ type: "pkcs8", format: "der" });
  return new Material(newKid(clock, alg), alg, alg === "RS256" ? bits : 256, jwk, new Uint8Array(der));
}
