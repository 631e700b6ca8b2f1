/** @module Provisioning without a session (CLI and first start): bootstrap, `heimdall user create`, `heimdall pak create`. */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { AuditWriter } from "../audit/writer.ts";
import type { Clock } from "../core/clock.ts";
import { fail, validationError } from "../core/errors.ts";
import { resolveExpiry } from "../core/expiry.ts";
import { newId, randomToken } from "../core/ids.ts";
import type { LocalOperatorPrincipal, PolicyStatement } from "../core/principal.ts";
import { SYSTEM_ACTOR, type WorkspaceRole } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { isUniqueViolation } from "../db/query.ts";
import type { PasswordHasher } from "../passwords/hasher.ts";
import { KEY_CHECK_AAD, type Vault } from "../vault/vault.ts";
import { workspaceNotFound } from "./access.ts";
import {
  ADMIN_POLICY,
  ADMIN_POLICY_NAME,
  DEFAULT_WORKSPACE_SLUG,
  PAK_PATTERN,
  PAK_PREFIX,
  POLICY_NAME,
  type PolicyRow,
  policyFileSchema,
  type WorkspaceRow,
} from "./model.ts";
import { createWorkspaceRecords } from "./records.ts";
import { createWorkspaceStore } from "./store.ts";

export interface ProvisioningServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  passwords: PasswordHasher;
  vault: Pick<Vault, "seal">;
}

export interface BootstrapInput {
  email?: string;
  password?: string;
  pak?: string;
}

export interface BootstrapResult {
  workspace: { id: string; slug: string };
  user: { id: string; email: string };
  email: string;
  password: string;
  pakToken: string;
  generated: { password: boolean; pak: boolean };
}

export interface CreateUserInput {
  email: string;
  password?: string;
  workspace?: string;
  role?: WorkspaceRole;
  displayName?: string;
}

export interface CreatePakInput {
  workspaceSlug: string;
  name: string;
  description?: string;
  /**
   * A policy file's parsed JSON (statements, or `{policy|statements: [...]}`), checked here; the CLI reads
   * the file. Without it the key gets the full `heimdall-admin` policy.
   */
  policy?: unknown;
  /** ISO 8601 expiry (`--expires-at`); at most one of this and `expiresInMs`. */
  expiresAt?: string;
  /** Lifetime from now (`--expires-in`). */
  expiresInMs?: number;
}

/** Used when `bootstrap` is given no email: an address that cannot receive mail, to be changed later. */
const DEFAULT_BOOTSTRAP_EMAIL = "admin@heimdall.local";
const MIN_PASSWORD_LENGTH = 12;
const emailSchema = z.email().max(320);

/** 24 characters from 144 random bits; base64url keeps it copy-paste safe. */
const generatePassword = () => randomBytes(18).toString("base64url");

/** `Jane.Doe+x@…` → `jane.doe-x`; never contains `@`, so a username can never equal an email. */
function usernameBase(email: string): string {
  const local = email.split("@")[0] ?? "";
  const cleaned = local
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "")
    .slice(0, 32);
  return cleaned || "user";
}

export function createProvisioningService({ db, clock, audit, passwords, vault }: ProvisioningServiceDeps) {
  const store = createWorkspaceStore(db);
  const records = createWorkspaceRecords({ store, clock, audit });

  async function uniqueUsername(email: string): Promise<string> {
    const base = usernameBase(email);
    if (!(await store.usernameTaken(base))) return base;
    for (let i = 2; ; i++) {
      const candidate = `${base}-${i}`;
      if (!(await store.usernameTaken(candidate))) return candidate;
    }
  }

  function parseEmail(email: string): string {
    const r = emailSchema.safeParse(email.trim().toLowerCase());
    if (!r.success) throw validationError([{ field: "email", reason: "must be a valid email address" }]);
    return r.data;
  }

  function checkPassword(password: string): void {
    if (password.length < MIN_PASSWORD_LENGTH || password.length > 256) {
      throw validationError([{ field: "password", reason: `must be ${MIN_PASSWORD_LENGTH}-256 characters` }]);
    }
  }

  /** A policy name not yet used in the workspace, derived from `wanted` and kept within the name pattern. */
  async function freePolicyName(workspaceId: string, wanted: string): Promise<string> {
    const base = wanted.replace(/[^A-Za-z0-9 _-]+/g, "-").slice(0, 56) || "pak";
    for (let i = 1; ; i++) {
      const candidate = i === 1 ? base : `${base} ${i}`;
      if (POLICY_NAME.test(candidate) && !(await store.policyByName(workspaceId, candidate)))
        return candidate;
    }
  }

  return {
    /** First start on an empty database: workspace `default`, its owner, `heimdall-admin` and one PAK. */
    async bootstrap(input: BootstrapInput = {}): Promise<BootstrapResult> {
      if (await store.hasAnyWorkspace()) {
        throw fail("ALREADY_BOOTSTRAPPED");
      }
      const email = parseEmail(input.email ?? DEFAULT_BOOTSTRAP_EMAIL);
      const password = input.password ?? generatePassword();
      checkPassword(password);
      if (input.pak !== undefined && !PAK_PATTERN.test(input.pak)) {
        throw validationError([{ field: "pak", reason: "must match pcft_live_[A-Za-z0-9_-]{32,}" }]);
      }
      const pakToken = input.pak ?? randomToken(PAK_PREFIX);
      const passwordHash = await passwords.hash(password);
      return await tx(db, async () => {
        // Checked again under the write lock: two concurrent first starts must not both bootstrap.
        if (await store.hasAnyWorkspace()) {
          throw fail("ALREADY_BOOTSTRAPPED");
        }
        const now = clock.now();
        const userId = newId(clock);
        const ws: WorkspaceRow = {
          id: newId(clock),
          slug: DEFAULT_WORKSPACE_SLUG,
          displayName: "Default",
          status: "active",
          settings: {},
          createdBy: userId,
          createdAt: now,
          updatedAt: now,
        };
        try {
          await store.insertWorkspace(ws);
        } catch (err) {
          // Another instance bootstrapped the same empty PostgreSQL database at the same moment.
          if (isUniqueViolation(err, { sqlite: "workspaces.slug", postgres: "workspaces_slug_unique" }))
            throw fail("ALREADY_BOOTSTRAPPED");
          throw err;
        }
        await store.insertUser({
          id: userId,
          email,
          username: await uniqueUsername(email),
          displayName: null,
          passwordHash,
          status: "active",
          emailVerifiedAt: null,
          createdAt: now,
          updatedAt: now,
        });
        await store.insertMember({
          id: newId(clock),
          workspaceId: ws.id,
          userId,
          role: "owner",
          createdAt: now,
        });
        await audit.record({
          workspaceId: ws.id,
          action: "workspace.bootstrapped",
          resourceType: "workspace",
          resourceId: ws.id,
          actor: SYSTEM_ACTOR,
          details: { slug: ws.slug, owner_id: userId },
        });
        const policy = await records.insertPolicy(
          ws,
          {
            name: ADMIN_POLICY_NAME,
            description: "Full access to Heimdall",
            statements: ADMIN_POLICY,
            createdBy: userId,
          },
          SYSTEM_ACTOR,
        );
        await records.insertPak(
          ws,
          { name: "bootstrap", description: "Created on first start", token: pakToken, createdBy: userId },
          [policy.id],
          SYSTEM_ACTOR,
        );
        // Random bytes nobody reads: an instance whose master key cannot open them is refused at start.
        await vault.seal(KEY_CHECK_AAD, randomBytes(32));
        return {
          workspace: { id: ws.id, slug: ws.slug },
          user: { id: userId, email },
          email,
          password,
          pakToken,
          generated: { password: input.password === undefined, pak: input.pak === undefined },
        };
      });
    },

    /** `heimdall user create`: a platform user and its membership; the password is generated when absent. */
    async createUser(input: CreateUserInput) {
      const email = parseEmail(input.email);
      const role = input.role ?? "owner";
      if (!["owner", "admin", "viewer"].includes(role)) {
        throw validationError([{ field: "role", reason: "must be owner, admin or viewer" }]);
      }
      const password = input.password ?? generatePassword();
      checkPassword(password);
      const slug = input.workspace ?? DEFAULT_WORKSPACE_SLUG;
      if (!(await store.workspaceBySlug(slug))) throw workspaceNotFound();
      if (await store.emailTaken(email))
        throw fail("EMAIL_TAKEN", { message: "A platform user with this email already exists" });
      const passwordHash = await passwords.hash(password);
      return await tx(db, async () => {
        const ws = await store.workspaceBySlug(slug);
        if (!ws) throw workspaceNotFound();
        if (await store.emailTaken(email))
          throw fail("EMAIL_TAKEN", { message: "A platform user with this email already exists" });
        const now = clock.now();
        const user = {
          id: newId(clock),
          email,
          username: await uniqueUsername(email),
          displayName: input.displayName ?? null,
          passwordHash,
          status: "active",
          emailVerifiedAt: null,
          createdAt: now,
          updatedAt: now,
        };
        try {
          await store.insertUser(user);
        } catch (err) {
          if (
            isUniqueViolation(err, {
              sqlite: "platform_users.email",
              postgres: "platform_users_email_unique",
            })
          )
            throw fail("EMAIL_TAKEN", { message: "A platform user with this email already exists" });
          throw err;
        }
        const memberId = newId(clock);
        await store.insertMember({ id: memberId, workspaceId: ws.id, userId: user.id, role, createdAt: now });
        await audit.record({
          workspaceId: ws.id,
          action: "member.added",
          resourceType: "platform_user",
          resourceId: user.id,
          actor: SYSTEM_ACTOR,
          details: { email, role },
        });
        return {
          user: { id: user.id, email, username: user.username },
          workspace: { id: ws.id, slug: ws.slug },
          role,
          password,
          generated: { password: input.password === undefined },
        };
      });
    },

    /**
     * The command line on this machine acting in workspace `slug` (`heimdall dev`, seeds): a
     * `LocalOperatorPrincipal`, for the services' own checks and system-actor audit rows.
     */
    async localOperator(slug: string = DEFAULT_WORKSPACE_SLUG): Promise<LocalOperatorPrincipal> {
      const ws = await store.workspaceBySlug(slug);
      if (!ws) throw workspaceNotFound();
      return { kind: "local", workspaceId: ws.id };
    },

    /** `heimdall pak create`: a policy file's statements (bound as a new managed policy) or `heimdall-admin`. */
    async createPak(input: CreatePakInput) {
      const name = input.name.trim();
      if (name.length < 1 || name.length > 120) {
        throw validationError([{ field: "name", reason: "must be 1-120 characters" }]);
      }
      let statements: PolicyStatement[] | undefined;
      if (input.policy !== undefined) {
        const r = policyFileSchema.safeParse(input.policy);
        if (!r.success) {
          throw validationError(
            r.error.issues.map((i) => ({ field: ["policy", ...i.path].join("."), reason: i.message })),
          );
        }
        statements = r.data;
      }
      if (input.expiresAt !== undefined && input.expiresInMs !== undefined) {
        throw validationError([
          { field: "expires_at", reason: "give an expiry date or a lifetime, not both" },
        ]);
      }
      const now = clock.now();
      const expiresAt =
        input.expiresInMs !== undefined
          ? resolveExpiry(new Date(now + input.expiresInMs).toISOString(), now, "expires_in")
          : resolveExpiry(input.expiresAt, now);
      const token = randomToken(PAK_PREFIX);
      return await tx(db, async () => {
        const ws = await store.workspaceBySlug(input.workspaceSlug);
        if (!ws) throw workspaceNotFound();
        let policy: PolicyRow;
        if (statements) {
          policy = await records.insertPolicy(
            ws,
            {
              name: await freePolicyName(ws.id, `pak ${name}`),
              description: `Created for API key "${name}"`,
              statements,
              createdBy: null,
            },
            SYSTEM_ACTOR,
          );
        } else {
          policy =
            (await store.policyByName(ws.id, ADMIN_POLICY_NAME)) ??
            (await records.insertPolicy(
              ws,
              {
                name: ADMIN_POLICY_NAME,
                description: "Full access to Heimdall",
                statements: ADMIN_POLICY,
                createdBy: null,
              },
              SYSTEM_ACTOR,
            ));
        }
        const row = await records.insertPak(
          ws,
          { name, description: input.description ?? null, token, createdBy: null, expiresAt },
          [policy.id],
          SYSTEM_ACTOR,
        );
        return { token, record: await records.pakRecord(row), workspace: { id: ws.id, slug: ws.slug } };
      });
    },
  };
}

export type ProvisioningService = ReturnType<typeof createProvisioningService>;
