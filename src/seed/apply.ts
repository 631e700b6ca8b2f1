/**
 * @module Seed apply (docs/seed.md): plans every app of a validated seed file against the workspace, then runs
 * the plan through the services in one database transaction. Equal things are left alone, so a second apply of
 * the same file writes nothing; deletions happen only with `prune`.
 */
import type { CallMeta, LocalOperatorPrincipal } from "../core/principal.ts";
import { tx } from "../db/client.ts";
import { planApp } from "./plan.ts";
import { type SeedDeps, SeedPlanError, type SeedSecret, type Step } from "./plan-context.ts";
import type { SeedFile } from "./schema.ts";
import { createSeedStore } from "./store.ts";

export { type SeedDeps, SeedPlanError, type SeedSecret } from "./plan-context.ts";

export interface SeedOptions {
  dryRun?: boolean;
  prune?: boolean;
  workspaceId: string;
}

export interface SeedResult {
  dry_run: boolean;
  created: number;
  updated: number;
  deleted: number;
  /** One line per change: `+ app demo`, `~ app demo auth_config.signup_enabled: false → true`, `- m2m demo/old`. */
  changes: string[];
  secrets: SeedSecret[];
}

/** A change the services refused while applying (everything was rolled back): which one, and why (`cause`). */
export class SeedStepError extends Error {
  constructor(
    readonly step: string,
    override readonly cause: unknown,
  ) {
    super(`${step}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "SeedStepError";
  }
}

/** Applies a validated seed file to one workspace, or with `dryRun` only plans it; the entry `heimdall dev --seed` calls too. */
export async function applySeed(deps: SeedDeps, seed: SeedFile, opts: SeedOptions): Promise<SeedResult> {
  const principal: LocalOperatorPrincipal = { kind: "local", workspaceId: opts.workspaceId };
  const meta: CallMeta = { requestId: `seed-${crypto.randomUUID()}`, ip: null, userAgent: "heimdall seed" };
  const store = createSeedStore(deps.db);
  const problems: string[] = [];
  const steps: Step[] = [];
  const secrets: SeedSecret[] = [];
  const touched: string[] = [];

  for (const [a, app] of seed.apps.entries()) {
    const existing = await deps.apps.find(app.slug);
    if (existing && existing.workspaceId !== opts.workspaceId) {
      problems.push(`apps[${a}].slug: "${app.slug}" is taken by an app of another workspace`);
      continue;
    }
    const planned = await planApp({
      deps,
      store,
      principal,
      meta,
      at: `apps[${a}]`,
      app,
      existing,
      prune: opts.prune === true,
      secrets,
      problems,
    });
    steps.push(...planned);
    if (existing) touched.push(existing.id);
  }
  if (problems.length) throw new SeedPlanError(problems);

  const result: SeedResult = {
    dry_run: opts.dryRun === true,
    created: steps.filter((s) => s.op === "+").length,
    updated: steps.filter((s) => s.op === "~").length,
    deleted: steps.filter((s) => s.op === "-").length,
    changes: steps.map((s) => s.line),
    secrets,
  };
  if (opts.dryRun || steps.length === 0) return result;

  // One transaction for the whole file: the services' own `tx` calls nest as savepoints inside it, and an
  // await between them (RSA key generation, argon2) holds the transaction open while other writers queue.
  try {
    await tx(deps.db, async () => {
      for (const step of steps) {
        try {
          await step.run();
        } catch (err) {
          throw err instanceof SeedPlanError ? err : new SeedStepError(step.line, err);
        }
      }
    });
  } catch (err) {
    secrets.length = 0;
    // The services refreshed their caches after each (now undone) write: drop them so nothing stale is served.
    deps.directory.invalidate();
    for (const app of seed.apps) {
      const row = await deps.apps.find(app.slug);
      if (row) {
        deps.permissions.invalidate(row.id);
        deps.keys.invalidate(row.id);
      }
    }
    for (const id of touched) deps.permissions.invalidate(id);
    throw err;
  }
  return result;
}
