/**
 * @module The PostgreSQL client as Heimdall configures it (Bun's built-in SQL client; the choice and its
 * measurements are in docs/decisions.md, "PostgreSQL driver"), a reachability probe, and URL redaction for logs.
 */
import { SQL } from "bun";

export type PgClient = SQL;

export interface PgClientOptions {
  /** Pool size (connections opened on demand). Default 10. */
  readonly max?: number;
  /** Seconds an unused pooled connection stays open. Default 30: a quiet instance gives its connections back. */
  readonly idleTimeoutSeconds?: number;
  /** `application_name`, as `pg_stat_activity` shows it. Default `heimdall`. */
  readonly applicationName?: string;
}

/** libpq's `sslmode` values, each of which Bun's client implements with the same meaning. */
const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
type SslMode = (typeof SSL_MODES)[number];

export const DEFAULT_POOL_SIZE = 10;
export const STATEMENT_TIMEOUT_MS = 30_000;
export const CONNECT_TIMEOUT_S = 10;
export const IDLE_TIMEOUT_S = 30;
export const REACHABLE_WITHIN_MS = 2_000;

/** Where each client opened here connects (for reasons in words) and its password (kept out of them). */
const targets = new WeakMap<PgClient, { where: string; password: string }>();

/**
 * Opens a pooled client for `url` (`postgres://` or `postgresql://`). Every field is taken from the URL and
 * passed explicitly, because Bun's client would otherwise let `PG*` variables of the environment override
 * the URL's database; `sslmode` is read as libpq reads it (absent means `prefer`). Connections open lazily:
 * a bad host surfaces on the first query, e.g. through pgReachable.
 */
export function openPostgresClient(url: string, opts: PgClientOptions = {}): PgClient {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`not a PostgreSQL URL: ${redactDatabaseUrl(url)}`);
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:")
    throw new Error(`not a PostgreSQL URL (scheme ${u.protocol}): ${redactDatabaseUrl(url)}`);
  const sslmode = u.searchParams.get("sslmode") ?? "prefer";
  if (!SSL_MODES.includes(sslmode as SslMode))
    throw new Error(`unknown sslmode "${sslmode}" (one of ${SSL_MODES.join(", ")})`);
  const password = u.searchParams.get("password") ?? decodeURIComponent(u.password);
  // Without a user in the URL, Bun (as libpq) falls back to the login name.
  const username = decodeURIComponent(u.username) || undefined;
  // libpq's `?host=/run/postgresql` names a unix socket directory, which Bun takes as the hostname.
  const hostname = u.searchParams.get("host") ?? (u.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost");
  const port = Number(u.port || 5432);
  const client = new SQL({
    adapter: "postgres",
    hostname,
    port,
    username,
    password: password || undefined,
    database: decodeURIComponent(u.pathname.slice(1)) || username,
    tls: sslmode as SslMode,
    max: opts.max ?? DEFAULT_POOL_SIZE,
    idleTimeout: opts.idleTimeoutSeconds ?? IDLE_TIMEOUT_S,
    connectionTimeout: CONNECT_TIMEOUT_S,
    prepare: true,
    connection: {
      application_name: opts.applicationName ?? "heimdall",
      statement_timeout: STATEMENT_TIMEOUT_MS,
      // Bun's client drops NOTICE messages; this keeps the server from sending the chatty ones at all.
      client_min_messages: "warning",
    },
  });
  targets.set(client, { where: hostname.startsWith("/") ? hostname : `${hostname}:${port}`, password });
  return client;
}

/** `null` when `select 1` answers within 2 s; otherwise why not, in words, with no password in them. */
export async function pgReachable(client: PgClient): Promise<string | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(
      () => resolve(`the database did not answer within ${REACHABLE_WITHIN_MS / 1000} s`),
      REACHABLE_WITHIN_MS,
    );
  });
  const probe = client`select 1 as ok`.then(
    () => null,
    (err: unknown) => describe(err),
  );
  try {
    const reason = await Promise.race([probe, timeout]);
    if (reason === null) return null;
    const target = targets.get(client);
    if (!target) return reason;
    const said = `${target.where}: ${reason}`;
    // Even a short password is blotted out, at the cost of the words around it.
    return target.password ? said.replaceAll(target.password, "***") : said;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The server's own message when it refused us (`database "x" does not exist`); else Bun's code in words
 * (`ERR_POSTGRES_CONNECTION_REFUSED` → "connection refused"), since its messages there are generic.
 */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return redactInText(String(err));
  const code = (err as { code?: unknown }).code;
  const message = redactInText(err.message || err.name);
  if (typeof code !== "string" || code === "ERR_POSTGRES_SERVER_ERROR") return message;
  const words = code
    .replace(/^ERR_POSTGRES_/, "")
    .toLowerCase()
    .replaceAll("_", " ");
  return `${words} (${message}, ${code})`;
}

/** Any `scheme://user:password@` inside free text, with the password replaced. */
function redactInText(text: string): string {
  return text.replace(/(\b[a-z][\w+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi, "$1***@");
}

/** `url` with its password (in the authority or as `?password=`) replaced by `***`, for logs. */
export function redactDatabaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactInText(url).replace(/([?&]password=)[^&\s]*/gi, "$1***");
  }
  if (u.password) u.password = "***";
  if (u.searchParams.has("password")) u.searchParams.set("password", "***");
  return u.toString().replace("%2A%2A%2A", "***");
}
