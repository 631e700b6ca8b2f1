/**
 * @module A minimal local stand-in for GitHub's OAuth app flow and REST API, following GitHub's documented
 * shapes: `/login/oauth/authorize` (a login page, then back to the redirect URI with `code` and `state`),
 * `/login/oauth/access_token` (form or JSON in; JSON out with `Accept: application/json`, form-encoded
 * otherwise; errors as 200 `{error, error_description}` as GitHub does), `GET /user` and `GET /user/emails`.
 * The web and the API share one origin: point both the authorize/token endpoints and `api_base_url` here.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Server } from "bun";

export interface GithubUser {
  readonly login: string;
  readonly password: string;
  readonly id: number;
  readonly name: string;
  /** The public profile email (`null` when the user hides it, as many do). */
  readonly email: string | null;
  readonly emails: readonly {
    email: string;
    primary: boolean;
    verified: boolean;
    visibility: string | null;
  }[];
}

export interface GithubApp {
  readonly client_id: string;
  readonly client_secret: string;
  /** The registered callback URL; a `redirect_uri` must start with it (GitHub's rule). */
  readonly callback_url: string;
}

export const DEFAULT_GITHUB_USERS: readonly GithubUser[] = [
  {
    login: "octo-linus",
    password: "Pull-Request-2005",
    id: 583231,
    name: "Linus the Octocat",
    email: null,
    emails: [
      { email: "linus-old@gh.example", primary: false, verified: true, visibility: null },
      { email: "linus@gh.example", primary: true, verified: true, visibility: "private" },
      { email: "linus-unverified@gh.example", primary: false, verified: false, visibility: null },
    ],
  },
];

export interface LocalGithub {
  /** `http://127.0.0.1:<port>`: the web origin and `api_base_url`. */
  readonly baseUrl: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly users: readonly GithubUser[];
  addApp(app: GithubApp): void;
  /** Requests the responder saw (method and path), for asserting that the API was called. */
  readonly seen: readonly string[];
  stop(): Promise<void>;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  login: string;
  scope: string;
  challenge?: string;
  expiresAt: number;
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function loginPage(q: URLSearchParams, error?: string): Response {
  const hidden = [...q].map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join("");
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in to GitHub (local)</title>
<style>body{font-family:sans-serif;background:#f6f8fa}main{max-width:340px;margin:60px auto;background:#fff;border:1px solid #d0d7de;padding:24px;border-radius:6px}
input{width:100%;padding:6px;box-sizing:border-box;margin:4px 0 12px}button{background:#2da44e;color:#fff;border:0;padding:8px 16px;border-radius:6px}</style></head>
<body><main><h1>Sign in to GitHub</h1><p>to continue to <b>${esc(q.get("client_id") ?? "")}</b></p>
${error ? `<p id="error" style="color:#cf222e">${esc(error)}</p>` : ""}
<form method="post" action="/login/oauth/authorize">${hidden}
<label for="login">Username or email address</label><input id="login" name="login" required>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit" id="authorize">Sign in and authorize</button></form></main></body></html>`;
  return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
}

/** Starts the responder on 127.0.0.1 (a free port). */
export function startGithub(
  o: { apps?: readonly GithubApp[]; users?: readonly GithubUser[] } = {},
): LocalGithub {
  const users = o.users ?? DEFAULT_GITHUB_USERS;
  const apps = new Map((o.apps ?? []).map((a) => [a.client_id, a]));
  const codes = new Map<string, PendingCode>();
  const tokens = new Map<string, string>(); // access token -> login
  const seen: string[] = [];

  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json; charset=utf-8" },
    });

  /** GitHub answers token errors with 200 and an `error` field, in the format the caller asked for. */
  function tokenReply(req: Request, body: Record<string, string>): Response {
    if ((req.headers.get("accept") ?? "").includes("application/json")) return json(body);
    return new Response(new URLSearchParams(body).toString(), {
      headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    });
  }

  async function params(req: Request): Promise<URLSearchParams> {
    const type = req.headers.get("content-type") ?? "";
    if (type.includes("application/json")) {
      const body = (await req.json()) as Record<string, unknown>;
      return new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)]));
    }
    const text = await req.text();
    const q = new URLSearchParams(text);
    // GitHub also reads the parameters from the query string of the POST.
    for (const [k, v] of new URL(req.url).searchParams) if (!q.has(k)) q.set(k, v);
    return q;
  }

  function userOf(req: Request): GithubUser | undefined {
    const m = /^(?:token|bearer)\s+(.+)$/i.exec(req.headers.get("authorization") ?? "");
    const login = m ? tokens.get(m[1]!) : undefined;
    return users.find((u) => u.login === login);
  }

  const server: Server<undefined> = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      seen.push(`${req.method} ${url.pathname}`);
      if (url.pathname === "/login/oauth/authorize") {
        const q = req.method === "POST" ? new URLSearchParams(await req.text()) : url.searchParams;
        const app = apps.get(q.get("client_id") ?? "");
        if (!app) return new Response("unknown client_id", { status: 404 });
        const redirectUri = q.get("redirect_uri") ?? app.callback_url;
        if (!redirectUri.startsWith(app.callback_url)) {
          return new Response(
            "The redirect_uri MUST match the registered callback URL for this application.",
            {
              status: 400,
            },
          );
        }
        const method = q.get("code_challenge_method");
        if (q.get("code_challenge") && method !== "S256")
          return new Response("bad code_challenge_method", { status: 400 });
        if (req.method === "GET") return loginPage(q);
        const login = q.get("login");
        const user = users.find(
          (u) =>
            (u.login === login || u.emails.some((e) => e.email === login)) &&
            u.password === q.get("password"),
        );
        const forward = new URLSearchParams([...q].filter(([k]) => k !== "login" && k !== "password"));
        if (!user) return loginPage(forward, "Incorrect username or password.");
        const code = randomBytes(10).toString("hex");
        codes.set(code, {
          clientId: app.client_id,
          redirectUri,
          login: user.login,
          scope: q.get("scope") ?? "",
          challenge: q.get("code_challenge") ?? undefined,
          expiresAt: Date.now() + 600_000,
        });
        const back = new URL(redirectUri);
        back.searchParams.set("code", code);
        const state = q.get("state");
        if (state !== null) back.searchParams.set("state", state);
        return new Response(null, { status: 302, headers: { location: back.href } });
      }
      if (url.pathname === "/login/oauth/access_token" && req.method === "POST") {
        const p = await params(req);
        // Client credentials in the body (GitHub's documented way) or HTTP Basic.
        let clientId = p.get("client_id");
        let secret = p.get("client_secret");
        const basic = /^basic\s+(.+)$/i.exec(req.headers.get("authorization") ?? "");
        if (basic) {
          const [id, s] = Buffer.from(basic[1]!, "base64").toString().split(":");
          clientId = decodeURIComponent(id ?? "");
          secret = decodeURIComponent(s ?? "");
        }
        const app = apps.get(clientId ?? "");
        if (!app || app.client_secret !== secret) {
          return tokenReply(req, {
            error: "incorrect_client_credentials",
            error_description: "The client_id and/or client_secret passed are incorrect.",
          });
        }
        const pending = codes.get(p.get("code") ?? "");
        codes.delete(p.get("code") ?? "");
        const verifier = p.get("code_verifier");
        const pkceOk =
          !pending?.challenge ||
          (verifier !== null &&
            createHash("sha256").update(verifier).digest("base64url") === pending.challenge);
        const redirectOk = !p.get("redirect_uri") || p.get("redirect_uri") === pending?.redirectUri;
        if (
          !pending ||
          pending.clientId !== app.client_id ||
          pending.expiresAt < Date.now() ||
          !pkceOk ||
          !redirectOk
        ) {
          return tokenReply(req, {
            error: "bad_verification_code",
            error_description: "The code passed is incorrect or expired.",
          });
        }
        const token = `gho_${randomBytes(18).toString("base64url")}`;
        tokens.set(token, pending.login);
        return tokenReply(req, { access_token: token, token_type: "bearer", scope: pending.scope });
      }
      if (url.pathname === "/user" && req.method === "GET") {
        const user = userOf(req);
        if (!user) return json({ message: "Requires authentication", status: "401" }, 401);
        return json({
          login: user.login,
          id: user.id,
          node_id: `U_${user.id}`,
          type: "User",
          name: user.name,
          email: user.email,
        });
      }
      if (url.pathname === "/user/emails" && req.method === "GET") {
        const user = userOf(req);
        if (!user) return json({ message: "Requires authentication", status: "401" }, 401);
        return json(user.emails);
      }
      return json({ message: "Not Found", status: "404" }, 404);
    },
  });
  const baseUrl = `http://127.0.0.1:${server.port}`;
  return {
    baseUrl,
    authorizationEndpoint: `${baseUrl}/login/oauth/authorize`,
    tokenEndpoint: `${baseUrl}/login/oauth/access_token`,
    users,
    seen,
    addApp(app) {
      apps.set(app.client_id, app);
    },
    async stop() {
      await server.stop(true);
    },
  };
}
