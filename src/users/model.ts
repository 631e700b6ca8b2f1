/** @module Wire shapes of end-user administration: the list filters and the admin view of an account. */
import { z } from "zod";
import { iso } from "../platform/clock.ts";
import type { UserPageRow } from "./store.ts";

export const END_USER_STATUSES = ["active", "suspended", "deactivated"] as const;

/** Long enough for any email address; a search is a prefix, so nothing longer can match. */
const MAX_SEARCH = 320;

export const listUsersQuerySchema = z.object({
  limit: z.string().optional(),
  cursor: z.string().optional(),
  status: z.enum(END_USER_STATUSES).optional(),
  search: z.string().max(MAX_SEARCH).optional(),
});

export type ListUsersQuery = z.output<typeof listUsersQuerySchema>;

export interface AdminEndUserDto {
  id: string;
  username: string;
  display_name: string | null;
  status: string;
  role: string | null;
  joined_at: string | null;
  created_at: string;
  email: string | null;
  email_verified_at: string | null;
  active_session_count: number;
  last_used_at: string | null;
}

/** An account joins its app when it is created; app membership has no separate date here. */
export function toAdminEndUserDto(r: UserPageRow): AdminEndUserDto {
  const u = r.user;
  return {
    id: u.id,
    username: u.username,
    display_name: u.displayName,
    status: u.status,
    role: u.role,
    joined_at: iso(u.createdAt),
    created_at: iso(u.createdAt),
    email: r.email,
    email_verified_at: iso(r.emailVerifiedAt),
    active_session_count: Number(r.activeSessions),
    last_used_at: iso(u.lastUsedAt),
  };
}
