/** @module `heimdall audit verify`: walks every audit hash chain from its retention anchor (docs/operations.md, "Audit retention"); exit 0 intact, 1 with the first break. */
import { commandGroup, configFrom, EXIT_FAILURE, EXIT_OK, type Io, type Parsed } from "./args.ts";
import { withDataDir } from "./data-dir.ts";

const verifySpec = {
  name: "audit verify",
  summary: "Verify the audit log's hash chains; exit 1 and name the first broken row if any.",
  options: {},
  config: true,
};

async function verify(args: Parsed, io: Io): Promise<number> {
  return await withDataDir(configFrom(args.values), io, async (deps) => {
    const result = await deps.audit.verify();
    if (result.ok) {
      // Rows pruned by retention are named so that a short log is not mistaken for a truncated one.
      const pruned = result.pruned ? `; ${result.pruned} older row(s) pruned by retention` : "";
      io.out(`audit log intact: ${result.rows} row(s) in ${result.chains} chain(s)${pruned}`);
      return EXIT_OK;
    }
    io.err(`audit log BROKEN: chain ${result.chain}, row seq ${result.seq}: ${result.reason}`);
    return EXIT_FAILURE;
  });
}

export const command = commandGroup("audit", "Check the append-only audit log.", {
  verify: { spec: verifySpec, run: verify },
});
