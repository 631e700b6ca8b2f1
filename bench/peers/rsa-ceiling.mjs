/**
 * @module The raw RSA-2048 signing ceiling of a runtime, single-threaded: RS256 signatures per second with
 * node:crypto and with WebCrypto (what jose uses under Bun), each for `seconds`. Runs under Node and Bun.
 * Usage: node|bun bench/peers/rsa-ceiling.mjs [seconds]; prints one JSON line.
 */
import { generateKeyPairSync, sign } from "node:crypto";

const seconds = Number(process.argv[2] ?? "2");
const data = Buffer.from("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9");
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
let n = 0;
let end = performance.now() + seconds * 1000;
while (performance.now() < end) {
  sign("sha256", data, privateKey);
  n++;
}
const nodeCrypto = n / seconds;
const key = await crypto.subtle.importKey(
  "jwk",
  privateKey.export({ format: "jwk" }),
  { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  false,
  ["sign"],
);
n = 0;
end = performance.now() + seconds * 1000;
while (performance.now() < end) {
  await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, data);
  n++;
}
const runtime = typeof Bun === "undefined" ? `node ${process.version}` : `bun ${Bun.version}`;
console.log(JSON.stringify({ runtime, nodeCrypto, webCrypto: n / seconds }));
