/** @module Fresh RSA key material for one signing key: generated off the event loop, private half kept opaque. */
import { generateKeyPair, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import type { Clock } from "../core/clock.ts";

export interface PublicJwk {
  kty: string;
  n: string;
  e: string;
}

const generateRsa = promisify(generateKeyPair);

/**
 * A generated key pair on its way into the vault. The private key sits in an ES private field, so
 * `JSON.stringify`, spreading or logging a Material never reveals it; only the key service reads it.
 */
export class Material {
  readonly #pkcs8: Uint8Array;

  constructor(
    readonly kid: string,
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

export function newKid(clock: Clock): string {
  return `rs256-${clock.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

/** node:crypto's async keygen runs on the thread pool (WebCrypto's generateKey blocks the loop under Bun). */
export async function generateKeyMaterial(clock: Clock, bits: number): Promise<Material> {
  const { publicKey, privateKey } = await generateRsa("rsa", {
    modulusLength: bits,
    publicExponent: 0x10001,
  });
  const { kty, n, e } = publicKey.export({ format: "jwk" });
  if (kty !== "RSA" || !n || !e) throw new Error("RSA key generation returned an unexpected public key");
  const der = privateKey.export({ type: "pkcs8", format: "der" });
  return new Material(newKid(clock), bits, { kty, n, e }, new Uint8Array(der));
}
