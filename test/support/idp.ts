/**
 * @module A real OpenID Provider for the federation tests: `oidc-provider` (the certified Node OP) on a
 * loopback port, with registered clients (PKCE required), a real HTML login form and consent page, an
 * in-memory user list, RS256 ID tokens (ES256 per client), and a minting helper for the native flow that
 * also forges the bad tokens a relying party must refuse. Usable in-process and from binary tests.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from "jose";
import Provider, { type ClientMetadata, type KoaContextWithOIDC } from "oidc-provider";

export interface IdpUser {
  readonly username: string;
  readonly password: string;
  readonly sub: string;
  readonly email: string;
  readonly email_verified: boolean;
  readonly name: string;
}

export interface IdpClient {
  readonly client_id: string;
  readonly client_secret: string;
  readonly redirect_uris: readonly string[];
  /** How the client authenticates at the token endpoint; openid-client 6 sends `client_secret_post`. */
  readonly token_endpoint_auth_method?: "client_secret_post" | "client_secret_basic";
  /** The ID token's signing algorithm for this client. */
  readonly id_token_signed_response_alg?: "RS256" | "ES256";
}

export const DEFAULT_USERS: readonly IdpUser[] = [
  {
    username: "ada",
    password: "Analytical-Engine-1843",
    sub: "idp-user-ada",
    email: "ada@idp.example",
    email_verified: true,
    name: "Ada Lovelace",
  },
  {
    username: "grace",
    password: "Flow-Matic-1955",
    sub: "idp-user-grace",
    email: "grace@idp.example",
    email_verified: false,
    name: "Grace Hopper",
  },
];

export interface MintOptions {
  /** The `aud` claim (a client id, or an app's native client id). */
  readonly audience: string | string[];
  /** The `nonce` claim as it should appear in the token (see `hashNonce` for the native convention). */
  readonly nonce?: string;
  readonly sub?: string;
  readonly email?: string;
  readonly emailVerified?: boolean;
  readonly name?: string;
  /** Seconds from now until `exp`; negative for an expired token. Default 600. */
  readonly expiresIn?: number;
  /** The `iss` claim; default the IdP's issuer (pass Apple's or Google's to pose as them). */
  readonly issuer?: string;
  readonly alg?: "RS256" | "ES256";
  readonly extra?: Record<string, unknown>;
}

/** The deliberately bad ID tokens a relying party must refuse, by name. */
export type BadIdTokenKind =
  | "wrong_audience"
  | "expired"
  | "wrong_issuer"
  | "alg_none"
  | "unknown_key"
  | "forged_kid"
  | "wrong_nonce";

export interface LocalIdp {
  /** `http://127.0.0.1:<port>`: the issuer, and the base of discovery (`/.well-known/openid-configuration`). */
  readonly issuer: string;
  readonly jwksUri: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly userinfoEndpoint: string;
  readonly users: readonly IdpUser[];
  /** Registers (or replaces) a client while running, e.g. once Heimdall's callback URL is known. */
  addClient(client: IdpClient): void;
  /** An ID token signed by this IdP's published key (or, with `alg: "ES256"`, its EC key). */
  mintIdToken(o: MintOptions): Promise<string>;
  /** A token that differs from a good one (same options) in exactly the named way. */
  mintBadIdToken(kind: BadIdTokenKind, o: MintOptions): Promise<string>;
  /** Every bad variant of `o`, by name: the table a native-flow test walks. */
  badIdTokens(o: MintOptions): Promise<Record<BadIdTokenKind, string>>;
  /** The public JWKS the IdP serves, for a responder that poses as another provider. */
  publicJwks(): { keys: JWK[] };
  stop(): Promise<void>;
}

/** The native-flow convention (Apple, Firebase): the token's `nonce` is the hex SHA-256 of the raw nonce. */
export function hashNonce(raw: string): string {
  return createHash("sha256").update(raw).digest("hex");
}

/** A raw nonce with 256 bits of entropy, base64url (43 characters). */
export function rawNonce(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * The Provider's storage: a Map keyed by model and id (ids are random, so IdPs in one process never
 * collide). The package's own memory adapter does the same but warns on every start.
 */
const STORE = new Map<string, { payload: Record<string, unknown>; expiresAt: number }>();
class MemoryAdapter {
  private readonly map = STORE;
  constructor(private readonly model: string) {}
  private key(id: string) {
    return `${this.model}:${id}`;
  }
  async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
    this.map.set(this.key(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    if (payload.uid) this.map.set(`uid:${payload.uid}`, { payload: { id }, expiresAt: Infinity });
    if (payload.userCode)
      this.map.set(`userCode:${payload.userCode}`, { payload: { id }, expiresAt: Infinity });
  }
  async find(id: string) {
    const hit = this.map.get(this.key(id));
    if (!hit || hit.expiresAt < Date.now()) return undefined;
    return hit.payload;
  }
  async findByUid(uid: string) {
    const ref = this.map.get(`uid:${uid}`);
    return ref ? this.find(String(ref.payload.id)) : undefined;
  }
  async findByUserCode(code: string) {
    const ref = this.map.get(`userCode:${code}`);
    return ref ? this.find(String(ref.payload.id)) : undefined;
  }
  async consume(id: string) {
    const hit = this.map.get(this.key(id));
    if (hit) hit.payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id: string) {
    this.map.delete(this.key(id));
  }
  async revokeByGrantId(grantId: string) {
    for (const [k, v] of this.map) if (v.payload.grantId === grantId) this.map.delete(k);
  }
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;background:#eef2f7;margin:0}main{max-width:360px;margin:60px auto;background:#fff;padding:28px;border-radius:8px;box-shadow:0 2px 8px #0002}
h1{font-size:20px;margin-top:0}label{display:block;margin:12px 0 4px}input{width:100%;padding:8px;box-sizing:border-box}button{margin-top:18px;padding:10px 18px}
.error{color:#b00020}.brand{color:#456;font-size:12px;text-transform:uppercase;letter-spacing:.1em}</style></head>
<body><main><div class="brand">Local test IdP</div>${body}</main></body></html>`;
}

function loginPage(uid: string, clientId: string, error?: string): string {
  return page(
    "Sign in - Local IdP",
    `<h1>Sign in to continue to ${esc(clientId)}</h1>${error ? `<p class="error" id="error">${esc(error)}</p>` : ""}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
<label for="username">Username</label><input id="username" name="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit" id="sign-in">Sign in</button></form>`,
  );
}

function consentPage(uid: string, clientId: string, scopes: string[]): string {
  return page(
    "Authorize - Local IdP",
    `<h1>${esc(clientId)} wants access</h1><p>Scopes: <span id="scopes">${esc(scopes.join(" "))}</span></p>
<form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit" id="allow">Allow</button></form>`,
  );
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(html);
}

/**
 * Starts the IdP on 127.0.0.1 (a free port unless `port` is given). `autoConsent` skips the consent page
 * (default: the page is shown and must be allowed).
 */
export async function startIdp(
  o: {
    clients?: readonly IdpClient[];
    users?: readonly IdpUser[];
    port?: number;
    autoConsent?: boolean;
  } = {},
): Promise<LocalIdp> {
  const users = o.users ?? DEFAULT_USERS;
  const clients = new Map<string, IdpClient>((o.clients ?? []).map((c) => [c.client_id, c]));

  const rsa = await generateKeyPair("RS256", { extractable: true });
  const ec = await generateKeyPair("ES256", { extractable: true });
  const rsaJwk = {
    ...(await exportJWK(rsa.privateKey)),
    kid: `rsa-${randomBytes(4).toString("hex")}`,
    alg: "RS256",
    use: "sig",
  };
  const ecJwk = {
    ...(await exportJWK(ec.privateKey)),
    kid: `ec-${randomBytes(4).toString("hex")}`,
    alg: "ES256",
    use: "sig",
  };
  const publicOf = (j: JWK): JWK => {
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = j;
    return pub;
  };

  // The port must be known before the Provider (its issuer) exists: listen first, route to it after.
  let provider: Provider | undefined;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server: Server = createServer((req, res) => {
    void route(req, res).catch((e) => {
      console.error("local IdP:", e);
      if (!res.headersSent) send(res, 500, page("Error", `<p class="error">${esc(String(e))}</p>`));
    });
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const toMetadata = (c: IdpClient): ClientMetadata => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: [...c.redirect_uris],
    response_types: ["code"],
    grant_types: ["authorization_code"],
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? "client_secret_post",
    id_token_signed_response_alg: c.id_token_signed_response_alg ?? "RS256",
  });

  const build = () => {
    const p = new Provider(issuer, {
      clients: [...clients.values()].map(toMetadata),
      jwks: { keys: [rsaJwk, ecJwk] },
      cookies: { keys: [randomBytes(32).toString("hex")] },
      pkce: { required: () => true },
      features: { devInteractions: { enabled: false } },
      // Google and most IdPs put the profile claims in the ID token; a relying party that reads only the
      // ID token (as the native flow must) sees them too.
      conformIdTokenClaims: false,
      claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
      scopes: ["openid", "email", "profile"],
      clientBasedCORS: () => true,
      ttl: {
        AccessToken: 600,
        AuthorizationCode: 60,
        IdToken: 600,
        Interaction: 600,
        Session: 3600,
        Grant: 3600,
      },
      adapter: MemoryAdapter,
      interactions: { url: (_ctx: KoaContextWithOIDC, interaction) => `/interaction/${interaction.uid}` },
      enabledJWA: { idTokenSigningAlgValues: ["RS256", "ES256"] },
      async findAccount(_ctx: KoaContextWithOIDC, sub: string) {
        const user = users.find((u) => u.sub === sub);
        if (!user) return undefined;
        return {
          accountId: sub,
          async claims() {
            return { sub, email: user.email, email_verified: user.email_verified, name: user.name };
          },
        };
      },
      renderError(ctx, out) {
        ctx.type = "html";
        ctx.body = page(
          "Error - Local IdP",
          `<h1>Error</h1><pre id="error">${esc(JSON.stringify(out))}</pre>`,
        );
      },
    });
    provider = p;
    handler = p.callback();
  };
  build();

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", issuer);
    const m = /^\/interaction\/([^/]+)(?:\/(login|confirm))?$/.exec(url.pathname);
    if (!m) {
      handler!(req, res);
      return;
    }
    const p = provider!;
    const details = await p.interactionDetails(req, res);
    const clientId = String(details.params.client_id);
    const action = m[2];
    if (!action && req.method === "GET") {
      if (details.prompt.name === "login") return send(res, 200, loginPage(details.uid, clientId));
      if (o.autoConsent) return grantConsent(req, res, details);
      const scopes = String(details.params.scope ?? "").split(" ");
      return send(res, 200, consentPage(details.uid, clientId, scopes));
    }
    if (action === "login" && req.method === "POST") {
      const form = await formBody(req);
      const user = users.find(
        (u) => u.username === form.get("username") && u.password === form.get("password"),
      );
      if (!user) return send(res, 200, loginPage(details.uid, clientId, "Wrong username or password."));
      await p.interactionFinished(
        req,
        res,
        { login: { accountId: user.sub } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (action === "confirm" && req.method === "POST") return grantConsent(req, res, details);
    send(res, 405, page("Error", "<p>method not allowed</p>"));
  }

  async function grantConsent(
    req: IncomingMessage,
    res: ServerResponse,
    details: Awaited<ReturnType<Provider["interactionDetails"]>>,
  ): Promise<void> {
    const p = provider!;
    const accountId = details.session?.accountId;
    const grant = details.grantId
      ? await p.Grant.find(details.grantId)
      : new p.Grant({ accountId, clientId: String(details.params.client_id) });
    if (!grant) throw new Error("grant vanished");
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(" "));
    }
    const grantId = await grant.save();
    await p.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  const unknownKey = await generateKeyPair("RS256");
  const forgedKey = await generateKeyPair("RS256");

  async function sign(o: MintOptions, key: CryptoKey, kid: string, alg: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + (o.expiresIn ?? 600);
    const user = users[0]!;
    const claims: Record<string, unknown> = {
      sub: o.sub ?? user.sub,
      email: o.email ?? user.email,
      email_verified: o.emailVerified ?? user.email_verified,
      name: o.name ?? user.name,
      ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
      ...o.extra,
    };
    return new SignJWT(claims)
      .setProtectedHeader({ alg, kid, typ: "JWT" })
      .setIssuer(o.issuer ?? issuer)
      .setAudience(o.audience)
      .setIssuedAt(Math.min(now, exp - 60))
      .setExpirationTime(exp)
      .sign(key);
  }

  const mintIdToken = (o: MintOptions) =>
    o.alg === "ES256"
      ? sign(o, ec.privateKey, ecJwk.kid, "ES256")
      : sign(o, rsa.privateKey, rsaJwk.kid, "RS256");

  async function mintBadIdToken(kind: BadIdTokenKind, o: MintOptions): Promise<string> {
    switch (kind) {
      case "wrong_audience":
        return mintIdToken({ ...o, audience: "someone-elses-client" });
      case "expired":
        return mintIdToken({ ...o, expiresIn: -3600 });
      case "wrong_issuer":
        return mintIdToken({ ...o, issuer: "https://impostor.invalid" });
      case "wrong_nonce":
        return mintIdToken({ ...o, nonce: hashNonce(rawNonce()) });
      case "unknown_key":
        return sign(o, unknownKey.privateKey, "not-published", "RS256");
      case "forged_kid":
        // The published kid over another key: only the signature check can tell.
        return sign(o, forgedKey.privateKey, rsaJwk.kid, "RS256");
      case "alg_none": {
        const now = Math.floor(Date.now() / 1000);
        const user = users[0]!;
        return new UnsecuredJWT({
          sub: o.sub ?? user.sub,
          email: o.email ?? user.email,
          email_verified: o.emailVerified ?? user.email_verified,
          ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
        })
          .setIssuer(o.issuer ?? issuer)
          .setAudience(o.audience)
          .setIssuedAt(now)
          .setExpirationTime(now + 600)
          .encode();
      }
    }
  }

  const kinds: BadIdTokenKind[] = [
    "wrong_audience",
    "expired",
    "wrong_issuer",
    "alg_none",
    "unknown_key",
    "forged_kid",
    "wrong_nonce",
  ];

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    authorizationEndpoint: `${issuer}/auth`,
    tokenEndpoint: `${issuer}/token`,
    userinfoEndpoint: `${issuer}/me`,
    users,
    addClient(client) {
      clients.set(client.client_id, client);
      build();
    },
    mintIdToken,
    mintBadIdToken,
    async badIdTokens(o) {
      const out = {} as Record<BadIdTokenKind, string>;
      for (const k of kinds) out[k] = await mintBadIdToken(k, o);
      return out;
    },
    publicJwks: () => ({ keys: [publicOf(rsaJwk), publicOf(ecJwk)] }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Drives the IdP as a browser would (cookies, redirects, the login form, the consent page) from an
 * authorize URL until a redirect leaves for `stopAt` (the relying party); returns that URL.
 */
export async function browseIdp(authorizeUrl: string, user: IdpUser, stopAt: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = authorizeUrl;
  let init: RequestInit = {};
  for (let hop = 0; hop < 12; hop++) {
    const headers = new Headers(init.headers);
    headers.set("cookie", [...jar].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    const location = res.headers.get("location");
    if (location) {
      const next = new URL(location, url);
      if (next.href.startsWith(stopAt)) return next;
      url = next.href;
      init = {};
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`the IdP stopped at ${url}: ${res.status}`);
    url = new URL(action.replace(/&amp;/g, "&"), url).href;
    init = {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username: user.username, password: user.password }).toString(),
    };
  }
  throw new Error("too many redirects at the IdP");
}
