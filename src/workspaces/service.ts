/** @module Platform subset rules (DESIGN §4): bootstrap, sign-in and sessions, workspaces, members, policies, PAKs. */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { AuditWriter } from "../audit/writer.ts";
import type { PasswordHasher } from "../auth/passwords.ts";
import { createSigninThrottle, type ThrottleScope, type ThrottleTrip } from "../auth/signin-throttle.ts";
import type { Config } from "../config/index.ts";
import { type Clock, iso } from "../core/clock.ts";
import { sha256Hex } from "../core/crypto.ts";
import { conflict, forbidden, HeimdallError, notFound, validationError } from "../core/errors.ts";
import { resolveExpiry } from "../core/expiry.ts";
import { newId, randomToken } from "../core/ids.ts";
import {
  type AuditActor,
  actorOf,
  type CallMeta,
  type PlatformPrincipal,
  SYSTEM_ACTOR,
  type WorkspaceRole,
} from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { PolicyStatement } from "../db/schema.ts";
import type { RateLimiter } from "../ratelimit/limiter.ts";
import { authorize, visibleWorkspaces } from "./authorize.ts";
import {
  ADMIN_POLICY,
  ADMIN_POLICY_NAME,
  type createPakSchema,
  type createPolicySchema,
  DEFAULT_WORKSPACE_SLUG,
  meDto,
  memberDto,
  PAK_PATTERN,
  PAK_PREFIX,
  PAK_SHOWN_PREFIX_LENGTH,
  type PakRow,
  POLICY_NAME,
  type PolicyRow,
  pageOf,
  pakDto,
  parseCursor,
  parseLimit,
  policyDetailDto,
  policyDto,
  policyFileSchema,
  SESSION_PREFIX,
  sessionDto,
  sessionSeconds,
  type signInSchema,
  type UserRow,
  type updatePakSchema,
  type updatePolicySchema,
  type WorkspaceRow,
  workspaceDto,
  workspaceListItemDto,
} from "./model.ts";
import {
  evaluatePolicy,
  firstUngranted,
  HEIMDALL_ACTIONS,
  roleAllows,
  roleStatements,
  workspaceResource,
} from "./pak-policy.ts";
import { createWorkspaceStore } from "./store.ts";

export interface WorkspaceServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  config: Config;
  passwords: PasswordHasher;
  rateLimiter: RateLimiter;
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
  /** JSON file of policy statements; without it the key gets the full `heimdall-admin` policy. */
  policyFile?: string;
  /** ISO 8601 expiry (`--expires-at`); at most one of this and `expiresInMs`. */
  expiresAt?: string;
  /** Lifetime from now (`--expires-in`). */
  expiresInMs?: number;
}

export interface ListQuery {
  limit?: string;
  cursor?: string;
}

/** Used when `bootstrap` is given no email: an address that cannot receive mail, to be changed later. */
const DEFAULT_BOOTSTRAP_EMAIL = "admin@heimdall.local";
/**
 * Operator sign-in is throttled like end-user sign-in (auth/signin-throttle.ts), with the defaults of an
 * app: failures from one address for one identifier before its back-off starts, and attempts per address.
 */
export const PLATFORM_SIGNIN = {
  maxFailures: 5,
  perIp: { max: 30, windowMs: 60_000 },
} as const;
const MIN_PASSWORD_LENGTH = 12;
const emailSchema = z.email().max(320);

const invalidCredentials = () =>
  new HeimdallError(401, "INVALID_CREDENTIALS", "Invalid email/username or password");
const workspaceNotFound = () => notFound("WORKSPACE_NOT_FOUND", "Workspace not found");
const pakNotFound = () => notFound("PAK_NOT_FOUND", "API key not found");
const policyNotFound = () => notFound("POLICY_NOT_FOUND", "Policy not found");
const policyNameTaken = (name: string) =>
  conflict("POLICY_NAME_TAKEN", `A policy named "${name}" already exists`);

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

export function createWorkspaceService({ db, clock, audit, passwords, rateLimiter }: WorkspaceServiceDeps) {
  const store = createWorkspaceStore(db);
  const throttle = createSigninThrottle({ rateLimiter, clock });

  // ─── Access helpers ────────────────────────────────────────────────────────

  /** The workspace named by the path, if the caller can see it; otherwise a 404 that reveals nothing. */
  function visibleWorkspace(p: PlatformPrincipal, slug: string): WorkspaceRow {
    const w = store.workspaceBySlug(slug);
    if (!w || !visibleWorkspaces(p).includes(w.id)) throw workspaceNotFound();
    return w;
  }

  /** Resolves the workspace and checks `action` on its workspace-level resource. */
  function workspaceFor(p: PlatformPrincipal, slug: string, action: string): WorkspaceRow {
    const w = visibleWorkspace(p, slug);
    authorize(p, w.id, action, workspaceResource(w.id), workspaceNotFound);
    return w;
  }

  function roleIn(p: PlatformPrincipal, workspaceId: string): WorkspaceRole | null {
    if (p.kind === "pak") return null;
    return p.memberships.find((m) => m.workspaceId === workspaceId)?.role ?? null;
  }

  /** What the caller may grant: a PAK's own statements, or the statements equivalent to the user's role. */
  function grantable(p: PlatformPrincipal, workspaceId: string): PolicyStatement[] {
    if (p.kind === "pak") return [...p.statements];
    const role = roleIn(p, workspaceId);
    return role ? roleStatements(role) : [];
  }

  function assertGrantable(p: PlatformPrincipal, workspaceId: string, statements: PolicyStatement[]): void {
    const excess = firstUngranted(statements, grantable(p, workspaceId));
    if (excess) {
      throw forbidden("GRANT_EXCEEDS_CALLER", `You cannot grant ${excess.action} on ${excess.resource}`);
    }
  }

  /** `created_by` of policies is shown to callers who may read the audit trail. */
  function mayReadAudit(p: PlatformPrincipal, workspaceId: string): boolean {
    if (p.kind === "pak")
      return evaluatePolicy(p.statements, "heimdall.audit.read", workspaceResource(workspaceId));
    const role = roleIn(p, workspaceId);
    return role !== null && roleAllows(role, "heimdall.audit.read");
  }

  function pakRecord(row: PakRow) {
    return pakDto(row, store.boundPolicies([row.id]).get(row.id) ?? []);
  }

  /** Inserts a PAK and its bindings; call inside a transaction. */
  function insertPak(
    ws: WorkspaceRow,
    input: {
      name: string;
      description: string | null;
      token: string;
      createdBy: string | null;
      expiresAt?: number | null;
    },
    policyIds: string[],
    actor: AuditActor,
    meta?: Partial<CallMeta>,
  ): PakRow {
    const now = clock.now();
    const row: PakRow = {
      id: newId(clock),
      workspaceId: ws.id,
      name: input.name,
      description: input.description,
      tokenPrefix: input.token.slice(0, PAK_SHOWN_PREFIX_LENGTH),
      tokenHash: sha256Hex(input.token),
      expiresAt: input.expiresAt ?? null,
      createdBy: input.createdBy,
      lastUsedAt: null,
      revokedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    store.insertPak(row, policyIds);
    audit.record({
      workspaceId: ws.id,
      action: "pak.created",
      resourceType: "pak",
      resourceId: row.id,
      actor,
      details: {
        name: row.name,
        token_prefix: row.tokenPrefix,
        policy_ids: policyIds,
        ...(row.expiresAt !== null ? { expires_at: iso(row.expiresAt) } : {}),
      },
      meta,
    });
    return row;
  }

  function insertPolicy(
    ws: WorkspaceRow,
    input: {
      name: string;
      description: string | null;
      statements: PolicyStatement[];
      createdBy: string | null;
    },
    actor: AuditActor,
    meta?: Partial<CallMeta>,
  ): PolicyRow {
    if (store.policyByName(ws.id, input.name)) throw policyNameTaken(input.name);
    const now = clock.now();
    const row: PolicyRow = {
      id: newId(clock),
      workspaceId: ws.id,
      name: input.name,
      description: input.description,
      statements: input.statements,
      createdBy: input.createdBy,
      createdAt: now,
      updatedAt: now,
    };
    store.insertPolicy(row);
    audit.record({
      workspaceId: ws.id,
      action: "policy.created",
      resourceType: "policy",
      resourceId: row.id,
      actor,
      details: { name: row.name },
      meta,
    });
    return row;
  }

  function uniqueUsername(email: string): string {
    const base = usernameBase(email);
    if (!store.usernameTaken(base)) return base;
    for (let i = 2; ; i++) {
      const candidate = `${base}-${i}`;
      if (!store.usernameTaken(candidate)) return candidate;
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

  function revokeSession(sessionId: string, userId: string, meta: CallMeta): void {
    tx(db, () => {
      if (!store.revokeSession(sessionId, clock.now())) return;
      audit.record({
        workspaceId: store.firstWorkspaceIdOfUser(userId) ?? null,
        action: "platform.logout",
        resourceType: "platform_session",
        resourceId: sessionId,
        actor: { type: "platform_user", id: userId },
        meta,
      });
    });
  }

  /** A policy name not yet used in the workspace, derived from `wanted` and kept within the name pattern. */
  function freePolicyName(workspaceId: string, wanted: string): string {
    const base = wanted.replace(/[^A-Za-z0-9 _-]+/g, "-").slice(0, 56) || "pak";
    for (let i = 1; ; i++) {
      const candidate = i === 1 ? base : `${base} ${i}`;
      if (POLICY_NAME.test(candidate) && !store.policyByName(workspaceId, candidate)) return candidate;
    }
  }

  return {
    // ─── Provisioning (CLI and first start) ──────────────────────────────────

    /** First start on an empty database: workspace `default`, its owner, `heimdall-admin` and one PAK. */
    async bootstrap(input: BootstrapInput = {}): Promise<BootstrapResult> {
      if (store.hasAnyWorkspace()) {
        throw conflict(
          "ALREADY_BOOTSTRAPPED",
          "The database already has a workspace; bootstrap runs only once",
        );
      }
      const email = parseEmail(input.email ?? DEFAULT_BOOTSTRAP_EMAIL);
      const password = input.password ?? generatePassword();
      checkPassword(password);
      if (input.pak !== undefined && !PAK_PATTERN.test(input.pak)) {
        throw validationError([{ field: "pak", reason: "must match pcft_live_[A-Za-z0-9_-]{32,}" }]);
      }
      const pakToken = input.pak ?? randomToken(PAK_PREFIX);
      const passwordHash = await passwords.hash(password);
      return tx(db, () => {
        // Checked again under the write lock: two concurrent first starts must not both bootstrap.
        if (store.hasAnyWorkspace()) {
          throw conflict(
            "ALREADY_BOOTSTRAPPED",
            "The database already has a workspace; bootstrap runs only once",
          );
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
        store.insertWorkspace(ws);
        store.insertUser({
          id: userId,
          email,
          username: uniqueUsername(email),
          displayName: null,
          passwordHash,
          status: "active",
          emailVerifiedAt: null,
          createdAt: now,
          updatedAt: now,
        });
        store.insertMember({ id: newId(clock), workspaceId: ws.id, userId, role: "owner", createdAt: now });
        audit.record({
          workspaceId: ws.id,
          action: "workspace.bootstrapped",
          resourceType: "workspace",
          resourceId: ws.id,
          actor: SYSTEM_ACTOR,
          details: { slug: ws.slug, owner_id: userId },
        });
        const policy = insertPolicy(
          ws,
          {
            name: ADMIN_POLICY_NAME,
            description: "Full access to Heimdall",
            statements: ADMIN_POLICY,
            createdBy: userId,
          },
          SYSTEM_ACTOR,
        );
        insertPak(
          ws,
          { name: "bootstrap", description: "Created on first start", token: pakToken, createdBy: userId },
          [policy.id],
          SYSTEM_ACTOR,
        );
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
      if (!store.workspaceBySlug(slug)) throw workspaceNotFound();
      if (store.emailTaken(email))
        throw conflict("EMAIL_TAKEN", "A platform user with this email already exists");
      const passwordHash = await passwords.hash(password);
      return tx(db, () => {
        const ws = store.workspaceBySlug(slug);
        if (!ws) throw workspaceNotFound();
        if (store.emailTaken(email))
          throw conflict("EMAIL_TAKEN", "A platform user with this email already exists");
        const now = clock.now();
        const user = {
          id: newId(clock),
          email,
          username: uniqueUsername(email),
          displayName: input.displayName ?? null,
          passwordHash,
          status: "active",
          emailVerifiedAt: null,
          createdAt: now,
          updatedAt: now,
        };
        store.insertUser(user);
        const memberId = newId(clock);
        store.insertMember({ id: memberId, workspaceId: ws.id, userId: user.id, role, createdAt: now });
        audit.record({
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

    /** `heimdall pak create`: statements from a JSON file (bound as a new managed policy) or `heimdall-admin`. */
    createPak(input: CreatePakInput) {
      const name = input.name.trim();
      if (name.length < 1 || name.length > 120) {
        throw validationError([{ field: "name", reason: "must be 1-120 characters" }]);
      }
      let statements: PolicyStatement[] | undefined;
      if (input.policyFile !== undefined) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(readFileSync(input.policyFile, "utf8"));
        } catch (e) {
          throw validationError([
            { field: "policy", reason: `cannot read ${input.policyFile}: ${(e as Error).message}` },
          ]);
        }
        const r = policyFileSchema.safeParse(parsed);
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
      return tx(db, () => {
        const ws = store.workspaceBySlug(input.workspaceSlug);
        if (!ws) throw workspaceNotFound();
        let policy: PolicyRow;
        if (statements) {
          policy = insertPolicy(
            ws,
            {
              name: freePolicyName(ws.id, `pak ${name}`),
              description: `Created for API key "${name}"`,
              statements,
              createdBy: null,
            },
            SYSTEM_ACTOR,
          );
        } else {
          policy =
            store.policyByName(ws.id, ADMIN_POLICY_NAME) ??
            insertPolicy(
              ws,
              {
                name: ADMIN_POLICY_NAME,
                description: "Full access to Heimdall",
                statements: ADMIN_POLICY,
                createdBy: null,
              },
              SYSTEM_ACTOR,
            );
        }
        const row = insertPak(
          ws,
          { name, description: input.description ?? null, token, createdBy: null, expiresAt },
          [policy.id],
          SYSTEM_ACTOR,
        );
        return { token, record: pakRecord(row), workspace: { id: ws.id, slug: ws.slug } };
      });
    },

    // ─── Sign-in and sessions ────────────────────────────────────────────────

    /**
     * Unknown identifier and wrong password do the same argon2 work and give the same 401; the audit row
     * tells them apart for the operator.
     */
    async signIn(input: z.infer<typeof signInSchema>, meta: CallMeta) {
      const ip = meta.ip ?? "unknown";
      rateLimiter.consume([{ key: `platform-signin:ip:${ip}`, ...PLATFORM_SIGNIN.perIp }]);
      // Counted by what was typed (emails match case-insensitively), never by the account found.
      const throttled: ThrottleScope = {
        scope: "platform",
        identifier: input.identifier.toLowerCase(),
        ip,
        maxFailures: PLATFORM_SIGNIN.maxFailures,
      };
      const signinFailed = (
        user: UserRow | undefined,
        details: Record<string, unknown>,
        trips: ThrottleTrip[],
      ) => {
        const chain = user ? (store.firstWorkspaceIdOfUser(user.id) ?? null) : null;
        const actor: AuditActor = user ? { type: "platform_user", id: user.id } : SYSTEM_ACTOR;
        tx(db, () => {
          audit.record({
            workspaceId: chain,
            action: "platform.signin_failed",
            resourceType: "platform_user",
            resourceId: user?.id ?? null,
            actor,
            details,
            meta,
          });
          for (const trip of trips) {
            audit.record({
              workspaceId: chain,
              action: "platform.signin_throttled",
              resourceType: "platform_user",
              resourceId: user?.id ?? null,
              actor: SYSTEM_ACTOR,
              details: {
                throttle: trip.kind,
                failures: trip.failures,
                locked_until: new Date(trip.until).toISOString(),
              },
              meta,
            });
          }
        });
      };

      const refused = throttle.begin(throttled);
      if (refused) {
        // Decided before the account is read; the lookup is for the audit row only.
        const user = store.userByIdentifier(input.identifier);
        signinFailed(user, { reason: "throttled", throttle: refused.kind }, []);
        throw refused.error;
      }
      const user = store.userByIdentifier(input.identifier);
      const ok = user
        ? await passwords.verify(user.passwordHash, input.password, meta.signal)
        : await passwords.dummyVerify(input.password, meta.signal);
      if (!user || !ok || user.status !== "active") {
        const reason = !user ? "unknown_user" : !ok ? "wrong_password" : "user_inactive";
        signinFailed(user, { reason }, throttle.failed(throttled));
        throw invalidCredentials();
      }
      throttle.succeeded(throttled);
      const chain = store.firstWorkspaceIdOfUser(user.id);
      const seconds = sessionSeconds(input.session_duration);
      const token = randomToken(SESSION_PREFIX);
      const now = clock.now();
      const sessionId = newId(clock);
      tx(db, () => {
        store.insertSession({
          id: sessionId,
          userId: user.id,
          tokenHash: sha256Hex(token),
          ip: meta.ip,
          userAgent: meta.userAgent?.slice(0, 512) ?? null,
          createdAt: now,
          expiresAt: now + seconds * 1000,
          lastUsedAt: null,
          revokedAt: null,
        });
        audit.record({
          workspaceId: chain ?? null,
          action: "platform.signin",
          resourceType: "platform_session",
          resourceId: sessionId,
          actor: { type: "platform_user", id: user.id },
          details: { session_seconds: seconds },
          meta,
        });
      });
      return { token, expiresIn: seconds };
    },

    /** Revokes the session whose token is given (logout body) — possession of the token is the authority. */
    logoutToken(token: string, meta: CallMeta): void {
      const s = store.sessionByTokenHash(sha256Hex(token));
      if (!s || s.revokedAt !== null || s.expiresAt <= clock.now()) {
        throw new HeimdallError(
          400,
          "INVALID_TOKEN",
          "The session token is invalid, expired or already revoked",
        );
      }
      revokeSession(s.id, s.userId, meta);
    },

    /** Revokes the caller's own session (cookie or Bearer logout). */
    logoutCurrent(p: PlatformPrincipal, meta: CallMeta): void {
      if (p.kind !== "platform_user") return;
      revokeSession(p.sessionId, p.userId, meta);
    },

    sessions(p: PlatformPrincipal) {
      if (p.kind !== "platform_user") throw pakNotAllowed();
      return store.liveSessionsOf(p.userId, clock.now()).map(sessionDto);
    },

    me(p: PlatformPrincipal) {
      if (p.kind !== "platform_user") throw pakNotAllowed();
      const user = store.userById(p.userId);
      if (!user) throw notFound("ACCOUNT_NOT_FOUND", "No account for this session");
      return meDto(user);
    },

    // ─── Workspaces and members ──────────────────────────────────────────────

    /** A PAK sees its own workspace only; a user sees every workspace it is a member of. */
    listWorkspaces(p: PlatformPrincipal, q: ListQuery) {
      const limit = parseLimit(q.limit);
      const after = parseCursor(q.cursor);
      if (p.kind === "pak") {
        const w = store.workspaceById(p.workspaceId);
        const rows =
          w && (!after || w.createdAt < after.c || (w.createdAt === after.c && w.id < after.i))
            ? [{ workspace: w, role: null }]
            : [];
        return pageOf(
          rows,
          limit,
          (r) => ({ c: r.workspace.createdAt, i: r.workspace.id }),
          (r) => workspaceListItemDto(r.workspace, r.role),
        );
      }
      const rows = store.workspacesOfUser(p.userId, limit + 1, after);
      return pageOf(
        rows,
        limit,
        (r) => ({ c: r.workspace.createdAt, i: r.workspace.id }),
        (r) => workspaceListItemDto(r.workspace, r.role),
      );
    },

    getWorkspace(p: PlatformPrincipal, slug: string) {
      return workspaceDto(visibleWorkspace(p, slug));
    },

    /** A user-listing read, so it is audited (DESIGN §8). */
    listMembers(p: PlatformPrincipal, slug: string, q: ListQuery, meta: CallMeta) {
      const limit = parseLimit(q.limit);
      const after = parseCursor(q.cursor);
      const ws = workspaceFor(p, slug, "heimdall.read");
      const rows = store.membersOf(ws.id, limit + 1, after);
      tx(db, () =>
        audit.record({
          workspaceId: ws.id,
          action: "workspace.members_listed",
          resourceType: "workspace",
          resourceId: ws.id,
          actor: actorOf(p),
          details: { count: Math.min(rows.length, limit) },
          meta,
        }),
      );
      return pageOf(rows, limit, (r) => ({ c: r.createdAt, i: r.id }), memberDto);
    },

    // ─── Platform API keys ───────────────────────────────────────────────────

    listPaks(p: PlatformPrincipal, slug: string) {
      const ws = workspaceFor(p, slug, "heimdall.read");
      const rows = store.paksOf(ws.id);
      const bound = store.boundPolicies(rows.map((r) => r.id));
      return rows.map((r) => pakDto(r, bound.get(r.id) ?? []));
    },

    getPak(p: PlatformPrincipal, slug: string, id: string) {
      const ws = workspaceFor(p, slug, "heimdall.read");
      const row = store.pakById(ws.id, id);
      if (!row) throw pakNotFound();
      return pakRecord(row);
    },

    /** Human-only (the route refuses PAKs); the bound policies must stay within the minter's own rights. */
    mintPak(p: PlatformPrincipal, slug: string, body: z.infer<typeof createPakSchema>, meta: CallMeta) {
      if (p.kind !== "platform_user") throw pakNotAllowed();
      const ws = visibleWorkspace(p, slug);
      const ids = [...new Set(body.policy_ids)];
      const policies = store.policiesByIds(ws.id, ids);
      const found = new Set(policies.map((x) => x.id));
      const unknown = body.policy_ids.flatMap((id, i) =>
        found.has(id) ? [] : [{ field: `policy_ids.${i}`, reason: "no such policy in this workspace" }],
      );
      if (unknown.length) throw validationError(unknown);
      assertGrantable(
        p,
        ws.id,
        policies.flatMap((x) => x.statements),
      );
      const expiresAt = resolveExpiry(body.expires_at, clock.now());
      const token = randomToken(PAK_PREFIX);
      const row = tx(db, () =>
        insertPak(
          ws,
          {
            name: body.name,
            description: body.description ?? null,
            token,
            createdBy: p.userId,
            expiresAt,
          },
          ids,
          actorOf(p),
          meta,
        ),
      );
      return { token, record: pakRecord(row) };
    },

    updatePak(
      p: PlatformPrincipal,
      slug: string,
      id: string,
      body: z.infer<typeof updatePakSchema>,
      meta: CallMeta,
    ) {
      const ws = workspaceFor(p, slug, "heimdall.update");
      const row = tx(db, () => {
        const current = store.pakById(ws.id, id);
        if (!current) throw pakNotFound();
        const changed: string[] = [];
        if (body.name !== undefined && body.name !== current.name) changed.push("name");
        if (body.description !== undefined && body.description !== current.description)
          changed.push("description");
        if (changed.length === 0) return current;
        store.updatePak(current.id, {
          name: body.name ?? current.name,
          description: body.description === undefined ? current.description : body.description,
          updatedAt: clock.now(),
        });
        audit.record({
          workspaceId: ws.id,
          action: "pak.updated",
          resourceType: "pak",
          resourceId: current.id,
          actor: actorOf(p),
          details: { changed },
          meta,
        });
        return store.pakById(ws.id, id)!;
      });
      return pakRecord(row);
    },

    /** Keeps the row (revoked_at set) so listings and audit keep their meaning; revoking twice is a no-op. */
    revokePak(p: PlatformPrincipal, slug: string, id: string, meta: CallMeta): void {
      const ws = workspaceFor(p, slug, "heimdall.delete");
      tx(db, () => {
        const row = store.pakById(ws.id, id);
        if (!row) throw pakNotFound();
        if (!store.revokePak(row.id, clock.now())) return;
        audit.record({
          workspaceId: ws.id,
          action: "pak.revoked",
          resourceType: "pak",
          resourceId: row.id,
          actor: actorOf(p),
          details: { name: row.name, token_prefix: row.tokenPrefix },
          meta,
        });
      });
    },

    // ─── Managed policies ────────────────────────────────────────────────────

    listPolicies(p: PlatformPrincipal, slug: string) {
      const ws = workspaceFor(p, slug, "heimdall.read");
      const reveal = mayReadAudit(p, ws.id);
      return { data: store.policiesOf(ws.id).map((r) => policyDto(r, reveal)) };
    },

    getPolicy(p: PlatformPrincipal, slug: string, id: string) {
      const ws = workspaceFor(p, slug, "heimdall.read");
      const row = store.policyById(ws.id, id);
      if (!row) throw policyNotFound();
      return policyDetailDto(row, mayReadAudit(p, ws.id), store.pakBindingCount(row.id));
    },

    catalog(p: PlatformPrincipal, slug: string) {
      workspaceFor(p, slug, "heimdall.read");
      return { actions: [...HEIMDALL_ACTIONS] };
    },

    createPolicy(
      p: PlatformPrincipal,
      slug: string,
      body: z.infer<typeof createPolicySchema>,
      meta: CallMeta,
    ) {
      const ws = workspaceFor(p, slug, "heimdall.create");
      assertGrantable(p, ws.id, body.policy);
      const createdBy = p.kind === "platform_user" ? p.userId : null;
      const row = tx(db, () =>
        insertPolicy(
          ws,
          { name: body.name, description: body.description ?? null, statements: body.policy, createdBy },
          actorOf(p),
          meta,
        ),
      );
      return policyDto(row, mayReadAudit(p, ws.id));
    },

    updatePolicy(
      p: PlatformPrincipal,
      slug: string,
      id: string,
      body: z.infer<typeof updatePolicySchema>,
      meta: CallMeta,
    ) {
      const ws = workspaceFor(p, slug, "heimdall.update");
      if (body.policy) assertGrantable(p, ws.id, body.policy);
      const row = tx(db, () => {
        const current = store.policyById(ws.id, id);
        if (!current) throw policyNotFound();
        if (body.name !== undefined && body.name !== current.name) {
          const other = store.policyByName(ws.id, body.name);
          if (other && other.id !== current.id) throw policyNameTaken(body.name);
        }
        const changed: string[] = [];
        if (body.name !== undefined && body.name !== current.name) changed.push("name");
        if (body.description !== undefined && body.description !== current.description)
          changed.push("description");
        if (body.policy !== undefined && JSON.stringify(body.policy) !== JSON.stringify(current.statements)) {
          changed.push("policy");
        }
        if (changed.length === 0) return current;
        store.updatePolicy(current.id, {
          name: body.name ?? current.name,
          description: body.description === undefined ? current.description : body.description,
          statements: body.policy ?? current.statements,
          updatedAt: clock.now(),
        });
        audit.record({
          workspaceId: ws.id,
          action: "policy.updated",
          resourceType: "policy",
          resourceId: current.id,
          actor: actorOf(p),
          details: { changed },
          meta,
        });
        return store.policyById(ws.id, id)!;
      });
      return policyDetailDto(row, mayReadAudit(p, ws.id), store.pakBindingCount(row.id));
    },

    /** Bindings go with the policy (FK cascade): a PAK left with no policy is denied everything. */
    deletePolicy(p: PlatformPrincipal, slug: string, id: string, meta: CallMeta): void {
      const ws = workspaceFor(p, slug, "heimdall.delete");
      tx(db, () => {
        const row = store.policyById(ws.id, id);
        if (!row) throw policyNotFound();
        const bindings = store.pakBindingCount(row.id);
        store.deletePolicy(row.id);
        audit.record({
          workspaceId: ws.id,
          action: "policy.deleted",
          resourceType: "policy",
          resourceId: row.id,
          actor: actorOf(p),
          details: { name: row.name, pak_bindings: bindings },
          meta,
        });
      });
    },
  };
}

const pakNotAllowed = () =>
  forbidden("PAK_NOT_ALLOWED", "This operation requires a human session, not an API key");

export type WorkspaceService = ReturnType<typeof createWorkspaceService>;
