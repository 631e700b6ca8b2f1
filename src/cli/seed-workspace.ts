/** @module The workspace `heimdall seed apply` and `heimdall export` act in: `--workspace <slug>`, by default `default`. */
import type { Deps } from "../deps.ts";
import { createWorkspaceStore } from "../workspaces/store.ts";
import { CliError, EXIT_FAILURE } from "./args.ts";

export async function workspaceOf(deps: Pick<Deps, "db">, slug: string): Promise<string> {
  const id = (await createWorkspaceStore(deps.db).workspaceBySlug(slug))?.id;
  if (id === undefined) throw new CliError(`heimdall: no workspace with slug "${slug}"`, EXIT_FAILURE);
  return id;
}
