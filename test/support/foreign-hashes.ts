/**
 * @module Password hashes made at test time by other systems' tools (Debian's python3-passlib, htpasswd,
 * mkpasswd), for the imported-hash tests. The packages are installed by .ci/run.
 */

const PYTHON = "/usr/bin/python3";

/** Runs a command with `input` on stdin; its trimmed stdout, or an error naming the command and its stderr. */
function run(cmd: string[], input = ""): string {
  const out = Bun.spawnSync(cmd, { stdin: new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
  if (out.exitCode !== 0) throw new Error(`${cmd[0]} failed (${out.exitCode}): ${out.stderr.toString()}`);
  return out.stdout.toString().trim();
}

/** The passlib handlers the tests use (`passlib.hash.<name>`). */
export type PasslibScheme =
  | "pbkdf2_sha256"
  | "pbkdf2_sha512"
  | "scrypt"
  | "argon2"
  | "bcrypt"
  | "django_pbkdf2_sha256";

/**
 * `passlib.hash.<scheme>.using(**settings).hash(password)`. The password goes over stdin, so nothing in the
 * process list shows it and any character survives.
 */
export function passlibHash(
  scheme: PasslibScheme,
  password: string,
  settings: Record<string, unknown> = {},
): string {
  const script = [
    "import json, sys",
    "import passlib.hash as h",
    "req = json.load(sys.stdin)",
    "print(getattr(h, req['scheme']).using(**req['settings']).hash(req['password']))",
  ].join("\n");
  return run([PYTHON, "-c", script], JSON.stringify({ scheme, password, settings }));
}

/**
 * The standard PHC form of PBKDF2 (`$pbkdf2-sha256$i=…,l=…$<b64>$<b64>`, as RustCrypto's `pbkdf2` writes
 * it), derived by Python's own `hashlib.pbkdf2_hmac`.
 */
export function phcPbkdf2(digest: "sha256" | "sha512", password: string, iterations: number): string {
  const script = [
    "import base64, hashlib, json, os, sys",
    "req = json.load(sys.stdin)",
    "salt = os.urandom(16)",
    "key = hashlib.pbkdf2_hmac(req['digest'], req['password'].encode(), salt, req['iterations'], 32)",
    "b = lambda x: base64.b64encode(x).decode().rstrip('=')",
    "print('$'.join(['', 'pbkdf2-' + req['digest'], 'i=%d,l=32' % req['iterations'], b(salt), b(key)]))",
  ].join("\n");
  return run([PYTHON, "-c", script], JSON.stringify({ digest, password, iterations }));
}

/** `htpasswd -nbB -C <cost> user <password>` (apache2-utils): bcrypt with the `$2y$` prefix. */
export function htpasswdBcrypt(password: string, cost = 5): string {
  const line = run(["htpasswd", "-nbB", "-C", String(cost), "user", password]);
  return line.slice(line.indexOf(":") + 1);
}

/** `mkpasswd -m <method> --stdin` (the `whois` package): `bcrypt` gives `$2b$`, `bcrypt-a` `$2a$`, `sha512crypt` `$6$`. */
export function mkpasswd(
  method: "bcrypt" | "bcrypt-a" | "sha512crypt",
  password: string,
  rounds = 5,
): string {
  return run(["mkpasswd", "-m", method, "-R", String(rounds), "--stdin"], password);
}
