/** @module Apps wire model: slug rules, request schemas, and the row → AppResponseDto mapping. */

import { z } from "zod";
import { iso } from "../core/clock.ts";
import { isUuid } from "../core/ids.ts";
import { isPosition, type Position } from "../core/pagination.ts";
import type { apps } from "../db/schema.ts";

export type AppRow = typeof apps.$inferSelect;
export type AppStatus = AppRow["status"];

export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{1,62}[a-z0-9])$/;

/** First path segments the appliance itself serves (docs/architecture.md, "Surfaces"); an app slug there would shadow them. */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set([
  "v1",
  "healthz",
  "readyz",
  "metrics",
  "openapi.json",
  "docs",
  "admin",
  "console",
  "static",
  "assets",
  "api",
  ".well-known",
]);

/** Serialized size cap of `metadata`: it rides along in every app read. */
export const MAX_METADATA_BYTES = 16 * 1024;

export const slugSchema = z
  .string()
  .regex(
    SLUG_PATTERN,
    "must be 3-64 lowercase letters, digits or hyphens, starting and ending with a letter or digit",
  )
  .refine((s) => !RESERVED_SLUGS.has(s), "is reserved")
  // Admin paths accept an app's UUID or its slug; a UUID-shaped slug would make that ambiguous.
  .refine((s) => !isUuid(s), "must not have the shape of a UUID");

const displayNameSchema = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(120, "must be at most 120 characters");

const metadataSchema = z
  .record(z.string(), z.unknown())
  .refine((m) => Buffer.byteLength(JSON.stringify(m), "utf8") <= MAX_METADATA_BYTES, {
    message: `must serialize to at most ${MAX_METADATA_BYTES} bytes`,
  });

export const createAppSchema = z.object({
  slug: slugSchema,
  display_name: displayNameSchema,
  workspace_id: z.string().min(1).max(64).optional(),
});
export type CreateAppInput = z.output<typeof createAppSchema>;

export const updateAppSchema = z.object({
  display_name: displayNameSchema.optional(),
  slug: slugSchema.optional(),
  metadata: metadataSchema.optional(),
});
export type UpdateAppInput = z.output<typeof updateAppSchema>;

export const updateStatusSchema = z.object({
  status: z.enum(["active", "suspended", "archived"]),
});

/** Which status changes are allowed; archiving is one-way, and a same-status request is a no-op. */
export const STATUS_TRANSITIONS: Readonly<Record<AppStatus, readonly AppStatus[]>> = {
  active: ["suspended", "archived"],
  suspended: ["active", "archived"],
  archived: [],
};

export interface AppDto {
  id: string;
  slug: string;
  display_name: string;
  workspace_id: string;
  status: AppStatus;
  created_by: string;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  /**
   * Appliance field (the contract's app shape admits extra properties): stable codes of settings that
   * weaken the app's security, e.g. `ENFORCE_APP_PERMISSIONS_OFF`; empty when there are none.
   */
  security_warnings: string[];
}

export function toAppDto(r: AppRow, securityWarnings: readonly string[]): AppDto {
  return {
    id: r.id,
    slug: r.slug,
    display_name: r.displayName,
    workspace_id: r.workspaceId,
    status: r.status,
    created_by: r.createdBy,
    metadata: r.metadata ?? {},
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    security_warnings: [...securityWarnings],
  };
}

/** Position of an app in the newest-first list. */
export type AppCursor = Position;
export const isAppCursor = isPosition;

export interface PlatformStatsDto {
  apps: number;
  end_users: number;
  api_keys_active: number;
}
