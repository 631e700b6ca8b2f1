/** @module Drizzle queries of the platform subset: workspaces, platform users, members, sessions, policies, PAKs. */
import { and, asc, type Column, count, desc, eq, gt, inArray, isNull, lt, or } from "drizzle-orm";
import type { WorkspaceRole } from "../core/principal.ts";
import type { Db } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type {
  BoundPolicy,
  MemberRow,
  PakRow,
  PolicyRow,
  Position,
  SessionRow,
  UserRow,
  WorkspaceRow,
} from "./model.ts";

/** Keyset condition for newest-first lists: rows strictly after the cursor's `(created_at, id)`. */
const before = (createdAt: Column, id: Column, p: Position | undefined) =>
  p ? or(lt(createdAt, p.c), and(eq(createdAt, p.c), lt(id, p.i))) : undefined;

export function createWorkspaceStore(db: Db) {
  const {
    pakPolicies,
    paks,
    platformSessions,
    platformUsers,
    workspaceMembers,
    workspacePolicies,
    workspaces,
  } = db.tables;
  return {
    // ─── Workspaces ──────────────────────────────────────────────────────────
    async hasAnyWorkspace(): Promise<boolean> {
      return (await first(db.select({ id: workspaces.id }).from(workspaces).limit(1))) !== undefined;
    },
    async workspaceBySlug(slug: string): Promise<WorkspaceRow | undefined> {
      return await first(db.select().from(workspaces).where(eq(workspaces.slug, slug)).limit(1));
    },
    async workspaceById(id: string): Promise<WorkspaceRow | undefined> {
      return await first(db.select().from(workspaces).where(eq(workspaces.id, id)).limit(1));
    },
    async insertWorkspace(row: WorkspaceRow): Promise<void> {
      await db.insert(workspaces).values(row);
    },
    /** The workspaces a user belongs to with the user's role, newest first. */
    async workspacesOfUser(userId: string, limit: number, after?: Position) {
      return await db
        .select({ workspace: workspaces, role: workspaceMembers.role })
        .from(workspaceMembers)
        .innerJoin(workspaces, eq(workspaces.id, workspaceMembers.workspaceId))
        .where(and(eq(workspaceMembers.userId, userId), before(workspaces.createdAt, workspaces.id, after)))
        .orderBy(desc(workspaces.createdAt), desc(workspaces.id))
        .limit(limit);
    },
    /** The user's oldest membership: the audit chain for events about the user. */
    async firstWorkspaceIdOfUser(userId: string): Promise<string | undefined> {
      return await db
        .select({ id: workspaceMembers.workspaceId })
        .from(workspaceMembers)
        .where(eq(workspaceMembers.userId, userId))
        .orderBy(asc(workspaceMembers.createdAt), asc(workspaceMembers.id))
        .limit(1)
        .then((r) => r[0]?.id);
    },

    // ─── Users and members ───────────────────────────────────────────────────
    async userById(id: string): Promise<UserRow | undefined> {
      return await first(db.select().from(platformUsers).where(eq(platformUsers.id, id)).limit(1));
    },
    /** Email match is case-insensitive (emails are stored lower-case); username match is exact. */
    async userByIdentifier(identifier: string): Promise<UserRow | undefined> {
      return await db
        .select()
        .from(platformUsers)
        .where(or(eq(platformUsers.email, identifier.toLowerCase()), eq(platformUsers.username, identifier)))
        .limit(1)
        .then((r) => r[0]);
    },
    async emailTaken(email: string): Promise<boolean> {
      return (
        (await first(
          db
            .select({ id: platformUsers.id })
            .from(platformUsers)
            .where(eq(platformUsers.email, email))
            .limit(1),
        )) !== undefined
      );
    },
    async usernameTaken(username: string): Promise<boolean> {
      return (
        (await first(
          db
            .select({ id: platformUsers.id })
            .from(platformUsers)
            .where(eq(platformUsers.username, username))
            .limit(1),
        )) !== undefined
      );
    },
    async insertUser(row: UserRow): Promise<void> {
      await db.insert(platformUsers).values(row);
    },
    async insertMember(row: {
      id: string;
      workspaceId: string;
      userId: string;
      role: WorkspaceRole;
      createdAt: number;
    }): Promise<void> {
      await db.insert(workspaceMembers).values(row);
    },
    async membersOf(workspaceId: string, limit: number, after?: Position): Promise<MemberRow[]> {
      return await db
        .select({
          id: workspaceMembers.id,
          userId: workspaceMembers.userId,
          role: workspaceMembers.role,
          createdAt: workspaceMembers.createdAt,
          username: platformUsers.username,
          displayName: platformUsers.displayName,
          email: platformUsers.email,
        })
        .from(workspaceMembers)
        .innerJoin(platformUsers, eq(platformUsers.id, workspaceMembers.userId))
        .where(
          and(
            eq(workspaceMembers.workspaceId, workspaceId),
            before(workspaceMembers.createdAt, workspaceMembers.id, after),
          ),
        )
        .orderBy(desc(workspaceMembers.createdAt), desc(workspaceMembers.id))
        .limit(limit);
    },

    // ─── Sessions ────────────────────────────────────────────────────────────
    async insertSession(row: SessionRow): Promise<void> {
      await db.insert(platformSessions).values(row);
    },
    async sessionByTokenHash(tokenHash: string): Promise<SessionRow | undefined> {
      return await first(
        db.select().from(platformSessions).where(eq(platformSessions.tokenHash, tokenHash)).limit(1),
      );
    },
    async revokeSession(id: string, now: number): Promise<boolean> {
      const r = await db
        .update(platformSessions)
        .set({ revokedAt: now })
        .where(and(eq(platformSessions.id, id), isNull(platformSessions.revokedAt)));
      return affected(r) > 0;
    },
    async liveSessionsOf(userId: string, now: number): Promise<SessionRow[]> {
      return await db
        .select()
        .from(platformSessions)
        .where(
          and(
            eq(platformSessions.userId, userId),
            isNull(platformSessions.revokedAt),
            gt(platformSessions.expiresAt, now),
          ),
        )
        .orderBy(desc(platformSessions.createdAt), desc(platformSessions.id));
    },

    // ─── Policies ────────────────────────────────────────────────────────────
    async insertPolicy(row: PolicyRow): Promise<void> {
      await db.insert(workspacePolicies).values(row);
    },
    async policiesOf(workspaceId: string): Promise<PolicyRow[]> {
      return await db
        .select()
        .from(workspacePolicies)
        .where(eq(workspacePolicies.workspaceId, workspaceId))
        .orderBy(desc(workspacePolicies.createdAt), desc(workspacePolicies.id));
    },
    async policyById(workspaceId: string, id: string): Promise<PolicyRow | undefined> {
      return await db
        .select()
        .from(workspacePolicies)
        .where(and(eq(workspacePolicies.workspaceId, workspaceId), eq(workspacePolicies.id, id)))
        .limit(1)
        .then((r) => r[0]);
    },
    async policyByName(workspaceId: string, name: string): Promise<PolicyRow | undefined> {
      return await db
        .select()
        .from(workspacePolicies)
        .where(and(eq(workspacePolicies.workspaceId, workspaceId), eq(workspacePolicies.name, name)))
        .limit(1)
        .then((r) => r[0]);
    },
    async policiesByIds(workspaceId: string, ids: string[]): Promise<PolicyRow[]> {
      if (ids.length === 0) return [];
      return await db
        .select()
        .from(workspacePolicies)
        .where(and(eq(workspacePolicies.workspaceId, workspaceId), inArray(workspacePolicies.id, ids)));
    },
    async updatePolicy(
      id: string,
      set: Partial<Pick<PolicyRow, "name" | "description" | "statements" | "updatedAt">>,
    ): Promise<void> {
      await db.update(workspacePolicies).set(set).where(eq(workspacePolicies.id, id));
    },
    async deletePolicy(id: string): Promise<void> {
      await db.delete(workspacePolicies).where(eq(workspacePolicies.id, id));
    },
    async pakBindingCount(policyId: string): Promise<number> {
      return (
        (await first(db.select({ n: count() }).from(pakPolicies).where(eq(pakPolicies.policyId, policyId))))
          ?.n ?? 0
      );
    },

    // ─── PAKs ────────────────────────────────────────────────────────────────
    async insertPak(row: PakRow, policyIds: string[]): Promise<void> {
      await db.insert(paks).values(row);
      if (policyIds.length)
        await db.insert(pakPolicies).values(policyIds.map((policyId) => ({ pakId: row.id, policyId })));
    },
    async paksOf(workspaceId: string): Promise<PakRow[]> {
      return await db
        .select()
        .from(paks)
        .where(eq(paks.workspaceId, workspaceId))
        .orderBy(desc(paks.createdAt), desc(paks.id));
    },
    async pakById(workspaceId: string, id: string): Promise<PakRow | undefined> {
      return await db
        .select()
        .from(paks)
        .where(and(eq(paks.workspaceId, workspaceId), eq(paks.id, id)))
        .limit(1)
        .then((r) => r[0]);
    },
    async updatePak(
      id: string,
      set: Partial<Pick<PakRow, "name" | "description" | "updatedAt">>,
    ): Promise<void> {
      await db.update(paks).set(set).where(eq(paks.id, id));
    },
    async revokePak(id: string, now: number): Promise<boolean> {
      const r = await db
        .update(paks)
        .set({ revokedAt: now, updatedAt: now })
        .where(and(eq(paks.id, id), isNull(paks.revokedAt)));
      return affected(r) > 0;
    },
    /** Bound policy summaries for each PAK id, in policy name order. */
    async boundPolicies(pakIds: string[]): Promise<Map<string, BoundPolicy[]>> {
      const out = new Map<string, BoundPolicy[]>(pakIds.map((id) => [id, []]));
      if (pakIds.length === 0) return out;
      const rows = await db
        .select({
          pakId: pakPolicies.pakId,
          id: workspacePolicies.id,
          name: workspacePolicies.name,
          description: workspacePolicies.description,
        })
        .from(pakPolicies)
        .innerJoin(workspacePolicies, eq(workspacePolicies.id, pakPolicies.policyId))
        .where(inArray(pakPolicies.pakId, pakIds))
        .orderBy(asc(workspacePolicies.name));
      for (const r of rows) out.get(r.pakId)?.push({ id: r.id, name: r.name, description: r.description });
      return out;
    },
  };
}

export type WorkspaceStore = ReturnType<typeof createWorkspaceStore>;
