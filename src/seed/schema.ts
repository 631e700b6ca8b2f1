/**
 * @module Seed files (docs/seed.md): the version-1 schema, reading a JSON or TOML file, and the checks that
 * need no database (duplicates, cross-references, secrets named by environment variable). Every problem is
 * reported with its path in the file, all of them at once.
 */
import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import {
  credentialNameSchema,
  PERMISSION_PATTERN,
  permissionListSchema,
  permissionSchema,
} from "../api-keys/model.ts";
import { authConfigPatchSchema } from "../apps/auth-config.ts";
import { createAppSchema, slugSchema, updateAppSchema } from "../apps/model.ts";
import { environment } from "../config/environment.ts";
import { expiresAtSchema } from "../core/expiry.ts";
import { notificationSettingsPatchSchema } from "../email/model.ts";
import { validateImportedHash } from "../passwords/imported.ts";
import { SYSTEM_PERMISSION_KEYS, SYSTEM_ROLES } from "../rbac/catalog.ts";
import { createRoleSchema, NAME_PATTERN } from "../roles/model.ts";
import { createTenantSchema, updateTenantSchema } from "../tenants/model.ts";
import { createUserSchema } from "../users/model.ts";
import { upsertWebhookSchema } from "../webhooks/model.ts";

export const SEED_VERSION = 1;

/** A seed file that failed to load: every problem, each `path: what is wrong`. */
export class SeedFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${file}: ${problems.length} problem(s) in the seed file:\n${problems.map((p) => `  ${p}`).join("\n")}`,
    );
    this.name = "SeedFileError";
  }
}

const ENV_NAME = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name (letters, digits, _)");

const permissionEntry = z.strictObject({
  name: permissionSchema,
  description: z.string().max(500, "must be at most 500 characters").optional(),
});

const roleEntry = z.strictObject({
  // System roles keep their names; custom ones follow the create rules (not `permissions` or `assign`).
  name: z.string().refine((n) => NAME_PATTERN.test(n), "must match ^[a-z][a-z0-9_-]{1,47}$"),
  description: z.string().max(500, "must be at most 500 characters").nullable().optional(),
  permissions: z.array(z.string()).max(1000, "must have at most 1000 entries").optional(),
});

const m2mEntry = z.strictObject({
  name: credentialNameSchema,
  scopes: permissionListSchema.optional(),
  is_active: z.boolean().optional(),
  client_secret_env: ENV_NAME.optional(),
});

const apiKeyEntry = z.strictObject({
  name: credentialNameSchema,
  permissions: z.array(permissionSchema).min(1, "must have at least one entry").max(100),
  expires_at: expiresAtSchema,
});

const userShape = createUserSchema.shape;
const userEntry = z.strictObject({
  email: userShape.email,
  username: userShape.username,
  display_name: userShape.display_name,
  role: z.string().min(1, "required").max(48, "is not a role name").optional(),
  email_verified: z.boolean().optional(),
  password_env: ENV_NAME.optional(),
  // Any format `heimdall users import` takes (passwords/imported.ts), bounded the same way.
  password_hash: z
    .string()
    .min(1, "must not be empty")
    .max(1024, "is too long to be a password hash")
    .superRefine((hash, ctx) => {
      const problem = validateImportedHash(hash);
      if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional(),
});

const tenantShape = createTenantSchema.shape;
const tenantEntry = z.strictObject({
  // The identity: required here, where the Admin API would derive one from the display name.
  slug: tenantShape.slug.unwrap(),
  display_name: tenantShape.display_name,
  status: updateTenantSchema.shape.status,
  metadata: tenantShape.metadata,
  members: z
    .array(
      z.strictObject({
        email: userShape.email,
        role: z.string().min(1, "required").max(48, "is not a role name"),
      }),
    )
    .optional(),
});

const webhookEntry = z.strictObject({
  url: upsertWebhookSchema.shape.url,
  event_types: upsertWebhookSchema.shape.event_types,
  signing_secret_env: ENV_NAME.optional(),
});

/** Standard Webhooks: `whsec_` and the base64 of 24 to 64 random bytes. */
const WEBHOOK_SECRET = /^whsec_([A-Za-z0-9+/]+={0,2})$/;
function webhookSecretProblem(secret: string): string | null {
  const body = WEBHOOK_SECRET.exec(secret)?.[1];
  const bytes = body === undefined || body.length % 4 !== 0 ? 0 : Buffer.from(body, "base64").length;
  return bytes >= 24 && bytes <= 64
    ? null
    : "must be a Standard Webhooks secret: whsec_ and the base64 of 24 to 64 random bytes";
}

const appEntry = z.strictObject({
  slug: slugSchema,
  display_name: createAppSchema.shape.display_name,
  metadata: updateAppSchema.shape.metadata,
  auth_config: authConfigPatchSchema.strict().optional(),
  notification_settings: notificationSettingsPatchSchema.strict().optional(),
  permissions: z.array(permissionEntry).optional(),
  roles: z.array(roleEntry).optional(),
  m2m_clients: z.array(m2mEntry).optional(),
  api_keys: z.array(apiKeyEntry).optional(),
  users: z.array(userEntry).optional(),
  tenants: z.array(tenantEntry).optional(),
  // `null` says the app has no destination: with --prune an existing one is deleted (docs/seed.md).
  webhook: webhookEntry.nullable().optional(),
});

/**
 * Version 1. Sections added later (tenants, webhook; the signing algorithm to come) are optional keys of
 * `appEntry`, so a version-1 file written before them stays valid and means what it meant.
 */
export const seedFileSchema = z.strictObject({
  version: z.literal(SEED_VERSION, { message: `must be ${SEED_VERSION}` }),
  apps: z.array(appEntry).default([]),
});

type RawSeed = z.output<typeof seedFileSchema>;
type RawApp = RawSeed["apps"][number];

/** A user entry with its secret resolved: a plaintext from `password_env` (hashed before applying) or a hash. */
export type SeedUser = NonNullable<RawApp["users"]>[number] & {
  /** The value of `password_env`, read when the file was loaded. */
  password?: string;
};
export type SeedM2mClient = NonNullable<RawApp["m2m_clients"]>[number] & { client_secret?: string };
export type SeedWebhook = NonNullable<RawApp["webhook"]> & { signing_secret?: string };
export type SeedApp = Omit<RawApp, "users" | "m2m_clients" | "webhook"> & {
  users?: SeedUser[];
  m2m_clients?: SeedM2mClient[];
  webhook?: SeedWebhook | null;
};

/** A parsed and validated seed file; secrets named by `*_env` already read from the environment. */
export interface SeedFile {
  version: typeof SEED_VERSION;
  apps: SeedApp[];
}

/** `["apps", 1, "roles", 0]` → `apps[1].roles[0]`. */
export function pathOf(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `${out ? "." : ""}${String(p)}`;
  return out || "(file)";
}

function zodProblems(error: z.ZodError): string[] {
  const out: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) out.push(`${pathOf([...issue.path, k])}: unknown key`);
    } else {
      out.push(`${pathOf(issue.path)}: ${issue.message}`);
    }
  }
  return out;
}

/** Duplicates within an app and references that must resolve inside the file or the catalogue. */
function crossProblems(seed: RawSeed): string[] {
  const out: string[] = [];
  const dupes = <T>(items: readonly T[] | undefined, key: (t: T) => string, where: string, what: string) => {
    const seen = new Map<string, number>();
    (items ?? []).forEach((item, i) => {
      const k = key(item);
      const first = seen.get(k);
      if (first !== undefined)
        out.push(`${where}[${i}]: duplicate ${what} "${k}" (also at ${where}[${first}])`);
      else seen.set(k, i);
    });
  };
  dupes(seed.apps, (a) => a.slug, "apps", "slug");
  seed.apps.forEach((app, a) => {
    const at = `apps[${a}]`;
    dupes(app.permissions, (p) => p.name, `${at}.permissions`, "permission");
    dupes(app.roles, (r) => r.name, `${at}.roles`, "role");
    dupes(app.m2m_clients, (c) => c.name, `${at}.m2m_clients`, "name");
    dupes(app.api_keys, (k) => k.name, `${at}.api_keys`, "name");
    dupes(app.users, (u) => u.email, `${at}.users`, "email");
    dupes(
      (app.users ?? []).filter((u) => u.username !== undefined),
      (u) => u.username!,
      `${at}.users(username)`,
      "username",
    );
    (app.permissions ?? []).forEach((p, i) => {
      if (SYSTEM_PERMISSION_KEYS.has(p.name))
        out.push(`${at}.permissions[${i}].name: "${p.name}" is a system permission (they are implied)`);
    });
    (app.roles ?? []).forEach((r, i) => {
      if (
        !(SYSTEM_ROLES as readonly string[]).includes(r.name) &&
        !createRoleSchema.shape.name.safeParse(r.name).success
      )
        out.push(`${at}.roles[${i}].name: "${r.name}" is reserved`);
      if (r.name === "owner" && r.permissions !== undefined)
        out.push(`${at}.roles[${i}].permissions: the owner role always holds every permission; leave it out`);
      // References to custom permissions and roles that exist only in the database are checked by the plan.
      r.permissions?.forEach((key, j) => {
        if (!PERMISSION_PATTERN.test(key))
          out.push(`${at}.roles[${i}].permissions[${j}]: "${key}" is not a permission (resource.action)`);
      });
    });
    (app.users ?? []).forEach((u, i) => {
      if (u.password_env !== undefined && u.password_hash !== undefined)
        out.push(`${at}.users[${i}]: give password_env or password_hash, not both`);
    });
    dupes(app.tenants, (t) => t.slug, `${at}.tenants`, "slug");
    for (const [i, t] of (app.tenants ?? []).entries())
      dupes(t.members, (m) => m.email, `${at}.tenants[${i}].members`, "email");
  });
  return out;
}

/** Reads every `*_env` variable the file names; one named but unset (or empty) is a problem at its path. */
function resolveSecrets(
  seed: RawSeed,
  env: Readonly<Record<string, string | undefined>>,
): { file: SeedFile; problems: string[] } {
  const problems: string[] = [];
  const read = (name: string, path: string): string | undefined => {
    const v = env[name];
    if (v === undefined || v === "") {
      problems.push(`${path}: environment variable ${name} is not set`);
      return undefined;
    }
    return v;
  };
  const apps: SeedApp[] = seed.apps.map((app, a) => ({
    ...app,
    m2m_clients: app.m2m_clients?.map((c, i) => {
      if (c.client_secret_env === undefined) return c;
      const secret = read(c.client_secret_env, `apps[${a}].m2m_clients[${i}].client_secret_env`);
      if (secret !== undefined && secret.length < 32)
        problems.push(
          `apps[${a}].m2m_clients[${i}].client_secret_env: ${c.client_secret_env} must hold at least 32 characters`,
        );
      return { ...c, client_secret: secret };
    }),
    users: app.users?.map((u, i) => {
      if (u.password_env === undefined) return u;
      return { ...u, password: read(u.password_env, `apps[${a}].users[${i}].password_env`) };
    }),
    webhook: (() => {
      const hook = app.webhook;
      if (!hook || hook.signing_secret_env === undefined) return hook;
      const path = `apps[${a}].webhook.signing_secret_env`;
      const secret = read(hook.signing_secret_env, path);
      const problem = secret === undefined ? null : webhookSecretProblem(secret);
      if (problem) problems.push(`${path}: ${hook.signing_secret_env} ${problem}`);
      return { ...hook, signing_secret: secret };
    })(),
  }));
  return { file: { version: SEED_VERSION, apps }, problems };
}

/**
 * Validates already-parsed content (a JSON or TOML document). `source` names it in the error.
 * Throws {@link SeedFileError} listing every problem.
 */
export function parseSeed(
  raw: unknown,
  env: Readonly<Record<string, string | undefined>>,
  source = "seed",
): SeedFile {
  const parsed = seedFileSchema.safeParse(raw);
  if (!parsed.success) throw new SeedFileError(source, zodProblems(parsed.error));
  const problems = crossProblems(parsed.data);
  const { file, problems: secretProblems } = resolveSecrets(parsed.data, env);
  problems.push(...secretProblems);
  if (problems.length) throw new SeedFileError(source, problems);
  return file;
}

export type SeedFormat = "json" | "toml";

/** `.toml` is TOML; anything else is JSON. */
export const formatOfPath = (path: string): SeedFormat =>
  path.toLowerCase().endsWith(".toml") ? "toml" : "json";

/** Reads, parses and validates a seed file; throws {@link SeedFileError} (also for unreadable or malformed files). */
export function loadSeedFile(
  path: string,
  env: Readonly<Record<string, string | undefined>> = environment(),
): SeedFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new SeedFileError(path, [`cannot read the file: ${(e as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = formatOfPath(path) === "toml" ? parseToml(text) : JSON.parse(text);
  } catch (e) {
    throw new SeedFileError(path, [`not valid ${formatOfPath(path).toUpperCase()}: ${(e as Error).message}`]);
  }
  return parseSeed(raw, env, path);
}
