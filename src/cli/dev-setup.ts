/**
 * @module `heimdall dev`'s set-up before it listens (docs/decisions.md, "heimdall dev"): the guarded
 * `--reset`, an app per `--app`, a `dev` M2M client per app, and `<data dir>/dev-credentials.json`, which
 * keeps the secrets the database only holds hashed.
 */
import { chmodSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { AppRow } from "../apps/model.ts";
import type { Config } from "../config/index.ts";
import type { CallMeta, LocalOperatorPrincipal } from "../core/principal.ts";
import type { Deps } from "../deps.ts";
import { CliError, EXIT_FAILURE } from "./args.ts";
import type { DevAppCredentials, DevOperatorCredentials } from "./dev-output.ts";

export const DEV_CREDENTIALS_FILE = "dev-credentials.json";
/** The name of the M2M client `heimdall dev` keeps in each app. */
export const DEV_CLIENT_NAME = "dev";

export const devCredentialsPath = (config: Pick<Config, "dataDir">) =>
  join(config.dataDir, DEV_CREDENTIALS_FILE);

/** What a data dir holds when Heimdall made it; anything else in it means it is not only Heimdall's. */
const DATA_DIR_ENTRIES = new Set([
  "heimdall.db",
  "heimdall.db-wal",
  "heimdall.db-shm",
  "heimdall.db-journal",
  "master.key",
  "heimdall.lock",
  ".first-start",
  DEV_CREDENTIALS_FILE,
  `${DEV_CREDENTIALS_FILE}.tmp`,
]);

/**
 * `--reset`: empties the data dir, with the lock held (the lock file stays: see data-dir-lock.ts). Refused
 * unless the dir looks like one `heimdall dev` made: only Heimdall's own files, and a database or key only
 * beside the credentials file. A server's data dir (no credentials file), a project folder or a home
 * directory passed by mistake are never touched.
 */
export function resetDevDataDir(config: Config): void {
  const dir = config.dataDir;
  const entries = readdirSync(dir);
  const foreign = entries.filter((e) => !DATA_DIR_ENTRIES.has(e));
  const refuse = (why: string) =>
    new CliError(`heimdall dev: refusing to --reset ${dir}: ${why}; nothing was deleted`, EXIT_FAILURE);
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 5).join(", ") + (foreign.length > 5 ? ", …" : "");
    throw refuse(`it does not look like a Heimdall data dir (it holds ${shown})`);
  }
  const hasData = entries.includes("heimdall.db") || entries.includes("master.key");
  if (hasData && !entries.includes(DEV_CREDENTIALS_FILE)) {
    throw refuse(
      `it holds a Heimdall database but no ${DEV_CREDENTIALS_FILE}, so \`heimdall dev\` did not make it (a server's data dir?); delete it yourself if you mean to`,
    );
  }
  for (const entry of entries) {
    if (entry !== "heimdall.lock") rmSync(join(dir, entry), { recursive: true, force: true });
  }
}

const appEntry = z.object({
  slug: z.string(),
  m2m_client_id: z.string(),
  m2m_client_secret: z.string(),
});
const credentialsSchema = z.object({
  operator: z.object({ email: z.string(), password: z.string(), pak: z.string() }).optional(),
  apps: z.record(z.string(), appEntry).default({}),
});
export type DevCredentialsFile = z.output<typeof credentialsSchema>;

/** The file's content, or an empty one when it is missing or unreadable (it is then rebuilt). */
export function readDevCredentials(config: Pick<Config, "dataDir">): DevCredentialsFile {
  const path = devCredentialsPath(config);
  if (!existsSync(path)) return { apps: {} };
  try {
    return credentialsSchema.parse(JSON.parse(readFileSync(path, "utf8")));
  } catch {
    return { apps: {} };
  }
}

/** Written whole (temp file, then rename) with mode 0600: it holds the M2M secrets and the operator's password. */
export function writeDevCredentials(config: Pick<Config, "dataDir">, content: DevCredentialsFile): void {
  const path = devCredentialsPath(config);
  const tmp = `${path}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** `my-shop` → `My Shop`. */
export const displayNameOf = (slug: string) =>
  slug
    .split(/[-_]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join(" ") || slug;

/**
 * The app `slug`, created when missing (with email notifications on, so log mode shows its codes).
 * An existing app is used as it is: dev never changes what the developer changed since.
 */
export async function ensureApp(
  deps: Pick<Deps, "apps" | "email">,
  p: LocalOperatorPrincipal,
  slug: string,
  meta: CallMeta,
): Promise<AppRow> {
  const found = await deps.apps.find(slug);
  if (found) return found;
  const created = await deps.apps.create(p, { slug, display_name: displayNameOf(slug) }, meta);
  await deps.email.updateSettings(p, created.id, { notifications_via_envoi: true }, meta);
  return (await deps.apps.find(created.id))!;
}

/**
 * The app's `dev` M2M client and its secret. The secret from the file when it still opens the client;
 * otherwise the `dev` client's secret is rotated (or the client created) and `file` updated in place.
 */
export async function ensureDevClient(
  deps: Pick<Deps, "m2m">,
  p: LocalOperatorPrincipal,
  app: AppRow,
  file: DevCredentialsFile,
  meta: CallMeta,
): Promise<DevAppCredentials> {
  const known = file.apps[app.id];
  if (known && (await deps.m2m.secretMatches(app.id, known.m2m_client_id, known.m2m_client_secret))) {
    known.slug = app.slug;
    return {
      slug: app.slug,
      appId: app.id,
      m2mClientId: known.m2m_client_id,
      m2mClientSecret: known.m2m_client_secret,
    };
  }
  const existing = await findDevClient(deps, p, app, meta);
  const issued = existing
    ? await deps.m2m.rotateSecret(p, app.id, existing, {}, meta)
    : await deps.m2m.create(p, app.id, { name: DEV_CLIENT_NAME }, meta);
  if (existing) await deps.m2m.update(p, app.id, existing, { is_active: true }, meta);
  file.apps[app.id] = {
    slug: app.slug,
    m2m_client_id: issued.client_id,
    m2m_client_secret: issued.client_secret,
  };
  return {
    slug: app.slug,
    appId: app.id,
    m2mClientId: issued.client_id,
    m2mClientSecret: issued.client_secret,
  };
}

/** The client named `dev`, oldest first; only read when the file's secret no longer works. */
async function findDevClient(
  deps: Pick<Deps, "m2m">,
  p: LocalOperatorPrincipal,
  app: AppRow,
  meta: CallMeta,
): Promise<string | null> {
  let cursor: string | undefined;
  let found: string | null = null;
  do {
    const page = await deps.m2m.list(p, app.id, { limit: "200", ...(cursor ? { cursor } : {}) }, meta);
    for (const c of page.data) if (c.name === DEV_CLIENT_NAME) found = c.client_id;
    cursor = page.pagination.next_cursor ?? undefined;
  } while (cursor);
  return found;
}

/** The operator credentials to print: the ones recorded at the first start, else what the config asks for. */
export function operatorCredentials(config: Config, file: DevCredentialsFile): DevOperatorCredentials {
  return (
    file.operator ?? {
      email: config.bootstrap.email ?? "",
      password: config.bootstrap.password ?? "",
      pak: config.bootstrap.pak ?? "",
    }
  );
}
