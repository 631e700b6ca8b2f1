/** @module Configuration: flags > HEIMDALL_* env > config file > defaults, validated once with zod and frozen. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { parseProxyEntry } from "../core/ip-ranges.ts";
import { nearest } from "../core/nearest.ts";

const PAK_PATTERN = /^pcft_live_[A-Za-z0-9_-]{32,}$/;

/**
 * The argon2 thread count for `HEIMDALL_HASH_THREADS=auto` on a machine with `cores` cores: one core fewer
 * than the machine has (at least one), so the remaining core keeps serving every other route while a sign-in
 * flood saturates the hasher (docs/benchmarks.md, "Hashing threads", has the measurements behind it).
 */
export const autoHashThreads = (cores: number): number => Math.max(1, cores - 1);

/** A boolean from a file (`true`) or the environment (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`). */
const flag = z.preprocess((v) => (typeof v === "boolean" ? String(v) : v), z.stringbool());

const schema = z
  .object({
    host: z.string().min(1).default("0.0.0.0"),
    port: z.coerce.number().int().min(1).max(65535).default(8080),
    public_url: z.url({ protocol: /^https?$/ }).optional(),
    data_dir: z.string().min(1).default("./data"),
    // PostgreSQL instead of the SQLite file in the data dir (several instances on one database, issue 20).
    database_url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
      .optional(),
    master_key_file: z.string().min(1).optional(),
    log_level: z.enum(["debug", "info", "warn", "error"]).default("info"),
    bootstrap_email: z.email().optional(),
    bootstrap_password: z.string().min(12).max(256).optional(),
    bootstrap_pak: z.string().regex(PAK_PATTERN, "must match pcft_live_[A-Za-z0-9_-]{32,}").optional(),
    smtp_url: z
      .string()
      .regex(/^smtps?:\/\//, "must be an smtp:// or smtps:// URL")
      .optional(),
    email_from: z.string().min(3).optional(),
    email_mode: z.enum(["smtp", "log"]).optional(),
    trusted_proxies: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .transform((v) => (Array.isArray(v) ? v : (v ?? "").split(",")).map((s) => s.trim()).filter(Boolean)),
    hash_priority: z.enum(["idle", "low", "normal"]).default("idle"),
    // argon2 threads: `auto` (cores − 1, at least 1) or a whole number up to twice the cores.
    hash_threads: z
      .union([
        z.literal("auto"),
        z.coerce
          .number()
          .int()
          .min(1)
          .max(availableParallelism() * 2),
      ])
      .default("auto"),
    // An integer number of days; 0 keeps the audit log forever. The cap (100 years) only catches typos.
    audit_retention_days: z.coerce.number().int().min(0).max(36_500).default(90),
    // Scheduled backups are off unless a directory is named (docs/operations.md, "Backups").
    backup_dir: z.string().min(1).optional(),
    backup_interval_hours: z.coerce.number().int().min(1).max(8_760).default(24),
    backup_keep: z.coerce.number().int().min(1).max(10_000).default(7),
    // Several instances on PostgreSQL: how long the scheduler leader's lease lasts without renewal, i.e. how soon
    // another instance takes over the leader-only jobs after the leader dies.
    scheduler_lease_seconds: z.coerce.number().int().min(2).max(300).default(15),
    // Webhook targets (docs/operations.md, "Webhooks"): plain http beyond loopback, and private ranges.
    webhook_allow_http: flag.default(false),
    webhook_allow_private: flag.default(false),
    // The admin console at /console (docs/console.md); off serves neither it nor the / redirect.
    console: flag.default(true),
    rsa_bits: z.coerce
      .number()
      .int()
      .refine((n) => [2048, 3072, 4096].includes(n), "must be 2048, 3072 or 4096")
      .default(2048),
  })
  .strict();

export type ConfigInput = z.input<typeof schema>;

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  readonly dataDir: string;
  readonly dbFile: string;
  /** PostgreSQL's URL when it is the store (the SQLite file `dbFile` is then not used). */
  readonly databaseUrl: string | undefined;
  readonly masterKeyFile: string;
  readonly logLevel: "debug" | "info" | "warn" | "error";
  readonly bootstrap: { readonly email?: string; readonly password?: string; readonly pak?: string };
  readonly smtpUrl?: string;
  readonly emailFrom?: string;
  readonly emailMode: "smtp" | "log";
  readonly trustedProxies: readonly string[];
  readonly rsaBits: 2048 | 3072 | 4096;
  /** CPU priority of the argon2 threads (Linux): SCHED_IDLE, nice 19, or as the rest of the process. */
  readonly hashPriority: "idle" | "low" | "normal";
  /** How many argon2 hashes or verifications run at once, each on a thread of its own (`auto` resolved). */
  readonly hashThreads: number;
  /** Audit rows older than this many days are pruned by the `audit.retention` job; 0 keeps them forever. */
  readonly auditRetentionDays: number;
  /** Where the server writes scheduled backups; undefined turns them off. */
  readonly backupDir?: string;
  readonly backupIntervalHours: number;
  /** How many scheduled backups to keep in `backupDir`; older ones are deleted after each new one. */
  readonly backupKeep: number;
  /** The scheduler lease's time to live (several instances on PostgreSQL). */
  readonly schedulerLeaseMs: number;
  /** Webhook URLs may use plain http on any host, not only on loopback (an explicit, logged choice). */
  readonly webhookAllowHttp: boolean;
  /** Webhook URLs may resolve to private ranges (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10). */
  readonly webhookAllowPrivate: boolean;
  /** The admin console is served at /console, and / redirects there. */
  readonly console: boolean;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Flag name (kebab-case) → config key (snake_case); only these flags are config, the CLI owns the rest. */
export const CONFIG_FLAGS = [
  "host",
  "port",
  "public-url",
  "data-dir",
  "database-url",
  "master-key-file",
  "config",
  "log-level",
  "audit-retention-days",
  "backup-dir",
] as const;

const ENV_KEYS: Record<string, keyof ConfigInput> = {
  HEIMDALL_HOST: "host",
  HEIMDALL_PORT: "port",
  HEIMDALL_PUBLIC_URL: "public_url",
  HEIMDALL_DATA_DIR: "data_dir",
  HEIMDALL_DATABASE_URL: "database_url",
  HEIMDALL_MASTER_KEY_FILE: "master_key_file",
  HEIMDALL_LOG_LEVEL: "log_level",
  HEIMDALL_BOOTSTRAP_EMAIL: "bootstrap_email",
  HEIMDALL_BOOTSTRAP_PASSWORD: "bootstrap_password",
  HEIMDALL_BOOTSTRAP_PAK: "bootstrap_pak",
  HEIMDALL_SMTP_URL: "smtp_url",
  HEIMDALL_EMAIL_FROM: "email_from",
  HEIMDALL_EMAIL_MODE: "email_mode",
  HEIMDALL_TRUSTED_PROXIES: "trusted_proxies",
  HEIMDALL_RSA_BITS: "rsa_bits",
  HEIMDALL_HASH_PRIORITY: "hash_priority",
  HEIMDALL_HASH_THREADS: "hash_threads",
  HEIMDALL_AUDIT_RETENTION_DAYS: "audit_retention_days",
  HEIMDALL_BACKUP_DIR: "backup_dir",
  HEIMDALL_BACKUP_INTERVAL_HOURS: "backup_interval_hours",
  HEIMDALL_BACKUP_KEEP: "backup_keep",
  HEIMDALL_SCHEDULER_LEASE_SECONDS: "scheduler_lease_seconds",
  HEIMDALL_WEBHOOK_ALLOW_HTTP: "webhook_allow_http",
  HEIMDALL_WEBHOOK_ALLOW_PRIVATE: "webhook_allow_private",
  HEIMDALL_CONSOLE: "console",
};

/** The sender of every email when `email_mode` is log and nothing else is set: nothing leaves the machine. */
export const LOG_MODE_EMAIL_FROM = "heimdall@localhost";

/**
 * What each key expects, in the words of the README: a refused value is reported as "<where>: expected
 * <this>, got <value>" instead of the validator's own wording ("received NaN"). A key missing here falls
 * back to the validator's message, still with its source.
 */
const EXPECTED: Partial<Record<string, string>> = {
  host: "a listen address, e.g. 0.0.0.0 or 127.0.0.1",
  port: "an integer 1–65535",
  public_url: "an http:// or https:// URL, e.g. https://id.example.com",
  data_dir: "a directory path",
  database_url: "a postgres://user:password@host:5432/database URL",
  master_key_file: "a file path",
  log_level: "one of debug, info, warn, error",
  bootstrap_email: "an email address",
  bootstrap_password: "12 to 256 characters",
  bootstrap_pak: "a token matching pcft_live_[A-Za-z0-9_-]{32,}",
  smtp_url: "an smtp:// or smtps:// URL",
  email_from: "a sender address, e.g. Heimdall <no-reply@example.com>",
  email_mode: "smtp or log",
  trusted_proxies: "a comma-separated list of IP addresses or CIDR ranges",
  hash_priority: "one of idle, low, normal",
  hash_threads: `auto or a whole number of threads 1–${availableParallelism() * 2} (twice the cores)`,
  audit_retention_days: "a whole number of days 0–36500 (0 keeps the audit log forever)",
  rsa_bits: "2048, 3072 or 4096",
  backup_dir: "a directory path (scheduled backups are off when it is unset)",
  backup_interval_hours: "a whole number of hours 1–8760",
  backup_keep: "a whole number of backups to keep, 1–10000",
  scheduler_lease_seconds: "a whole number of seconds, 2–300",
  webhook_allow_http: "true or false",
  webhook_allow_private: "true or false",
  console: "on or off (the admin console at /console)",
};

/** Values never echoed in a refusal: they are credentials, or may carry one (smtp://user:password@…). */
const SECRET_KEYS = new Set(["database_url", "bootstrap_password", "bootstrap_pak", "smtp_url"]);

const shown = (key: string, value: unknown) =>
  SECRET_KEYS.has(key)
    ? `a value of ${String(value).length} characters (not shown)`
    : (JSON.stringify(value) ?? String(value));

function readConfigFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new ConfigError(`config: file ${path} does not exist`);
  const text = readFileSync(path, "utf8");
  try {
    const parsed = path.endsWith(".toml") ? parseToml(text) : JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error("not an object");
    return parsed as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`config: cannot parse ${path}: ${(e as Error).message}`);
  }
}

/**
 * A command's own defaults, under the config file (`heimdall dev`: a loopback listener, a dev data dir,
 * fixed bootstrap credentials). Everything the operator sets still wins.
 */
export interface ConfigDefaults {
  readonly values?: Partial<ConfigInput>;
  /** The host of the default public URL, `http://<host>:<port>`, when none is set; `localhost` otherwise. */
  readonly publicHost?: string;
  /** How a refusal names a value that came from `values`, e.g. `heimdall dev`. */
  readonly name?: string;
}

/**
 * Builds the frozen Config. `flags` holds CLI flags by their kebab-case name; `env` is usually
 * `process.env` (this module is the only reader of the environment).
 */
export function loadConfig(
  flags: Record<string, string | undefined> = {},
  env: Record<string, string | undefined> = process.env,
  defaults: ConfigDefaults = {},
): Config {
  const file = flags.config ?? env.HEIMDALL_CONFIG;
  const fromFile: Record<string, unknown> = file ? readConfigFile(file) : {};
  // Where each value came from, as the operator wrote it: `--port`, `HEIMDALL_PORT`, `port in heimdall.toml`.
  const source: Record<string, string> = {};
  for (const [key, v] of Object.entries(defaults.values ?? {})) {
    if (v !== undefined) source[key] = `${key} (${defaults.name ?? "command"} default)`;
  }
  for (const key of Object.keys(fromFile)) source[key] = `${key} in ${file}`;
  const merged: Record<string, unknown> = { ...defaults.values, ...fromFile };
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== "") {
      merged[key] = v;
      source[key] = `${name} (env)`;
    }
  }
  for (const flag of CONFIG_FLAGS) {
    if (flag === "config") continue;
    const v = flags[flag];
    if (v !== undefined) {
      merged[flag.replaceAll("-", "_")] = v;
      source[flag.replaceAll("-", "_")] = `--${flag}`;
    }
  }
  const where = (key: string) => source[key] ?? key;
  const result = schema.safeParse(merged);
  if (!result.success) {
    throw configProblems(
      result.error.issues.flatMap((issue): string[] => {
        if (issue.code === "unrecognized_keys") {
          return issue.keys.map((k) => {
            const guess = nearest(k, Object.keys(schema.shape));
            return `${where(k)}: unknown key${guess ? `; did you mean ${guess}?` : ""}`;
          });
        }
        const key = String(issue.path[0] ?? "(root)");
        const expected = EXPECTED[key];
        const got = shown(key, merged[key]);
        return [
          expected
            ? `${where(key)}: expected ${expected}, got ${got}`
            : `${where(key)}: ${issue.message} (got ${got})`,
        ];
      }),
    );
  }
  const c = result.data;
  const problems = crossChecks(c, merged, where);
  if (problems.length > 0) throw configProblems(problems);
  const dataDir = c.data_dir;
  const publicUrl = (c.public_url ?? `http://${defaults.publicHost ?? "localhost"}:${c.port}`).replace(
    /\/+$/,
    "",
  );
  return Object.freeze({
    host: c.host,
    port: c.port,
    publicUrl,
    dataDir,
    dbFile: join(dataDir, "heimdall.db"),
    databaseUrl: c.database_url,
    masterKeyFile: c.master_key_file ?? join(dataDir, "master.key"),
    logLevel: c.log_level,
    bootstrap: Object.freeze({
      email: c.bootstrap_email,
      password: c.bootstrap_password,
      pak: c.bootstrap_pak,
    }),
    smtpUrl: c.smtp_url,
    emailFrom: c.email_from ?? (emailModeOf(c) === "log" ? LOG_MODE_EMAIL_FROM : undefined),
    emailMode: emailModeOf(c),
    trustedProxies: Object.freeze(c.trusted_proxies),
    rsaBits: c.rsa_bits as 2048 | 3072 | 4096,
    hashPriority: c.hash_priority,
    hashThreads: c.hash_threads === "auto" ? autoHashThreads(availableParallelism()) : c.hash_threads,
    auditRetentionDays: c.audit_retention_days,
    backupDir: c.backup_dir,
    backupIntervalHours: c.backup_interval_hours,
    backupKeep: c.backup_keep,
    schedulerLeaseMs: c.scheduler_lease_seconds * 1000,
    webhookAllowHttp: c.webhook_allow_http,
    webhookAllowPrivate: c.webhook_allow_private,
    console: c.console,
  });
}

type Parsed = z.output<typeof schema>;

const emailModeOf = (c: Parsed): "smtp" | "log" => c.email_mode ?? (c.smtp_url ? "smtp" : "log");

/** One refusal naming every problem found, one per line, so a fix-and-retry loop takes one round. */
function configProblems(lines: string[]): ConfigError {
  return new ConfigError(
    lines.length === 1 ? lines[0]! : `${lines.length} configuration problems:\n  ${lines.join("\n  ")}`,
  );
}

/**
 * What no single key's validator can see, refused at start-up instead of at the first request that
 * trips over it (docs/decisions.md, "Configuration refusals").
 */
function crossChecks(c: Parsed, merged: Record<string, unknown>, where: (key: string) => string): string[] {
  const problems: string[] = [];
  if (c.email_mode === "smtp" && !c.smtp_url) {
    problems.push(
      `${where("email_mode")}: email mode smtp needs an SMTP URL: set HEIMDALL_SMTP_URL (smtp_url in the config file), or use email mode log`,
    );
  }
  const badProxies = c.trusted_proxies.filter((p) => parseProxyEntry(p) === null);
  if (badProxies.length > 0) {
    problems.push(
      `${where("trusted_proxies")}: expected ${EXPECTED.trusted_proxies}, got ${badProxies.map((p) => JSON.stringify(p)).join(", ")}`,
    );
  }
  // A key file in a directory that does not exist is a typo far more often than a wish for a new tree:
  // creating it silently would put the one secret that opens the database somewhere nobody backs up.
  // The data dir itself is created by `serve`/`init`, so a key file directly in it is fine.
  if (c.master_key_file !== undefined && merged.master_key_file !== undefined) {
    const dir = resolve(dirname(c.master_key_file));
    if (dir !== resolve(c.data_dir) && !isDirectory(dir)) {
      problems.push(
        `${where("master_key_file")}: the directory ${dirname(c.master_key_file)} does not exist; create it (mode 0700) or point the key file at an existing directory`,
      );
    }
  }
  return problems;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
