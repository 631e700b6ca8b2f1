/** @module Configuration: flags > HEIMDALL_* env > config file > defaults, validated once with zod and frozen. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";

const PAK_PATTERN = /^pcft_live_[A-Za-z0-9_-]{32,}$/;

const schema = z
  .object({
    host: z.string().min(1).default("0.0.0.0"),
    port: z.coerce.number().int().min(0).max(65535).default(8080),
    public_url: z.url({ protocol: /^https?$/ }).optional(),
    data_dir: z.string().min(1).default("./data"),
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
    // An integer number of days; 0 keeps the audit log forever. The cap (100 years) only catches typos.
    audit_retention_days: z.coerce.number().int().min(0).max(36_500).default(90),
    // Scheduled backups are off unless a directory is named (docs/operations.md, "Backups").
    backup_dir: z.string().min(1).optional(),
    backup_interval_hours: z.coerce.number().int().min(1).max(8_760).default(24),
    backup_keep: z.coerce.number().int().min(1).max(10_000).default(7),
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
  /** Audit rows older than this many days are pruned by the `audit.retention` job; 0 keeps them forever. */
  readonly auditRetentionDays: number;
  /** Where the server writes scheduled backups; undefined turns them off. */
  readonly backupDir?: string;
  readonly backupIntervalHours: number;
  /** How many scheduled backups to keep in `backupDir`; older ones are deleted after each new one. */
  readonly backupKeep: number;
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
  HEIMDALL_AUDIT_RETENTION_DAYS: "audit_retention_days",
  HEIMDALL_BACKUP_DIR: "backup_dir",
  HEIMDALL_BACKUP_INTERVAL_HOURS: "backup_interval_hours",
  HEIMDALL_BACKUP_KEEP: "backup_keep",
};

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
 * Builds the frozen Config. `flags` holds CLI flags by their kebab-case name; `env` is usually
 * `process.env` (this module is the only reader of the environment).
 */
export function loadConfig(
  flags: Record<string, string | undefined> = {},
  env: Record<string, string | undefined> = process.env,
): Config {
  const file = flags.config ?? env.HEIMDALL_CONFIG;
  const merged: Record<string, unknown> = file ? readConfigFile(file) : {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== "") merged[key] = v;
  }
  for (const flag of CONFIG_FLAGS) {
    if (flag === "config") continue;
    const v = flags[flag];
    if (v !== undefined) merged[flag.replaceAll("-", "_")] = v;
  }
  const result = schema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = issue.path.join(".") || "(root)";
    const shown = issue.code === "unrecognized_keys" ? issue.keys.join(", ") : key;
    throw new ConfigError(`config: invalid ${shown}: ${issue.message}`);
  }
  const c = result.data;
  const dataDir = c.data_dir;
  const publicUrl = (c.public_url ?? `http://localhost:${c.port}`).replace(/\/+$/, "");
  return Object.freeze({
    host: c.host,
    port: c.port,
    publicUrl,
    dataDir,
    dbFile: join(dataDir, "heimdall.db"),
    masterKeyFile: c.master_key_file ?? join(dataDir, "master.key"),
    logLevel: c.log_level,
    bootstrap: Object.freeze({
      email: c.bootstrap_email,
      password: c.bootstrap_password,
      pak: c.bootstrap_pak,
    }),
    smtpUrl: c.smtp_url,
    emailFrom: c.email_from,
    emailMode: c.email_mode ?? (c.smtp_url ? "smtp" : "log"),
    trustedProxies: Object.freeze(c.trusted_proxies),
    rsaBits: c.rsa_bits as 2048 | 3072 | 4096,
    hashPriority: c.hash_priority,
    auditRetentionDays: c.audit_retention_days,
    backupDir: c.backup_dir,
    backupIntervalHours: c.backup_interval_hours,
    backupKeep: c.backup_keep,
  });
}
